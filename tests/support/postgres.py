"""A throwaway PostgreSQL cluster for tests: ``initdb`` + ``pg_ctl`` on a free loopback port.

Debian's ``postgresql`` package puts its binaries in ``/usr/lib/postgresql/<version>/bin``. As
root, they run through ``runuser -u postgres --`` with the data directory owned by ``postgres``
(PostgreSQL refuses to run as root). The cluster trusts local connections, skips fsync, and is
removed on stop.

    with postgres_cluster() as pg:       # raises PostgresUnavailableError when not installed
        url = pg.create_database("t1")   # "postgresql://postgres@127.0.0.1:PORT/t1"

``find_bin_dir()`` returns None when PostgreSQL is not installed, so callers can skip with a reason.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devstack.ports import free_port

START_TIMEOUT_SECONDS = 60


class PostgresUnavailableError(RuntimeError):
    """PostgreSQL binaries are not installed, or the cluster could not start."""


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` holding ``initdb``, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: (
            int(Path(path).parent.parent.name) if Path(path).parent.parent.name.isdigit() else 0
        ),
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@dataclass
class PostgresCluster:
    """A running cluster."""

    bin_dir: Path
    base_dir: Path
    port: int

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self.base_dir / "data"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_as_postgres(), *args],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_SECONDS,
            check=False,
        )

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql://`` URL for ``database``."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create database ``name`` and return its URL."""
        result = self._run(
            str(self.bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
            "postgres", name,
        )  # fmt: skip
        if result.returncode != 0:
            raise PostgresUnavailableError(f"createdb {name} failed: {result.stderr.strip()}")
        return self.url(name)

    def stop(self) -> None:
        """Stop the server and remove its files."""
        if self.data_dir.exists():
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate",
                      "-w", "stop")  # fmt: skip
        shutil.rmtree(self.base_dir, ignore_errors=True)


def start_cluster() -> PostgresCluster:
    """Initialise and start a cluster in a new temp dir.

    Raises:
        PostgresUnavailableError: PostgreSQL is missing or did not start (with its log).
    """
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise PostgresUnavailableError("PostgreSQL is not installed (no initdb found)")
    base = Path(tempfile.mkdtemp(prefix="quay-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    cluster = PostgresCluster(bin_dir=bin_dir, base_dir=base, port=free_port())
    init = cluster._run(str(bin_dir / "initdb"), "-D", str(cluster.data_dir), "-A", "trust",
                        "-U", "postgres", "--no-sync", "-E", "UTF8")  # fmt: skip
    if init.returncode != 0:
        cluster.stop()
        raise PostgresUnavailableError(f"initdb failed: {init.stderr.strip()[-2000:]}")
    options = (
        f"-p {cluster.port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    start = cluster._run(str(bin_dir / "pg_ctl"), "-D", str(cluster.data_dir), "-o", options,
                         "-l", str(base / "server.log"), "-w", "-t", "60", "start")  # fmt: skip
    if start.returncode != 0:
        log = (base / "server.log").read_text(errors="replace")[-2000:] if base.exists() else ""
        cluster.stop()
        raise PostgresUnavailableError(f"pg_ctl start failed: {start.stderr.strip()}\n{log}")
    return cluster


@contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Run a throwaway cluster for the duration of the block."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()
