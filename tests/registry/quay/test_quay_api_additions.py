"""The REST API beyond the bridge's calls that Quay users and tools rely on, answered as Quay.

Visibility changes, teams and their members, robots' `last_accessed`, `/api/v1/discovery`, the
repository GET without tags, and token timestamps with microseconds. The `/v2` side of visibility
(anonymous pulls of a public repository) is in `tests/registry/oci/test_quay_fidelity.py`.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from tests.registry.quay.conftest import Quay

ORG = "teamorg"


async def _org(quay: Quay, name: str = ORG) -> None:
    response, body = await quay.call(
        "POST", "/api/v1/organization/", {"name": name, "email": f"{name}@x.test"}
    )
    assert response.status == 201, body


async def _repo(quay: Quay, name: str = "app", visibility: str = "private") -> None:
    response, body = await quay.call(
        "POST",
        "/api/v1/repository",
        {"namespace": ORG, "repository": name, "visibility": visibility, "description": ""},
    )
    assert response.status == 201, body


class TestChangeVisibility:
    async def test_an_admin_makes_a_repository_public_and_private_again(self, quay: Quay) -> None:
        await _org(quay)
        await _repo(quay)
        path = f"/api/v1/repository/{ORG}/app"
        response, body = await quay.call(
            "POST", path + "/changevisibility", {"visibility": "public"}
        )
        assert (response.status, body) == (200, {"success": True})
        _, repo = await quay.call("GET", path)
        assert repo["is_public"] is True
        response, anonymous = await quay.call("GET", path, token=None)
        assert response.status == 200 and anonymous["is_public"] is True

        response, _ = await quay.call("POST", path + "/changevisibility", {"visibility": "private"})
        assert response.status == 200
        response, _ = await quay.call("GET", path, token=None)
        assert response.status == 401

    async def test_a_bad_visibility_is_quays_schema_error(self, quay: Quay) -> None:
        await _org(quay)
        await _repo(quay)
        response, body = await quay.call(
            "POST", f"/api/v1/repository/{ORG}/app/changevisibility", {"visibility": "secret"}
        )
        assert response.status == 400
        assert body["detail"].startswith("'secret' is not one of ['public', 'private']")

    async def test_a_reader_cannot_change_visibility(self, quay: Quay) -> None:
        await _org(quay)
        await _repo(quay)
        reader = await quay.mint(ORG, "repo:read")
        response, _ = await quay.call(
            "POST",
            f"/api/v1/repository/{ORG}/app/changevisibility",
            {"visibility": "public"},
            token=reader,
        )
        assert response.status == 403


class TestTeams:
    async def test_a_team_is_created_updated_listed_and_deleted(self, quay: Quay) -> None:
        await _org(quay)
        team = f"/api/v1/organization/{ORG}/team/builders"
        response, body = await quay.call("PUT", team, {"role": "member", "description": "CI"})
        assert response.status == 200
        assert {k: body[k] for k in ("name", "description", "role", "new_team", "can_view")} == {
            "name": "builders",
            "description": "CI",
            "role": "member",
            "new_team": True,
            "can_view": True,
        }
        assert set(body["avatar"]) >= {"name", "hash", "color", "kind"}
        response, body = await quay.call("PUT", team, {"role": "creator"})
        assert (response.status, body["role"], body["new_team"]) == (200, "creator", False)
        assert body["description"] == "CI"

        _, org = await quay.call("GET", f"/api/v1/organization/{ORG}")
        assert org["teams"]["builders"]["role"] == "creator"

        response, _ = await quay.call("DELETE", team)
        assert response.status == 204
        response, body = await quay.call("DELETE", team)
        assert (response.status, body) == (
            400,
            {"message": f"Team 'builders' is not a team in org '{ORG}'"},
        )

    async def test_members_are_added_listed_and_removed(self, quay: Quay) -> None:
        await _org(quay)
        await quay.call("PUT", f"/api/v1/organization/{ORG}/team/builders", {"role": "creator"})
        response, _robot = await quay.call("PUT", f"/api/v1/organization/{ORG}/robots/ci", {})
        assert response.status == 201
        members = f"/api/v1/organization/{ORG}/team/builders/members"
        response, body = await quay.call("PUT", f"{members}/{ORG}+ci")
        assert response.status == 200
        assert {k: body[k] for k in ("name", "kind", "is_robot", "invited")} == {
            "name": f"{ORG}+ci",
            "kind": "user",
            "is_robot": True,
            "invited": False,
        }
        response, body = await quay.call("PUT", f"{members}/{ORG}+ci")
        assert (response.status, body) == (
            400,
            {"message": f"User {ORG}+ci is already a member of team builders"},
        )
        response, listed = await quay.call("GET", members)
        assert response.status == 200
        assert listed["name"] == "builders" and listed["can_edit"] is True
        assert [m["name"] for m in listed["members"]] == [f"{ORG}+ci"]

        response, _ = await quay.call("DELETE", f"{members}/{ORG}+ci")
        assert response.status == 204
        _, listed = await quay.call("GET", members)
        assert listed["members"] == []

    async def test_refusals_are_quays(self, quay: Quay) -> None:
        await _org(quay)
        await _org(quay, "otherorg")
        await quay.call("PUT", "/api/v1/organization/otherorg/robots/spy", {})
        team = f"/api/v1/organization/{ORG}/team"
        response, body = await quay.call("PUT", f"{team}/Bad Name", {"role": "member"})
        assert response.status == 400 and body["message"].startswith("Invalid team name Bad Name")
        response, body = await quay.call("PUT", f"{team}/x1", {"role": "owner"})
        assert response.status == 400 and "'owner' is not one of" in body["detail"]
        await quay.call("PUT", f"{team}/builders", {"role": "member"})
        response, body = await quay.call("PUT", f"{team}/builders/members/otherorg+spy")
        assert response.status == 400 and "not a member of the organization" in body["message"]
        response, body = await quay.call("PUT", f"{team}/builders/members/nobody")
        assert response.status == 400 and body["error_message"] == "Unknown user"
        response, _ = await quay.call("GET", f"{team}/nosuch/members")
        assert response.status == 404
        # The caller's only admin team can be neither deleted nor demoted nor left.
        response, body = await quay.call("DELETE", f"{team}/owners")
        assert response.status == 400 and "would remove admin ability" in body["message"]
        response, body = await quay.call("PUT", f"{team}/owners", {"role": "member"})
        assert response.status == 400 and "would no longer have admin" in body["message"]
        response, body = await quay.call("DELETE", f"{team}/owners/members/quayadmin")
        assert response.status == 400
        assert body["message"] == "User cannot remove themselves from their only admin team."
        reader = await quay.mint(ORG, "repo:read")
        response, _ = await quay.call("PUT", f"{team}/other", {"role": "member"}, token=reader)
        assert response.status == 403


async def test_a_robot_login_records_last_accessed(quay: Quay) -> None:
    await _org(quay)
    response, robot = await quay.call("PUT", f"/api/v1/organization/{ORG}/robots/puller", {})
    assert response.status == 201 and robot["last_accessed"] is None
    basic = base64.b64encode(f"{ORG}+puller:{robot['token']}".encode()).decode()
    answer = await quay.client.get(
        "/v2/auth",
        params={"scope": f"repository:{ORG}/app:pull"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert answer.status == 200
    _, fetched = await quay.call("GET", f"/api/v1/organization/{ORG}/robots/puller")
    assert re.match(r"^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} -0000$", fetched["last_accessed"])


async def test_the_repository_get_leaves_tags_out_when_asked(quay: Quay) -> None:
    await _org(quay)
    await _repo(quay)
    _, with_tags = await quay.call("GET", f"/api/v1/repository/{ORG}/app")
    assert with_tags["tags"] == {}
    _, without = await quay.call("GET", f"/api/v1/repository/{ORG}/app?includeTags=false")
    assert "tags" not in without
    assert set(with_tags) - set(without) == {"tags"}


async def test_token_timestamps_carry_microseconds_as_quays_isoformat(quay: Quay) -> None:
    await _org(quay)
    response, app = await quay.call(
        "POST", f"/api/v1/organization/{ORG}/applications", {"name": "ci"}
    )
    response, token = await quay.call(
        "POST",
        f"/api/v1/organization/{ORG}/applications/{app['client_id']}/tokens",
        {"name": "t", "scope": "repo:read"},
    )
    assert response.status == 200
    for key in ("created", "expires_at"):
        assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z$", token[key]), token[key]


async def test_discovery_describes_every_rest_route_in_swagger(quay: Quay) -> None:
    response, doc = await quay.call("GET", "/api/v1/discovery", token=None)
    assert response.status == 200
    assert (doc["swagger"], doc["basePath"], doc["info"]["title"]) == (
        "2.0",
        "/api",
        "Quay Frontend",
    )
    paths: dict[str, Any] = doc["paths"]
    organization = paths["/v1/organization/{orgname}"]
    assert organization["get"]["operationId"] == "getOrganization"
    assert organization["delete"]["responses"]["204"] == {"description": "Deleted"}
    visibility = paths["/v1/repository/{repository}/changevisibility"]["post"]
    body = next(p for p in visibility["parameters"] if p["in"] == "body")
    assert body["schema"] == {"$ref": "#/definitions/ChangeVisibility"}
    assert doc["definitions"]["ChangeVisibility"]["required"] == ["visibility"]
    assert "/v1/organization/{orgname}/team/{teamname}/members/{membername}" in paths
    assert [p["name"] for p in visibility["parameters"] if p["in"] == "path"] == ["repository"]
    operation_ids = [
        op["operationId"] for path in paths.values() for k, op in path.items() if k != "x-tag"
    ]
    assert len(operation_ids) == len(set(operation_ids))
