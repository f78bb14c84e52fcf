"""The registry core (``quay-registry serve``) as a process, with its first user made on request.

Usage::

    from devstack.registry import registry_server

    with registry_server() as quay:          # free port, temp data dir, GC delay 0.5 s
        quay.url        # "http://127.0.0.1:PORT"
        quay.host       # "127.0.0.1:PORT" (also --server-hostname, so /v2 challenges name it)
        quay.token      # the first user's OAuth token: all 8 scopes
        quay.username   # "quayadmin", a superuser
        quay.password   # that user's password (registry logins: docker/skopeo --creds)

``RegistryServer.start(...)`` does the same without ``with`` (call ``stop()``). The first user is
made through ``POST /api/v1/user/initialize``, as an admin does on a real Quay; ``initialize=False``
leaves the server without users (the demo makes its own). The log is ``<data_dir>/server.log``
unless ``log`` names another file; a failed start raises with its tail.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from devstack.ports import authority, free_port, listen_options
from devstack.processes import START_TIMEOUT, Process, StartError, cli

DEFAULT_USERNAME = "quayadmin"
DEFAULT_PASSWORD = "quayadmin-password"
DEFAULT_EMAIL = "quayadmin@example.com"


@dataclass
class RegistryServer:
    """A running registry core and, once initialized, its first user's credentials."""

    url: str
    host: str
    data_dir: Path
    process: Process
    token: str = ""
    username: str = DEFAULT_USERNAME
    password: str = DEFAULT_PASSWORD
    owns_data_dir: bool = False

    @classmethod
    def start(
        cls,
        *,
        data_dir: Path | None = None,
        database: str | None = None,
        gc_seconds: float | None = 0.5,
        initialize: bool = True,
        timeout: float = START_TIMEOUT,
        host: str = "127.0.0.1",
        port: int | None = None,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
    ) -> RegistryServer:
        """Start ``serve`` and wait for ``/health/instance``; make the first user.

        Args:
            data_dir: its data directory (reuse one to restart on the same data); a temporary
                one, removed on :meth:`stop`, when None.
            database: a ``postgresql://`` URL; SQLite in the data directory when None.
            gc_seconds: ``--namespace-gc-seconds``; None keeps the product's default.
            initialize: make the first user (``quayadmin``) and keep its token.
            host: ``127.0.0.1`` or ``::1``.
            port: a known port (a restart at the same address); a free one when None.
            extra_args: more ``serve`` options (e.g. ``--fips``).
            env: variables added to its environment.
            log: its log file (default ``<data_dir>/server.log``).
            timeout: seconds it may take to answer.
        """
        owns = data_dir is None
        directory = (
            Path(tempfile.mkdtemp(prefix="quay-registry-")) if data_dir is None else data_dir
        )
        directory.mkdir(parents=True, exist_ok=True)
        port = port or free_port(host)
        where = authority(host, port)
        argv = cli(
            "registry", "serve",
            *listen_options(host, extra_args),
            "--port", str(port),
            "--data-dir", str(directory),
            "--server-hostname", where,
        )  # fmt: skip
        if gc_seconds is not None:
            argv += ["--namespace-gc-seconds", str(gc_seconds)]
        if database:
            argv += ["--database", database]
        argv += extra_args
        process = Process("registry", argv, log or directory / "server.log", env=env, cwd=directory)
        server = cls(f"http://{where}", where, directory, process, owns_data_dir=owns)
        try:
            process.start()
            process.await_ready(
                lambda: requests.get(f"{server.url}/health/instance", timeout=2).status_code == 200,
                "the registry core answering /health/instance",
                timeout,
            )
            if initialize:
                server.initialize()
        except BaseException:
            server.stop()
            raise
        return server

    def initialize(self) -> str:
        """Make the first user (a superuser) and keep its OAuth token, which has every scope."""
        response = requests.post(
            f"{self.url}/api/v1/user/initialize",
            json={
                "username": self.username,
                "password": self.password,
                "email": DEFAULT_EMAIL,
                "access_token": True,
            },
            timeout=10,
        )
        if response.status_code != 200:
            raise StartError(f"user/initialize failed: {response.status_code} {response.text}")
        self.token = str(response.json()["access_token"])
        return self.token

    def headers(self) -> dict[str, str]:
        """``Authorization`` and ``Accept`` headers for REST calls with ``token``."""
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}

    def get(self, path: str, token: str | None = None) -> requests.Response:
        """``GET`` a path of the REST API with ``token`` (the first user's by default)."""
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return requests.get(self.url + path, headers=headers, timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of its log."""
        return self.process.log_tail(lines)

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s); remove an owned data dir."""
        self.process.stop()
        if self.owns_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.owns_data_dir = False


@contextmanager
def registry_server(
    *,
    data_dir: Path | None = None,
    database: str | None = None,
    gc_seconds: float | None = 0.5,
    initialize: bool = True,
    host: str = "127.0.0.1",
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> Iterator[RegistryServer]:
    """Run a registry core for the duration of the block (see the module docstring)."""
    server = RegistryServer.start(
        data_dir=data_dir,
        database=database,
        gc_seconds=gc_seconds,
        initialize=initialize,
        host=host,
        extra_args=extra_args,
        env=env,
    )
    try:
        yield server
    finally:
        server.stop()
