"""A whole stack in one work directory: registry core, simulator and operator with its webhook.

This is how ``quay-bridge demo`` runs the components, and how the end-to-end, security and
browser tests run them: each exactly as a user would, through the command line, met only over
HTTP. Logs (``registry.log``, ``sim.log``, ``operator.log``), data, certificates and the
kubeconfig all live in the work directory; the processes are in :attr:`Stack.components` by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from devstack.operator import Operator, make_certificates
from devstack.ports import ip_version
from devstack.processes import Process, StartError
from devstack.registry import RegistryServer
from devstack.sim import SimServer

#: The order :meth:`Stack.close` stops components in: the operator needs the others to shut down.
STOP_ORDER = ("operator", "sim", "registry")


@dataclass
class Stack:
    """The processes of one demo (or test) run, all under one work directory.

    Attributes:
        workdir: where logs, data, certificates and the kubeconfig live.
        components: what was started, by name (``registry``, ``sim``, ``operator``).
        env: extra environment for the processes.
    """

    workdir: Path
    components: dict[str, Process] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    registry_url: str = ""
    sim_url: str = ""
    kubeconfig: Path | None = None
    webhook_url: str = ""
    metrics_url: str = ""
    cert_dir: Path | None = None
    #: the registry core's PostgreSQL URL; None keeps SQLite in its data directory
    registry_database: str | None = None
    #: the loopback address every component listens on: ``127.0.0.1``, or ``::1`` (``--ipv6``)
    host: str = "127.0.0.1"
    #: more options for ``quay-registry serve`` and ``quay-bridge run`` (e.g. ``--fips``)
    registry_args: tuple[str, ...] = ()
    operator_args: tuple[str, ...] = ()

    @property
    def ip_version(self) -> str:
        """``IPv4`` or ``IPv6``, after :attr:`host` (the components' ``--listen-ip-version``)."""
        return ip_version(self.host)

    def start_registry(self, *, port: int | None = None, data: Path | None = None) -> str:
        """Start the registry core (SQLite in the work directory); return its base URL.

        ``port`` and ``data`` start it again at the same address on other data (a restore).
        The demo makes the first user itself, so none is made here.
        """
        data = data or self.workdir / "registry-data"
        data.mkdir(exist_ok=True)
        server = RegistryServer.start(
            data_dir=data,
            database=self.registry_database,
            gc_seconds=None,
            initialize=False,
            host=self.host,
            port=port,
            extra_args=self.registry_args,
            env=self.env,
            log=self.workdir / "registry.log",
        )
        self.components["registry"] = server.process
        self.registry_url = server.url
        return self.registry_url

    def start_sim(
        self, registry_url: str, insecure_hosts: tuple[str, ...] = (), *, port: int | None = None
    ) -> Path:
        """Start the simulator, builds pushing to ``registry_url``; return its kubeconfig path.

        The registry core speaks plain HTTP, so its host (and any proxy in front of it, in
        ``insecure_hosts``) is declared insecure to the simulator's pushes and imports. ``port``
        starts it on a known port (a restart in the same place, with all its state lost). The
        simulator keeps OpenShift's own timings.
        """
        kubeconfig = self.workdir / "kubeconfig"
        sim = SimServer.start(
            immediate=False,
            registry=registry_url,
            insecure_registries=insecure_hosts,
            host=self.host,
            port=port,
            kubeconfig=kubeconfig,
            log=self.workdir / "sim.log",
            env=self.env,
            cwd=self.workdir,
        )
        self.components["sim"] = sim.process
        self.sim_url = sim.url
        self.kubeconfig = kubeconfig
        return kubeconfig

    def make_certificates(self) -> Path:
        """Make the webhook's CA and serving certificate for the host (``quay-bridge certs``)."""
        self.cert_dir = make_certificates(
            self.workdir / "certs", self.host, env=self.env, cwd=self.workdir
        )
        return self.cert_dir

    def start_operator(self, *, webhook_port: int | None = None) -> None:
        """Start the operator with its webhook on loopback (same ports again on a restart)."""
        if self.kubeconfig is None or self.cert_dir is None:
            raise StartError("start the simulator and make the certificates first")
        metrics_port = None
        if self.webhook_url:
            webhook_port = urlsplit(self.webhook_url).port
            metrics_port = urlsplit(self.metrics_url).port
        operator = Operator.start(
            self.kubeconfig,
            *self.operator_args,
            cert_dir=self.cert_dir,
            host=self.host,
            webhook_port=webhook_port,
            metrics_port=metrics_port,
            log=self.workdir / "operator.log",
            env=self.env,
            cwd=self.workdir,
        )
        self.components["operator"] = operator.process
        self.webhook_url = operator.webhook_url
        self.metrics_url = operator.base_url

    def stop(self, name: str) -> None:
        """Stop one component (the restart scenario stops the operator mid-flow)."""
        component = self.components.pop(name, None)
        if component is not None:
            component.stop()

    def kill(self, name: str) -> None:
        """Kill one component at once (the crash-restart scenario)."""
        component = self.components.pop(name, None)
        if component is not None:
            component.kill()

    def close(self) -> None:
        """Stop every component, the operator first (it needs the others to shut down cleanly)."""
        for name in (*STOP_ORDER, *list(self.components)):
            self.stop(name)
