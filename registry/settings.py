"""The registry core's settings: where it listens, where it keeps data, and its timing knobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from registry.algorithms import Algorithms
from registry.quaycost import QuayCost

DEFAULT_NAMESPACE_GC_SECONDS = 60.0
DEFAULT_UNREFERENCED_BLOB_SECONDS = 3600.0
INITIALIZE_TOKEN_SECONDS = 9000
MINTED_TOKEN_DEFAULT_SECONDS = int(3652.5 * 24 * 3600)


@dataclass(frozen=True)
class Settings:
    """Everything ``make_app`` needs.

    Attributes:
        data_dir: directory for the SQLite database, the secret keys and blobs; created if missing.
        database_url: ``sqlite:///...``/``postgresql://...``; None = SQLite file in ``data_dir``.
        server_hostname: ``host:port`` clients use (Quay's SERVER_HOSTNAME); it appears in
            ``/v2`` challenges and absolute upload locations. None = the request's Host.
        namespace_gc_seconds: how long a deleted organization's name stays reserved ("Username is
            not available") before the namespace GC purges it; Quay's worker polls every 60 s.
        preferred_url_scheme: ``http`` or ``https``, for URLs built from ``server_hostname``.
        unreferenced_blob_seconds: how long a blob no manifest references stays (the blob GC).
        algorithms: the cryptographic choices, FIPS mode among them (``registry.algorithms``).
        quay_cost: when set, each bearer-token API call costs what it costs on Quay
            (``registry.quaycost``); None = answer as fast as possible.
    """

    data_dir: Path
    database_url: str | None = None
    server_hostname: str | None = None
    namespace_gc_seconds: float = DEFAULT_NAMESPACE_GC_SECONDS
    preferred_url_scheme: str = "http"
    unreferenced_blob_seconds: float = DEFAULT_UNREFERENCED_BLOB_SECONDS
    algorithms: Algorithms = field(default_factory=Algorithms)
    quay_cost: QuayCost | None = None

    def resolved_database_url(self) -> str:
        """The SQLAlchemy async URL for the metadata database."""
        url = self.database_url
        if url is None:
            return f"sqlite+inline:///{self.data_dir / 'registry.db'}"
        if url.startswith(("postgresql://", "postgres://")):
            return "postgresql+asyncpg://" + url.split("://", 1)[1]
        if url.startswith("sqlite:///"):
            return "sqlite+inline:///" + url.removeprefix("sqlite:///")
        return url
