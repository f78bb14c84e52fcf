"""Cases 3 and 4 of the threat model: the bridge uses and deletes only the Quay orgs it made.

Through the real registry core, simulator and ``quay-bridge run``: an organization made by hand
under the bridge's own Quay user is neither written into nor deleted when a project of the
matching name comes and goes (Warning Event, failed count); it is used only once a cluster admin
annotates the namespace to adopt it. An organization kept by ``organizationDeletionPolicy:
Retain`` is not handed to a re-created namespace of the same name (another UID), whose pull secret
would read the dead tenant's private images, until the same explicit adoption, which also rotates
the robots' tokens.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests

from demo.scenario import wait_for
from tests.security.conftest import CLUSTER_ID, Running

ADOPT = "quay-bridge.quay.redhat.com/adopt-organization"
FINALIZER = "quay.redhat.com/quayintegrations"
INTEGRATION = "/apis/quay.redhat.com/v1/quayintegrations/quay"
SECRET = f"builder-quay-{CLUSTER_ID}"


def quay(running: Running, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(
        method,
        running.stack.registry_url + path,
        json=body,
        headers={"Authorization": f"Bearer {running.token}"},
        timeout=10,
    )


def handmade_org(running: Running, org: str) -> None:
    """An organization an admin made by hand, with a repository and a robot of its own."""
    assert quay(running, "POST", "/api/v1/organization/", {"name": org, "email": f"{org}@x.io"}).ok
    body = {"namespace": org, "repository": "precious", "visibility": "private", "description": ""}
    assert quay(running, "POST", "/api/v1/repository", body).status_code == 201
    assert quay(running, "PUT", f"/api/v1/organization/{org}/robots/ci").status_code == 201


def request_project(running: Running, name: str) -> None:
    running.kube.create(
        "/apis/project.openshift.io/v1/projectrequests",
        {
            "apiVersion": "project.openshift.io/v1",
            "kind": "ProjectRequest",
            "metadata": {"name": name},
        },
    )


def not_owned_event(running: Running, namespace: str) -> dict[str, Any] | None:
    """The Warning on the Namespace: a cluster-scoped object's Events live in ``default``."""
    for event in running.kube.items(running.path("default", "events")):
        involved = event.get("involvedObject") or {}
        if (
            involved.get("kind") == "Namespace"
            and involved.get("name") == namespace
            and event.get("reason") == "QuayOrganizationNotOwned"
            and event.get("type") == "Warning"
        ):
            return event
    return None


def failed_count(running: Running) -> int:
    return int(
        ((running.kube.get(INTEGRATION) or {}).get("status") or {}).get("failedNamespaces") or 0
    )


def delete_project(running: Running, name: str) -> None:
    running.kube.delete(f"/apis/project.openshift.io/v1/projects/{name}")
    wait_for(
        lambda: running.kube.get(f"/api/v1/namespaces/{name}") is None or None,
        60,
        f"namespace {name} gone",
    )


def builder_token(running: Running, namespace: str) -> str | None:
    secret = running.kube.get(running.path(namespace, "secrets", SECRET))
    if secret is None:
        return None
    config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    return str(config["auths"][running.registry_host]["password"])


def adopt(running: Running, namespace: str, org: str) -> None:
    running.kube.merge_patch(
        f"/api/v1/namespaces/{namespace}", {"metadata": {"annotations": {ADOPT: org}}}
    )


class TestAnOrganizationTheBridgeDidNotMake:
    def test_is_never_written_nor_deleted_and_the_namespace_counts_as_failed(
        self, running: Running
    ) -> None:
        org = f"{CLUSTER_ID}_handmade"
        handmade_org(running, org)
        request_project(running, "handmade")
        event = wait_for(lambda: not_owned_event(running, "handmade"), 60, "a Warning Event")
        assert "did not create it" in event["message"] and ADOPT in event["message"]
        wait_for(lambda: failed_count(running) >= 1 or None, 30, "failedNamespaces counting it")
        assert running.quay.robots(org) == [f"{org}+ci"]
        assert running.kube.get(running.path("handmade", "secrets", SECRET)) is None
        namespace = running.kube.get("/api/v1/namespaces/handmade") or {}
        assert FINALIZER not in (namespace["metadata"].get("finalizers") or [])

        delete_project(running, "handmade")
        assert running.quay.organization(org) is not None
        assert running.quay.repositories(org) == ["precious"]
        assert running.quay.robots(org) == [f"{org}+ci"]

    def test_is_adopted_when_a_cluster_admin_annotates_the_namespace(
        self, running: Running
    ) -> None:
        org = f"{CLUSTER_ID}_adopted"
        handmade_org(running, org)
        request_project(running, "adopted")
        wait_for(lambda: not_owned_event(running, "adopted"), 60, "a Warning Event")
        adopt(running, "adopted", org)
        wait_for(lambda: builder_token(running, "adopted"), 60, "the builder's pull secret")
        assert f"{org}+quaybridge_owner" in running.quay.robots(org)
        assert f"{org}+builder" in running.quay.robots(org)
        assert running.quay.repositories(org) == ["precious"]


class TestARetainedOrganization:
    @pytest.fixture
    def retain(self, running: Running) -> Any:
        running.kube.merge_patch(INTEGRATION, {"spec": {"organizationDeletionPolicy": "Retain"}})
        yield
        running.kube.merge_patch(INTEGRATION, {"spec": {"organizationDeletionPolicy": "Delete"}})

    def test_is_not_handed_to_a_recreated_namespace_without_explicit_adoption(
        self, running: Running, retain: None
    ) -> None:
        org = f"{CLUSTER_ID}_tenant"
        running.new_project("tenant")
        running.image_stream("tenant", "private-images")
        old_token = builder_token(running, "tenant")
        assert old_token
        delete_project(running, "tenant")
        assert running.quay.repositories(org) == ["private-images"]

        request_project(running, "tenant")
        event = wait_for(lambda: not_owned_event(running, "tenant"), 60, "a Warning Event")
        assert "earlier namespace tenant" in event["message"]
        assert builder_token(running, "tenant") is None

        adopt(running, "tenant", org)
        new_token = wait_for(lambda: builder_token(running, "tenant"), 60, "a pull secret")
        assert new_token != old_token, "adoption must rotate the previous tenant's robot tokens"
