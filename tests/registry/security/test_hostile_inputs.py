"""Case 7 (registry side): absurd input gets a 4xx that says what is wrong, never a 500.

Against a running `quay-registry serve` process: JSON bodies 60,000 levels deep on every REST write
that takes a body, manifests 100,000 levels deep, a registry token whose JSON segments are nested
thousands of levels deep, a page number beyond any database offset, a token lifetime beyond any
date. Every answer is a 4xx naming the problem, the server logs no traceback, and it keeps
answering.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
import requests

from devstack.registry import RegistryServer, registry_server
from tests.registry.oci.images import OCI_MANIFEST
from tests.registry.security.tenant import Tenant, make_tenant, registry_token, rest, v2

DEEP_ARRAY = b"[" * 60_000 + b"]" * 60_000
DEEP_OBJECT = b'{"a":' * 60_000 + b"1" + b"}" * 60_000
HUGE = "99999999999999999999"


@pytest.fixture(scope="module")
def quay() -> Iterator[RegistryServer]:
    with registry_server() as server:
        yield server


@pytest.fixture(scope="module")
def tenant(quay: RegistryServer) -> Tenant:
    return make_tenant(quay, "hostile")


def _no_traceback(quay: RegistryServer) -> None:
    log = (quay.data_dir / "server.log").read_text(errors="replace")
    assert "Traceback" not in log and "Internal Server Error" not in log
    assert requests.get(f"{quay.url}/health/instance", timeout=10).status_code == 200


WRITES = [
    ("POST", "/api/v1/organization/"),
    ("POST", "/api/v1/repository"),
    ("PUT", "/api/v1/organization/hostile/robots/deep"),
    ("POST", "/api/v1/organization/hostile/prototypes"),
    ("POST", "/api/v1/organization/hostile/applications"),
    ("PUT", "/api/v1/repository/hostile/app/permissions/user/hostile+builder"),
    ("POST", "/api/v1/superuser/users/"),
    ("POST", "/api/v1/user/initialize"),
]


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
def test_a_60000_deep_json_body_is_a_400(
    quay: RegistryServer, tenant: Tenant, method: str, path: str, body: bytes
) -> None:
    headers = {**quay.headers(), "Content-Type": "application/json"}
    answer = requests.request(method, quay.url + path, data=body, headers=headers, timeout=30)
    assert answer.status_code == 400, answer.text[:200]
    assert "nested deeper than 100 levels" in answer.text
    _no_traceback(quay)


@pytest.mark.parametrize(
    "manifest",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"schemaVersion":2,"mediaType":"'
        + OCI_MANIFEST.encode()
        + b'","config":'
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}",
    ],
    ids=["bare", "in-config"],
)
def test_a_100000_deep_manifest_is_manifest_invalid(
    quay: RegistryServer, tenant: Tenant, manifest: bytes
) -> None:
    token = registry_token(quay, tenant.robot, tenant.robot_token, f"repository:{tenant.name}:push")
    answer = v2(
        quay,
        "PUT",
        f"/v2/{tenant.name}/manifests/latest",
        token,
        data=manifest,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert answer.status_code == 400
    error = answer.json()["errors"][0]
    assert error["code"] == "MANIFEST_INVALID"
    assert error["message"] == "manifest invalid"
    assert "nested deeper than 100 levels" in error["detail"]["message"]
    _no_traceback(quay)


def test_a_token_with_deeply_nested_segments_is_just_an_invalid_token(
    quay: RegistryServer, tenant: Tenant
) -> None:
    deep = base64.urlsafe_b64encode(b"[" * 2500 + b"]" * 2500).rstrip(b"=").decode()
    claims = base64.urlsafe_b64encode(b'{"sub":"x"}').rstrip(b"=").decode()
    for forged in (f"{deep}.{claims}.c2ln", f"{claims}.{deep}.c2ln"):
        assert v2(quay, "GET", f"/v2/{tenant.name}/tags/list", forged).status_code == 401
        assert v2(quay, "GET", "/v2/", forged).status_code == 401
    _no_traceback(quay)


def test_an_absurd_page_is_a_400_naming_the_parameter(quay: RegistryServer, tenant: Tenant) -> None:
    answer = rest(quay, "GET", f"/api/v1/repository/{tenant.name}/tag/?page={HUGE}")
    assert answer.status_code == 400
    assert answer.json()["error_message"] == f"Invalid value for page: {HUGE} (at most 2147483647)"
    for query in (f"limit={HUGE}", "page=-3", "page=2147483647"):
        assert (
            rest(quay, "GET", f"/api/v1/repository/{tenant.name}/tag/?{query}").status_code == 200
        )
    token = registry_token(quay, tenant.robot, tenant.robot_token, f"repository:{tenant.name}:pull")
    assert v2(quay, "GET", f"/v2/{tenant.name}/tags/list?n={HUGE}", token).status_code == 200
    assert v2(quay, "GET", f"/v2/{tenant.name}/tags/list?n=-1", token).status_code == 400
    _no_traceback(quay)


def test_an_absurd_token_lifetime_is_a_400(quay: RegistryServer, tenant: Tenant) -> None:
    app = rest(quay, "POST", f"/api/v1/organization/{tenant.org}/applications", {"name": "ci"})
    assert app.status_code == 200
    tokens = f"/api/v1/organization/{tenant.org}/applications/{app.json()['client_id']}/tokens"
    for expiration in (int(HUGE), 10**400):
        answer = rest(
            quay, "POST", tokens, {"name": "x", "scope": "repo:read", "expiration": expiration}
        )
        assert answer.status_code == 400
        assert answer.json() == {
            "message": "Invalid expiration: must be at most 3155760000 seconds"
        }
    _no_traceback(quay)
