"""Start a real registry core (``quay-registry serve``) as a subprocess for tests and benchmarks.

Every test that needs a Quay (bridge client, simulator, webhook, end to end) uses this:

    from tests.support.registry_server import registry_server

    with registry_server() as quay:          # free port, temp data dir, GC delay 0.5 s
        quay.url        # "http://127.0.0.1:PORT"
        quay.host       # "127.0.0.1:PORT" (also --server-hostname, so /v2 challenges name it)
        quay.token      # the first user's OAuth token: all 8 scopes, expires after 9000 s
        quay.username   # "quayadmin", a superuser
        quay.password   # that user's password (registry logins: docker/skopeo --creds)
        quay.stop()     # also done on leaving the block; idempotent

``RegistryServer.start(...)`` does the same without a ``with`` (call ``stop()`` yourself).
Options: ``database`` (a ``postgresql://`` URL; default SQLite in the data dir), ``data_dir`` (reuse
one to test restarts), ``gc_seconds``, ``initialize`` (False leaves the server without users),
``host`` (``::1`` for IPv6; the URL then brackets it), ``extra_args`` (more ``serve`` options, e.g.
``--fips``) and ``env`` (added to the process's environment). The server's log is
``<data_dir>/server.log``; a failed start raises with its tail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import requests

from tests.support.ports import free_port, free_port_on

START_TIMEOUT_SECONDS = 30.0
DEFAULT_USERNAME = "quayadmin"
DEFAULT_PASSWORD = "quayadmin-password"
DEFAULT_EMAIL = "quayadmin@example.com"


def _command() -> list[str]:
    script = Path(sys.executable).parent / "quay-registry"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys, registry.commands as c; sys.exit(c.main())"]


@dataclass
class RegistryServer:
    """A running registry core process and its first user's credentials."""

    url: str
    host: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    token: str = ""
    username: str = DEFAULT_USERNAME
    password: str = DEFAULT_PASSWORD
    owns_data_dir: bool = False
    _log: IO[bytes] | None = field(default=None, repr=False)

    @classmethod
    def start(
        cls,
        *,
        data_dir: Path | None = None,
        database: str | None = None,
        gc_seconds: float = 0.5,
        initialize: bool = True,
        timeout: float = START_TIMEOUT_SECONDS,
        host: str = "127.0.0.1",
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> RegistryServer:
        """Start ``quay-registry serve`` and wait for ``/health/instance``; bootstrap the user."""
        owns = data_dir is None
        directory = Path(tempfile.mkdtemp(prefix="quay-registry-test-")) if owns else data_dir
        assert directory is not None
        directory.mkdir(parents=True, exist_ok=True)
        port = free_port() if host == "127.0.0.1" else free_port_on(host)
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        args = [
            *_command(),
            "serve",
            "--host",
            host,
            "--port",
            str(port),
            "--data-dir",
            str(directory),
            "--server-hostname",
            authority,
            "--namespace-gc-seconds",
            str(gc_seconds),
            *extra_args,
        ]
        if database:
            args += ["--database", database]
        log = open(directory / "server.log", "ab")  # noqa: SIM115 - closed in stop()
        process = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=directory,
        )
        server = cls(
            url=f"http://{authority}",
            host=authority,
            data_dir=directory,
            process=process,
            owns_data_dir=owns,
            _log=log,
        )
        try:
            server._wait_healthy(timeout)
            if initialize:
                server._initialize()
        except BaseException:
            server.stop()
            raise
        return server

    def _log_tail(self) -> str:
        try:
            return (self.data_dir / "server.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"registry core exited early:\n{self._log_tail()}")
            try:
                if requests.get(f"{self.url}/health/instance", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"registry core not healthy after {timeout}s:\n{self._log_tail()}")

    def _initialize(self) -> None:
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
            raise RuntimeError(f"user/initialize failed: {response.status_code} {response.text}")
        self.token = response.json()["access_token"]

    def headers(self) -> dict[str, str]:
        """``Authorization`` and ``Accept`` headers for REST calls with ``token``."""
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after 10 s); remove an owned data dir."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        log = self._log
        if log is not None:
            log.close()
            self._log = None
        if self.owns_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.owns_data_dir = False


@contextmanager
def registry_server(
    *,
    data_dir: Path | None = None,
    database: str | None = None,
    gc_seconds: float = 0.5,
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
