"""Prebuilt statements and write transactions behave alike on SQLite and PostgreSQL.

On the in-loop SQLite driver ``registry.store.prepared`` bypasses SQLAlchemy's execution and
``Store.write`` begins and commits on ``sqlite3`` itself; these tests pin that the result is what
SQLAlchemy would have given: the same rows and value types, SQLAlchemy's exception classes, one
transaction shared with statements run through SQLAlchemy, and rollback on error.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import bindparam, func, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.settings import Settings
from registry.store import accounts, organizations, prepared, schema
from registry.store.database import Store
from registry.store.migrating import latest_version, migrate
from registry.store.prepared import Prepared

_ACCOUNT_BY_NAME = Prepared(
    select(schema.account).where(schema.account.c.username == bindparam("username"))
)
_INSERT_TEAM = Prepared(
    schema.team.insert().values(
        organization_id=bindparam("org_id"),
        name=bindparam("name"),
        role="member",
        description="",
    )
)
_TEAM_NAMES = Prepared(
    select(schema.team.c.name)
    .where(schema.team.c.organization_id == bindparam("org_id"))
    .order_by(schema.team.c.name)
)


async def _org(store: Store) -> accounts.Account:
    async with store.write() as conn:
        alice = await accounts.create_user(conn, "alice", "alice@example.com", None)
        return await organizations.create_organization(conn, "acme", None, alice.id)


async def _team_names(conn: AsyncConnection, org_id: int) -> list[str]:
    return [name for (name,) in await prepared.fetch_all(conn, _TEAM_NAMES, {"org_id": org_id})]


class TestPreparedStatements:
    async def test_rows_equal_what_sqlalchemy_returns_with_the_same_value_types(
        self, store: Store
    ) -> None:
        org = await _org(store)
        async with store.read() as conn:
            row = await prepared.fetch_one(conn, _ACCOUNT_BY_NAME, {"username": "acme"})
            expected = (
                await conn.execute(select(schema.account).where(schema.account.c.id == org.id))
            ).one()
            missing = await prepared.fetch_one(conn, _ACCOUNT_BY_NAME, {"username": "nobody"})
        assert row is not None and tuple(row) == tuple(expected)
        assert [type(value) for value in row] == [type(value) for value in expected]
        assert row[6] is True  # account.enabled comes back a bool, as through SQLAlchemy
        assert missing is None

    async def test_an_insert_reports_the_new_id_and_a_duplicate_raises_integrity_error(
        self, store: Store
    ) -> None:
        org = await _org(store)
        async with store.write() as conn:
            outcome = await prepared.run(conn, _INSERT_TEAM, {"org_id": org.id, "name": "devs"})
            found = (
                await conn.execute(select(schema.team.c.id).where(schema.team.c.name == "devs"))
            ).scalar_one()
        assert outcome.lastrowid == found and outcome.rowcount == 1
        with pytest.raises(IntegrityError):
            async with store.write() as conn:
                await prepared.run(conn, _INSERT_TEAM, {"org_id": org.id, "name": "devs"})

    async def test_run_many_inserts_every_row_and_nothing_when_given_none(
        self, store: Store
    ) -> None:
        org = await _org(store)
        async with store.write() as conn:
            await prepared.run_many(
                conn, _INSERT_TEAM, [{"org_id": org.id, "name": n} for n in ("b", "a")]
            )
            await prepared.run_many(conn, _INSERT_TEAM, [])
        async with store.read() as conn:
            assert await _team_names(conn, org.id) == ["a", "b", "owners"]

    async def test_a_missing_parameter_is_an_error_not_a_null(self, store: Store) -> None:
        org = await _org(store)
        with pytest.raises((KeyError, StatementError)):
            async with store.write() as conn:
                await prepared.run(conn, _INSERT_TEAM, {"org_id": org.id})
        async with store.read() as conn:
            assert await _team_names(conn, org.id) == ["owners"]

    def test_an_insert_that_leaves_a_defaulted_column_to_sqlalchemy_is_refused(self) -> None:
        with pytest.raises(ValueError, match="description"):
            Prepared(
                schema.team.insert().values(
                    organization_id=bindparam("org_id"), name=bindparam("name"), role="member"
                )
            )


class TestWriteTransactions:
    async def test_prepared_and_sqlalchemy_statements_commit_together(self, store: Store) -> None:
        org = await _org(store)
        async with store.write() as conn:
            await prepared.run(conn, _INSERT_TEAM, {"org_id": org.id, "name": "one"})
            await conn.execute(
                schema.team.insert().values(organization_id=org.id, name="two", role="member")
            )
            await prepared.run(conn, _INSERT_TEAM, {"org_id": org.id, "name": "three"})
        async with store.write() as conn:  # a later block starts clean
            await prepared.run(conn, _INSERT_TEAM, {"org_id": org.id, "name": "four"})
        async with store.read() as conn:
            assert await _team_names(conn, org.id) == ["four", "one", "owners", "three", "two"]

    @pytest.mark.parametrize("through_sqlalchemy", [False, True])
    async def test_an_error_rolls_back_every_statement_of_the_block(
        self, store: Store, through_sqlalchemy: bool
    ) -> None:
        org = await _org(store)
        with pytest.raises(RuntimeError):
            async with store.write() as conn:
                await prepared.run(conn, _INSERT_TEAM, {"org_id": org.id, "name": "lost"})
                if through_sqlalchemy:
                    await conn.execute(
                        schema.team.insert().values(organization_id=org.id, name="gone", role="x")
                    )
                raise RuntimeError("handler failed")
        async with store.write() as conn:
            await prepared.run(conn, _INSERT_TEAM, {"org_id": org.id, "name": "kept"})
        async with store.read() as conn:
            assert await _team_names(conn, org.id) == ["kept", "owners"]

    async def test_a_commit_that_fails_leaves_the_next_write_a_clean_connection(
        self, store: Store, backend: str
    ) -> None:
        if backend != "sqlite":
            pytest.skip("deferring a foreign key check to COMMIT is SQLite's PRAGMA")
        org = await _org(store)
        with pytest.raises(IntegrityError):
            async with store.write() as conn:
                await conn.execute(text("PRAGMA defer_foreign_keys = ON"))
                await prepared.run(conn, _INSERT_TEAM, {"org_id": 999_999, "name": "orphan"})
                await prepared.run(conn, _INSERT_TEAM, {"org_id": org.id, "name": "lost"})
        async with store.write() as conn:
            await prepared.run(conn, _INSERT_TEAM, {"org_id": org.id, "name": "kept"})
        async with store.read() as conn:
            assert await _team_names(conn, org.id) == ["kept", "owners"]
            assert await _team_names(conn, 999_999) == []

    async def test_writes_survive_closing_and_reopening_the_store(self, settings: Settings) -> None:
        first = await Store.open(settings)
        org = await _org(first)
        async with first.write() as conn:
            await prepared.run(conn, _INSERT_TEAM, {"org_id": org.id, "name": "kept"})
        await first.close()
        second = await Store.open(settings)
        try:
            async with second.read() as conn:
                assert await _team_names(conn, org.id) == ["kept", "owners"]
        finally:
            await second.close()


class TestReadConnections:
    async def test_a_read_sees_every_commit_even_after_reading_through_sqlalchemy(
        self, store: Store
    ) -> None:
        org = await _org(store)
        count = select(func.count()).select_from(schema.team)
        async with store.read() as conn:
            assert (await conn.execute(count)).scalar_one() == 1
        async with store.write() as conn:
            await prepared.run(conn, _INSERT_TEAM, {"org_id": org.id, "name": "new"})
        async with store.read() as conn:
            assert (await conn.execute(count)).scalar_one() == 2
            assert await _team_names(conn, org.id) == ["new", "owners"]

    async def test_overlapping_readers_and_a_writer_each_see_a_consistent_answer(
        self, store: Store
    ) -> None:
        org = await _org(store)
        seen: list[list[str]] = []

        async def reader() -> None:
            async with store.read() as conn:
                await conn.execute(select(schema.team.c.id))  # SQLAlchemy autobegins here
                await asyncio.sleep(0)  # another reader ends its block meanwhile
                seen.append(await _team_names(conn, org.id))
                await asyncio.sleep(0)
                seen.append(await _team_names(conn, org.id))

        async def writer() -> None:
            async with store.write() as conn:
                await prepared.run(conn, _INSERT_TEAM, {"org_id": org.id, "name": "w"})

        await asyncio.gather(reader(), reader(), writer(), reader())
        assert all(names in (["owners"], ["owners", "w"]) for names in seen)
        async with store.read() as conn:
            assert await _team_names(conn, org.id) == ["owners", "w"]


class TestEmailIndexMigration:
    async def test_a_version_1_database_gains_the_account_email_index(self, store: Store) -> None:
        async with store.write() as conn:
            await conn.execute(text("DROP INDEX ix_account_email"))
            await conn.execute(
                schema.schema_version.delete().where(schema.schema_version.c.version == 2)
            )
        assert await migrate(store.engine) == [2]
        async with store.read() as conn:
            indexes = await conn.run_sync(
                lambda sync: {index["name"] for index in inspect(sync).get_indexes("account")}
            )
            version = (
                await conn.execute(select(func.max(schema.schema_version.c.version)))
            ).scalar_one()
        assert "ix_account_email" in indexes
        assert version == latest_version() == 2
