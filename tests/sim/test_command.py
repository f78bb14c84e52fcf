"""``quay-bridge sim`` on the command line: where it listens, its kubeconfig, bad options."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile

import pytest
import yaml

from devstack.ports import free_port

CLI = [sys.executable, "-m", "quaybridge_cli", "sim"]


def test_it_prints_where_it_listens_and_writes_a_kubeconfig_for_that_url() -> None:
    port = free_port()
    path = os.path.join(tempfile.mkdtemp(prefix="sim-cmd-"), "kubeconfig")
    args = [*CLI, "--port", str(port), "--kubeconfig-out", path]
    with subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            assert line == f"listening on http://127.0.0.1:{port}"
            with open(path, encoding="utf-8") as fh:
                config = yaml.safe_load(fh)
            assert config["clusters"][0]["cluster"]["server"] == f"http://127.0.0.1:{port}"
            assert config["current-context"] == "quay-bridge-sim"
        finally:
            proc.terminate()
            assert proc.wait(timeout=10) == 0


@pytest.mark.parametrize(
    "args",
    [
        ["--delay", "nope=1"],
        ["--delay", "scc=abc"],
        ["--delay", "scc=-1"],
        ["--service-address", "no-equals"],
        ["--port", "x"],
        ["--request-log", "/nonexistent-dir/requests.jsonl"],
        ["--kubeconfig-out", "/nonexistent-dir/kubeconfig"],
    ],
)
def test_bad_options_exit_2_with_a_message(args: list[str]) -> None:
    result = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "error:" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = subprocess.run(
            [*CLI, "--port", str(port)], capture_output=True, text=True, timeout=30
        )
    assert result.returncode == 1
    assert "cannot listen" in result.stderr and "Traceback" not in result.stderr
