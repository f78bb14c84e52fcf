"""`/v2/auth`, Quay's token endpoint, compared with what a real Quay answered.

The golden claims recorded from a real Quay (`tests/registry/golden/`) fix the token's shape:
the same claim keys, the same `context` keys per kind of caller, `exp = iat + 3600`, `aud` echoing
the `service` sent. Downscoping is never an error; bad credentials and bad scopes are. The one
addition is the private `credential` claim, present exactly when a credential obtained the token
(see `registry/oci/liveness.py`).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.registry import registry_server
from tests.registry.oci.registry_fixture import ADMIN, ADMIN_PASSWORD, Registry

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _golden() -> dict[str, Any]:
    first = json.loads((GOLDEN / "exchanges.json").read_text())
    second = json.loads((GOLDEN / "exchanges2.json").read_text())
    return {"robot": first["jwt"]["claims"], **second["extra"]}


def _segment(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


async def _auth(
    registry: Registry,
    credentials: tuple[str, str] | None,
    *scopes: str,
    service: str | None = None,
) -> tuple[int, dict[str, Any]]:
    assert registry.http is not None
    headers = {} if credentials is None else {"Authorization": registry.basic(*credentials)}
    params = [("service", service or registry.host)] + [("scope", s) for s in scopes]
    async with registry.http.get(f"{registry.url}/v2/auth", params=params, headers=headers) as r:
        return r.status, await r.json(content_type=None)


def _shape(claims: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Quay's claim keys and context keys; our `credential` claim is checked apart."""
    return sorted(set(claims) - {"credential"}), sorted(claims["context"])


class TestTokens:
    async def test_a_robot_token_has_quays_header_claims_and_context(
        self, registry: Registry
    ) -> None:
        golden = _golden()["robot"]
        creds = ("acme+writer", registry.robots["acme+writer"])
        status, body = await _auth(registry, creds, "repository:acme/app:push,pull")
        assert status == 200
        assert list(body) == ["token"]
        header, claims = _segment(body["token"], 0), _segment(body["token"], 1)
        assert set(header) == {"alg", "kid", "typ"} and header["alg"] == "RS256"
        assert len(header["kid"]) == len("_d5XSdMHOmYIXmwFWS4p4B9_xdQup-j49R0MKMxwTxs")
        assert _shape(claims) == _shape(golden)
        assert list(claims)[-1] == "credential" and claims["credential"].startswith("account:")
        assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"]
        assert (claims["iss"], claims["aud"], claims["sub"]) == ("quay", registry.host, creds[0])
        assert claims["access"] == [
            {"type": "repository", "name": "acme/app", "actions": ["push", "pull"]}
        ]
        assert claims["context"]["entity_kind"] == "robot"

    async def test_an_anonymous_token_for_a_private_repository_grants_nothing(
        self, registry: Registry
    ) -> None:
        golden = _golden()["anon_private_pull"]["claims"]
        status, body = await _auth(registry, None, "repository:acme/app:pull")
        assert status == 200
        claims = _segment(body["token"], 1)
        assert _shape(claims) == _shape(golden)
        assert claims["sub"] == "(anonymous)" and "credential" not in claims
        assert claims["access"][0]["actions"] == []

    async def test_a_robot_without_a_scope_gets_an_empty_access_list(
        self, registry: Registry
    ) -> None:
        golden = _golden()["robot_no_scope"]["claims"]
        creds = ("acme+writer", registry.robots["acme+writer"])
        status, body = await _auth(registry, creds)
        claims = _segment(body["token"], 1)
        assert status == 200
        assert _shape(claims) == _shape(golden)
        assert claims["access"] == [] and claims["context"]["com.apostille.roots"] == {}

    async def test_the_audience_echoes_the_service_sent(self, registry: Registry) -> None:
        creds = ("acme+reader", registry.robots["acme+reader"])
        status, body = await _auth(
            registry, creds, "repository:acme/app:pull", service="wrong-service"
        )
        assert status == 200
        assert _segment(body["token"], 1)["aud"] == "wrong-service"

    @pytest.mark.parametrize(
        ("who", "scope", "actions"),
        [
            ("acme+writer", "repository:acme/app:push,pull", ["push", "pull"]),
            ("acme+reader", "repository:acme/app:push,pull", ["pull"]),
            ("acme+nobody", "repository:acme/app:push,pull", []),
            ("acme+nobody", "repository:acme/public:pull", ["pull"]),
            ("acme+writer", "repository:acme/brand-new:push,pull", []),
            (ADMIN, "repository:acme/brand-new:push,pull", ["push", "pull"]),
            (ADMIN, "repository:acme/app:*", ["*"]),
            ("acme+writer", "repository:acme/app:*", []),
            (ADMIN, "repository:nosuchorg/x:push,pull", []),
        ],
    )
    async def test_requested_actions_are_downscoped_to_the_callers_rights(
        self, registry: Registry, who: str, scope: str, actions: list[str]
    ) -> None:
        password = ADMIN_PASSWORD if who == ADMIN else registry.robots[who]
        status, body = await _auth(registry, (who, password), scope)
        assert status == 200
        assert _segment(body["token"], 1)["access"][0]["actions"] == actions

    async def test_one_token_carries_several_scopes_in_order(self, registry: Registry) -> None:
        status, body = await _auth(
            registry,
            (ADMIN, ADMIN_PASSWORD),
            "repository:acme/public:pull",
            "repository:acme/app:push",
        )
        assert status == 200
        access = _segment(body["token"], 1)["access"]
        assert [(a["name"], a["actions"]) for a in access] == [
            ("acme/public", ["pull"]),
            ("acme/app", ["push"]),
        ]


class TestRefusals:
    @pytest.mark.parametrize(
        ("credentials", "message"),
        [
            (
                ("acme+writer", "WRONG"),
                "Could not find robot with username: acme+writer and supplied password.",
            ),
            (("quayadmin", "WRONG"), "Invalid Username or Password"),
            (("$oauthtoken", "WRONG"), "Invalid oauth access token"),
            (("nobody", "x"), "Invalid Username or Password"),
        ],
    )
    async def test_bad_credentials_are_401_unauthorized(
        self, registry: Registry, credentials: tuple[str, str], message: str
    ) -> None:
        status, body = await _auth(registry, credentials, "repository:acme/app:pull")
        assert status == 401
        assert body == {"errors": [{"code": "UNAUTHORIZED", "detail": {}, "message": message}]}

    async def test_no_credentials_and_no_scope_is_401(self, registry: Registry) -> None:
        status, body = await _auth(registry, None)
        assert status == 401
        assert body["errors"][0]["message"] == "access to the requested resource is not authorized"

    @pytest.mark.parametrize(
        ("scope", "code", "message"),
        [
            ("bogus", "INVALID_REQUEST", "Unable to decode repository and actions: bogus"),
            ("repository:Probe-Org/X:push", "NAME_INVALID", "Invalid repository name: Probe-Org/X"),
        ],
    )
    async def test_a_bad_scope_is_400(
        self, registry: Registry, scope: str, code: str, message: str
    ) -> None:
        creds = ("acme+writer", registry.robots["acme+writer"])
        status, body = await _auth(registry, creds, scope)
        assert status == 400
        assert body == {"errors": [{"code": code, "detail": {}, "message": message}]}

    async def test_a_token_past_its_lifetime_is_refused_at_the_data_endpoints(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        from registry.oci.signing import SigningKey
        from registry.oci.tokens import ANONYMOUS_IDENTITY, Grant, issue_claims

        key = SigningKey.load_or_create(registry.data_dir)
        claims = issue_claims(
            ANONYMOUS_IDENTITY, registry.host, [Grant("acme/public", ("pull",))], 1
        )
        headers = {"Authorization": f"Bearer {key.sign(claims)}"}
        async with registry.http.get(
            f"{registry.url}/v2/acme/public/tags/list", headers=headers
        ) as resp:
            # Quay's abort(401) from its JWT check: {"error": reason} as text/html, even on a
            # public repository (a bad token is not an anonymous caller).
            assert resp.status == 401
            assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
            assert (await resp.json(content_type=None)) == {
                "error": "token is expired or not yet valid"
            }
            assert 'scope="repository:acme/public:pull"' in resp.headers["WWW-Authenticate"]


def test_an_oauth_token_as_password_gets_quays_oauth_context() -> None:
    golden = _golden()["oauthtoken_pushpull"]["claims"]
    with registry_server() as quay:
        created = requests.post(
            f"{quay.url}/api/v1/repository",
            json={
                "namespace": quay.username,
                "repository": "app",
                "visibility": "private",
                "description": "",
            },
            headers=quay.headers(),
            timeout=10,
        )
        assert created.status_code == 201
        response = requests.get(
            f"{quay.url}/v2/auth",
            params={"service": quay.host, "scope": f"repository:{quay.username}/app:push,pull"},
            auth=("$oauthtoken", quay.token),
            timeout=10,
        )
    assert response.status_code == 200
    claims = _segment(response.json()["token"], 1)
    assert _shape(claims) == _shape(golden)
    assert claims["sub"] == quay.username
    assert claims["access"][0]["actions"] == ["push", "pull"]
    context = claims["context"]
    assert (context["entity_kind"], context["kind"], context["user"]) == (
        "oauthtoken",
        "oauth",
        quay.username,
    )
    assert context["oauth"] == context["entity_reference"] != quay.token
