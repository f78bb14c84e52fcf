"""Real servers for the bridge's tests: the registry core and the operator, as subprocesses.

The registry core (``quay-registry serve``) runs on a free loopback port with a throwaway data
directory; its first user is made through ``POST /api/v1/user/initialize`` exactly as an admin does
on a real Quay, which yields a token with every scope. The operator is ``quay-bridge run
--no-webhook`` against a simulator's kubeconfig. Every wait is bounded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import requests

from tests.support.ports import free_port

T = TypeVar("T")


@dataclass
class Registry:
    """A running registry core and its admin token."""

    url: str
    host: str
    token: str
    process: subprocess.Popen[bytes]

    def get(self, path: str, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return requests.get(self.url + path, headers=headers, timeout=10)

    def metrics(self) -> str:
        return requests.get(self.url + "/metrics", timeout=10).text

    def stop(self) -> None:
        stop_process(self.process)


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


def start_registry(
    *,
    gc_seconds: float = 1.0,
    port: int | None = None,
    data_dir: str | None = None,
    initialize: bool = True,
) -> Registry:
    """Start ``quay-registry serve`` and initialize its first user."""
    port = port or free_port()
    data_dir = data_dir or tempfile.mkdtemp(prefix="registry-")
    args = [
        sys.executable,
        "-m",
        "registry.commands",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        data_dir,
        "--namespace-gc-seconds",
        str(gc_seconds),
        "--log-level",
        "WARNING",
    ]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"quay-registry exited with {process.returncode}")
        try:
            return requests.get(url + "/health/instance", timeout=1).status_code in (200, 503)
        except requests.ConnectionError:
            return False

    wait_for(up, timeout=30)
    token = ""
    if initialize:
        reply = requests.post(
            url + "/api/v1/user/initialize",
            json={
                "username": "quayadmin",
                "password": "password1234",
                "email": "a@example.com",
                "access_token": True,
            },
            timeout=10,
        )
        reply.raise_for_status()
        token = reply.json()["access_token"]
    return Registry(url, f"127.0.0.1:{port}", token, process)


@contextmanager
def registry_server(**kwargs: object) -> Iterator[Registry]:
    registry = start_registry(**kwargs)  # type: ignore[arg-type]
    try:
        yield registry
    finally:
        registry.stop()


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


def start_operator(kubeconfig: str, *extra: str) -> Operator:
    """Start ``quay-bridge run --no-webhook`` and wait until ``/readyz`` answers."""
    port = free_port()
    log_path = tempfile.mktemp(prefix="operator-", suffix=".log")
    args = [
        sys.executable,
        "-m",
        "quaybridge_cli",
        "run",
        "--no-webhook",
        "--standalone",
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
