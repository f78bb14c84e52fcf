"""Writing certificates and keys to disk atomically, keys readable by their owner only.

The webhook server reloads its certificate when the files change, so a reader must never see a
half-written file: each file is written to a temporary file in the same directory, flushed to disk
and renamed over the old one. Key files get mode 0600 before any byte is written, so a key is never
readable by others even for an instant.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from certs.issuing import Issued

CA_CERT = "ca.crt"
CA_KEY = "ca.key"
TLS_CERT = "tls.crt"
TLS_KEY = "tls.key"

KEY_MODE = 0o600
CERT_MODE = 0o644


@dataclass(frozen=True)
class ServingFiles:
    """Where a serving certificate, its key and the CA that signed it live."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        """The CA certificate (``ca.crt``), the webhook's ``caBundle``."""
        return self.directory / CA_CERT

    @property
    def cert(self) -> Path:
        """The serving certificate (``tls.crt``)."""
        return self.directory / TLS_CERT

    @property
    def key(self) -> Path:
        """The serving key (``tls.key``)."""
        return self.directory / TLS_KEY

    def exist(self) -> bool:
        """Return whether the serving certificate and key are both there."""
        return self.cert.is_file() and self.key.is_file()


def write_atomically(path: Path, data: bytes, mode: int = CERT_MODE) -> None:
    """Replace ``path`` with ``data`` in one rename; the file has ``mode`` from its creation."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_directory(path.parent)


def write_serving_files(directory: Path, ca_cert_pem: bytes, serving: Issued) -> ServingFiles:
    """Write ``ca.crt``, ``tls.crt`` and ``tls.key`` into ``directory``.

    The key is written first and the certificate last, so a reader that polls the certificate
    sees a change only once its key is in place.
    """
    files = ServingFiles(directory)
    write_atomically(files.ca_cert, ca_cert_pem)
    write_atomically(files.key, serving.key_pem, KEY_MODE)
    write_atomically(files.cert, serving.cert_pem)
    return files


def write_ca(directory: Path, ca: Issued) -> None:
    """Write a CA's certificate and key (``ca.crt``, ``ca.key``) for later renewals."""
    write_atomically(directory / CA_KEY, ca.key_pem, KEY_MODE)
    write_atomically(directory / CA_CERT, ca.cert_pem)


def _sync_directory(directory: Path) -> None:
    """Flush the rename itself to disk, where the filesystem allows opening a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
