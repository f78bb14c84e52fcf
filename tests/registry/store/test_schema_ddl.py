"""The DDL each dialect gets from the one schema description, pinned to the byte.

``registry.store.schema`` declares every table once (SQLAlchemy Core) and SQLite and PostgreSQL each
get their own DDL compiled from it: the migrations run ``create_all``, so this is exactly what a
new database is made with. The recorded files under ``ddl/`` were compiled from the schema as it
stood before its columns were declared through shared helpers; a change that alters a table on
purpose records them again with ``QUAY_BRIDGE_RECORD_DDL=1`` (and needs a migration).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex, CreateTable

from registry.store import schema

RECORDED = Path(__file__).parent / "ddl"
DIALECTS: dict[str, Dialect] = {"sqlite": sqlite.dialect(), "postgresql": postgresql.dialect()}


def compiled(dialect: Dialect) -> str:
    """Every table, then its indexes, in creation order, as ``create_all`` sends them."""
    statements: list[str] = []
    for table in schema.metadata.sorted_tables:
        statements.append(str(CreateTable(table).compile(dialect=dialect)).strip())
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            statements.append(str(CreateIndex(index).compile(dialect=dialect)).strip())
    return ";\n\n".join(statements) + ";\n"


def insert_defaults() -> str:
    """``table.column: default`` for every column with a default SQLAlchemy fills in on insert."""
    lines = [
        f"{table.name}.{column.name}: {column.default.arg!r}"
        for table in schema.metadata.sorted_tables
        for column in table.columns
        if column.default is not None
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_the_ddl_is_the_recorded_one_to_the_byte(name: str) -> None:
    path = RECORDED / f"{name}.ddl.txt"
    text = compiled(DIALECTS[name])
    if os.environ.get("QUAY_BRIDGE_RECORD_DDL") == "1":
        path.write_text(text)
    assert text == path.read_text()


def test_the_defaults_set_on_insert_are_the_recorded_ones() -> None:
    # Column defaults applied by SQLAlchemy on insert are not part of the DDL: pinned apart.
    path = RECORDED / "insert_defaults.txt"
    text = insert_defaults()
    if os.environ.get("QUAY_BRIDGE_RECORD_DDL") == "1":
        path.write_text(text)
    assert text == path.read_text()


def test_each_dialect_gets_its_own_ddl_from_the_one_description() -> None:
    sqlite_ddl, postgresql_ddl = (compiled(DIALECTS[n]) for n in ("sqlite", "postgresql"))
    assert sqlite_ddl != postgresql_ddl  # e.g. SERIAL and BYTEA against INTEGER and BLOB
    live_tags = (
        "CREATE UNIQUE INDEX ux_tag_active ON tag (repository_id, name) WHERE end_ts IS NULL"
    )
    for text in (sqlite_ddl, postgresql_ddl):
        assert live_tags in text
        assert text.count("CREATE TABLE") == len(schema.metadata.tables)
