"""Start the real OpenShift simulator (``quay-bridge sim``) as a subprocess for tests.

Usage::

    from tests.support.sim_server import sim_server

    with sim_server() as sim:            # free port, temp kubeconfig, OpenShift delays at zero
        api = kubernetes.client.CoreV1Api(sim.api_client())
        ...                              # or point kopf/kubectl at sim.kubeconfig / sim.url

``sim_server(*extra_args, immediate=True)`` passes ``extra_args`` to ``quay-bridge sim`` (for
example ``"--registry", url`` or ``"--request-log", path``); ``immediate=False`` keeps the default
OpenShift timings. The object it yields has ``url``, ``kubeconfig`` (a path), ``api_client()`` and
``stop()``; the context manager stops the process on exit. ``start_sim`` does the same without
``with``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import kubernetes.client
import requests

from tests.support.ports import free_port


@dataclass
class SimServer:
    """A running simulator process."""

    url: str
    kubeconfig: str
    process: subprocess.Popen[str]
    #: the simulator's output (its log), next to the kubeconfig
    log_path: str
    _clients: list[kubernetes.client.ApiClient] = field(default_factory=list)

    def api_client(self) -> kubernetes.client.ApiClient:
        """Return an official kubernetes ApiClient configured for this simulator."""
        config = kubernetes.client.Configuration()
        config.host = self.url
        config.api_key = {"authorization": "sim-token"}
        config.api_key_prefix = {"authorization": "Bearer"}
        client = kubernetes.client.ApiClient(config)
        self._clients.append(client)
        return client

    def stop(self) -> None:
        """Stop the simulator (SIGTERM, then SIGKILL after 5 s) and close the clients made here."""
        for client in self._clients:
            client.close()
        self._clients.clear()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_sim(*extra_args: str, immediate: bool = True, timeout: float = 20.0) -> SimServer:
    """Start ``quay-bridge sim`` on a free port and return once it answers ``/readyz``."""
    port = free_port()
    kubeconfig = os.path.join(tempfile.mkdtemp(prefix="sim-kubeconfig-"), "kubeconfig")
    args = [
        sys.executable,
        "-m",
        "quaybridge_cli",
        "sim",
        "--port",
        str(port),
        "--kubeconfig-out",
        kubeconfig,
    ]
    if immediate:
        args.append("--immediate")
    args.extend(extra_args)
    log_path = os.path.join(os.path.dirname(kubeconfig), "sim.log")
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    server = SimServer(url, kubeconfig, process, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            with open(log_path, encoding="utf-8") as log:
                tail = log.read()[-3000:]
            raise RuntimeError(f"quay-bridge sim exited with {process.returncode}:\n{tail}")
        try:
            if requests.get(f"{url}/readyz", timeout=1).ok and os.path.exists(kubeconfig):
                return server
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    server.stop()
    raise TimeoutError(f"quay-bridge sim did not answer on {url} within {timeout} s")


@contextmanager
def sim_server(*extra_args: str, immediate: bool = True) -> Iterator[SimServer]:
    """Run a simulator for the duration of a ``with`` block."""
    server = start_sim(*extra_args, immediate=immediate)
    try:
        yield server
    finally:
        server.stop()
