"""The `/v2` API's reads and writes in the metadata store: blob links, manifests, tags, referrers.

Uses the OCI tables the store's first migration creates (`blob`, `repository_blob`, `manifest`,
`manifest_reference`, `tag`). Which blobs a repository may serve is the `repository_blob` link, not
the file's existence. A manifest's bytes live in `manifest.content`; its references are rows of
`manifest_reference` with kind `blob` (config and layers), `manifest` (an index's children) or
`subject` (what a referrer points at; the referrers API reads those). Moving a tag ends the live row
(`end_ts`) and starts a new one, so the REST API's tag history stays right. Every function takes an
open connection; the caller owns the transaction.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from registry.oci.digests import Digest
from registry.oci.manifests import ParsedManifest
from registry.store.repositories import Repository, select_repositories
from registry.store.schema import (
    account,
    blob,
    manifest,
    manifest_reference,
    repository,
    repository_blob,
    tag,
)


def _live_repository(namespace: str, name: str) -> list[Any]:
    return [
        account.c.username == namespace,
        account.c.enabled.is_(True),
        account.c.kind != "robot",
        repository.c.name == name,
        repository.c.state == "NORMAL",
    ]


async def repository_by_name(conn: AsyncConnection, namespace: str, name: str) -> Repository | None:
    """The live repository `namespace/name` in one query (every `/v2` request starts here)."""
    row = (
        await conn.execute(select_repositories().where(*_live_repository(namespace, name)))
    ).first()
    return None if row is None else Repository(**dict(row._mapping))


@dataclass(frozen=True)
class StoredManifest:
    """A manifest row."""

    id: int
    digest: str
    media_type: str
    size: int
    content: bytes


def _insert_ignoring_duplicates(conn: AsyncConnection, table: Table) -> Executable:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


async def link_blob(conn: AsyncConnection, repo_id: int, digest: Digest, size: int) -> None:
    """Record the blob (once) and let `repo_id` serve it.

    The blob's `created` becomes now on every link: the collector (`registry.oci.collector`) reads
    it as "last linked" and leaves unreferenced links younger than its delay alone.
    """
    insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(blob)
    await conn.execute(
        insert.on_conflict_do_update(
            index_elements=[blob.c.digest], set_={"created": insert.excluded.created}
        ),
        {"digest": str(digest), "size": size, "created": time.time()},
    )
    await conn.execute(
        _insert_ignoring_duplicates(conn, repository_blob),
        {"repository_id": repo_id, "digest": str(digest)},
    )


async def linked_blob_size(conn: AsyncConnection, repo_id: int, digest: Digest) -> int | None:
    """The size of `digest` when `repo_id` may serve it, else None."""
    row = (
        await conn.execute(
            select(blob.c.size)
            .select_from(repository_blob.join(blob, blob.c.digest == repository_blob.c.digest))
            .where(repository_blob.c.repository_id == repo_id, blob.c.digest == str(digest))
        )
    ).first()
    return None if row is None else int(row.size)


async def blob_size_by_name(
    conn: AsyncConnection, namespace: str, name: str, digest: Digest
) -> int | None:
    """The size of `digest` when repository `namespace/name` may serve it, in one query."""
    row = (
        await conn.execute(
            select(blob.c.size)
            .select_from(
                repository_blob.join(blob, blob.c.digest == repository_blob.c.digest)
                .join(repository, repository.c.id == repository_blob.c.repository_id)
                .join(account, account.c.id == repository.c.namespace_id)
            )
            .where(*_live_repository(namespace, name), blob.c.digest == str(digest))
        )
    ).first()
    return None if row is None else int(row.size)


async def missing_blobs(
    conn: AsyncConnection, repo_id: int, digests: Iterable[Digest]
) -> list[Digest]:
    """Those of `digests` that `repo_id` cannot serve, in the order given."""
    wanted = list(dict.fromkeys(digests))
    if not wanted:
        return []
    rows = await conn.execute(
        select(repository_blob.c.digest).where(
            repository_blob.c.repository_id == repo_id,
            repository_blob.c.digest.in_([str(d) for d in wanted]),
        )
    )
    present = set(rows.scalars())
    return [d for d in wanted if str(d) not in present]


async def missing_manifests(
    conn: AsyncConnection, repo_id: int, digests: Iterable[Digest]
) -> list[Digest]:
    """Those of `digests` that are not manifests of `repo_id`."""
    wanted = list(dict.fromkeys(digests))
    if not wanted:
        return []
    rows = await conn.execute(
        select(manifest.c.digest).where(
            manifest.c.repository_id == repo_id, manifest.c.digest.in_([str(d) for d in wanted])
        )
    )
    present = set(rows.scalars())
    return [d for d in wanted if str(d) not in present]


_MANIFEST_COLUMNS = (
    manifest.c.id,
    manifest.c.digest,
    manifest.c.media_type,
    manifest.c.size,
    manifest.c.content,
)


def _stored(row: Row[Any, Any, Any, Any, Any]) -> StoredManifest:
    return StoredManifest(
        id=int(row.id),
        digest=str(row.digest),
        media_type=str(row.media_type),
        size=int(row.size),
        content=bytes(row.content),
    )


async def manifest_by_digest(
    conn: AsyncConnection, repo_id: int, digest: Digest
) -> StoredManifest | None:
    """The manifest `digest` of `repo_id`, or None."""
    row = (
        await conn.execute(
            select(*_MANIFEST_COLUMNS).where(
                manifest.c.repository_id == repo_id, manifest.c.digest == str(digest)
            )
        )
    ).first()
    return None if row is None else _stored(row)


async def manifest_by_name(
    conn: AsyncConnection, namespace: str, name: str, reference: Digest | str
) -> StoredManifest | None:
    """The manifest `reference` (digest or live tag) of repository `namespace/name`, in one query.

    The pull path's fast lane: None means either no such repository or no such manifest; the
    caller tells them apart with `repository_by_name` only when it has to answer an error.
    """
    joined = manifest.join(repository, repository.c.id == manifest.c.repository_id).join(
        account, account.c.id == repository.c.namespace_id
    )
    query = select(*_MANIFEST_COLUMNS).where(*_live_repository(namespace, name))
    if isinstance(reference, Digest):
        query = query.select_from(joined).where(manifest.c.digest == str(reference))
    else:
        query = query.select_from(joined.join(tag, tag.c.manifest_id == manifest.c.id)).where(
            tag.c.name == reference, tag.c.end_ts.is_(None)
        )
    row = (await conn.execute(query)).first()
    return None if row is None else _stored(row)


async def store_manifest(
    conn: AsyncConnection, repo_id: int, parsed: ParsedManifest, content: bytes
) -> int:
    """Insert the manifest with its references unless already there; return its id."""
    existing = await manifest_by_digest(conn, repo_id, parsed.digest)
    if existing is not None:
        return existing.id
    try:
        async with conn.begin_nested():
            result = await conn.execute(
                manifest.insert().values(
                    repository_id=repo_id,
                    digest=str(parsed.digest),
                    media_type=parsed.media_type,
                    size=parsed.size,
                    content=content,
                    created=time.time(),
                )
            )
    except IntegrityError:
        # A concurrent PUT of the same bytes won; its row is as good as ours.
        again = await manifest_by_digest(conn, repo_id, parsed.digest)
        if again is None:
            raise
        return again.id
    manifest_id = int(result.inserted_primary_key[0]) if result.inserted_primary_key else 0
    references = {("blob", str(d.digest)) for d in parsed.blobs if not d.external}
    references |= {("manifest", str(d.digest)) for d in parsed.children}
    if parsed.subject is not None:
        references.add(("subject", str(parsed.subject.digest)))
    if references:
        await conn.execute(
            manifest_reference.insert(),
            [{"manifest_id": manifest_id, "kind": k, "digest": d} for k, d in sorted(references)],
        )
    return manifest_id


async def point_tag(conn: AsyncConnection, repo_id: int, name: str, manifest_id: int) -> None:
    """Make the live tag `name` point at `manifest_id`, ending the row it replaces.

    Two pushes of one tag at once would race on the one-live-row-per-tag index, so tag moves in a
    repository are serialised by locking its row until the transaction ends (PostgreSQL's `FOR NO
    KEY UPDATE`, which the foreign-key locks of the manifest insert do not conflict with, so two
    pushes cannot deadlock; SQLite's write transactions are serial already). The last writer wins.
    """
    lock = select(repository.c.id).where(repository.c.id == repo_id)
    await conn.execute(lock.with_for_update(key_share=True))
    current = (
        await conn.execute(
            select(tag.c.id, tag.c.manifest_id).where(
                tag.c.repository_id == repo_id, tag.c.name == name, tag.c.end_ts.is_(None)
            )
        )
    ).first()
    if current is not None and current.manifest_id == manifest_id:
        return
    now = int(time.time())
    if current is not None:
        await conn.execute(update(tag).where(tag.c.id == current.id).values(end_ts=now))
    await conn.execute(
        tag.insert().values(
            repository_id=repo_id, name=name, manifest_id=manifest_id, start_ts=now, end_ts=None
        )
    )


async def end_tag(conn: AsyncConnection, repo_id: int, name: str) -> bool:
    """End the live tag `name`; False when there is none."""
    result = await conn.execute(
        update(tag)
        .where(tag.c.repository_id == repo_id, tag.c.name == name, tag.c.end_ts.is_(None))
        .values(end_ts=int(time.time()))
    )
    return bool(result.rowcount)


async def delete_manifest(conn: AsyncConnection, repo_id: int, digest: Digest) -> bool:
    """Delete the manifest `digest` of `repo_id` with every tag row pointing at it."""
    found = await manifest_by_digest(conn, repo_id, digest)
    if found is None:
        return False
    await conn.execute(delete(tag).where(tag.c.manifest_id == found.id))
    await conn.execute(
        delete(manifest_reference).where(manifest_reference.c.manifest_id == found.id)
    )
    await conn.execute(delete(manifest).where(manifest.c.id == found.id))
    return True


async def tag_names(
    conn: AsyncConnection, repo_id: int, last: str | None, limit: int | None
) -> list[str]:
    """Live tag names of `repo_id` in lexical order, after `last`, at most `limit`."""
    query = (
        select(tag.c.name)
        .where(tag.c.repository_id == repo_id, tag.c.end_ts.is_(None))
        .order_by(tag.c.name)
    )
    if last is not None:
        query = query.where(tag.c.name > last)
    if limit is not None:
        query = query.limit(limit)
    return list((await conn.execute(query)).scalars())


async def referrers(conn: AsyncConnection, repo_id: int, subject: Digest) -> list[StoredManifest]:
    """Manifests of `repo_id` whose `subject` is `subject`, oldest first."""
    rows = await conn.execute(
        select(*_MANIFEST_COLUMNS)
        .select_from(
            manifest_reference.join(manifest, manifest.c.id == manifest_reference.c.manifest_id)
        )
        .where(
            manifest.c.repository_id == repo_id,
            manifest_reference.c.kind == "subject",
            manifest_reference.c.digest == str(subject),
        )
        .order_by(manifest.c.id)
    )
    return [_stored(row) for row in rows]
