"""A SQLAlchemy async dialect for SQLite that runs ``sqlite3`` calls directly on the event loop.

aiosqlite hands every cursor operation to a worker thread and back; a metadata request makes a dozen
such trips, and on a busy machine the thread scheduling, not the statements, capped the REST API's
throughput (figures: docs/registry.md#storage). Indexed SQLite statements take microseconds, so this
dialect calls ``sqlite3`` inline instead: it presents the small part of the aiosqlite API that
SQLAlchemy's aiosqlite adapter uses, with awaitables that complete at once. URL scheme:
``sqlite+inline:///``.

The price is that a statement blocks the loop while it runs. ``Store`` therefore serialises this
process's write transactions with an ``asyncio.Lock`` so a writer never waits on SQLite's lock held
by a sibling coroutine (which could not run); waits on *other* processes are bounded by the busy
timeout.
"""

from __future__ import annotations

import asyncio
import sqlite3
import types
from collections.abc import Generator, Iterable
from typing import Any

from sqlalchemy.dialects import registry as dialect_registry
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi, SQLiteDialect_aiosqlite
from sqlalchemy.ext.asyncio import AsyncConnection


class _Cursor:
    """An aiosqlite-style cursor whose coroutines finish without suspending."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> _Cursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Any = ()) -> _Cursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> _Cursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _ImmediateQueue:
    """Stands in for aiosqlite's request queue: runs the function now and settles the future."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Any]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # handed to the awaiting caller
            future.set_exception(error)


class _Connection:
    """An aiosqlite-style connection over a plain ``sqlite3`` connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._connection: sqlite3.Connection | None = conn
        self._tx = _ImmediateQueue()

    @property
    def sqlite3(self) -> sqlite3.Connection:
        """The plain ``sqlite3`` connection (``registry.store.prepared`` runs statements on it)."""
        return self._conn

    def cursor(self) -> _Cursor:
        return _Cursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Any = ()) -> _Cursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        if self._connection is not None:
            self._conn.close()
            self._connection = None

    def stop(self) -> None:
        if self._connection is not None:
            self._conn.close()
            self._connection = None

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: Any) -> None:
        self._conn.isolation_level = value


class _Connecting:
    """What ``connect`` returns: awaitable, with the ``_thread`` attribute SQLAlchemy pokes."""

    def __init__(self, database: str, **kwargs: Any) -> None:
        self._thread = types.SimpleNamespace(daemon=True)
        self._database = database
        self._kwargs = kwargs

    def __await__(self) -> Generator[Any, None, _Connection]:
        async def opened() -> _Connection:
            kwargs = dict(self._kwargs)
            kwargs["check_same_thread"] = False
            return _Connection(sqlite3.connect(self._database, **kwargs))

        return opened().__await__()


def connect(database: str, **kwargs: Any) -> _Connecting:
    """Open a connection (aiosqlite's ``connect`` signature)."""
    return _Connecting(database, **kwargs)


_shim = types.SimpleNamespace(
    connect=connect,
    Connection=_Connection,
    DatabaseError=sqlite3.DatabaseError,
    Error=sqlite3.Error,
    IntegrityError=sqlite3.IntegrityError,
    NotSupportedError=sqlite3.NotSupportedError,
    OperationalError=sqlite3.OperationalError,
    ProgrammingError=sqlite3.ProgrammingError,
    sqlite_version=sqlite3.sqlite_version,
    sqlite_version_info=sqlite3.sqlite_version_info,
)


def sqlite3_connection(conn: AsyncConnection) -> sqlite3.Connection | None:
    """The ``sqlite3`` connection under ``conn`` when it uses this driver, else None.

    Statements run on it join the transaction ``conn`` has open (the driver emits no BEGIN of its
    own: ``Store`` sets ``isolation_level`` to None and begins explicitly).
    """
    sync = conn.sync_connection
    if sync is None or sync.dialect.driver != SQLiteDialectInline.driver:
        return None
    driver = sync.connection.driver_connection
    return driver.sqlite3 if isinstance(driver, _Connection) else None


class SQLiteDialectInline(SQLiteDialect_aiosqlite):
    """``sqlite+inline://``: SQLAlchemy's aiosqlite adapter over the in-loop shim above."""

    driver = "inline"
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> AsyncAdapt_aiosqlite_dbapi:  # noqa: D102
        return AsyncAdapt_aiosqlite_dbapi(_shim, sqlite3)  # type: ignore[arg-type]


dialect_registry.register("sqlite.inline", "registry.store.inline_sqlite", "SQLiteDialectInline")
