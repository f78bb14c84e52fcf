"""The QuayIntegration CustomResourceDefinition, the source of truth for deploy/ and bundle/.

Kept as package data so that the installed wheel (the demo, the simulator's tests) can find it.
"""

from __future__ import annotations

from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent


def crd_files() -> list[Path]:
    """Return the CRD manifests in this directory, sorted by name."""
    return sorted(DIRECTORY.glob("*.yaml"))
