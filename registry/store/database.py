"""The ``Store`` handle: one async engine, the server keys, and read/write transactions.

SQLite needs care to be safe under concurrent requests: WAL mode lets readers run beside the writer,
a busy timeout makes writers wait instead of failing, and write transactions start with ``BEGIN
IMMEDIATE`` so two writers never both hold a read snapshot and then collide on upgrade. PostgreSQL
needs none of this; uniqueness is always enforced by constraints, never by locks in Python.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from registry.credentials import Keyring
from registry.datadir import secure_data_dir, secure_sqlite_file
from registry.settings import Settings
from registry.store.inline_sqlite import sqlite3_connection  # also registers sqlite+inline
from registry.store.migrating import migrate


def _sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        # Reads run in autocommit (each statement sees the latest commit): no BEGIN/ROLLBACK round
        # trips through aiosqlite's thread. Writes take the write lock up front.
        if conn.get_execution_options().get("immediate", False):
            conn.exec_driver_sql("BEGIN IMMEDIATE")


@dataclass
class Store:
    """The metadata database and the keys that seal and digest secrets in it.

    Attributes:
        engine: the SQLAlchemy async engine.
        keyring: server secrets (see ``registry.credentials``).
        dialect: ``sqlite`` or ``postgresql``.
        token_cache: validated bearer tokens (by HMAC digest) -> (checked at, entity), kept a few
            seconds so a burst of calls with one token costs one lookup; cleared whenever a token,
            application or organization is deleted in this process.
    """

    engine: AsyncEngine
    keyring: Keyring
    dialect: str
    token_cache: dict[str, tuple[float, Any]] = field(default_factory=dict)
    _write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _writer: AsyncConnection | None = None
    _reader: AsyncConnection | None = None

    @classmethod
    async def open(cls, settings: Settings) -> Store:
        """Connect to the configured database, run pending migrations and load the keys."""
        secure_data_dir(settings.data_dir)
        url = settings.resolved_database_url()
        if url.startswith("sqlite"):
            database = make_url(url).database
            if database and database != ":memory:":
                secure_sqlite_file(Path(database))
            engine = create_async_engine(url, pool_size=8, max_overflow=8)
            _sqlite_hooks(engine)
        else:
            engine = create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=False)
        await migrate(engine)
        keyring = Keyring.load_or_create(settings.data_dir, settings.algorithms)
        return cls(engine=engine, keyring=keyring, dialect=engine.dialect.name)

    async def close(self) -> None:
        """Release every pooled connection."""
        async with self._write_lock:
            if self._writer is not None:
                await self._writer.close()
                self._writer = None
        if self._reader is not None:
            await self._reader.close()
            self._reader = None
        await self.engine.dispose()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads; its transaction is rolled back at the end.

        On the in-loop SQLite driver every reader shares one connection kept open: reads run in
        autocommit there (each statement sees the latest commit and holds nothing afterwards) and
        each statement runs to completion without yielding to the loop, so readers cannot get in
        each other's way, and a pool checkout and return per read is saved. Reads must not write.
        """
        if self.engine.dialect.driver != "inline":
            async with self.engine.connect() as conn:
                yield conn
            return
        conn = await self._shared_reader()
        try:
            yield conn
        finally:
            if conn.in_transaction():  # a statement ran through SQLAlchemy: end its autobegin
                await conn.rollback()

    async def _shared_reader(self) -> AsyncConnection:
        current = self._reader
        if current is not None and not (current.closed or current.invalidated):
            return current
        opened = await self.engine.connect()
        current = self._reader
        if current is not None and not (current.closed or current.invalidated):
            await opened.close()  # another reader opened one meanwhile
            return current
        self._reader = opened
        return opened

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction, committed when the block exits normally.

        On SQLite this process's writers take turns (see ``inline_sqlite``); SQLite allows one
        writer at a time anyway.
        """
        if self.dialect != "sqlite":
            async with self.engine.begin() as conn:
                yield conn
            return
        if self.engine.dialect.driver == "inline":
            async with self._write_lock, self._inline_transaction() as conn:
                yield conn
            return
        async with self._write_lock, self.engine.connect() as conn:
            conn = await conn.execution_options(immediate=True)
            async with conn.begin():
                yield conn

    @asynccontextmanager
    async def _inline_transaction(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction on the in-loop SQLite driver's one writer connection.

        Writers take turns anyway (the caller holds the write lock), so one connection kept open
        serves them all: no pool checkout and return per write. ``BEGIN IMMEDIATE``, ``COMMIT`` and
        ``ROLLBACK`` go straight to ``sqlite3``; when a statement ran through SQLAlchemy in the
        block, SQLAlchemy considers a transaction begun, so the block ends through it instead
        (SQLAlchemy then commits or rolls back the same ``sqlite3`` transaction).
        """
        conn = self._writer
        if conn is None or conn.closed or conn.invalidated:
            conn = self._writer = await self.engine.connect()
        raw = sqlite3_connection(conn)
        assert raw is not None
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            raise exc.DBAPIError.instance("BEGIN IMMEDIATE", (), error, sqlite3.Error) from error
        try:
            yield conn
            if conn.in_transaction():
                await conn.commit()
            else:
                raw.commit()
        except BaseException:
            # Whatever failed (the block, or the commit), the connection is left with no
            # transaction open, so the next writer's BEGIN IMMEDIATE finds it clean.
            try:
                if conn.in_transaction():
                    await conn.rollback()
            finally:
                if raw.in_transaction:
                    raw.rollback()
            raise
