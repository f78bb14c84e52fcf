"""``quay-registry`` refuses bad options and unreachable databases with a clear one-line error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from devstack.ports import free_port

QUAY_REGISTRY = str(Path(sys.executable).parent / "quay-registry")


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--database", "mysql://x/y"], 2, "--database must start with one of"),
        (["--namespace-gc-seconds", "-1"], 2, "--namespace-gc-seconds must be >= 0"),
        (
            ["--database", "postgresql://nobody:secret-pw@127.0.0.1:1/db"],
            1,
            "cannot start: ConnectionRefusedError",
        ),
    ],
)
def test_bad_settings_exit_with_a_clear_message(
    tmp_path: Path, extra: list[str], code: int, message: str
) -> None:
    result = subprocess.run(
        [QUAY_REGISTRY, "serve", "--port", str(free_port()), "--data-dir", str(tmp_path), *extra],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == code
    assert message in result.stderr
    assert "secret-pw" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
