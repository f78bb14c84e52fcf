"""Check the OLM bundle with the operator framework's own validators (``make bundle-validate``).

The validators are Go code (``github.com/operator-framework/api``, the library behind
``operator-sdk bundle validate`` and OperatorHub's checks); ``tools/olm_validate`` is the project's
small Go program that runs them, its module pinned by its ``go.mod``/``go.sum``. This builds that
program once per content of its sources and Go version, with the local toolchain
(``GOTOOLCHAIN=local``), into the cache outside the tree, and returns what it finds.

Usage: ``python -m tools.olm_check [BUNDLE_DIR]`` prints each finding; exit 1 when there is any
(errors and warnings alike: none is expected), 2 when the validator cannot be built or run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tools" / "olm_validate"


class ValidatorUnavailable(RuntimeError):
    """The Go program cannot be built here (no Go, or its build failed); the message says why."""


@dataclass(frozen=True)
class Finding:
    """One error or warning of one validator about one object of the bundle."""

    validator: str
    object: str
    level: str  #: "error" or "warning"
    type: str
    field: str
    detail: str

    def __str__(self) -> str:
        return f"{self.level} [{self.validator}] {self.object}: {self.detail}"


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "quay-bridge"


def _go_env() -> dict[str, str]:
    return {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly"}


def validator_binary() -> Path:
    """Return the built validator, building it when its sources or the Go version changed."""
    go = shutil.which("go")
    if go is None:
        raise ValidatorUnavailable("go is not installed (the validator needs Go 1.25 or later)")
    version = subprocess.run(
        [go, "version"], capture_output=True, text=True, check=False, env=_go_env()
    ).stdout.strip()
    digest = hashlib.sha256(version.encode())
    for name in ("go.mod", "go.sum", "main.go"):
        digest.update(name.encode() + (SOURCE / name).read_bytes())
    binary = _cache_dir() / f"olm_validate-{digest.hexdigest()[:16]}"
    if binary.exists():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_name(binary.name + ".partial")
    result = subprocess.run(
        [go, "build", "-trimpath", "-o", str(partial), "."],
        cwd=SOURCE,
        capture_output=True,
        text=True,
        check=False,
        env=_go_env(),
        timeout=1800,
    )
    if result.returncode != 0:
        raise ValidatorUnavailable(
            f"go build of tools/olm_validate failed:\n{result.stderr[-3000:]}"
        )
    partial.rename(binary)
    return binary


def validate(bundle: Path) -> list[Finding]:
    """Run every validator on ``bundle`` (a directory with manifests/ and metadata/)."""
    result = subprocess.run(
        [str(validator_binary()), str(bundle)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if result.returncode not in (0, 1):
        raise ValidatorUnavailable(
            f"olm_validate could not check {bundle}: {result.stderr.strip()}"
        )
    return [Finding(**json.loads(line)) for line in result.stdout.splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    """Print the findings on the bundle; exit 1 if there is any."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.olm_check", description=__doc__.splitlines()[0]
    )
    parser.add_argument("bundle", nargs="?", type=Path, default=ROOT / "bundle")
    args = parser.parse_args(argv)
    try:
        findings = validate(args.bundle)
    except ValidatorUnavailable as exc:
        print(f"olm_check: {exc}", file=sys.stderr)
        return 2
    for finding in findings:
        print(finding)
    print(f"{args.bundle}: {len(findings)} finding(s) from the operator framework's validators")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
