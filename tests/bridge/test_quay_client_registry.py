"""The Quay client against the real registry core: every call the bridge makes, and Quay's quirks.

One registry core (``quay-registry serve``, SQLite in a temp dir) for the module; each test works in
its own organization.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator

import pytest

from bridge.quay import errors as qe
from bridge.quay.client import QuayClient
from devstack.registry import RegistryServer, registry_server


@pytest.fixture(scope="module")
def quay() -> Iterator[RegistryServer]:
    with registry_server(gc_seconds=2.0) as server:
        yield server


def org_name() -> str:
    return f"org{uuid.uuid4().hex[:10]}"


def client(quay: RegistryServer, token: str | None = None) -> QuayClient:
    return QuayClient(quay.url, token or quay.token, backoff_seconds=0.01)


class TestOrganizationsAndRobots:
    async def test_the_token_belongs_to_the_initial_user(self, quay: RegistryServer) -> None:
        async with client(quay) as c:
            assert (await c.get_user())["username"] == quay.username

    async def test_org_and_robots_are_created_and_robot_tokens_are_returned(
        self, quay: RegistryServer
    ) -> None:
        org = org_name()
        async with client(quay) as c:
            with pytest.raises(qe.NotFound):
                await c.get_organization(org)
            await c.create_organization(org)
            assert (await c.get_organization(org))["name"] == org
            robot = await c.create_robot(org, "builder", "pull secret of builder")
            assert robot["name"] == f"{org}+builder"
            assert re.fullmatch(r"[A-Z0-9]{64}", robot["token"])
            assert (await c.get_robot(org, "builder"))["token"] == robot["token"]
            listed = await c.list_robots(org)
            assert [(r["name"], r.get("token")) for r in listed] == [
                (f"{org}+builder", robot["token"])
            ]

    async def test_a_missing_robot_is_quays_400_mapped_to_robot_missing(
        self, quay: RegistryServer
    ) -> None:
        org = org_name()
        async with client(quay) as c:
            await c.create_organization(org)
            with pytest.raises(qe.RobotMissing) as caught:
                await c.get_robot(org, "nobody")
        assert caught.value.status == 400

    async def test_existing_org_and_robot_are_already_exists(self, quay: RegistryServer) -> None:
        org = org_name()
        async with client(quay) as c:
            await c.create_organization(org)
            await c.create_robot(org, "builder")
            with pytest.raises(qe.AlreadyExists):
                await c.create_organization(org)
            with pytest.raises(qe.AlreadyExists):
                await c.create_robot(org, "builder")

    async def test_regenerate_gives_a_new_token(self, quay: RegistryServer) -> None:
        org = org_name()
        async with client(quay) as c:
            await c.create_organization(org)
            old = (await c.create_robot(org, "builder"))["token"]
            new = (await c.regenerate_robot(org, "builder"))["token"]
            assert new != old
            assert (await c.get_robot(org, "builder"))["token"] == new

    @pytest.mark.parametrize("name", ["a--b", "Upper", "x"])
    async def test_names_quay_rejects_are_invalid_name(
        self, quay: RegistryServer, name: str
    ) -> None:
        async with client(quay) as c:
            with pytest.raises(qe.InvalidRequest):
                await c.create_organization(name)

    async def test_a_deleted_org_name_stays_reserved_until_collected(
        self, quay: RegistryServer
    ) -> None:
        org = org_name()
        async with client(quay) as c:
            await c.create_organization(org)
            await c.delete_organization(org)
            with pytest.raises(qe.NotFound):
                await c.get_organization(org)
            with pytest.raises(qe.NameReserved):
                await c.create_organization(org)
            for _ in range(60):
                try:
                    await c.create_organization(org)
                    break
                except qe.NameReserved:
                    await asyncio.sleep(0.1)
            assert (await c.get_organization(org))["name"] == org


class TestPrototypesAndRepositories:
    async def test_prototypes_are_stored_twice_when_posted_twice(
        self, quay: RegistryServer
    ) -> None:
        org = org_name()
        async with client(quay) as c:
            await c.create_organization(org)
            await c.create_robot(org, "builder")
            await c.create_prototype(org, f"{org}+builder", "write")
            await c.create_prototype(org, f"{org}+builder", "write")
            prototypes = await c.list_prototypes(org)
            assert len(prototypes) == 2
            updated = await c.update_prototype(org, prototypes[0]["id"], "read")
            assert updated["role"] == "read"
            await c.delete_prototype(org, prototypes[1]["id"])
            assert len(await c.list_prototypes(org)) == 1

    async def test_a_repository_created_after_prototypes_gives_robots_their_roles(
        self, quay: RegistryServer
    ) -> None:
        org = org_name()
        async with client(quay) as c:
            await c.create_organization(org)
            await c.create_robot(org, "builder")
            await c.create_prototype(org, f"{org}+builder", "write")
            await c.create_repository(org, "web")
            assert (await c.list_user_permissions(org, "web"))[f"{org}+builder"] == "write"
            with pytest.raises(qe.AlreadyExists):
                await c.create_repository(org, "web")

    async def test_an_adopted_repository_gets_explicit_robot_permissions(
        self, quay: RegistryServer
    ) -> None:
        org = org_name()
        async with client(quay) as c:
            await c.create_organization(org)
            await c.create_repository(org, "old")
            await c.create_robot(org, "deployer")
            assert f"{org}+deployer" not in await c.list_user_permissions(org, "old")
            await c.set_user_permission(org, "old", f"{org}+deployer", "read")
            assert (await c.list_user_permissions(org, "old"))[f"{org}+deployer"] == "read"

    async def test_repository_listing_follows_next_page(self, quay: RegistryServer) -> None:
        org = org_name()
        async with client(quay) as c:
            await c.create_organization(org)
            names = [f"repo{i:03d}" for i in range(105)]
            await asyncio.gather(*(c.create_repository(org, n) for n in names))
            assert sorted(await c.list_repositories(org)) == names
            await c.delete_repository(org, "repo000")
            await c.delete_repository(org, "repo000")  # idempotent: 204 again
            with pytest.raises((qe.NotFound, qe.Forbidden)):
                await c.get_repository(org, "repo000")


class TestBadTokens:
    async def test_a_write_with_a_bad_token_is_unauthenticated_not_forbidden(
        self, quay: RegistryServer
    ) -> None:
        async with client(quay, token="WRONG" * 8) as c:
            with pytest.raises(qe.Unauthenticated, match="invalid or expired"):
                await c.create_organization(org_name())
            with pytest.raises(qe.Unauthenticated):
                await c.get_user()
