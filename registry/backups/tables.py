"""Export the metadata tables to JSON Lines and load them back, on SQLite or PostgreSQL alike.

A logical export (one JSON array per row, in the table's column order) rather than a database
file or ``pg_dump`` output, so that one backup format serves both backends: a backup taken on
SQLite restores into PostgreSQL and back, the container image needs no PostgreSQL client of a
matching version, and the restore goes through the same schema migrations as a start-up. Binary
columns (manifest bodies) are base64; every other value is a JSON scalar. Tables load in
dependency order (``metadata.sorted_tables``) and each by primary key, so foreign keys hold
row by row, and PostgreSQL's id sequences are moved past the loaded ids afterwards.

Two tables are not exported: ``schema_version`` (the restore's own migrations write it) and
``upload`` (an upload in progress has bytes outside the snapshot; clients start it again).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Integer, LargeBinary, Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.backups.manifests import TableDump
from registry.store import schema

SKIPPED = frozenset({schema.schema_version.name, schema.upload.name})
_BATCH = 500


def exported_tables() -> list[Table]:
    """The tables a backup holds, parents first."""
    return [table for table in schema.metadata.sorted_tables if table.name not in SKIPPED]


def _binary_columns(table: Table) -> set[str]:
    return {column.name for column in table.columns if isinstance(column.type, LargeBinary)}


def _encode(row: Any, columns: list[str], binary: set[str]) -> str:
    values = []
    for name, value in zip(columns, row, strict=True):
        if name in binary and value is not None:
            value = base64.b64encode(bytes(value)).decode()
        values.append(value)
    return json.dumps(values, separators=(",", ":"))


async def schema_version(conn: AsyncConnection) -> int:
    """The newest migration applied to the database behind ``conn``."""
    found = await conn.scalar(select(func.max(schema.schema_version.c.version)))
    return int(found or 0)


async def export_table(conn: AsyncConnection, table: Table, out: IO[str]) -> int:
    """Write every row of ``table`` (by primary key) to ``out``; return how many."""
    columns = [column.name for column in table.columns]
    binary = _binary_columns(table)
    order = list(table.primary_key.columns) or list(table.columns)
    result = await conn.stream(select(table).order_by(*order))
    count = 0
    async for partition in result.partitions(_BATCH):
        out.writelines(_encode(row, columns, binary) + "\n" for row in partition)
        count += len(partition)
    return count


def _rows(path: Path, dump: TableDump, table: Table) -> Iterator[dict[str, Any]]:
    binary = _binary_columns(table)
    known = {column.name for column in table.columns}
    unknown = [name for name in dump.columns if name not in known]
    if unknown:
        raise ValueError(
            f"table {dump.name} in the backup has columns {unknown} unknown to this registry core"
        )
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            values = json.loads(line)
            row = dict(zip(dump.columns, values, strict=True))
            for name in binary:
                if row.get(name) is not None:
                    row[name] = base64.b64decode(row[name])
            yield row


async def import_table(conn: AsyncConnection, table: Table, dump: TableDump, path: Path) -> int:
    """Insert the rows of ``path`` into the empty ``table``; return how many."""
    count = 0
    batch: list[dict[str, Any]] = []
    for row in _rows(path, dump, table):
        batch.append(row)
        if len(batch) >= _BATCH:
            await conn.execute(table.insert(), batch)
            count += len(batch)
            batch = []
    if batch:
        await conn.execute(table.insert(), batch)
        count += len(batch)
    if count != dump.rows:
        raise ValueError(
            f"table {dump.name}: backup.json says {dump.rows} rows, the file holds {count}"
        )
    return count


async def advance_sequences(conn: AsyncConnection) -> None:
    """On PostgreSQL, move each serial id's sequence past the largest loaded id."""
    if conn.dialect.name != "postgresql":
        return  # SQLite's INTEGER PRIMARY KEY takes max(id) + 1 by itself
    for table in exported_tables():
        keys = list(table.primary_key.columns)
        if (
            len(keys) != 1
            or not isinstance(keys[0].type, Integer)
            or keys[0].autoincrement is False
        ):
            continue
        name = keys[0].name
        await conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{name}'), "
                f"COALESCE(MAX({name}), 1), MAX({name}) IS NOT NULL) FROM {table.name}"
            )
        )
