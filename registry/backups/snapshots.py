"""A consistent, read-only view of a live metadata database, for as long as a backup reads it.

The registry core keeps serving while a backup runs, so every table must be read from one point in
time, or a manifest row could be exported without the tag that a later commit added for it (or the
reverse). PostgreSQL gives that with one ``REPEATABLE READ READ ONLY`` transaction. SQLite in WAL
mode gives it with one deferred transaction: its snapshot is fixed at the first read and kept until
the end, while the server's writers go on appending to the WAL; nothing here takes a write lock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

import registry.store.inline_sqlite  # noqa: F401 - registers the sqlite+inline dialect


@asynccontextmanager
async def snapshot(url: str) -> AsyncIterator[AsyncConnection]:
    """Yield a connection inside one consistent read-only transaction on the database at ``url``.

    ``url`` is a SQLAlchemy async URL as ``Settings.resolved_database_url`` gives it.
    """
    engine = create_async_engine(url, pool_size=1, max_overflow=0)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # the BEGIN below is ours
            dbapi_connection.execute("PRAGMA busy_timeout=10000")
            dbapi_connection.execute("PRAGMA query_only=ON")

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN DEFERRED")

    try:
        async with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn = await conn.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
            async with conn.begin():
                yield conn
    finally:
        await engine.dispose()
