"""Replay every exchange recorded from a real Quay against a fresh registry core, in order.

Both golden files run against one server (``exchanges2.json`` was recorded after ``exchanges.json``
on the same Quay). Each exchange checks the status, the content type and the JSON body (random
values by shape); the robot's registry JWT is decoded and its header and claims compared with the
recorded ones. Deliberate differences, each with its reason:

- ``health_instance``/``health_instance_end``: the recording answered 503 only because Quay's
  self-ping went to ``localhost:8080`` where nothing listened (docs/reference/quay.md#surprises); a
  healthy registry core answers 200 with the same service keys, all true.
- ``org_trailing_slash_get``: Quay's body is its web UI page; only status and HTML type are
  compared.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from devstack.registry import RegistryServer, registry_server
from tests.registry.quay.golden import differences, load, load_jwt

HEALTH_LABELS = {"health_instance", "health_instance_end"}
HTML_BODY_LABELS = {"org_trailing_slash_get"}
PASSWORD_13 = "golden-passw0"


class Replayer:
    """Sends golden requests with live credentials substituted for the redacted ones."""

    def __init__(self, server: RegistryServer) -> None:
        self.server = server
        self.token = ""
        self.robot_tokens: dict[str, str] = {}
        self.registry_jwt = ""

    def _auth(self, exchange: dict[str, Any]) -> dict[str, str]:
        auth = exchange.get("auth", "Bearer <token>")
        label = exchange["label"]
        if auth is None:
            return {}
        if auth == "Bearer <token>":
            if label.startswith("bad_token"):
                return {"Authorization": "Bearer " + "X" * 40}
            if exchange["path"].startswith("/v2"):
                return {"Authorization": f"Bearer {self.registry_jwt}"}
            return {"Authorization": f"Bearer {self.token}"}
        user = auth.removeprefix("Basic ").split(":", 1)[0]
        if user == "$oauthtoken":
            secret = self.token
        elif label.endswith("bad_password"):
            secret = "not-the-robot-token"
        else:
            secret = self.robot_tokens[user]
        raw = base64.b64encode(f"{user}:{secret}".encode()).decode()
        return {"Authorization": f"Basic {raw}"}

    def send(self, exchange: dict[str, Any]) -> requests.Response:
        headers = {"Accept": "application/json", **self._auth(exchange)}
        body = exchange.get("req_body")
        data: bytes | None = None
        if isinstance(body, dict):
            body = {key: PASSWORD_13 if key == "password" else value for key, value in body.items()}
            data = json.dumps(body).encode()
        elif isinstance(body, str):
            data = body.encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        follow = bool(exchange.get("history"))
        response = requests.request(
            exchange["method"],
            self.server.url + exchange["path"].replace("127.0.0.1:58080", self.server.host),
            data=data,
            headers=headers,
            allow_redirects=follow,
            timeout=10,
        )
        self._remember(exchange, response)
        return response

    def _remember(self, exchange: dict[str, Any], response: requests.Response) -> None:
        if response.status_code >= 300 or "json" not in response.headers.get("Content-Type", ""):
            return
        try:
            body = response.json()
        except ValueError:
            return
        if not isinstance(body, dict):
            return
        if exchange["label"] == "user_initialize":
            self.token = body["access_token"]
        if "/robots/" in exchange["path"] and isinstance(body.get("token"), str):
            self.robot_tokens[body["name"]] = body["token"]
        auth = exchange.get("auth") or ""
        if exchange["path"].startswith("/v2/auth") and auth.startswith("Basic ") and "+" in auth:
            self.registry_jwt = body["token"]  # a robot's token serves the /v2 calls that follow


def _all_exchanges() -> list[tuple[str, dict[str, Any]]]:
    files = ("exchanges.json", "exchanges2.json", "exchanges3.json")
    return [(name, ex) for name in files for ex in load(name)]


EXCHANGES = _all_exchanges()


@pytest.fixture(scope="module")
def replayer() -> Iterator[Replayer]:
    with registry_server(initialize=False, gc_seconds=30) as server:
        yield Replayer(server)


@pytest.mark.parametrize(
    ("source", "exchange"),
    EXCHANGES,
    ids=[
        f"{source.removesuffix('.json')}-{i:02d}-{ex['label']}"
        for i, (source, ex) in enumerate(EXCHANGES)
    ],
)
def test_the_registry_core_answers_like_the_recorded_quay(
    replayer: Replayer, source: str, exchange: dict[str, Any]
) -> None:
    response = replayer.send(exchange)
    label = exchange["label"]
    content_type = response.headers.get("Content-Type", "")
    if label in HEALTH_LABELS:
        assert response.status_code == 200, response.text
        assert set(response.json()["data"]["services"]) == set(
            exchange["resp_json"]["data"]["services"]
        )
        assert all(response.json()["data"]["services"].values())
        return
    assert response.status_code == exchange["status"], response.text[:500]
    assert content_type.split(";")[0] == exchange["content_type"].split(";")[0]
    for name, value in exchange.get("headers", {}).items():
        if name.lower() == "set-cookie":
            assert response.headers.get(name, "").startswith("_csrf_token=")
            continue
        assert response.headers.get(name) == value.replace("127.0.0.1:58080", replayer.server.host)
    if label in HTML_BODY_LABELS:
        return
    if response.status_code == 308:
        assert response.headers["Location"] == replayer.server.url + exchange["path"] + "/"
        return
    expected = exchange.get("resp_json")
    if expected is None:
        assert response.content == b""
        return
    found = differences(expected, response.json(), replayer.server.host)
    assert not found, "\n".join(found)
    if label == "v2_auth_robot":
        _assert_claims_match_the_recording(response.json()["token"], replayer.server.host)


def _segment(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def _assert_claims_match_the_recording(token: str, host: str) -> None:
    """The robot's registry JWT carries the recorded header and claims (times by arithmetic).

    Plus our one private claim, `credential`, which binds the token to the robot's live credential
    (docs/registry-oci.md, "Tokens die with their credential").
    """
    recorded = load_jwt()
    header, claims = _segment(token, 0), _segment(token, 1)
    assert {key: header[key] for key in ("alg", "typ")} == {"alg": "RS256", "typ": "JWT"}
    assert header.get("kid")
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"]
    assert claims.pop("credential", "").startswith("account:")
    timeless = {k: v for k, v in claims.items() if k not in {"nbf", "iat", "exp"}}
    expected = {k: v for k, v in recorded["claims"].items() if k not in {"nbf", "iat", "exp"}}
    found = differences(expected, timeless, host)
    assert not found, "\n".join(found)
