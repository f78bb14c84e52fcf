"""docs/install.md stays true: the files it names exist, its certs commands run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.packaging.manifests import ROOT

DOC = (ROOT / "docs" / "install.md").read_text()
CLI = [sys.executable, "-m", "quaybridge_cli"]


def _repository_paths() -> list[str]:
    found = re.findall(r"`((?:deploy|crds|bundle|tools|docs|tests)/[\w./-]+)`", DOC)
    return sorted({p.rstrip("/") for p in found})


@pytest.mark.parametrize("path", _repository_paths())
def test_every_file_the_guide_names_exists(path: str) -> None:
    assert (ROOT / path).exists()


def test_the_guide_names_the_deploy_directories() -> None:
    assert {"deploy/base", "deploy/registry-core", "deploy/samples/quayintegration.yaml"} <= set(
        _repository_paths()
    )


def test_the_certificate_commands_of_the_guide_make_what_the_deployment_mounts(
    tmp_path: Path,
) -> None:
    (generate,) = [line.strip() for line in DOC.splitlines() if "certs generate" in line]
    arguments = generate.split()[1:]
    assert arguments[-2:] == ["--out", "certs/"]
    done = subprocess.run(
        [*CLI, *arguments[:-1], str(tmp_path / "certs")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert {p.name for p in (tmp_path / "certs").iterdir()} >= {"ca.crt", "tls.crt", "tls.key"}

    (inject,) = [line.strip() for line in DOC.splitlines() if "certs inject-cabundle" in line]
    assert "--name quay-bridge-webhook" in inject and "--ca certs/ca.crt" in inject
    injected = subprocess.run(
        [*CLI, "certs", "inject-cabundle", "--ca", str(tmp_path / "certs" / "ca.crt"),
         "--file", str(ROOT / "deploy/base/mutatingwebhookconfiguration.yaml"), "--output", "-"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert injected.returncode == 0, injected.stderr
    configuration = yaml.safe_load(injected.stdout)
    assert configuration["metadata"]["name"] == "quay-bridge-webhook"
    assert all(hook["clientConfig"]["caBundle"] for hook in configuration["webhooks"])
