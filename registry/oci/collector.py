"""Blob garbage collection: blobs go away only when no manifest references them.

`DELETE /v2/<name>/blobs/<digest>` is refused (405 `UNSUPPORTED`, as Quay), because removing a blob
a tagged manifest references breaks the image. Instead, as Quay's garbage collector does, a pass
running every `GC_INTERVAL_SECONDS`:

1. removes a repository's link to a blob that no manifest of that repository references, once the
   blob was last linked more than `unreferenced_seconds` ago (Quay keeps a freshly pushed blob alive
   for an hour with a temporary tag, so a client can upload layers first and the manifest after);
2. removes the blob row and its file once no repository links it (after the same delay).

A commit of an upload (or a mount) and the collection of the same digest must not interleave (the
file could go while a new link to it is written), so both go through `BlobGuard`: uploads mark the
digest in use; the collector takes only digests nobody uses and holds them until their files are
gone. One process per data directory (as for upload sessions), so the guard is in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator

from sqlalchemy import delete, exists, select
from sqlalchemy.sql.expression import Exists

from registry.oci.blobstore import BlobStore
from registry.oci.digests import Digest, DigestError
from registry.store.database import Store
from registry.store.schema import blob, manifest, manifest_reference, repository_blob

log = logging.getLogger(__name__)

GC_INTERVAL_SECONDS = 60.0
DEFAULT_UNREFERENCED_SECONDS = 3600.0
"""How long a blob no manifest references stays linked (Quay's PUSH_TEMP_TAG_EXPIRATION_SEC)."""


class BlobGuard:
    """Keeps the collector and blob commits of the same digest apart (see the module docstring)."""

    def __init__(self) -> None:
        self._using: Counter[str] = Counter()
        self._collecting: set[str] = set()
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def using(self, digest: Digest) -> AsyncIterator[None]:
        """Hold `digest` while its file is adopted or linked; waits while it is being collected."""
        key = str(digest)
        async with self._changed:
            await self._changed.wait_for(lambda: key not in self._collecting)
            self._using[key] += 1
        try:
            yield
        finally:
            self._using[key] -= 1
            if self._using[key] <= 0:
                del self._using[key]
            async with self._changed:
                self._changed.notify_all()

    def claim(self, digest: str) -> bool:
        """Take `digest` for collection unless a commit uses it (no await: atomic on the loop)."""
        if self._using[digest] > 0:
            return False
        self._collecting.add(digest)
        return True

    async def release(self, digests: set[str]) -> None:
        """Let waiting commits of `digests` go on."""
        self._collecting -= digests
        async with self._changed:
            self._changed.notify_all()


def _referenced_in_its_repository() -> Exists:
    return exists().where(
        manifest.c.repository_id == repository_blob.c.repository_id,
        manifest_reference.c.manifest_id == manifest.c.id,
        manifest_reference.c.digest == repository_blob.c.digest,
    )


async def collect(
    store: Store, blobs: BlobStore, guard: BlobGuard, unreferenced_seconds: float
) -> int:
    """One pass: drop stale unreferenced links, then unlinked blobs; returns the blobs removed."""
    cutoff = time.time() - unreferenced_seconds
    stale = select(blob.c.digest).where(blob.c.created < cutoff)
    async with store.write() as conn:
        await conn.execute(
            delete(repository_blob).where(
                ~_referenced_in_its_repository(), repository_blob.c.digest.in_(stale)
            )
        )
    claimed: set[str] = set()
    try:
        async with store.write() as conn:
            rows = await conn.execute(
                select(blob.c.digest).where(
                    blob.c.created < cutoff,
                    ~exists().where(repository_blob.c.digest == blob.c.digest),
                    ~exists().where(manifest_reference.c.digest == blob.c.digest),
                )
            )
            claimed = {digest for digest in rows.scalars() if guard.claim(digest)}
            if claimed:
                await conn.execute(delete(blob).where(blob.c.digest.in_(claimed)))
        for digest in claimed:
            with contextlib.suppress(DigestError):
                await asyncio.to_thread(blobs.delete, Digest.parse(digest))
    finally:
        await guard.release(claimed)
    return len(claimed)


async def run_forever(
    store: Store, blobs: BlobStore, guard: BlobGuard, unreferenced_seconds: float
) -> None:
    """Collect every `GC_INTERVAL_SECONDS` (or sooner for a short delay) until cancelled."""
    interval = min(GC_INTERVAL_SECONDS, max(0.05, unreferenced_seconds / 4))
    while True:
        await asyncio.sleep(interval)
        try:
            removed = await collect(store, blobs, guard, unreferenced_seconds)
            if removed:
                log.info("blob GC removed %d blob(s) no manifest references", removed)
        except Exception:  # keep collecting; the next pass retries
            log.exception("blob GC pass failed")
