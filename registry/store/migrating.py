"""Ordered schema migrations with a version table.

Each migration has a number, a name and a function run inside one transaction; ``schema_version``
records which ran. Migration N creates the tables of ``schema.metadata`` tagged ``info["migration"]
== N`` and may then run extra DDL, such as an index added to an existing table (declared on the
table in ``schema``, so a fresh database gets it with the table and the migration's ``IF NOT
EXISTS`` skips it). Adding a migration: append to ``MIGRATIONS`` with the next number
and tag its new tables with that number. Two processes starting at once are safe: the version row's
primary key makes the loser's transaction fail, and it re-reads the version.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.schema import CreateIndex

from registry.store import schema


@dataclass(frozen=True)
class Migration:
    """One schema step."""

    version: int
    name: str
    apply: Callable[[Connection], None]


def _create_tagged(version: int) -> Callable[[Connection], None]:
    def apply(conn: Connection) -> None:
        tables = [t for t in schema.metadata.sorted_tables if t.info.get("migration") == version]
        schema.metadata.create_all(conn, tables=tables)

    return apply


def _create_indexes(*names: str) -> Callable[[Connection], None]:
    def apply(conn: Connection) -> None:
        for table in schema.metadata.sorted_tables:
            for index in table.indexes:
                if index.name in names:
                    conn.execute(CreateIndex(index, if_not_exists=True))

    return apply


MIGRATIONS: list[Migration] = [
    Migration(
        1, "accounts, teams, repositories, permissions, prototypes, oauth, oci", _create_tagged(1)
    ),
    Migration(2, "index account.email", _create_indexes("ix_account_email")),
]


def _current_version(conn: Connection) -> int:
    schema.metadata.create_all(conn, tables=[schema.schema_version])
    found = conn.execute(select(schema.schema_version.c.version)).scalars().all()
    return max(found, default=0)


def _migrate(conn: Connection) -> list[int]:
    applied: list[int] = []
    current = _current_version(conn)
    for migration in MIGRATIONS:
        if migration.version <= current:
            continue
        migration.apply(conn)
        conn.execute(
            schema.schema_version.insert().values(
                version=migration.version, name=migration.name, applied=time.time()
            )
        )
        applied.append(migration.version)
    return applied


async def migrate(engine: AsyncEngine, attempts: int = 5) -> list[int]:
    """Bring the database up to the newest migration; return the versions applied now."""
    for attempt in range(attempts):
        try:
            async with engine.connect() as conn:
                conn = await conn.execution_options(immediate=True)  # SQLite: take the write lock
                async with conn.begin():
                    return await conn.run_sync(_migrate)
        except (IntegrityError, OperationalError, ProgrammingError):
            if attempt == attempts - 1:
                raise
    return []


def latest_version() -> int:
    """The version a fully migrated database has."""
    return MIGRATIONS[-1].version
