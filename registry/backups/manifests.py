"""The backup directory's table of contents (``backup.json``): what it holds, with checksums.

A backup directory is complete only when ``backup.json`` exists: it is written last, through a
temporary file and a rename, so a backup cut short is recognisable by its absence. Every other file
in the directory is listed with its SHA-256 and size, and a restore checks them all before it writes
anything. Pure data and checks, no I/O beyond hashing files named by the caller.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "quay-registry-backup"
FORMAT_VERSION = 1
MANIFEST_FILE = "backup.json"
_CHUNK = 1024 * 1024


class BackupFormatError(ValueError):
    """A backup directory that is incomplete, damaged, or of a format this version cannot read."""


@dataclass(frozen=True)
class FileEntry:
    """One file of the backup: its SHA-256 (hex) and size in bytes."""

    sha256: str
    size: int


@dataclass(frozen=True)
class TableDump:
    """One exported table: its column names (the order of each row's values) and its row count."""

    name: str
    columns: list[str]
    rows: int
    file: str


@dataclass
class BackupManifest:
    """Everything ``backup.json`` says.

    Attributes:
        created: when the database snapshot was taken (UTC, ISO 8601).
        schema_version: the metadata schema's migration version in the snapshot.
        source_database: ``sqlite`` or ``postgresql``, for the record (restores cross over freely).
        tables: the exported tables, in restore order (parents before children).
        files: every file of the backup but ``backup.json``, by path relative to the directory.
        blobs: the digests of the blobs the snapshot references (each under ``blobs/``).
    """

    created: str
    schema_version: int
    source_database: str
    tables: list[TableDump] = field(default_factory=list)
    files: dict[str, FileEntry] = field(default_factory=dict)
    blobs: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        """Serialise with a stable key order (diffable, reproducible)."""
        document: dict[str, Any] = {
            "format": FORMAT,
            "formatVersion": FORMAT_VERSION,
            "created": self.created,
            "schemaVersion": self.schema_version,
            "sourceDatabase": self.source_database,
            "tables": [
                {"name": t.name, "columns": t.columns, "rows": t.rows, "file": t.file}
                for t in self.tables
            ],
            "blobs": self.blobs,
            "files": {
                path: {"sha256": entry.sha256, "size": entry.size}
                for path, entry in sorted(self.files.items())
            },
        }
        return json.dumps(document, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> BackupManifest:
        """Parse ``backup.json``.

        Raises:
            BackupFormatError: not a backup manifest, or a format version this code cannot read.
        """
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise BackupFormatError(f"{MANIFEST_FILE} is not JSON: {error}") from error
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise BackupFormatError(f"{MANIFEST_FILE} is not a {FORMAT} manifest")
        version = document.get("formatVersion")
        if version != FORMAT_VERSION:
            raise BackupFormatError(
                f"backup format version {version!r}; this registry core reads version "
                f"{FORMAT_VERSION} only (restore with the release that made the backup)"
            )
        try:
            return cls(
                created=str(document["created"]),
                schema_version=int(document["schemaVersion"]),
                source_database=str(document["sourceDatabase"]),
                tables=[
                    TableDump(
                        str(t["name"]),
                        [str(c) for c in t["columns"]],
                        int(t["rows"]),
                        str(t["file"]),
                    )
                    for t in document["tables"]
                ],
                files={
                    str(path): FileEntry(str(entry["sha256"]), int(entry["size"]))
                    for path, entry in document["files"].items()
                },
                blobs=[str(digest) for digest in document["blobs"]],
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise BackupFormatError(
                f"{MANIFEST_FILE} is missing or mangles a field: {error}"
            ) from error


def file_entry(path: Path) -> FileEntry:
    """Hash ``path`` in chunks."""
    hasher = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return FileEntry(hasher.hexdigest(), size)


def verify_files(root: Path, manifest: BackupManifest) -> list[str]:
    """Check every listed file under ``root``; return one line per problem (empty: intact)."""
    problems: list[str] = []
    for relative, expected in sorted(manifest.files.items()):
        path = root / relative
        if ".." in Path(relative).parts or Path(relative).is_absolute():
            problems.append(f"{relative}: path leaves the backup directory")
            continue
        if not path.is_file():
            problems.append(f"{relative}: missing")
            continue
        found = file_entry(path)
        if found != expected:
            problems.append(
                f"{relative}: sha256 {found.sha256} size {found.size}, "
                f"backup.json says sha256 {expected.sha256} size {expected.size}"
            )
    for table in manifest.tables:
        if table.file not in manifest.files:
            problems.append(f"{table.file}: table {table.name} is not listed among the files")
    for digest in manifest.blobs:
        if blob_path(digest) not in manifest.files:
            problems.append(f"blob {digest} is referenced but not listed among the files")
    return problems


def blob_path(digest: str) -> str:
    """Where blob ``digest`` (``algorithm:hex``) lives in the backup (the registry's layout)."""
    algorithm, _, hexpart = digest.partition(":")
    return f"blobs/{algorithm}/{hexpart[:2]}/{hexpart}"
