"""The bridge works with a token holding exactly the seven scopes the product documentation lists.

The token is minted as an admin would: an organization for the bridge, an OAuth application in it,
then a token for that application (Quay 3.18's ``POST .../applications/{client_id}/tokens``, which
the registry core serves and where it enforces the scopes). The seven are those of
``docs/install.md`` ("The Quay token"); ``super:user`` is not among them. A token lacking
``org:admin`` is the control: the registry core refuses its robot calls, so the scopes matter.
"""

from __future__ import annotations

from typing import Any

import requests

from devstack.registry import RegistryServer
from devstack.waiting import wait_until
from tests.bridge.conftest import Cluster

#: Administer Organization, Administer Repositories, Create Repositories, View all visible
#: repositories, Read/Write to any accessible repositories, Administer User, Read User Information.
SEVEN = (
    "org:admin",
    "repo:admin",
    "repo:create",
    "repo:read",
    "repo:write",
    "user:admin",
    "user:read",
)
SAS = ("builder", "default", "deployer")


def mint(registry: RegistryServer, scopes: tuple[str, ...]) -> str:
    """An application token with ``scopes``, made with the registry's first user's own token."""
    headers = {"Authorization": f"Bearer {registry.token}"}

    def post(path: str, body: dict[str, Any]) -> requests.Response:
        return requests.post(registry.url + path, json=body, headers=headers, timeout=10)

    org = post("/api/v1/organization/", {"name": "quaybridge"})
    assert org.status_code in (201, 400), org.text  # 400: made by an earlier call
    app = post("/api/v1/organization/quaybridge/applications", {"name": "openshift"})
    assert app.status_code == 200, app.text
    client_id = app.json()["client_id"]
    token = post(
        f"/api/v1/organization/quaybridge/applications/{client_id}/tokens",
        {"name": "bridge", "scope": " ".join(scopes)},
    )
    assert token.status_code == 200, token.text
    assert sorted(token.json()["scope"].split()) == sorted(scopes)
    return str(token.json()["token"])


class TestTheSeedsSevenScopes:
    def test_a_token_with_exactly_the_seven_scopes_provisions_and_cleans_up(
        self, cluster: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        token = mint(registry, SEVEN)
        cluster.secret("openshift-operators", "quay-token", {"token": token})
        cluster.integration("quay", registry)
        operator_factory()
        wait_until(lambda: (cluster.condition("quay", "Ready") or {}).get("status") == "True")
        cluster.new_project("scoped")
        cluster.image_stream("scoped", "app")
        org = "openshift_scoped"

        def provisioned() -> bool:
            repo = registry.get(f"/api/v1/repository/{org}/app/permissions/user/")
            if repo.status_code != 200:
                return False
            roles = {name: p["role"] for name, p in repo.json()["permissions"].items()}
            linked = all(cluster.linked("scoped", sa, f"{sa}-quay-openshift") for sa in SAS)
            return linked and roles.get(f"{org}+builder") == "write"

        wait_until(provisioned, timeout=30)
        robots = registry.get(f"/api/v1/organization/{org}/robots").json()["robots"]
        assert sorted(r["name"] for r in robots) == [f"{org}+{sa}" for sa in SAS]
        prototypes = registry.get(f"/api/v1/organization/{org}/prototypes").json()["prototypes"]
        assert len(prototypes) == 3
        cluster.core.delete_namespace("scoped")
        wait_until(
            lambda: registry.get(f"/api/v1/organization/{org}").status_code == 404, timeout=30
        )

    def test_without_administer_organization_the_robots_are_refused(
        self, cluster: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        token = mint(registry, tuple(scope for scope in SEVEN if scope != "org:admin"))
        cluster.secret("openshift-operators", "quay-token", {"token": token})
        cluster.integration("quay", registry)
        operator = operator_factory()
        cluster.new_project("unscoped")
        wait_until(lambda: "HTTP 403" in operator.log(), timeout=30)
        robots = registry.get("/api/v1/organization/openshift_unscoped/robots")
        assert robots.status_code != 200 or robots.json()["robots"] == []
        assert cluster.get_secret("unscoped", "builder-quay-openshift") is None
