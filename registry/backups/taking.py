"""``quay-registry backup``: a consistent backup of a registry core that keeps serving.

Order matters. The metadata is exported first, from one database snapshot (``snapshots``); the
blobs are copied second, exactly those the snapshot's ``blob`` table names. Blobs are
content-addressed and never rewritten, and the registry core never deletes a blob file, so every
blob the snapshot references is still on disk when the copy reaches it; blobs pushed after the
snapshot are simply not part of this backup (their metadata is not either). Copying blobs first
would be wrong: a push committed between the copy and the snapshot would leave metadata naming a
blob the backup lacks. Each blob is checked against its digest while it is copied. The server keys
(``secret.key`` seals robot tokens and keys the OAuth token digests; the signing key signs
registry tokens) are copied too: without them the restored robot tokens and OAuth tokens would
be unusable. ``backup.json`` is written last.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from registry.backups.manifests import (
    MANIFEST_FILE,
    BackupManifest,
    TableDump,
    blob_path,
    file_entry,
)
from registry.backups.snapshots import snapshot
from registry.backups.tables import export_table, exported_tables, schema_version
from registry.oci.signing import KEY_FILE
from registry.settings import Settings
from registry.store import schema

KEY_FILES = ("secret.key", KEY_FILE)
_CHUNK = 1024 * 1024


class BackupError(RuntimeError):
    """The backup cannot be taken; the message says why and what to do."""


@dataclass(frozen=True)
class BackupSummary:
    """What a backup holds, for the command's report."""

    out: Path
    tables: dict[str, int]
    blobs: int
    blob_bytes: int


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def _check_out_dir(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} exists and is not an empty directory; name a new one")


def _copy_blob(source: Path, target: Path, digest: str) -> int:
    algorithm, _, expected = digest.partition(":")
    hasher = hashlib.new(algorithm)
    size = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as reader, open(target, "wb") as writer:
        while chunk := reader.read(_CHUNK):
            hasher.update(chunk)
            writer.write(chunk)
            size += len(chunk)
    if hasher.hexdigest() != expected:
        raise BackupError(f"blob {digest} on disk ({source}) does not match its digest: damaged")
    return size


async def take_backup(settings: Settings, out: Path) -> BackupSummary:
    """Back up the registry core whose data is ``settings`` into the new directory ``out``.

    Raises:
        BackupError: ``out`` is not new or empty, the data directory holds no registry, or a
            referenced blob is missing or damaged.
    """
    _check_out_dir(out)
    data_dir = settings.data_dir
    if settings.database_url is None and not (data_dir / "registry.db").is_file():
        raise BackupError(
            f"{data_dir} holds no registry database (registry.db); for a registry core on "
            "PostgreSQL, pass its --database URL too"
        )
    missing_keys = [name for name in KEY_FILES if not (data_dir / name).is_file()]
    if missing_keys:
        raise BackupError(f"{data_dir} lacks {', '.join(missing_keys)}: is it a registry data dir?")
    _private_dir(out)
    _private_dir(out / "database")
    created = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    manifest = BackupManifest(created=created, schema_version=0, source_database="")
    async with snapshot(settings.resolved_database_url()) as conn:
        manifest.source_database = conn.dialect.name
        manifest.schema_version = await schema_version(conn)
        for table in exported_tables():
            relative = f"database/{table.name}.jsonl"
            with open(out / relative, "w", encoding="utf-8") as handle:
                rows = await export_table(conn, table, handle)
            columns = [column.name for column in table.columns]
            manifest.tables.append(TableDump(table.name, columns, rows, relative))
        digests = await conn.execute(schema.blob.select().with_only_columns(schema.blob.c.digest))
        manifest.blobs = sorted(str(row[0]) for row in digests)
    # The snapshot is closed: the server's writers were never held up by it.
    _private_dir(out / "keys")
    for name in KEY_FILES:
        shutil.copyfile(data_dir / name, out / "keys" / name)
        os.chmod(out / "keys" / name, 0o600)
    blob_bytes = 0
    for digest in manifest.blobs:
        source = data_dir / "oci" / blob_path(digest)
        if not source.is_file():
            raise BackupError(
                f"blob {digest} is referenced by the metadata but missing from {source.parent}"
            )
        blob_bytes += _copy_blob(source, out / blob_path(digest), digest)
    for path in sorted(out.rglob("*")):
        if path.is_file():
            manifest.files[path.relative_to(out).as_posix()] = file_entry(path)
    tmp = out / (MANIFEST_FILE + ".tmp")
    tmp.write_text(manifest.to_json(), encoding="utf-8")
    os.replace(tmp, out / MANIFEST_FILE)
    return BackupSummary(
        out=out,
        tables={table.name: table.rows for table in manifest.tables},
        blobs=len(manifest.blobs),
        blob_bytes=blob_bytes,
    )
