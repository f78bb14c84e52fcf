"""The QuayIntegration CustomResourceDefinition, the source of truth for deploy/ and bundle/.

Kept as package data so that the installed wheel (the demo, the simulator's tests) can find it.
"""

from __future__ import annotations

from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent


def crd_files() -> list[Path]:
    """Return the CRD manifests in this directory, sorted by name (the kustomization is not one)."""
    return sorted(p for p in DIRECTORY.glob("*.yaml") if p.name != "kustomization.yaml")
