"""The OLM bundle passes the operator framework's own validators, and its image builds.

The validators are those of ``github.com/operator-framework/api`` (the default bundle validators
plus the optional "operatorframework" suite: OperatorHub, capabilities, categories, objects,
deprecated APIs, good practices), run by ``tools/olm_validate`` through ``tools/olm_check``. No
finding is expected: neither an error nor a warning. The broken-bundle cases show the validators
really read what the generator writes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.packaging.manifests import ROOT, load_documents
from tools import make_bundle, olm_check

# The first run builds tools/olm_validate, downloading its Go modules: minutes, in the first setup.
pytestmark = pytest.mark.timeout(1800)

BUNDLE = ROOT / "bundle"
CSV_NAME = "manifests/quay-bridge.clusterserviceversion.yaml"


@pytest.fixture(scope="module")
def validator() -> Path:
    if shutil.which("go") is None:
        pytest.skip("go is not installed: the operator framework's validators are Go code")
    return olm_check.validator_binary()


def test_the_committed_bundle_has_no_finding(validator: Path) -> None:
    assert [str(f) for f in olm_check.validate(BUNDLE)] == []


def test_the_bundle_for_older_olm_has_no_finding_either(validator: Path, tmp_path: Path) -> None:
    assert make_bundle.main(["--out", str(tmp_path), "--no-network-policy"]) == 0
    assert [str(f) for f in olm_check.validate(tmp_path)] == []


def _edit_csv(bundle: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = bundle / CSV_NAME
    (csv,) = load_documents(path)
    change(csv)
    path.write_text(yaml.safe_dump(csv))


def _no_icon(csv: dict[str, Any]) -> None:
    del csv["spec"]["icon"]


def _bad_email(csv: dict[str, Any]) -> None:
    csv["spec"]["maintainers"][0]["email"] = "maintainers at quay-bridge"


def _bad_link(csv: dict[str, Any]) -> None:
    csv["spec"]["links"][0]["url"] = "quay-bridge image"


def _unknown_category(csv: dict[str, Any]) -> None:
    csv["metadata"]["annotations"]["categories"] = "Bridges"


def _no_peering_example(csv: dict[str, Any]) -> None:
    examples = json.loads(csv["metadata"]["annotations"]["alm-examples"])
    kept = [e for e in examples if e["kind"] != "ClusterKopfPeering"]
    csv["metadata"]["annotations"]["alm-examples"] = json.dumps(kept)


@pytest.mark.parametrize(
    ("change", "level", "expected"),
    [
        (_no_icon, "warning", "csv.Spec.Icon not specified"),
        (_bad_email, "error", "csv.Spec.Maintainers email maintainers at quay-bridge is invalid"),
        (_bad_link, "error", "csv.Spec.Links url quay-bridge image is invalid"),
        (_unknown_category, "error", 'value "Bridges" is not in the set of standard categories'),
        (_no_peering_example, "warning", "ClusterKopfPeering: provided API should have an example"),
    ],
    ids=["icon", "email", "link", "category", "example"],
)
def test_a_broken_csv_is_reported(
    validator: Path,
    tmp_path: Path,
    change: Callable[[dict[str, Any]], None],
    level: str,
    expected: str,
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(BUNDLE, bundle)
    _edit_csv(bundle, change)
    findings = olm_check.validate(bundle)
    assert any(f.level == level and expected in f.detail for f in findings), findings


def test_a_channel_outside_the_naming_convention_is_reported(
    validator: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(BUNDLE, bundle)
    annotations = bundle / "metadata" / "annotations.yaml"
    annotations.write_text(annotations.read_text().replace("stable-0.x", "alpha"))
    findings = olm_check.validate(bundle)
    assert [f.validator for f in findings] == ["good-practices"]
    assert "not following the recommended naming convention" in findings[0].detail


def test_the_check_command_exits_0_on_the_committed_bundle(validator: Path) -> None:
    assert olm_check.main([str(BUNDLE)]) == 0


def _buildah(*args: str | Path, timeout: float = 300) -> str:
    result = subprocess.run(
        ["buildah", *map(str, args)], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"buildah {args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.skipif(shutil.which("buildah") is None, reason="buildah is not installed")
def test_the_bundle_image_builds_and_carries_the_bundle(tmp_path: Path) -> None:
    """``bundle.Dockerfile`` builds FROM scratch; the image's labels and files are the bundle."""
    tag = "localhost/quay-bridge-bundle:test"
    _buildah(
        "bud", "--isolation", "chroot", "--quiet", "--file", BUNDLE / "bundle.Dockerfile",
        "--tag", tag, BUNDLE,
    )  # fmt: skip
    container = _buildah("from", "--pull-never", tag).strip()
    try:
        labels = json.loads(_buildah("inspect", "--type", "image", tag))["OCIv1"]["config"][
            "Labels"
        ]
        (annotations,) = load_documents(BUNDLE / "metadata" / "annotations.yaml")
        for key, value in annotations["annotations"].items():
            assert labels[key] == value
        mounted = Path(_buildah("mount", container).strip())
        inside = sorted(str(p.relative_to(mounted)) for p in mounted.rglob("*") if p.is_file())
        expected = sorted(
            str(p.relative_to(BUNDLE))
            for p in BUNDLE.rglob("*")
            if p.is_file() and p.name != "bundle.Dockerfile"
        )
        assert inside == expected
        for name in expected:
            assert (mounted / name).read_bytes() == (BUNDLE / name).read_bytes(), name
    finally:
        _buildah("rm", container)
        _buildah("rmi", tag)
