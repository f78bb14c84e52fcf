"""Statements built once and run with parameters: how the REST API's hot paths reach the database.

Building a SQLAlchemy Core statement per call (``insert().values(**row)``, ``select().where(...)``),
then computing its cache key, finding its compiled form and setting up an execution context costs
many times the CPU SQLite spends running an indexed lookup or insert (figures:
docs/registry.md#storage, "Prebuilt statements"). The write endpoints the bridge calls run several
statements each, so their statements are declared once, at import time, with named bind
parameters, as ``Prepared``.

How one runs depends on the connection's driver:

- the in-loop SQLite driver (``sqlite+inline``): the statement is compiled to SQL text once and run
  directly on the ``sqlite3`` connection underneath the SQLAlchemy connection, so it joins whatever
  transaction that connection has open (``Store.write`` opens one with ``BEGIN IMMEDIATE``). Bind
  and result values go through the same type processors SQLAlchemy would apply, and driver errors
  are re-raised as SQLAlchemy's (``IntegrityError`` and so on), so callers see what they would see
  through ``AsyncConnection.execute``;
- every other driver (PostgreSQL through asyncpg, ``sqlite+aiosqlite``): ``AsyncConnection.execute``
  with the prebuilt statement. Its cache key is memoized on the statement object, so SQLAlchemy's
  compiled cache is hit without rebuilding anything.

Rows are tuples in the statement's column order on both paths. A ``Prepared`` INSERT must name a
value (or a bind parameter) for every column that has a Python-side default: SQLAlchemy fills those
in its execution context, which the SQLite path skips; the constructor refuses such a statement.

The compile step reads three SQLAlchemy compiler internals (``_bind_processors``,
``_result_columns`` and a type's ``_cached_result_processor``); ``tests/registry/store/
test_prepared.py`` compares rows and value types with ``AsyncConnection.execute`` on both backends,
so an upgrade that changes them fails there rather than in production.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, exc
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Delete, Insert, Select, Update
from sqlalchemy.sql.compiler import SQLCompiler

from registry.store.inline_sqlite import SQLiteDialectInline, sqlite3_connection

Params = Mapping[str, Any]
Statement = Select[*tuple[Any, ...]] | Insert | Update | Delete
_Processor = Callable[[Any], Any]

_DIALECT = SQLiteDialectInline()


@dataclass(frozen=True)
class Outcome:
    """What a write statement did: rows affected and, for an INSERT, the new row's id."""

    rowcount: int
    lastrowid: int | None


class Prepared:
    """A Core statement with named bind parameters, compiled for the in-loop SQLite driver once.

    Attributes:
        statement: the SQLAlchemy statement (run as is on other drivers).
        sql: its SQLite text with ``?`` placeholders.
    """

    __slots__ = ("_binders", "_fixed", "_names", "_results", "sql", "statement")

    def __init__(self, statement: Statement) -> None:
        self.statement = statement
        compiled = statement.compile(dialect=_DIALECT)
        assert isinstance(compiled, SQLCompiler)
        if compiled.insert_prefetch or compiled.update_prefetch:
            missing = [
                column.name for column in [*compiled.insert_prefetch, *compiled.update_prefetch]
            ]
            raise ValueError(f"give these columns explicit values: {', '.join(missing)}")
        self.sql = compiled.string
        self._names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self._fixed: dict[str, Any] = {
            name: compiled.params[name] for name in self._names if not compiled.binds[name].required
        }
        binders: list[tuple[int, _Processor]] = []
        for index, name in enumerate(self._names):
            processor = compiled._bind_processors.get(name)
            if processor is not None:
                assert callable(processor), "tuple-typed parameters are not supported"
                binders.append((index, processor))
        self._binders: tuple[tuple[int, _Processor], ...] = tuple(binders)
        results: list[tuple[int, _Processor]] = []
        for index, column in enumerate(compiled._result_columns):
            processor = column.type._cached_result_processor(_DIALECT, None)
            if processor is not None:
                results.append((index, processor))
        self._results: tuple[tuple[int, _Processor], ...] = tuple(results)

    def bind(self, params: Params) -> tuple[Any, ...]:
        """The positional parameters for ``sql``; a missing required parameter is a KeyError."""
        merged = {**self._fixed, **params} if self._fixed else params
        values = [merged[name] for name in self._names]
        for index, process in self._binders:
            values[index] = process(values[index])
        return tuple(values)

    def convert(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        """A raw SQLite row with SQLAlchemy's result processing applied (booleans, floats)."""
        if not self._results:
            return row
        values = list(row)
        for index, process in self._results:
            values[index] = process(values[index])
        return tuple(values)


def insert_row(table: Table) -> Prepared:
    """An INSERT of one row into ``table``, each column but the ``id`` key bound by its own name."""
    columns = [column.name for column in table.columns if column.name != "id"]
    return Prepared(table.insert().values({name: bindparam(name) for name in columns}))


def _raise_as_sqlalchemy(prepared: Prepared, params: Any, error: sqlite3.Error) -> None:
    wrapped = exc.DBAPIError.instance(prepared.sql, params, error, sqlite3.Error)
    raise wrapped from error


def _run_sqlite(raw: sqlite3.Connection, prepared: Prepared, params: Params) -> sqlite3.Cursor:
    values = prepared.bind(params)
    try:
        return raw.execute(prepared.sql, values)
    except sqlite3.Error as error:
        _raise_as_sqlalchemy(prepared, values, error)
        raise  # unreachable: keeps type checkers sure a cursor is returned


async def fetch_all(
    conn: AsyncConnection, prepared: Prepared, params: Params
) -> list[Sequence[Any]]:
    """Every row of a SELECT."""
    raw = sqlite3_connection(conn)
    if raw is not None:
        rows = _run_sqlite(raw, prepared, params).fetchall()
        return [prepared.convert(row) for row in rows] if prepared._results else rows
    return list((await conn.execute(prepared.statement, dict(params))).all())


async def fetch_one(
    conn: AsyncConnection, prepared: Prepared, params: Params
) -> Sequence[Any] | None:
    """The first row of a SELECT, or None."""
    raw = sqlite3_connection(conn)
    if raw is not None:
        row = _run_sqlite(raw, prepared, params).fetchone()
        return None if row is None else prepared.convert(row)
    return (await conn.execute(prepared.statement, dict(params))).first()


async def run(conn: AsyncConnection, prepared: Prepared, params: Params) -> Outcome:
    """Run an INSERT, UPDATE or DELETE."""
    raw = sqlite3_connection(conn)
    if raw is not None:
        cursor = _run_sqlite(raw, prepared, params)
        return Outcome(cursor.rowcount, cursor.lastrowid)
    result = await conn.execute(prepared.statement, dict(params))
    key = result.inserted_primary_key if result.context.isinsert else None
    return Outcome(result.rowcount, int(key[0]) if key and key[0] is not None else None)


async def run_many(conn: AsyncConnection, prepared: Prepared, rows: Iterable[Params]) -> None:
    """Run a write statement once per parameter set (``executemany``)."""
    batch = list(rows)
    if not batch:
        return
    raw = sqlite3_connection(conn)
    if raw is not None:
        values = [prepared.bind(params) for params in batch]
        try:
            raw.executemany(prepared.sql, values)
        except sqlite3.Error as error:
            _raise_as_sqlalchemy(prepared, values, error)
        return
    await conn.execute(prepared.statement, [dict(params) for params in batch])
