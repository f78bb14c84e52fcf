"""``quay-registry restore``: a backup into a new data directory (and a new database).

Nothing is written until the whole backup has been checked against ``backup.json``. A target that
already holds something is refused unless the caller says ``force``: then the registry files of the
data directory are removed and the registry tables of the database dropped first. The restore runs
the schema migrations the server would run at start-up, then loads the tables in one transaction;
blobs and keys go in before the database, so a restore cut short leaves no database that names
missing blobs. The server must not be running on the target while it is restored.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

import registry.store.inline_sqlite  # noqa: F401 - registers the sqlite+inline dialect
from registry.backups.manifests import (
    MANIFEST_FILE,
    BackupFormatError,
    BackupManifest,
    blob_path,
    verify_files,
)
from registry.backups.tables import advance_sequences, exported_tables, import_table
from registry.backups.taking import KEY_FILES
from registry.oci.blobstore import fsync_dir
from registry.settings import Settings
from registry.store import schema
from registry.store.migrating import latest_version, migrate

#: Files and directories of a data directory that belong to the registry core.
DATA_DIR_ENTRIES = ("registry.db", "registry.db-wal", "registry.db-shm", "oci", *KEY_FILES)


class RestoreError(RuntimeError):
    """The restore cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class RestoreSummary:
    """What was restored, for the command's report."""

    tables: dict[str, int]
    blobs: int
    database: str


def read_manifest(backup: Path) -> BackupManifest:
    """Load and fully verify the backup in ``backup``.

    Raises:
        RestoreError: no ``backup.json`` (an incomplete backup), a bad format, or damaged files.
    """
    path = backup / MANIFEST_FILE
    if not path.is_file():
        raise RestoreError(
            f"{backup} has no {MANIFEST_FILE}: not a backup, or a backup that did not finish"
        )
    try:
        manifest = BackupManifest.from_json(path.read_text(encoding="utf-8"))
    except BackupFormatError as error:
        raise RestoreError(str(error)) from error
    problems = verify_files(backup, manifest)
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise RestoreError(f"the backup in {backup} is damaged:\n  {shown}{more}")
    if manifest.schema_version > latest_version():
        raise RestoreError(
            f"the backup has schema version {manifest.schema_version}, newer than this registry "
            f"core's {latest_version()}: restore with the release that made it, or a newer one"
        )
    return manifest


def _occupied(data_dir: Path) -> list[str]:
    if not data_dir.exists():
        return []
    # A freshly formatted volume holds lost+found; that is still an empty target.
    return sorted(entry.name for entry in data_dir.iterdir() if entry.name != "lost+found")


async def _registry_tables(conn: AsyncConnection) -> list[str]:
    names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    known = {table.name for table in schema.metadata.sorted_tables}
    return sorted(name for name in names if name in known)


def _clear_data_dir(data_dir: Path) -> None:
    for name in DATA_DIR_ENTRIES:
        path = data_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _copy_files(backup: Path, manifest: BackupManifest, data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    for name in KEY_FILES:
        target = data_dir / name
        shutil.copyfile(backup / "keys" / name, target)
        os.chmod(target, 0o600)
    for digest in manifest.blobs:
        relative = blob_path(digest)
        target = data_dir / "oci" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(backup / relative, target)
    for directory in {(data_dir / "oci" / blob_path(d)).parent for d in manifest.blobs}:
        fsync_dir(directory)


async def restore_backup(
    backup: Path, settings: Settings, *, force: bool = False
) -> RestoreSummary:
    """Restore the backup in ``backup`` into ``settings``' data directory and database.

    Raises:
        RestoreError: the backup is incomplete or damaged, or the target is not empty and
            ``force`` is False.
    """
    manifest = read_manifest(backup)
    data_dir = settings.data_dir
    occupied = _occupied(data_dir)
    sqlite = settings.database_url is None
    if occupied and not force:
        raise RestoreError(
            f"{data_dir} is not empty ({', '.join(occupied[:5])}); restore into a new directory, "
            "or pass --force to replace the registry files in it"
        )
    url = settings.resolved_database_url()
    if sqlite:
        # Loaded under another name, renamed at the end: a cut-short restore leaves no registry.db.
        loading = data_dir / "registry.db.restoring"
        loading.unlink(missing_ok=True)
        url = replace(settings, database_url=f"sqlite:///{loading}").resolved_database_url()
    engine = create_async_engine(url)
    try:
        if not sqlite:
            async with engine.begin() as conn:
                present = await _registry_tables(conn)
                if present and not force:
                    raise RestoreError(
                        f"the database already holds registry tables ({', '.join(present[:5])}); "
                        "restore into an empty database, or pass --force to drop them first"
                    )
                if present:
                    await conn.run_sync(schema.metadata.drop_all)
        if force:
            _clear_data_dir(data_dir)
        _copy_files(backup, manifest, data_dir)
        await migrate(engine)
        counts: dict[str, int] = {}
        tables = {table.name: table for table in exported_tables()}
        async with engine.begin() as conn:
            for dump in manifest.tables:
                table = tables.get(dump.name)
                if table is None:
                    raise RestoreError(f"the backup holds table {dump.name}, unknown here")
                counts[dump.name] = await import_table(conn, table, dump, backup / dump.file)
            await advance_sequences(conn)
    except ValueError as error:
        raise RestoreError(f"the backup's tables do not load: {error}") from error
    finally:
        await engine.dispose()
    if sqlite:
        os.replace(data_dir / "registry.db.restoring", data_dir / "registry.db")
        fsync_dir(data_dir)
    return RestoreSummary(tables=counts, blobs=len(manifest.blobs), database=engine.dialect.name)
