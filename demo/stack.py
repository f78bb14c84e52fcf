"""Start and stop the demo's components as processes on loopback: registry, simulator, operator.

The demo must show the real thing, so it runs each component exactly as a user would, through
the ``quay-bridge`` command line (``python -m quaybridge_cli ...``), and meets them only over HTTP.
Each process gets its own log file in the work directory (shown when a step fails), its own
process group (so it can be stopped with everything it started), a free port on 127.0.0.1 (or on
::1), and a bounded wait until it answers its health endpoint. ``tests/e2e`` starts its stacks
with it too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests

#: Seconds a component may take to answer its health endpoint after it was started.
START_TIMEOUT = 30.0
#: Seconds a component may take to exit after SIGTERM before it is killed.
STOP_TIMEOUT = 10.0


class StackError(RuntimeError):
    """A component could not be started or did not become ready."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` (``127.0.0.1`` or ``::1``) that nothing listens on now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def authority(host: str, port: int) -> str:
    """``host:port`` as URLs and image references write it (IPv6 addresses in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def cli(*args: str) -> list[str]:
    """Return the argv that runs ``quay-bridge <args>`` with this interpreter."""
    return [sys.executable, "-m", "quaybridge_cli", *args]


@dataclass
class Component:
    """One running process of the stack.

    Attributes:
        name: ``registry``, ``sim`` or ``operator``.
        argv: the command line it was started with.
        log: file receiving its stdout and stderr.
        process: the running process.
    """

    name: str
    argv: list[str]
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def running(self) -> bool:
        """Whether the process has not exited."""
        return self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        """Return the last lines of the component's log, for error messages."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        """Kill the process group at once (SIGKILL), as a crash would."""
        if self.running():
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                return
            self.process.wait(timeout=STOP_TIMEOUT)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the process group: SIGTERM, then SIGKILL after ``timeout`` seconds."""
        if not self.running():
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll ``check`` until it returns True; raise :class:`TimeoutError` naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (requests.RequestException, OSError):
            pass
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(interval)


def _answers(url: str, verify: bool | str = True) -> bool:
    return requests.get(url, timeout=2, verify=verify).status_code == 200


@dataclass
class Stack:
    """The processes of one demo (or test) run, all under one work directory.

    Attributes:
        workdir: where logs, data, certificates and the kubeconfig live.
        components: what was started, by name.
        env: extra environment for the processes.
    """

    workdir: Path
    components: dict[str, Component] = field(default_factory=dict)
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
        return "IPv6" if ":" in self.host else "IPv4"

    def _spawn(self, name: str, argv: list[str]) -> Component:
        log = self.workdir / f"{name}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        with log.open("ab") as out:
            process = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.workdir,
                start_new_session=True,
            )
        component = Component(name, argv, log, process)
        self.components[name] = component
        return component

    def _await(self, component: Component, check: Callable[[], bool], what: str) -> None:
        def ready() -> bool:
            if not component.running():
                raise StackError(
                    f"{component.name} exited with code {component.process.returncode}:\n"
                    + component.log_tail()
                )
            return check()

        try:
            wait_until(ready, START_TIMEOUT, what)
        except TimeoutError as error:
            raise StackError(f"{error}\n{component.log_tail()}") from None

    def start_registry(self, *, port: int | None = None, data: Path | None = None) -> str:
        """Start the registry core (SQLite in the work directory); return its base URL.

        ``port`` and ``data`` start it again at the same address on other data (a restore).
        """
        port = port or free_port(self.host)
        data = data or self.workdir / "registry-data"
        data.mkdir(exist_ok=True)
        argv = cli(
            "registry",
            "serve",
            "--listen-ip-version",
            self.ip_version,
            "--host",
            self.host,
            "--port",
            str(port),
            "--data-dir",
            str(data),
            "--server-hostname",
            authority(self.host, port),
        )
        if self.registry_database:
            argv += ["--database", self.registry_database]
        argv += self.registry_args
        component = self._spawn("registry", argv)
        self.registry_url = f"http://{authority(self.host, port)}"
        self._await(
            component,
            lambda: _answers(f"{self.registry_url}/health/instance"),
            "the registry core answering /health/instance",
        )
        return self.registry_url

    def start_sim(
        self, registry_url: str, insecure_hosts: tuple[str, ...] = (), *, port: int | None = None
    ) -> Path:
        """Start the simulator, builds pushing to ``registry_url``; return its kubeconfig path.

        The registry core speaks plain HTTP, so its host (and any proxy in front of it, in
        ``insecure_hosts``) is declared insecure to the simulator's pushes and imports. ``port``
        starts it on a known port (a restart in the same place, with all its state lost).
        """
        port = port or free_port(self.host)
        kubeconfig = self.workdir / "kubeconfig"
        argv = cli(
            "sim",
            "--listen-ip-version",
            self.ip_version,
            "--host",
            self.host,
            "--port",
            str(port),
            "--registry",
            registry_url,
            "--kubeconfig-out",
            str(kubeconfig),
        )
        for host in (urlsplit(registry_url).netloc, *insecure_hosts):
            argv += ["--insecure-registry", host]
        component = self._spawn("sim", argv)
        self.sim_url = f"http://{authority(self.host, port)}"
        self.kubeconfig = kubeconfig
        self._await(
            component,
            lambda: kubeconfig.exists() and _answers(f"{self.sim_url}/readyz"),
            "the simulator answering /readyz",
        )
        return kubeconfig

    def make_certificates(self) -> Path:
        """Make the webhook's CA and serving certificate for the host (``quay-bridge certs``)."""
        out = self.workdir / "certs"
        argv = cli(
            "certs",
            "generate",
            "--service",
            "quay-bridge-webhook",
            "--namespace",
            "quay-bridge",
            "--out",
            str(out),
            "--ip",
            self.host,
            "--dns",
            "localhost",
        )
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=self.workdir,
            env={**os.environ, **self.env},
            check=False,
        )
        if done.returncode != 0 or not (out / "ca.crt").exists():
            raise StackError(f"certs generate failed ({done.returncode}): {done.stderr[-2000:]}")
        self.cert_dir = out
        return out

    def start_operator(self, *, webhook_port: int | None = None) -> None:
        """Start the operator with its webhook on loopback (same ports again on a restart)."""
        if self.kubeconfig is None or self.cert_dir is None:
            raise StackError("start the simulator and make the certificates first")
        if not self.webhook_url:
            where = authority(self.host, webhook_port or free_port(self.host))
            self.webhook_url = f"https://{where}/admissionwebhook"
            self.metrics_url = f"http://{authority(self.host, free_port(self.host))}"
        webhook_port_ = str(urlsplit(self.webhook_url).port)
        metrics_port = str(urlsplit(self.metrics_url).port)
        argv = cli(
            "run",
            "--kubeconfig",
            str(self.kubeconfig),
            "--standalone",
            "--listen-ip-version",
            self.ip_version,
            "--webhook-host",
            self.host,
            "--webhook-port",
            webhook_port_,
            "--cert-dir",
            str(self.cert_dir),
            "--metrics-host",
            self.host,
            "--metrics-port",
            metrics_port,
            *self.operator_args,
        )
        component = self._spawn("operator", argv)
        self._await(
            component,
            lambda: _answers(f"{self.metrics_url}/readyz"),
            "the operator answering /readyz",
        )

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
        for name in ("operator", "sim", "registry", *list(self.components)):
            self.stop(name)
