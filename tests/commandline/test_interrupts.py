"""Ctrl-C stops each long-running command cleanly: one line, no traceback, no key material left.

The operator is interrupted once it is ready (an interrupt while kopf is still starting gets kopf's
own retry lines before the stop). Each command runs as a process with its own ``TMPDIR``, so what
it leaves in temporary directories can be seen: the operator's self-managed webhook certificate
(with ``tls.key``) and the registry core's default data directory (with its signing keys) must be
gone after the stop. The demo's Ctrl-C is covered by ``tests/e2e/test_demo_command.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devstack.ports import free_port
from devstack.sim import SimServer, start_sim
from devstack.waiting import wait_until

BIN = Path(sys.executable).parent


@pytest.fixture
def sim() -> Iterator[SimServer]:
    server = start_sim()
    try:
        yield server
    finally:
        server.stop()


def start(args: list[str], tmp: Path) -> tuple[subprocess.Popen[str], Path]:
    scratch = tmp / "tmp"
    scratch.mkdir()
    log = tmp / "out.log"
    with log.open("w") as handle:
        process = subprocess.Popen(
            args,
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "TMPDIR": str(scratch)},
        )
    return process, log


def interrupt(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGINT)
    return process.wait(timeout=30)


def ready(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).ok
    except requests.ConnectionError:
        return False


def files_under(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


class TestCtrlC:
    def test_run_stops_with_one_line_and_removes_its_webhook_key(
        self, sim: SimServer, tmp_path: Path
    ) -> None:
        metrics = free_port()
        process, log = start(
            [str(BIN / "quay-bridge"), "run", "--standalone", "--kubeconfig", sim.kubeconfig,
             "--webhook-host", "127.0.0.1", "--webhook-port", str(free_port()),
             "--metrics-host", "127.0.0.1", "--metrics-port", str(metrics)],
            tmp_path,
        )  # fmt: skip
        wait_until(lambda: ready(f"http://127.0.0.1:{metrics}/readyz"), 30)
        assert any(name.endswith("tls.key") for name in files_under(tmp_path / "tmp"))
        assert interrupt(process) in (0, 130)
        output = log.read_text()
        assert output.rstrip().splitlines()[-1].endswith("stopped")
        assert "Traceback" not in output
        assert files_under(tmp_path / "tmp") == []

    def test_sim_stops_with_one_line(self, tmp_path: Path) -> None:
        process, log = start(
            [str(BIN / "quay-bridge"), "sim", "--port", str(free_port())], tmp_path
        )
        wait_until(lambda: "listening on" in log.read_text(), 30)
        assert interrupt(process) == 0
        output = log.read_text()
        assert output.rstrip().splitlines()[-1] == "quay-bridge sim: stopped"
        assert "Traceback" not in output

    def test_registry_serve_stops_with_one_line_and_removes_its_temporary_keys(
        self, tmp_path: Path
    ) -> None:
        port = free_port()
        process, log = start([str(BIN / "quay-registry"), "serve", "--port", str(port)], tmp_path)
        wait_until(lambda: ready(f"http://127.0.0.1:{port}/health/instance"), 30)
        assert files_under(tmp_path / "tmp") != []
        assert interrupt(process) == 0
        output = log.read_text()
        assert output.rstrip().splitlines()[-1] == (
            "quay-registry: stopped, its temporary data removed"
        )
        assert "Traceback" not in output
        assert files_under(tmp_path / "tmp") == []
