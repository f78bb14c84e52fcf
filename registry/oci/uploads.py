"""Blob upload sessions kept on disk, so a chunked push survives a registry restart.

A session is a directory `uploads/<uuid>/` holding `session.json` (repository and start time) and
`data` (the bytes received so far; its length is the session's offset). Request bodies are streamed
into `data` in bounded chunks, never held whole in memory. Each session's running hash is kept in
memory between PATCH requests so finishing a large upload does not reread it; after a restart (or
for a sha512 digest) the file is hashed again from disk. A request that breaks off mid-body is
rolled back to the offset it started from, and a finish whose digest does not match removes the
session: in both cases nothing half-written stays behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import time
import uuid as uuidlib
from collections.abc import AsyncIterable
from dataclasses import dataclass
from pathlib import Path

from registry.oci.blobstore import BlobStore
from registry.oci.digests import Digest, StreamHasher

FLUSH_BYTES = 1024 * 1024
"""Bytes buffered from the socket before one write+hash step runs in a worker thread."""

_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class UploadBroken(Exception):
    """The request body ended before its declared length, or the client went away mid-body."""


class UploadDigestMismatch(Exception):
    """The finished upload does not hash to the digest the client named."""


class UploadSizeMismatch(Exception):
    """The body's length differs from its Content-Length."""


@dataclass
class UploadSession:
    """One upload in progress."""

    uuid: str
    repository: str
    started: float
    size: int


class UploadStore:
    """Upload sessions under `BlobStore.uploads`, committed into the same `BlobStore`."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs
        self._hashers: dict[str, StreamHasher] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _dir(self, upload_id: str) -> Path:
        return self.blobs.uploads / upload_id

    def create(self, repository: str) -> UploadSession:
        """Open a new, empty session for `repository`."""
        upload_id = str(uuidlib.uuid4())
        directory = self._dir(upload_id)
        directory.mkdir(parents=True)
        (directory / "data").touch()
        session = UploadSession(upload_id, repository, time.time(), 0)
        tmp = directory / "session.json.tmp"
        tmp.write_text(json.dumps({"repository": repository, "started": session.started}))
        os.replace(tmp, directory / "session.json")
        self._hashers[upload_id] = StreamHasher()
        return session

    def get(self, upload_id: str) -> UploadSession | None:
        """The session `upload_id`, or None when it does not exist (or the id is malformed)."""
        if not _UUID_RE.match(upload_id):
            return None
        directory = self._dir(upload_id)
        try:
            meta = json.loads((directory / "session.json").read_text())
            size = (directory / "data").stat().st_size
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return UploadSession(upload_id, str(meta["repository"]), float(meta["started"]), size)

    def lock(self, upload_id: str) -> asyncio.Lock:
        """The lock that serialises requests on one session within this process."""
        return self._locks.setdefault(upload_id, asyncio.Lock())

    async def append(
        self,
        session: UploadSession,
        chunks: AsyncIterable[bytes],
        expected_length: int | None = None,
    ) -> UploadSession:
        """Stream `chunks` onto the end of the session's data.

        Args:
            session: the session (its `size` is the offset the write starts at).
            chunks: the request body; a body that breaks off raises `ConnectionError` or `EOFError`
                (the HTTP layer translates its own errors into those).
            expected_length: the Content-Length, when the client sent one.

        Raises:
            UploadBroken: the body broke off; the data is rolled back to `session.size`.
            UploadSizeMismatch: the body's length differs from `expected_length`; rolled back too.
        """
        start = session.size
        hasher = self._hashers.get(session.uuid)
        if hasher is not None and hasher.size != start:
            hasher = None  # the kept hash lags the file (a rolled-back write): rehash later
        # Hash a copy so a rolled-back write leaves the kept hash as it was.
        running = hasher.copy() if hasher is not None else None
        fd = os.open(self._dir(session.uuid) / "data", os.O_WRONLY | os.O_APPEND)
        received = 0
        try:
            buffer: list[bytes] = []
            buffered = 0
            try:
                async for chunk in chunks:
                    buffer.append(chunk)
                    buffered += len(chunk)
                    if buffered >= FLUSH_BYTES:
                        await asyncio.to_thread(_write, fd, running, b"".join(buffer))
                        received += buffered
                        buffer, buffered = [], 0
            except (ConnectionError, EOFError) as exc:
                raise UploadBroken(str(exc)) from exc
            if buffer:
                await asyncio.to_thread(_write, fd, running, b"".join(buffer))
                received += buffered
            if expected_length is not None and received != expected_length:
                raise UploadSizeMismatch(f"received {received} bytes, expected {expected_length}")
        except BaseException:
            os.ftruncate(fd, start)
            raise
        finally:
            os.close(fd)
        if running is not None:
            self._hashers[session.uuid] = running
        else:
            self._hashers.pop(session.uuid, None)
        session.size = start + received
        return session

    async def commit(self, session: UploadSession, digest: Digest) -> int:
        """Verify the session's data against `digest`, move it into the blob store, end the session.

        Returns:
            The blob's size.

        Raises:
            UploadDigestMismatch: the data hashes to something else; the session is removed.
        """
        hasher = self._hashers.get(session.uuid)
        data = self._dir(session.uuid) / "data"
        if hasher is None or hasher.size != session.size or hasher.algorithm != digest.algorithm:
            hasher = await asyncio.to_thread(_hash_file, data, digest.algorithm)
        if not hasher.matches(digest):
            self.delete(session)
            raise UploadDigestMismatch(f"upload hashes to {hasher.digest()}, not {digest}")
        await asyncio.to_thread(self.blobs.adopt, data, digest)
        self.delete(session)
        return hasher.size

    def delete(self, session: UploadSession) -> None:
        """End the session and remove its files."""
        self._hashers.pop(session.uuid, None)
        self._locks.pop(session.uuid, None)
        shutil.rmtree(self._dir(session.uuid), ignore_errors=True)

    def purge_older_than(self, seconds: float) -> int:
        """Remove sessions started more than `seconds` ago; returns how many went."""
        removed = 0
        cutoff = time.time() - seconds
        for directory in list(self.blobs.uploads.iterdir()):
            session = self.get(directory.name)
            if session is None or session.started < cutoff:
                with contextlib.suppress(FileNotFoundError):
                    shutil.rmtree(directory)
                removed += 1
        return removed


def _write(fd: int, hasher: StreamHasher | None, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    if hasher is not None:
        hasher.update(data)


def _hash_file(path: Path, algorithm: str) -> StreamHasher:
    hasher = StreamHasher(algorithm)
    with open(path, "rb") as handle:
        while chunk := handle.read(FLUSH_BYTES):
            hasher.update(chunk)
    return hasher
