"""The operator on plain Kubernetes, RBAC enforced: real kube-apiserver and controllers.

The operator acts as the ``quay-bridge`` ServiceAccount with the token of a TokenRequest, so every
call it makes is authorized by ``deploy/base``'s ClusterRole and nothing more; a forbidden call
would show in its log as HTTP 403. Quay is the registry core as a server.
"""

from __future__ import annotations

import base64
import json
import re

from devstack.operator import Operator
from devstack.registry import RegistryServer
from devstack.waiting import wait_until
from tests.realapi.conftest import CLUSTER_ID, Installed, integration_body

SAS = ("builder", "default", "deployer")


def secret_name(account: str) -> str:
    return f"{account}-quay-{CLUSTER_ID}"


def no_forbidden_calls(operator: Operator) -> None:
    log = operator.log()
    assert "HTTP 403" not in log, log
    assert "HTTP 422" not in log, log


def test_a_namespace_gets_org_robots_prototypes_secrets_and_links(
    integrated: Installed, registry: RegistryServer, operator: Operator
) -> None:
    namespace = "qb-shop"
    org = f"{CLUSTER_ID}_{namespace}"
    integrated.create_namespace(namespace)
    # The ServiceAccount controller makes `default`; the operator links its pull secret to it.
    wait_until(lambda: integrated.linked(namespace, "default", secret_name("default")), timeout=60)

    robots = registry.get(f"/api/v1/organization/{org}/robots").json()["robots"]
    # The owner marker rides on the robots' descriptions (bridge/model/ownership.py): no robot of
    # its own.
    assert sorted(r["name"] for r in robots) == [f"{org}+{sa}" for sa in SAS]
    prototypes = registry.get(f"/api/v1/organization/{org}/prototypes").json()["prototypes"]
    assert sorted((p["delegate"]["name"], p["role"]) for p in prototypes) == [
        (f"{org}+builder", "write"),
        (f"{org}+default", "read"),
        (f"{org}+deployer", "read"),
    ]
    tokens = {r["name"]: r["token"] for r in robots}
    secret = integrated.secret(namespace, secret_name("default"))
    assert secret is not None and secret["type"] == "kubernetes.io/dockerconfigjson"
    auths = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))["auths"]
    assert auths[registry.host]["username"] == f"{org}+default"
    assert auths[registry.host]["password"] == tokens[f"{org}+default"]
    labels = (integrated.namespace(namespace) or {})["metadata"]["labels"]
    assert labels["quay-bridge.quay.redhat.com/managed"] == "true"
    # Discovery found no image.openshift.io: one line says what is skipped.
    skipped = [line for line in operator.log().splitlines() if "not an OpenShift" in line]
    assert len(skipped) == 1
    assert skipped[0].endswith(
        "not an OpenShift API server: skipping repositories per ImageStream"
        " and imports after Builds"
    )
    no_forbidden_calls(operator)


def test_a_service_account_made_later_is_linked(
    integrated: Installed, registry: RegistryServer, operator: Operator
) -> None:
    namespace = "qb-late"
    integrated.create_namespace(namespace)
    wait_until(lambda: integrated.linked(namespace, "default", secret_name("default")), timeout=60)
    assert integrated.service_account(namespace, "builder") is None
    integrated.create(
        f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": "builder"}}
    )
    wait_until(lambda: integrated.linked(namespace, "builder", secret_name("builder")), timeout=60)
    no_forbidden_calls(operator)


def test_events_about_a_namespace_are_shown_by_kubectl_events(
    integrated: Installed, operator: Operator
) -> None:
    namespace = "qb-a--b"  # its organization name would hold "--", which Quay refuses
    integrated.create_namespace(namespace)
    wait_until(lambda: integrated.events_about("Namespace", namespace), timeout=60)
    [event] = integrated.events_about("Namespace", namespace)
    assert event["reason"] == "InvalidQuayName"
    assert event["metadata"]["namespace"] == "default"
    assert event["involvedObject"].get("namespace", "") == ""
    shown = integrated.kube.kubectl("events", "-A", "--for", f"namespace/{namespace}").stdout
    assert re.search(
        r"Warning\s+InvalidQuayName\s+Namespace/qb-a--b\s+no Quay organization", shown
    ), shown
    no_forbidden_calls(operator)


def test_deleting_a_namespace_deletes_its_org_and_the_namespace_goes(
    integrated: Installed, registry: RegistryServer, operator: Operator
) -> None:
    namespace = "qb-gone"
    org = f"{CLUSTER_ID}_{namespace}"
    integrated.create_namespace(namespace)
    wait_until(lambda: integrated.linked(namespace, "default", secret_name("default")), timeout=60)
    integrated.kube.kubectl("delete", "namespace", namespace, "--wait=false")
    # The real namespace controller empties the namespace; the operator deletes the organization and
    # removes its finalizer; the namespace is then gone, not stuck in Terminating.
    wait_until(lambda: integrated.namespace(namespace) is None, timeout=120)
    assert registry.get(f"/api/v1/organization/{org}").status_code == 404
    reasons = [e["reason"] for e in integrated.events_about("Namespace", namespace)]
    assert "QuayCleanup" in reasons
    log = operator.log()
    assert "could not post event" not in log, log
    no_forbidden_calls(operator)


def test_an_integration_listing_only_default_makes_nothing_for_absent_accounts(
    integrated: Installed, registry: RegistryServer, operator: Operator
) -> None:
    # As docs/bridge.md advises for plain Kubernetes: name only the accounts namespaces have.
    namespace, cluster_id = "qb-only-default", "plain"
    org = f"{cluster_id}_{namespace}"
    body = integration_body(
        "only-default",
        registry.url,
        cluster_id=cluster_id,
        allowlistNamespaces=[namespace],
        serviceAccounts=[{"name": "default", "role": "read"}],
    )
    integrated.kube.kubectl("apply", "-f", "-", input=json.dumps(body))
    try:
        integrated.create_namespace(namespace)
        wait_until(lambda: integrated.linked(namespace, "default", "default-quay-plain"), 60)
        robots = registry.get(f"/api/v1/organization/{org}/robots").json()["robots"]
        assert sorted(r["name"] for r in robots) == [f"{org}+default"]
        assert integrated.secret(namespace, "builder-quay-plain") is None
        assert integrated.secret(namespace, "deployer-quay-plain") is None
    finally:
        integrated.kube.kubectl("delete", "qi", "only-default", "--wait=false")
    no_forbidden_calls(operator)
