"""Real servers for the bridge's tests: the registry core and the operator, as subprocesses.

The registry core comes from ``tests/support/registry_server`` (its first user is made through
``POST /api/v1/user/initialize``, as an admin does on a real Quay, so its token has every scope).
The operator is ``quay-bridge run --no-webhook`` against a simulator's kubeconfig. Every wait is
bounded.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import requests

from tests.support.ports import free_port
from tests.support.registry_server import RegistryServer

T = TypeVar("T")


@dataclass
class Registry:
    """A running registry core (``tests/support/registry_server``) with request helpers."""

    server: RegistryServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def token(self) -> str:
        return self.server.token

    def get(self, path: str, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return requests.get(self.url + path, headers=headers, timeout=10)

    def stop(self) -> None:
        self.server.stop()


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def wait_for(predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.05) -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout} s (last value: {last!r})")


def start_registry(*, gc_seconds: float = 1.0) -> Registry:
    """Start the registry core with its first user (its token has every scope)."""
    return Registry(RegistryServer.start(gc_seconds=gc_seconds))


@dataclass
class Operator:
    """A running ``quay-bridge run`` process."""

    process: subprocess.Popen[bytes]
    metrics_url: str
    log_path: str

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def stop(self) -> None:
        stop_process(self.process)
        with contextlib.suppress(OSError):
            os.remove(self.log_path)


def start_operator(kubeconfig: str, *extra: str) -> Operator:
    """Start ``quay-bridge run --no-webhook`` and wait until ``/readyz`` answers."""
    port = free_port()
    handle, log_path = tempfile.mkstemp(prefix="operator-", suffix=".log")
    os.close(handle)
    args = [
        sys.executable,
        "-m",
        "quaybridge_cli",
        "run",
        "--no-webhook",
        *([] if "--peering" in extra else ["--standalone"]),
        "--kubeconfig",
        kubeconfig,
        "--metrics-host",
        "127.0.0.1",
        "--metrics-port",
        str(port),
        *extra,
    ]
    log_file = open(log_path, "wb")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        args, stdout=log_file, stderr=subprocess.STDOUT, env=dict(os.environ)
    )
    log_file.close()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            with open(log_path, encoding="utf-8", errors="replace") as handle:
                output = handle.read()
            raise RuntimeError(f"operator exited with {process.returncode}: {output}")
        try:
            return requests.get(url + "/readyz", timeout=1).ok
        except requests.ConnectionError:
            return False

    wait_for(ready, timeout=30)
    return Operator(process, url + "/metrics", log_path)


def metric_total(text: str, name: str, **labels: str) -> float:
    """Sum the samples of ``name`` in a Prometheus text page whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{key}="{wanted}"' in head for key, wanted in labels.items()):
            total += float(value)
    return total


def operator_counts(operator: Operator) -> tuple[float, float, float]:
    """Return (Quay calls, Quay writes, Kubernetes writes) the operator made so far."""
    text = requests.get(operator.metrics_url, timeout=5).text
    calls = metric_total(text, "quay_bridge_quay_calls_total")
    reads = metric_total(text, "quay_bridge_quay_calls_total", method="GET")
    kube = metric_total(text, "quay_bridge_kubernetes_writes_total")
    return calls, calls - reads, kube
