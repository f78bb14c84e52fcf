"""The OpenShift simulator (``quay-bridge sim``) as a process.

Usage::

    from devstack.sim import sim_server

    with sim_server() as sim:            # free port, temp kubeconfig, OpenShift delays at zero
        api = kubernetes.client.CoreV1Api(sim.api_client())
        ...                              # or point kopf/kubectl at sim.kubeconfig / sim.url

``sim_server(*extra_args, immediate=True)`` passes ``extra_args`` to ``quay-bridge sim`` (for
example ``"--request-log", path``); ``immediate=False`` keeps the default OpenShift timings;
``registry`` makes builds push to a registry (declared insecure, as the registry core speaks
plain HTTP). ``SimServer.start`` does the same without ``with``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import kubernetes.client
import requests

from devstack.ports import authority, free_port, listen_options
from devstack.processes import START_TIMEOUT, Process, cli


@dataclass
class SimServer:
    """A running simulator: its URL, the kubeconfig it wrote, its process."""

    url: str
    kubeconfig: str
    process: Process
    _clients: list[kubernetes.client.ApiClient] = field(default_factory=list)

    @property
    def log_path(self) -> str:
        """The simulator's log (its output)."""
        return str(self.process.log)

    @classmethod
    def start(
        cls,
        *extra_args: str,
        immediate: bool = True,
        registry: str | None = None,
        insecure_registries: Sequence[str] = (),
        host: str = "127.0.0.1",
        port: int | None = None,
        kubeconfig: Path | None = None,
        log: Path | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = START_TIMEOUT,
    ) -> SimServer:
        """Start the simulator on a free port; return once it answers ``/readyz``.

        Args:
            extra_args: more ``quay-bridge sim`` options.
            immediate: OpenShift's delays at zero (``--immediate``).
            registry: the registry builds push to; its host is declared insecure.
            insecure_registries: more hosts declared insecure (a proxy in front of it).
            host: ``127.0.0.1`` or ``::1``.
            port: a known port (a restart in the same place, with all its state lost).
            kubeconfig: where it writes its kubeconfig (default: a new temporary directory).
            log: its log file (default: ``sim.log`` beside the kubeconfig).
            env: variables added to its environment.
            cwd: its working directory.
            timeout: seconds it may take to answer.
        """
        port = port or free_port(host)
        if kubeconfig is None:
            kubeconfig = Path(tempfile.mkdtemp(prefix="sim-kubeconfig-")) / "kubeconfig"
        argv = cli(
            "sim",
            *listen_options(host, extra_args),
            "--port", str(port),
            "--kubeconfig-out", str(kubeconfig),
        )  # fmt: skip
        if registry:
            argv += ["--registry", registry]
            for insecure in (urlsplit(registry).netloc, *insecure_registries):
                argv += ["--insecure-registry", insecure]
        if immediate:
            argv.append("--immediate")
        argv += extra_args
        process = Process("sim", argv, log or kubeconfig.parent / "sim.log", env=env, cwd=cwd)
        server = cls(f"http://{authority(host, port)}", str(kubeconfig), process)
        path = kubeconfig
        try:
            process.start()
            process.await_ready(
                lambda: (
                    path.exists()
                    and requests.get(f"{server.url}/readyz", timeout=2).status_code == 200
                ),
                "the simulator answering /readyz",
                timeout,
            )
        except BaseException:
            server.stop()
            raise
        return server

    def api_client(self) -> kubernetes.client.ApiClient:
        """Return an official kubernetes ApiClient configured for this simulator."""
        config = kubernetes.client.Configuration()
        config.host = self.url
        config.api_key = {"authorization": "sim-token"}
        config.api_key_prefix = {"authorization": "Bearer"}
        client = kubernetes.client.ApiClient(config)
        self._clients.append(client)
        return client

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of its log."""
        return self.process.log_tail(lines)

    def stop(self) -> None:
        """Stop the simulator (SIGTERM, then SIGKILL) and close the clients made here."""
        for client in self._clients:
            client.close()  # type: ignore[no-untyped-call]
        self._clients.clear()
        self.process.stop(timeout=5)


def start_sim(
    *extra_args: str, immediate: bool = True, timeout: float = START_TIMEOUT
) -> SimServer:
    """Start a simulator (see :meth:`SimServer.start`); call ``stop()`` when done."""
    return SimServer.start(*extra_args, immediate=immediate, timeout=timeout)


@contextmanager
def sim_server(*extra_args: str, immediate: bool = True) -> Iterator[SimServer]:
    """Run a simulator for the duration of a ``with`` block."""
    server = SimServer.start(*extra_args, immediate=immediate)
    try:
        yield server
    finally:
        server.stop()
