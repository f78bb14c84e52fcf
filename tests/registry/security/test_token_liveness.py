"""Case 2: a `/v2` bearer token dies with the credential that obtained it, at once.

Each test mints a registry token, shows it working, changes the credential through the REST API
of a running `quay-registry serve` process, and shows the same token refused with 401 on the very
next request: robot deleted, robot token regenerated, user deleted, org deleted and re-created
under the same name (with a robot of the same name), OAuth token revoked.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from devstack.registry import RegistryServer, registry_server
from devstack.waiting import poll_until
from tests.registry.security.tenant import (
    make_tenant,
    push_blob,
    registry_token,
    rest,
    v2,
)


@pytest.fixture(scope="module")
def quay() -> Iterator[RegistryServer]:
    with registry_server(gc_seconds=0.2) as server:
        yield server


def _tags(quay: RegistryServer, name: str, token: str) -> int:
    return v2(quay, "GET", f"/v2/{name}/tags/list", token).status_code


def test_a_deleted_robots_token_is_refused_at_once(quay: RegistryServer) -> None:
    tenant = make_tenant(quay, "live-robot-deleted")
    token = registry_token(
        quay, tenant.robot, tenant.robot_token, f"repository:{tenant.name}:push,pull"
    )
    assert _tags(quay, tenant.name, token) == 200
    assert push_blob(quay, tenant.name, token, b"before").status_code == 201

    deleted = rest(quay, "DELETE", f"/api/v1/organization/{tenant.org}/robots/builder")
    assert deleted.status_code == 204

    assert _tags(quay, tenant.name, token) == 401
    refused = push_blob(quay, tenant.name, token, b"after")
    assert refused.status_code == 401
    assert refused.json() == {
        "error": "the credential this token was issued for is no longer valid"
    }
    assert v2(quay, "GET", "/v2/", token).status_code == 401


def test_a_regenerated_robots_old_token_is_refused_and_the_new_one_works(
    quay: RegistryServer,
) -> None:
    tenant = make_tenant(quay, "live-robot-regenerated")
    scope = f"repository:{tenant.name}:push,pull"
    old = registry_token(quay, tenant.robot, tenant.robot_token, scope)
    assert _tags(quay, tenant.name, old) == 200

    regenerated = rest(quay, "POST", f"/api/v1/organization/{tenant.org}/robots/builder/regenerate")
    assert regenerated.status_code == 200
    assert _tags(quay, tenant.name, old) == 401
    assert push_blob(quay, tenant.name, old, b"old token").status_code == 401

    refused = requests.get(
        f"{quay.url}/v2/auth",
        params={"service": quay.host, "scope": scope},
        auth=(tenant.robot, tenant.robot_token),
        timeout=10,
    )
    assert refused.status_code == 401
    new = registry_token(quay, tenant.robot, regenerated.json()["token"], scope)
    assert _tags(quay, tenant.name, new) == 200


def test_a_deleted_users_token_is_refused_at_once(quay: RegistryServer) -> None:
    created = rest(quay, "POST", "/api/v1/superuser/users/", {"username": "liveuser"})
    assert created.status_code == 200, created.text
    password = created.json()["password"]
    token = registry_token(quay, "liveuser", password, "repository:liveuser/own:push,pull")
    assert push_blob(quay, "liveuser/own", token, b"mine").status_code == 201
    assert _tags(quay, "liveuser/own", token) == 200

    deleted = rest(quay, "DELETE", "/api/v1/superuser/users/liveuser")
    assert deleted.status_code == 204

    assert _tags(quay, "liveuser/own", token) == 401
    assert push_blob(quay, "liveuser/own", token, b"after").status_code == 401
    assert rest(quay, "DELETE", "/api/v1/superuser/users/liveuser").status_code == 404


def test_an_old_orgs_robot_token_cannot_push_into_a_recreated_org_of_the_same_name(
    quay: RegistryServer,
) -> None:
    old = make_tenant(quay, "live-org-recreated")
    token = registry_token(quay, old.robot, old.robot_token, f"repository:{old.name}:push,pull")
    assert push_blob(quay, old.name, token, b"old org").status_code == 201

    assert rest(quay, "DELETE", f"/api/v1/organization/{old.org}").status_code == 204
    assert _tags(quay, old.name, token) == 401  # the deleted org's robot, before the GC

    attempts: list[requests.Response] = []

    def recreate() -> bool:  # the name is reserved until the namespace GC purges the old org
        attempts.append(
            rest(quay, "POST", "/api/v1/organization/", {"name": old.org, "email": "new@x.test"})
        )
        return attempts[-1].status_code == 201

    poll_until(recreate, 20, interval=0.1)
    recreated = attempts[-1]
    assert recreated.status_code == 201, recreated.text
    for call in (
        rest(
            quay,
            "POST",
            "/api/v1/repository",
            {"namespace": old.org, "repository": "app", "visibility": "private", "description": ""},
        ),
        rest(quay, "PUT", f"/api/v1/organization/{old.org}/robots/builder", {}),
        rest(
            quay,
            "PUT",
            f"/api/v1/repository/{old.name}/permissions/user/{old.robot}",
            {"role": "write"},
        ),
    ):
        assert call.status_code in (200, 201), call.text

    refused = push_blob(quay, old.name, token, b"into the new org")
    assert refused.status_code == 401
    assert _tags(quay, old.name, token) == 401


def test_a_registry_token_from_a_revoked_oauth_token_is_refused(quay: RegistryServer) -> None:
    assert (
        rest(
            quay, "POST", "/api/v1/organization/", {"name": "live-oauth-org", "email": "o@x.test"}
        ).status_code
        == 201
    )
    app = rest(quay, "POST", "/api/v1/organization/live-oauth-org/applications", {"name": "ci"})
    assert app.status_code == 200, app.text
    client_id = app.json()["client_id"]
    minted = rest(
        quay,
        "POST",
        f"/api/v1/organization/live-oauth-org/applications/{client_id}/tokens",
        {"name": "ci", "scope": "repo:read repo:write repo:create"},
    )
    assert minted.status_code == 200, minted.text
    oauth_token = minted.json()["token"]
    token = registry_token(
        quay, "$oauthtoken", oauth_token, f"repository:{quay.username}/ci:push,pull"
    )
    assert push_blob(quay, f"{quay.username}/ci", token, b"ci").status_code == 201

    token_uuid = minted.json()["uuid"]
    revoked = rest(
        quay,
        "DELETE",
        f"/api/v1/organization/live-oauth-org/applications/{client_id}/tokens/{token_uuid}",
    )
    assert revoked.status_code == 204
    assert _tags(quay, f"{quay.username}/ci", token) == 401
