"""Quay REST behaviours beyond the golden exchanges: names, scopes, expiry, auth, paging, GC.

These run against the real application in-process (real SQLite in a temp dir); the restart test
runs the real ``quay-registry`` process.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from sqlalchemy import select, update

from devstack.registry import registry_server
from registry.appkeys import STORE_KEY
from registry.store import schema
from tests.registry.quay.conftest import Quay

NAMESPACE_RULE = "Namespace must match expression ^([a-z0-9]+(?:[._-][a-z0-9]+)*)$"
LENGTH_RULE = "Namespace must be between 2 and 255 characters in length"


class TestNameValidation:
    @pytest.mark.parametrize(
        ("name", "problem"),
        [
            ("a", LENGTH_RULE),
            ("a--b", NAMESPACE_RULE),
            ("-x", NAMESPACE_RULE),
            ("x-", NAMESPACE_RULE),
            ("a._b", NAMESPACE_RULE),
            ("Upper", NAMESPACE_RULE),
            ("x" * 256, LENGTH_RULE),
        ],
    )
    async def test_invalid_org_names_are_rejected_with_quays_message(
        self, quay: Quay, name: str, problem: str
    ) -> None:
        response, body = await quay.call("POST", "/api/v1/organization/", {"name": name})
        assert response.status == 400
        assert body["error_message"] == f"Invalid namespace {name}: {problem}"

    @pytest.mark.parametrize("name", ["ab", "my-org", "openshift_e2e-demo", "a.b", "x" * 255])
    async def test_valid_org_names_are_created(self, quay: Quay, name: str) -> None:
        response, body = await quay.call("POST", "/api/v1/organization/", {"name": name})
        assert (response.status, body) == (201, "Created")

    @pytest.mark.parametrize("short", ["a", "a--b", "-x", "Bad-Name", "x" * 256])
    async def test_invalid_robot_names_are_rejected(self, quay: Quay, short: str) -> None:
        await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
        response, body = await quay.call("PUT", f"/api/v1/organization/acme/robots/{short}")
        assert response.status == 400
        assert body["error_message"].startswith(f"The name for the robot '{short}' is invalid: ")

    async def test_a_robot_description_over_255_characters_is_a_schema_error(
        self, quay: Quay
    ) -> None:
        await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
        response, body = await quay.call(
            "PUT", "/api/v1/organization/acme/robots/bot", {"description": "d" * 256}
        )
        assert response.status == 400
        assert "is too long" in body["error_message"]


class TestScopeCapping:
    async def test_a_repo_read_token_cannot_create_an_org_or_read_the_user(
        self, quay: Quay
    ) -> None:
        await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
        token = await quay.mint("acme", "repo:read")
        response, body = await quay.call(
            "POST", "/api/v1/organization/", {"name": "other"}, token=token
        )
        assert response.status == 403 and response.content_type == "application/json"
        assert body["error_type"] == "insufficient_scope"
        response, body = await quay.call("GET", "/api/v1/user/", token=token)
        assert response.status == 401 and body["error_type"] == "invalid_token"

    async def test_an_org_admin_token_creates_robots_but_not_organizations(
        self, quay: Quay
    ) -> None:
        await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
        token = await quay.mint("acme", "org:admin,repo:admin")
        response, _ = await quay.call("PUT", "/api/v1/organization/acme/robots/bot", token=token)
        assert response.status == 201
        response, _ = await quay.call("POST", "/api/v1/organization/", {"name": "x2"}, token=token)
        assert response.status == 403

    async def test_org_admin_alone_gives_no_repository_access(self, quay: Quay) -> None:
        await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
        await quay.call(
            "POST",
            "/api/v1/repository",
            {"namespace": "acme", "repository": "app", "visibility": "private", "description": ""},
        )
        token = await quay.mint("acme", "org:admin")
        response, _ = await quay.call("GET", "/api/v1/repository/acme/app", token=token)
        assert response.status == 403

    async def test_a_token_cannot_mint_a_broader_one_and_scopes_are_normalised(
        self, quay: Quay
    ) -> None:
        await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
        narrow = await quay.mint("acme", "org:admin")
        _, app = await quay.call("POST", "/api/v1/organization/acme/applications", {"name": "b"})
        path = f"/api/v1/organization/acme/applications/{app['client_id']}/tokens"
        response, _ = await quay.call(
            "POST", path, {"name": "wide", "scope": "org:admin repo:admin"}, token=narrow
        )
        assert response.status == 403
        response, body = await quay.call("POST", path, {"name": "bad", "scope": "repo:bogus"})
        assert response.status == 400 and body["message"].startswith("Invalid scope")
        response, body = await quay.call(
            "POST", path, {"name": "ok", "scope": "repo:read,repo:write"}
        )
        assert response.status == 200
        assert body["scope"] == "repo:read repo:write" and len(body["token"]) == 40
        response, listed = await quay.call("GET", path)
        assert [t["name"] for t in listed["tokens"]] == ["ok"]
        assert "token" not in listed["tokens"][0]


class TestTokenExpiry:
    async def test_the_initialize_token_expires_after_9000_seconds(self, quay: Quay) -> None:
        store = quay.client.app[STORE_KEY]  # type: ignore[index]
        async with store.read() as conn:
            row = (
                await conn.execute(
                    select(schema.oauth_token.c.created, schema.oauth_token.c.expires_at)
                )
            ).one()
        assert row.expires_at - row.created == pytest.approx(9000)

    async def test_an_expired_token_reads_as_anonymous_and_writes_fail_the_csrf_check(
        self, quay: Quay
    ) -> None:
        await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
        store = quay.client.app[STORE_KEY]  # type: ignore[index]
        async with store.write() as conn:
            await conn.execute(update(schema.oauth_token).values(expires_at=time.time() - 1))
        store.token_cache.clear()  # the expiry was written behind the API's back
        response, body = await quay.call("GET", "/api/v1/user/")
        assert response.status == 401 and body["session_required"] is False
        response, body = await quay.call("GET", "/api/v1/organization/acme")
        assert response.status == 200 and body["is_admin"] is False
        response, body = await quay.call("POST", "/api/v1/organization/", {"name": "again"})
        assert (response.status, response.content_type) == (403, "text/html")
        assert body == {"error": "CSRF token was invalid or missing."}

    async def test_a_minted_token_with_a_short_expiration_stops_working(self, quay: Quay) -> None:
        await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
        token = await quay.mint("acme", "user:read", expiration=1)
        response, _ = await quay.call("GET", "/api/v1/user/", token=token)
        assert response.status == 200
        await asyncio.sleep(1.1)
        response, _ = await quay.call("GET", "/api/v1/user/", token=token)
        assert response.status == 401


class TestRequestBodies:
    async def test_a_body_without_a_json_content_type_is_a_415(self, quay: Quay) -> None:
        response, body = await quay.call(
            "POST", "/api/v1/organization/", raw=b'{"name":"x1"}', content_type="text/plain"
        )
        assert response.status == 415
        assert body["message"].startswith("Did not attempt to load JSON data")

    async def test_a_robot_put_ignores_a_non_json_body(self, quay: Quay) -> None:
        await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
        response, body = await quay.call(
            "PUT", "/api/v1/organization/acme/robots/bot", raw=b"hello", content_type="text/plain"
        )
        assert response.status == 201 and len(body["token"]) == 64


class TestConcurrency:
    async def test_fifty_parallel_creates_of_one_org_give_exactly_one_201(self, quay: Quay) -> None:
        results = await asyncio.gather(
            *(quay.call("POST", "/api/v1/organization/", {"name": "racy"}) for _ in range(50))
        )
        statuses = sorted(response.status for response, _ in results)
        assert statuses == [201] + [400] * 49


class TestOrganizationDeletion:
    async def test_the_name_is_reusable_after_the_namespace_gc_and_the_new_org_is_empty(
        self, quay: Quay
    ) -> None:
        await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
        await quay.call("PUT", "/api/v1/organization/acme/robots/builder")
        response, _ = await quay.call("DELETE", "/api/v1/organization/acme")
        assert response.status == 204
        response, body = await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
        assert body["error_message"] == "Username is not available"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            response, body = await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
            if response.status == 201:
                break
            await asyncio.sleep(0.1)
        assert response.status == 201
        response, body = await quay.call("GET", "/api/v1/organization/acme/robots/builder")
        assert response.status == 400
        response, body = await quay.call("GET", "/api/v1/organization/acme/prototypes")
        assert body == {"prototypes": []}


class TestPermissionsAndPaging:
    async def test_permission_errors_use_quays_messages(self, quay: Quay) -> None:
        await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
        await quay.call(
            "POST",
            "/api/v1/repository",
            {"namespace": "acme", "repository": "app", "visibility": "private", "description": ""},
        )
        base = "/api/v1/repository/acme/app/permissions/user/"
        response, body = await quay.call("GET", base + "nobody")
        assert (response.status, body) == (
            400,
            {"message": "User does not have permission for repo."},
        )
        response, body = await quay.call("PUT", base + "ghost", {"role": "read"})
        assert response.status == 400 and body["error_message"] == "Invalid username: ghost"
        await quay.call("PUT", "/api/v1/organization/acme/robots/bot")
        response, body = await quay.call("PUT", base + "acme+bot", {"role": "read"})
        assert response.status == 200 and body["role"] == "read" and body["is_robot"]
        response, _ = await quay.call("DELETE", base + "acme+bot")
        assert response.status == 204

    async def test_repository_lists_page_by_100_with_next_page(self, quay: Quay) -> None:
        await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
        for index in range(101):
            response, _ = await quay.call(
                "POST",
                "/api/v1/repository",
                {
                    "namespace": "acme",
                    "repository": f"r{index:03d}",
                    "visibility": "private",
                    "description": "",
                },
            )
            assert response.status == 201
        response, first = await quay.call("GET", "/api/v1/repository?namespace=acme")
        assert len(first["repositories"]) == 100 and "next_page" in first
        page = quote(first["next_page"], safe="")
        response, second = await quay.call(
            "GET", f"/api/v1/repository?namespace=acme&next_page={page}"
        )
        assert [repo["name"] for repo in second["repositories"]] == ["r100"]
        assert "next_page" not in second


class TestSuperuser:
    async def test_a_superuser_lists_and_creates_users_and_others_are_refused(
        self, quay: Quay
    ) -> None:
        response, body = await quay.call(
            "POST", "/api/v1/superuser/users/", {"username": "bob", "email": "bob@example.com"}
        )
        assert response.status == 200 and len(body["password"]) == 32
        response, body = await quay.call("GET", "/api/v1/superuser/users/")
        assert sorted(user["username"] for user in body["users"]) == ["bob", "quayadmin"]
        response, _ = await quay.call("GET", "/api/v1/superuser/users/?limit=101")
        assert response.status == 400
        await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
        token = await quay.mint("acme", "user:admin")
        response, _ = await quay.call("GET", "/api/v1/superuser/users/", token=token)
        assert response.status == 403


class TestMetrics:
    async def test_requests_are_counted_by_route_template_method_and_status(
        self, quay: Quay
    ) -> None:
        await quay.call("GET", "/api/v1/organization/nosuch")
        await quay.call("GET", "/api/v1/organization/other")
        response = await quay.client.get("/metrics")
        text = await response.text()
        assert (
            'quay_registry_requests_total{method="GET",route="/api/v1/organization/{orgname}",'
            'status="404"} 2.0' in text
        )


class TestRestart:
    def test_data_and_tokens_survive_a_restart_of_the_real_process(self, tmp_path: Path) -> None:
        with registry_server(data_dir=tmp_path / "data") as first:
            headers = first.headers()
            requests.post(
                f"{first.url}/api/v1/organization/",
                json={"name": "acme"},
                headers=headers,
                timeout=10,
            )
            robot = requests.put(
                f"{first.url}/api/v1/organization/acme/robots/builder", headers=headers, timeout=10
            ).json()
            token = first.token
        with registry_server(data_dir=tmp_path / "data", initialize=False) as second:
            headers = {"Authorization": f"Bearer {token}"}
            again = requests.get(
                f"{second.url}/api/v1/organization/acme/robots/builder", headers=headers, timeout=10
            )
            assert again.status_code == 200
            assert again.json()["token"] == robot["token"]
            response = requests.post(
                f"{second.url}/api/v1/user/initialize",
                json={"username": "someone", "password": "password-123"},
                timeout=10,
            )
            assert response.json() == {"message": "Cannot initialize user in a non-empty database"}


class TestBadInput:
    @pytest.mark.parametrize(
        ("method", "path", "raw"),
        [
            ("POST", "/api/v1/organization/", b"[1, 2]"),
            ("POST", "/api/v1/organization/", b'{"name": 7}'),
            ("POST", "/api/v1/organization/", b"\xff\xfe"),
            ("POST", "/api/v1/repository", b'{"repository": null}'),
            ("POST", "/api/v1/organization/acme/prototypes", b'{"role": "read", "delegate": 3}'),
            ("PUT", "/api/v1/organization/acme/robots/bot", b'{"unstructured_metadata": []}'),
            ("PUT", "/api/v1/organization/acme/robots/bot", b"{broken"),
            ("POST", "/api/v1/user/initialize", b"null"),
            ("GET", "/api/v1/repository?namespace=acme&next_page=garbage", None),
            ("GET", "/api/v1/repository/acme/app/tag/?page=x", None),
            ("GET", "/api/v1/repository/acme/app/tag/?filter_tag_name=bogus", None),
            ("GET", "/api/v1/superuser/users/?limit=abc", None),
        ],
    )
    async def test_malformed_requests_get_a_client_error_never_a_crash(
        self, quay: Quay, method: str, path: str, raw: bytes | None
    ) -> None:
        await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
        await quay.call(
            "POST",
            "/api/v1/repository",
            {"namespace": "acme", "repository": "app", "visibility": "private", "description": ""},
        )
        response, _ = await quay.call(method, path, raw=raw)
        assert 400 <= response.status < 500


class TestTokenRevocation:
    async def test_a_revoked_token_stops_working_at_once(self, quay: Quay) -> None:
        await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
        _, app = await quay.call("POST", "/api/v1/organization/acme/applications", {"name": "b"})
        path = f"/api/v1/organization/acme/applications/{app['client_id']}/tokens"
        _, minted = await quay.call("POST", path, {"name": "t", "scope": "user:read"})
        response, _ = await quay.call("GET", "/api/v1/user/", token=minted["token"])
        assert response.status == 200
        response, _ = await quay.call("DELETE", f"{path}/{minted['uuid']}")
        assert response.status == 204
        response, _ = await quay.call("GET", "/api/v1/user/", token=minted["token"])
        assert response.status == 401
        response, _ = await quay.call("DELETE", f"{path}/{minted['uuid']}")
        assert response.status == 404


class TestPublicRepositories:
    async def test_public_alone_lists_every_namespaces_public_repositories(
        self, quay: Quay
    ) -> None:
        await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
        for name, visibility in [("open", "public"), ("closed", "private")]:
            await quay.call(
                "POST",
                "/api/v1/repository",
                {"namespace": "acme", "repository": name, "visibility": visibility,
                 "description": ""},
            )  # fmt: skip
        response, body = await quay.call("GET", "/api/v1/repository?public=true", token=None)
        assert response.status == 200
        assert [repo["name"] for repo in body["repositories"]] == ["open"]
        response, body = await quay.call("GET", "/api/v1/repository/acme/open", token=None)
        assert response.status == 200 and body["can_write"] is False
        response, _ = await quay.call("GET", "/api/v1/repository/acme/closed", token=None)
        assert response.status == 401


class TestPrototypeDelegates:
    async def test_a_robot_of_another_org_cannot_be_a_delegate(self, quay: Quay) -> None:
        for org in ("acme", "other"):
            await quay.call("POST", "/api/v1/organization/", {"name": org})
        await quay.call("PUT", "/api/v1/organization/other/robots/bot")
        response, body = await quay.call(
            "POST",
            "/api/v1/organization/acme/prototypes",
            {"role": "write", "delegate": {"kind": "user", "name": "other+bot"}},
        )
        assert response.status == 400
        assert body["error_message"] == "Missing delegate user or team"

    async def test_a_missing_team_delegate_gets_quays_unformatted_message(self, quay: Quay) -> None:
        await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
        response, body = await quay.call(
            "POST",
            "/api/v1/organization/acme/prototypes",
            {"role": "read", "delegate": {"kind": "team", "name": "ghosts"}},
        )
        assert (response.status, body) == (
            400,
            {"message": "('Team does not exist: %s/%s', 'acme', 'ghosts')"},
        )

    async def test_a_prototype_role_can_be_changed_and_the_prototype_deleted(
        self, quay: Quay
    ) -> None:
        await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
        response, proto = await quay.call(
            "POST",
            "/api/v1/organization/acme/prototypes",
            {"role": "read", "delegate": {"kind": "team", "name": "owners"}},
        )
        assert response.status == 200 and proto["delegate"]["kind"] == "team"
        path = f"/api/v1/organization/acme/prototypes/{proto['id']}"
        response, changed = await quay.call("PUT", path, {"role": "admin"})
        assert response.status == 200 and changed["role"] == "admin"
        response, _ = await quay.call("DELETE", path)
        assert response.status == 204
        response, _ = await quay.call("DELETE", path)
        assert response.status == 404


async def _push_rows(quay: Quay, tags: list[tuple[str, int, int | None]]) -> None:
    """Write tag rows as the /v2 API would (one manifest with one 7-byte layer)."""
    store = quay.client.app[STORE_KEY]  # type: ignore[index]
    async with store.read() as conn:
        repo_id = (
            await conn.execute(
                select(schema.repository.c.id).where(schema.repository.c.name == "app")
            )
        ).scalar_one()
    async with store.write() as conn:
        await conn.execute(schema.blob.insert().values(digest="sha256:l1", size=7, created=0))
        result = await conn.execute(
            schema.manifest.insert().values(
                repository_id=repo_id,
                digest="sha256:m1",
                media_type="application/vnd.oci.image.index.v1+json",
                size=2,
                content=b"{}",
                created=0,
            )
        )
        manifest_id = result.inserted_primary_key[0]
        await conn.execute(
            schema.manifest_reference.insert().values(
                manifest_id=manifest_id, kind="blob", digest="sha256:l1"
            )
        )
        for name, start, end in tags:
            await conn.execute(
                schema.tag.insert().values(
                    repository_id=repo_id,
                    name=name,
                    manifest_id=manifest_id,
                    start_ts=start,
                    end_ts=end,
                )
            )


class TestTagViews:
    async def test_the_tag_list_pages_and_filters_and_includes_history_by_default(
        self, quay: Quay
    ) -> None:
        await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
        await quay.call(
            "POST",
            "/api/v1/repository",
            {"namespace": "acme", "repository": "app", "visibility": "private", "description": ""},
        )
        await _push_rows(quay, [("v1", 100, 200), ("v1", 200, None), ("v2", 300, None)])
        base = "/api/v1/repository/acme/app/tag/"
        _, everything = await quay.call("GET", base)
        assert [(t["name"], t.get("end_ts")) for t in everything["tags"]] == [
            ("v2", None),
            ("v1", None),
            ("v1", 200),
        ]
        history = everything["tags"][2]
        assert history["reversion"] is False and history["is_manifest_list"] is True
        assert history["size"] == 7 and history["expiration"].endswith("-0000")
        _, live = await quay.call("GET", base + "?onlyActiveTags=true")
        assert [t["name"] for t in live["tags"]] == ["v2", "v1"]
        _, first = await quay.call("GET", base + "?limit=1&page=2")
        assert [t["name"] for t in first["tags"]] == ["v1"]
        assert first["page"] == 2 and first["has_additional"] is True
        _, only = await quay.call("GET", base + "?specificTag=v2")
        assert [t["name"] for t in only["tags"]] == ["v2"]
        _, like = await quay.call("GET", base + "?filter_tag_name=like:1")
        assert {t["name"] for t in like["tags"]} == {"v1"}
        _, repo = await quay.call("GET", "/api/v1/repository/acme/app")
        assert sorted(repo["tags"]) == ["v1", "v2"]
        assert repo["tags"]["v2"]["manifest_digest"] == "sha256:m1"

    async def test_a_missing_repository_is_404_for_an_admin_and_403_for_others(
        self, quay: Quay
    ) -> None:
        await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
        response, _ = await quay.call("GET", "/api/v1/repository/acme/nope/tag/")
        assert response.status == 404
        token = await quay.mint("acme", "org:admin")
        response, _ = await quay.call("GET", "/api/v1/repository/acme/nope/tag/", token=token)
        assert response.status == 403


class TestRobotsAndApplications:
    async def test_regenerating_a_robot_token_retires_the_old_one_for_registry_logins(
        self, quay: Quay
    ) -> None:
        from registry import access

        store = quay.client.app[STORE_KEY]  # type: ignore[index]
        await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
        _, robot = await quay.call("PUT", "/api/v1/organization/acme/robots/builder")
        assert await access.authenticate_basic(store, "acme+builder", robot["token"]) is not None
        _, again = await quay.call("POST", "/api/v1/organization/acme/robots/builder/regenerate")
        assert again["token"] != robot["token"] and "unstructured_metadata" not in again
        assert await access.authenticate_basic(store, "acme+builder", robot["token"]) is None
        assert await access.authenticate_basic(store, "acme+builder", again["token"]) is not None
        response, _ = await quay.call("DELETE", "/api/v1/organization/acme/robots/builder")
        assert response.status == 204
        assert await access.authenticate_basic(store, "acme+builder", again["token"]) is None

    async def test_applications_can_be_read_changed_and_deleted(self, quay: Quay) -> None:
        await quay.call("POST", "/api/v1/organization/", {"name": "acme"})
        _, app = await quay.call(
            "POST", "/api/v1/organization/acme/applications", {"name": "bridge"}
        )
        assert len(app["client_id"]) == 20 and len(app["client_secret"]) == 40
        path = f"/api/v1/organization/acme/applications/{app['client_id']}"
        response, changed = await quay.call("PUT", path, {"name": "bridge2", "description": "d"})
        assert response.status == 200 and changed["name"] == "bridge2"
        _, listed = await quay.call("GET", "/api/v1/organization/acme/applications")
        assert [a["name"] for a in listed["applications"]] == ["bridge2"]
        response, _ = await quay.call("DELETE", path)
        assert response.status == 204
        response, _ = await quay.call("GET", path)
        assert response.status == 404
