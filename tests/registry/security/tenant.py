"""Setting up tenants on a running registry core through its REST and `/v2` APIs, as a client would.

Every security test drives a real `quay-registry serve` process (`devstack/registry.py`)
over loopback; these helpers only spell out the calls: an org with a repository and a robot holding
a role on it, registry tokens from `/v2/auth`, and a blob push.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import requests

from devstack.registry import RegistryServer

TIMEOUT = 10


@dataclass(frozen=True)
class Tenant:
    """An org with one repository and one robot holding `role` on it."""

    org: str
    repo: str
    robot: str
    robot_token: str

    @property
    def name(self) -> str:
        """`org/repo`."""
        return f"{self.org}/{self.repo}"


def rest(quay: RegistryServer, method: str, path: str, body: object = None) -> requests.Response:
    """A REST call with the first user's OAuth token."""
    return requests.request(
        method, f"{quay.url}{path}", json=body, headers=quay.headers(), timeout=TIMEOUT
    )


def make_tenant(quay: RegistryServer, org: str, role: str = "write") -> Tenant:
    """Create `org`, its repository `app` and robot `builder` with `role` on it."""
    created = rest(quay, "POST", "/api/v1/organization/", {"name": org, "email": f"{org}@x.test"})
    assert created.status_code == 201, created.text
    repo = rest(
        quay,
        "POST",
        "/api/v1/repository",
        {"namespace": org, "repository": "app", "visibility": "private", "description": ""},
    )
    assert repo.status_code == 201, repo.text
    robot = rest(quay, "PUT", f"/api/v1/organization/{org}/robots/builder", {})
    assert robot.status_code == 201, robot.text
    full_name, token = robot.json()["name"], robot.json()["token"]
    granted = rest(
        quay,
        "PUT",
        f"/api/v1/repository/{org}/app/permissions/user/{full_name}",
        {"role": role},
    )
    assert granted.status_code == 200, granted.text
    return Tenant(org, "app", full_name, token)


def registry_token(quay: RegistryServer, username: str, password: str, scope: str) -> str:
    """A `/v2` bearer token for `scope`, obtained with Basic credentials."""
    answer = requests.get(
        f"{quay.url}/v2/auth",
        params={"service": quay.host, "scope": scope},
        auth=(username, password),
        timeout=TIMEOUT,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def v2(
    quay: RegistryServer,
    method: str,
    path: str,
    token: str | None,
    *,
    params: dict[str, str] | None = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """A `/v2` call, with a bearer token unless `token` is None."""
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    return requests.request(
        method, f"{quay.url}{path}", headers=sent, params=params, data=data, timeout=TIMEOUT
    )


def push_blob(quay: RegistryServer, name: str, token: str, data: bytes) -> requests.Response:
    """Push `data` as a blob of `name` in one POST (`?digest=`); the answer of that POST."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    return v2(
        quay, "POST", f"/v2/{name}/blobs/uploads/", token, params={"digest": digest}, data=data
    )
