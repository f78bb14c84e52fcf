"""IPv6: the whole story on ``::1`` only, and every server listening dual-stack.

``quay-bridge demo --ipv6`` runs the registry core, the simulator and the operator with its
webhook on the IPv6 loopback; the bridge then works with a Quay at ``http://[::1]:port`` and an
API server at ``http://[::1]:port``: pull secrets keyed ``[::1]:port``, Builds pushing to
``[::1]:port/org/repo:tag``, ImageStreams pointing there, and nothing answering on ``127.0.0.1``.
Dual-stack: each server answers on both loopbacks on one port.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from demo.scenario import DemoConfig, Scenario
from devstack.operator import Operator
from devstack.registry import RegistryServer
from devstack.sim import start_sim
from devstack.stack import Stack
from tests.e2e.conftest import RecordingReporter
from tests.e2e.test_operator_restart import run


def refuses_ipv4(port: int) -> bool:
    """Whether nothing accepts a connection on ``127.0.0.1:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_the_demo_plays_every_step_on_the_ipv6_loopback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "quaybridge_cli", "demo", "--json", "--ipv6"],
        capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    steps = {line["name"]: line for line in lines if line["event"] == "step"}
    assert done.returncode == 0 and all(s["ok"] for s in steps.values()), done.stdout[-3000:]
    assert len(steps) == 10
    assert steps["registry"]["facts"]["url"].startswith("http://[::1]:")
    assert steps["simulator"]["facts"]["api"].startswith("http://[::1]:")
    assert steps["operator"]["facts"]["webhook"].startswith("https://[::1]:")
    assert steps["build"]["facts"]["output"].startswith("[::1]:")
    assert steps["imagestream"]["facts"]["dockerImageReference"].startswith("[::1]:")


def test_on_ipv6_only_pull_secrets_are_keyed_by_the_bracketed_host_and_ipv4_stays_closed(
    tmp_path: Path,
) -> None:
    stack = Stack(tmp_path, host="::1")
    scenario = Scenario(stack, RecordingReporter(), DemoConfig())
    try:
        run(scenario, "registry", "token", "simulator", "operator", "integration", "new-project")
        run(scenario, "new-app", "build", "imagestream")
        quay_host = urlsplit(stack.registry_url).netloc
        assert quay_host.startswith("[::1]:")
        assert scenario.kube is not None
        secret: dict[str, Any] | None = scenario.kube.get(
            "/api/v1/namespaces/e2e-demo/secrets/builder-quay-openshift"
        )
        assert secret is not None
        config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
        assert list(config["auths"]) == [quay_host]
        kubeconfig = (tmp_path / "kubeconfig").read_text()
        assert f"server: {stack.sim_url}" in kubeconfig and "[::1]" in stack.sim_url
        for url in (stack.registry_url, stack.sim_url, stack.webhook_url, stack.metrics_url):
            port = urlsplit(url).port
            assert port is not None and refuses_ipv4(port), f"{url} also answers on 127.0.0.1"
        run(scenario, "delete-project")
    finally:
        scenario.close()
        for component in stack.components.values():
            print(f"--- {component.name} log tail ---\n{component.log_tail(40)}")
        stack.close()


def answers_on_both(port: int, path: str) -> list[int]:
    return [
        requests.get(f"http://{host}:{port}{path}", timeout=10).status_code
        for host in ("127.0.0.1", "[::1]")
    ]


def test_dual_stack_registry_simulator_and_metrics_answer_on_both_loopbacks() -> None:
    quay = RegistryServer.start(extra_args=["--listen-ip-version", "dual-stack", "--host", "::1"])
    sim = start_sim("--listen-ip-version", "dual-stack")
    try:
        quay_port = int(quay.host.rsplit(":", 1)[1])
        assert answers_on_both(quay_port, "/health/instance") == [200, 200]
        sim_port = urlsplit(sim.url).port
        assert sim_port is not None and answers_on_both(sim_port, "/readyz") == [200, 200]
        operator = Operator.start(
            sim.kubeconfig, "--listen-ip-version", "dual-stack", "--metrics-host", "::1"
        )
        try:
            metrics_port = urlsplit(operator.metrics_url).port
            assert metrics_port is not None
            assert answers_on_both(metrics_port, "/healthz") == [200, 200]
        finally:
            operator.stop()
    finally:
        sim.stop()
        quay.stop()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--listen-ip-version", "IPv6", "--host", "127.0.0.1"], "is an IPv4 address"),
        (["--listen-ip-version", "dual-stack", "--host", "::1"], "dual-stack needs an IPv4"),
    ],
)
def test_an_address_of_the_wrong_version_stops_the_registry_core(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "quay-registry"), "serve", "--data-dir",
         str(tmp_path), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and expected in done.stderr, done.stderr
