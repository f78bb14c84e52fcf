"""The metadata store's contract, identical on SQLite and PostgreSQL.

Each behaviour the REST and /v2 APIs rely on is pinned here once: uniqueness by constraint (also
under 50 concurrent writers), org deletion and the namespace GC, robots with sealed tokens,
prototypes applied at repository creation, OAuth token checks, tags read from the OCI tables, the
access functions' roles and scope capping, and migrations that run once.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select

from registry import access
from registry.app import gc_pass
from registry.credentials import random_token
from registry.settings import Settings
from registry.store import (
    accounts,
    oauth,
    organizations,
    prototypes,
    repositories,
    robots,
    schema,
    teams,
)
from registry.store.database import Store
from registry.store.migrating import latest_version, migrate


async def _user(store: Store, name: str = "alice") -> accounts.Account:
    async with store.write() as conn:
        return await accounts.create_user(conn, name, f"{name}@example.com", None)


async def _org(store: Store, owner: accounts.Account, name: str = "acme") -> accounts.Account:
    async with store.write() as conn:
        return await organizations.create_organization(conn, name, None, owner.id)


async def _robot(store: Store, org: accounts.Account, short: str) -> accounts.Account:
    async with store.write() as conn:
        return await robots.create_robot(
            conn, org, f"{org.username}+{short}", "", None, store.keyring.seal("T" * 64)
        )


class TestMigrations:
    async def test_a_fresh_database_is_at_the_latest_version_and_migrating_again_does_nothing(
        self, store: Store
    ) -> None:
        async with store.read() as conn:
            versions = (await conn.execute(select(schema.schema_version.c.version))).scalars()
            assert max(versions) == latest_version()
        assert await migrate(store.engine) == []

    async def test_data_survives_closing_and_reopening_the_store(self, settings: Settings) -> None:
        first = await Store.open(settings)
        await _user(first, "kept")
        await first.close()
        second = await Store.open(settings)
        try:
            async with second.read() as conn:
                assert (await accounts.get_by_name(conn, "kept")) is not None
            assert second.keyring == first.keyring
        finally:
            await second.close()


class TestAccounts:
    async def test_a_name_is_unique_across_users_organizations_and_robots(
        self, store: Store
    ) -> None:
        alice = await _user(store)
        with pytest.raises(accounts.NameTakenError):
            await _org(store, alice, "alice")

    async def test_an_organization_gets_an_owners_team_with_its_creator_as_admin(
        self, store: Store
    ) -> None:
        alice = await _user(store)
        org = await _org(store, alice)
        async with store.read() as conn:
            assert await teams.team_role(conn, org.id, alice.id) == "admin"
            found = await teams.list_teams(conn, org.id)
        assert [(t.name, t.role, t.member_count) for t in found] == [("owners", "admin", 1)]

    async def test_fifty_concurrent_creates_of_one_org_give_exactly_one_success(
        self, store: Store
    ) -> None:
        alice = await _user(store)

        async def attempt() -> bool:
            try:
                await _org(store, alice, "racy")
            except accounts.NameTakenError:
                return False
            return True

        results = await asyncio.gather(*(attempt() for _ in range(50)))
        assert results.count(True) == 1
        async with store.read() as conn:
            count = await conn.execute(
                select(func.count()).where(schema.account.c.username == "racy")
            )
            assert count.scalar_one() == 1

    async def test_a_deleted_org_name_stays_reserved_until_the_gc_purges_it(
        self, store: Store
    ) -> None:
        alice = await _user(store)
        org = await _org(store, alice)
        await _robot(store, org, "builder")
        async with store.write() as conn:
            await organizations.mark_organization_deleted(conn, org)
        async with store.read() as conn:
            assert await accounts.get_organization(conn, "acme") is None
            assert await accounts.is_reserved(conn, "acme")
        assert await gc_pass(store, delay_seconds=3600) == 0
        assert await gc_pass(store, delay_seconds=0) == 1
        recreated = await _org(store, alice)
        async with store.read() as conn:
            assert await robots.list_robots(conn, recreated) == []


class TestRobots:
    async def test_a_robot_token_is_sealed_at_rest_and_unsealed_on_read(self, store: Store) -> None:
        org = await _org(store, await _user(store))
        token = random_token(64)
        async with store.write() as conn:
            robot = await robots.create_robot(
                conn, org, "acme+builder", "d", {"k": "v"}, store.keyring.seal(token)
            )
        async with store.read() as conn:
            raw = (
                await conn.execute(
                    select(schema.account.c.robot_token_sealed).where(
                        schema.account.c.id == robot.id
                    )
                )
            ).scalar_one()
        assert token not in raw
        assert store.keyring.unseal(raw) == token
        assert robot.unstructured_metadata == {"k": "v"}

    async def test_deleting_a_robot_removes_its_permissions_and_prototypes(
        self, store: Store
    ) -> None:
        alice = await _user(store)
        org = await _org(store, alice)
        robot = await _robot(store, org, "builder")
        async with store.write() as conn:
            await prototypes.create_prototype(conn, org.id, "write", delegate_account_id=robot.id)
            repo = await repositories.create_repository(
                conn, org, "app", "private", "", "image", alice
            )
            await robots.delete_robot(conn, robot)
        async with store.read() as conn:
            assert await prototypes.list_prototypes(conn, org.id) == []
            names = [p.account.username for p in await repositories.user_permissions(conn, repo.id)]
        assert names == ["alice"]


class TestPrototypesAtRepositoryCreation:
    async def test_the_creator_gets_admin_and_each_delegate_its_prototype_role(
        self, store: Store
    ) -> None:
        alice = await _user(store)
        org = await _org(store, alice)
        builder = await _robot(store, org, "builder")
        viewer = await _robot(store, org, "viewer")
        async with store.write() as conn:
            for _ in range(2):  # duplicates are stored, as in Quay
                await prototypes.create_prototype(
                    conn, org.id, "write", delegate_account_id=builder.id
                )
            await prototypes.create_prototype(conn, org.id, "read", delegate_account_id=viewer.id)
            await prototypes.create_prototype(
                conn, org.id, "admin", delegate_account_id=viewer.id, activating_account_id=alice.id
            )
            repo = await repositories.create_repository(
                conn, org, "app", "private", "", "image", alice
            )
        async with store.read() as conn:
            assert len(await prototypes.list_prototypes(conn, org.id)) == 4
            perms = {
                p.account.username: p.role
                for p in await repositories.user_permissions(conn, repo.id)
            }
        assert perms == {"alice": "admin", "acme+builder": "write", "acme+viewer": "admin"}

    async def test_a_repository_name_is_unique_per_namespace_and_free_again_after_delete(
        self, store: Store
    ) -> None:
        alice = await _user(store)
        org = await _org(store, alice)
        async with store.write() as conn:
            repo = await repositories.create_repository(
                conn, org, "app", "private", "", "image", alice
            )
        with pytest.raises(repositories.RepositoryExistsError):
            async with store.write() as conn:
                await repositories.create_repository(
                    conn, org, "app", "private", "", "image", alice
                )
        async with store.write() as conn:
            await repositories.mark_repository_deleted(conn, repo)
            again = await repositories.create_repository(
                conn, org, "app", "public", "", "image", alice
            )
        assert again.id != repo.id and again.is_public


class TestTags:
    async def test_the_rest_tag_list_reads_the_oci_tables_with_history_by_default(
        self, store: Store
    ) -> None:
        alice = await _user(store)
        org = await _org(store, alice)
        now = time.time()
        async with store.write() as conn:
            repo = await repositories.create_repository(
                conn, org, "app", "private", "", "image", alice
            )
            await conn.execute(schema.blob.insert().values(digest="sha256:aa", size=7, created=now))
            result = await conn.execute(
                schema.manifest.insert().values(
                    repository_id=repo.id,
                    digest="sha256:m1",
                    media_type="application/vnd.oci.image.manifest.v1+json",
                    size=10,
                    content=b"{}",
                    created=now,
                )
            )
            assert result.inserted_primary_key is not None
            manifest_id = result.inserted_primary_key[0]
            await conn.execute(
                schema.manifest_reference.insert().values(
                    manifest_id=manifest_id, kind="blob", digest="sha256:aa"
                )
            )
            await conn.execute(
                schema.tag.insert(),
                [
                    {"repository_id": repo.id, "name": "v1", "manifest_id": manifest_id,
                     "start_ts": 100, "end_ts": 200},
                    {"repository_id": repo.id, "name": "v1", "manifest_id": manifest_id,
                     "start_ts": 200, "end_ts": None},
                ],
            )  # fmt: skip
        async with store.read() as conn:
            everything = await repositories.list_tags(conn, repo.id, only_active=False)
            live = await repositories.list_tags(conn, repo.id, only_active=True)
            first = await repositories.list_tags(conn, repo.id, only_active=False, limit=1)
            second = await repositories.list_tags(
                conn, repo.id, only_active=False, offset=1, limit=5
            )
            named = await repositories.list_tags(
                conn, repo.id, only_active=True, name_equals="v1", limit=5
            )
            unnamed = await repositories.list_tags(
                conn, repo.id, only_active=True, name_equals="v2", limit=5
            )
            liked = await repositories.list_tags(
                conn, repo.id, only_active=False, name_like="1", limit=5
            )
        assert [(t.name, t.end_ts, t.size) for t in everything] == [("v1", None, 7), ("v1", 200, 7)]
        assert [t.manifest_digest for t in live] == ["sha256:m1"]
        assert first + second == everything
        assert named == live and unnamed == []
        assert liked == everything


class TestOAuthTokens:
    async def test_a_token_is_found_by_its_secret_until_it_expires(self, store: Store) -> None:
        alice = await _user(store)
        async with store.write() as conn:
            app = await oauth.create_application(conn, store.keyring, alice.id, "automation")
            token, secret = await oauth.create_token(
                conn, store.keyring, app, alice.id, "repo:read", lifetime_seconds=60
            )
        async with store.read() as conn:
            found = await oauth.find_valid_token(conn, store.keyring, secret, time.time())
            assert found is not None and found.uuid == token.uuid
            later = time.time() + 61
            assert await oauth.find_valid_token(conn, store.keyring, secret, later) is None
            wrong = secret[:20] + "0" * 20
            assert await oauth.find_valid_token(conn, store.keyring, wrong, time.time()) is None
            stored = (await conn.execute(select(schema.oauth_token.c.code_digest))).scalar_one()
        assert secret[20:] not in stored


class TestAccessFunctions:
    async def test_roles_follow_permissions_teams_visibility_and_scopes(self, store: Store) -> None:
        alice = await _user(store)
        org = await _org(store, alice)
        builder = await _robot(store, org, "builder")
        async with store.write() as conn:
            await prototypes.create_prototype(conn, org.id, "write", delegate_account_id=builder.id)
            await repositories.create_repository(conn, org, "app", "private", "", "image", alice)
            await repositories.create_repository(conn, org, "pub", "public", "", "image", alice)
        full = access.Entity(alice.id, "alice", "user")
        org_only = access.Entity(alice.id, "alice", "user", scopes=frozenset({"org:admin"}))
        reader = access.Entity(alice.id, "alice", "user", scopes=frozenset({"repo:read"}))
        robot = access.Entity(builder.id, "acme+builder", "robot")
        assert await access.repository_role(store, full, "acme", "app") == "admin"
        assert await access.repository_role(store, reader, "acme", "app") == "read"
        assert await access.repository_role(store, org_only, "acme", "app") is None
        assert await access.repository_role(store, robot, "acme", "app") == "write"
        assert await access.repository_role(store, None, "acme", "app") is None
        assert await access.repository_role(store, None, "acme", "pub") == "read"
        assert await access.repository_role(store, full, "acme", "missing") is None
        assert await access.can_create_repository(store, full, "acme")
        assert await access.can_create_repository(store, org_only, "acme")
        assert not await access.can_create_repository(store, reader, "acme")
        assert not await access.can_create_repository(store, robot, "acme")

    async def test_basic_credentials_accept_robot_tokens_passwords_and_oauth_tokens(
        self, store: Store
    ) -> None:
        from registry.credentials import hash_password

        async with store.write() as conn:
            alice = await accounts.create_user(conn, "alice", None, hash_password("s3cret-pw"))
        org = await _org(store, alice)
        await _robot(store, org, "builder")
        async with store.write() as conn:
            app = await oauth.create_application(conn, store.keyring, alice.id, "automation")
            _, secret = await oauth.create_token(
                conn, store.keyring, app, alice.id, "repo:read", lifetime_seconds=60
            )
        robot = await access.authenticate_basic(store, "acme+builder", "T" * 64)
        assert robot is not None and robot.kind == "robot" and robot.scopes is None
        assert await access.authenticate_basic(store, "acme+builder", "wrong") is None
        user = await access.authenticate_basic(store, "alice", "s3cret-pw")
        assert user is not None and user.name == "alice"
        assert await access.authenticate_basic(store, "alice", "nope") is None
        oauth_user = await access.authenticate_basic(store, "$oauthtoken", secret)
        assert oauth_user is not None and oauth_user.scopes == frozenset({"repo:read"})
        assert await access.authenticate_basic(store, "", "") is None
