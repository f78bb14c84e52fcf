"""The real-API-server suite: one etcd, kube-apiserver and kube-controller-manager per session.

The control plane comes from ``devstack/realapi.py``. At collection the binaries are built if
this machine has none yet (``tools/kube/build.sh``, cached outside the source tree); when they
cannot be had, every test here is skipped with the reason. The session's server gets ``deploy/base``
with one ``kubectl apply -k`` (``test_install`` checks that one apply succeeded), a registry core,
the credentials Secret and one QuayIntegration; the operator runs as the ``quay-bridge``
ServiceAccount, so RBAC grants it exactly ``deploy/base``'s ClusterRole. The API server's audit log
records every request of that ServiceAccount (:data:`OPERATOR_AUDIT_POLICY`), so a test can count
the operator's calls as the simulator's request log does.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from devstack.operator import Operator
from devstack.realapi import KubeBinariesUnavailable, RealApi, kube_binaries, start_real_api
from devstack.registry import RegistryServer
from devstack.waiting import wait_until

HERE = os.path.dirname(__file__)
CLUSTER_ID = "kube"
INTEGRATION = "real"
OPERATOR_NAMESPACE = "quay-bridge"
#: The test namespaces: only these are selected, so the control plane's own stay untouched.
SELECTED_PREFIX = "qb-"
OPERATOR_USER = f"system:serviceaccount:{OPERATOR_NAMESPACE}:quay-bridge"
#: Fifty namespaces created at once, each followed at once by a Build (test_first_build).
FIRST_BUILD_NAMESPACES = [f"{SELECTED_PREFIX}first-{n}" for n in range(50)]
#: Every request the operator makes, with its verb, resource and answer (no bodies).
OPERATOR_AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived", "ResponseStarted"],
    "rules": [{"level": "Metadata", "users": [OPERATOR_USER]}, {"level": "None"}],
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mine = [item for item in items if str(item.path).startswith(HERE)]
    if not mine:
        return
    try:
        kube_binaries()
    except (KubeBinariesUnavailable, subprocess.TimeoutExpired) as exc:
        skip = pytest.mark.skip(reason=f"no real API server on this machine: {exc}")
        for item in mine:
            item.add_marker(skip)


@dataclass
class Installed:
    """The session's control plane with deploy/base applied once."""

    kube: RealApi
    #: the one ``kubectl apply -k deploy/base`` made on the fresh server
    apply: subprocess.CompletedProcess[str]

    def get(self, path: str) -> dict[str, Any] | None:
        response = self.kube.request("GET", path)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return dict(response.json())

    def namespace(self, name: str) -> dict[str, Any] | None:
        return self.get(f"/api/v1/namespaces/{name}")

    def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.get(f"/api/v1/namespaces/{namespace}/secrets/{name}")

    def service_account(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.get(f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}")

    def linked(self, namespace: str, account: str, secret: str) -> bool:
        body = self.service_account(namespace, account)
        if body is None:
            return False
        return all(
            secret in [entry.get("name") for entry in body.get(field) or []]
            for field in ("secrets", "imagePullSecrets")
        )

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.kube.request("POST", path, json=body)
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    def create_namespace(self, name: str) -> None:
        self.create("/api/v1/namespaces", {"metadata": {"name": name}})

    def events_about(self, kind: str, name: str) -> list[dict[str, Any]]:
        """Every Event in the cluster about the object ``kind``/``name``."""
        selector = f"involvedObject.kind={kind},involvedObject.name={name}"
        response = self.kube.request("GET", "/api/v1/events", params={"fieldSelector": selector})
        response.raise_for_status()
        return list(response.json().get("items") or [])


@pytest.fixture(scope="session")
def installed() -> Iterator[Installed]:
    kube = start_real_api(audit=OPERATOR_AUDIT_POLICY)
    try:
        apply = kube.kubectl("apply", "-k", "deploy/base", check=False)
        yield Installed(kube, apply)
    finally:
        kube.stop()


@pytest.fixture(scope="session")
def registry() -> Iterator[RegistryServer]:
    server = RegistryServer.start(gc_seconds=1.0)
    try:
        yield server
    finally:
        server.stop()


def integration_body(
    name: str, registry_url: str, cluster_id: str = CLUSTER_ID, **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "quay.redhat.com/v1",
        "kind": "QuayIntegration",
        "metadata": {"name": name},
        "spec": {
            "clusterID": cluster_id,
            "credentialsSecret": {"name": "quay-token", "namespace": OPERATOR_NAMESPACE},
            "quayHostname": registry_url,
            **spec,
        },
    }


@pytest.fixture(scope="session")
def integrated(installed: Installed, registry: RegistryServer) -> Installed:
    """deploy/base applied (it must have succeeded), the credentials Secret and the integration."""
    assert installed.apply.returncode == 0, installed.apply.stderr
    token = base64.b64encode(registry.token.encode()).decode()
    installed.create(
        f"/api/v1/namespaces/{OPERATOR_NAMESPACE}/secrets",
        {"metadata": {"name": "quay-token"}, "data": {"token": token}},
    )
    selected = [f"{SELECTED_PREFIX}{suffix}" for suffix in ("shop", "late", "gone", "a--b")]
    selected += [f"{SELECTED_PREFIX}restart", f"{SELECTED_PREFIX}during"]
    selected += [f"{SELECTED_PREFIX}peer-{n}" for n in range(2)]
    selected += [f"{SELECTED_PREFIX}builds-self", f"{SELECTED_PREFIX}builds-given"]
    selected += FIRST_BUILD_NAMESPACES
    installed.kube.kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps(integration_body(INTEGRATION, registry.url, allowlistNamespaces=selected)),
    )
    return installed


@pytest.fixture(scope="session")
def operator_kubeconfig(integrated: Installed) -> str:
    """A kubeconfig acting as the operator's ServiceAccount (RBAC: deploy/base's ClusterRole)."""
    return integrated.kube.service_account_kubeconfig(OPERATOR_NAMESPACE, "quay-bridge")


@pytest.fixture
def operator(integrated: Installed, operator_kubeconfig: str) -> Iterator[Operator]:
    """One operator replica (``--standalone``) for one test, as the ServiceAccount."""
    running = Operator.start(operator_kubeconfig)
    try:
        wait_until(lambda: ready_condition(integrated) == "True", timeout=60)
        yield running
    finally:
        running.stop()


#: OpenShift's Build as a CRD stand-in: the API server calls webhooks for it as for any other.
BUILD_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "builds.build.openshift.io"},
    "spec": {
        "group": "build.openshift.io",
        "scope": "Namespaced",
        "names": {
            "kind": "Build",
            "plural": "builds",
            "singular": "build",
            "listKind": "BuildList",
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}


@pytest.fixture(scope="module")
def builds_served(integrated: Installed) -> Iterator[Installed]:
    """The Build stand-in for one module, removed after it.

    The session's API server is shared: a later module's operator must still find a plain
    Kubernetes API server (no ``build.openshift.io``) when it runs its discovery.
    """
    response = integrated.kube.request(
        "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=BUILD_CRD
    )
    assert response.status_code in (201, 409), response.text
    integrated.kube.kubectl(
        "wait", "--for=condition=Established", "crd/builds.build.openshift.io", "--timeout=60s"
    )
    yield integrated
    integrated.kube.kubectl("delete", "crd", "builds.build.openshift.io", "--wait=true")
    wait_until(
        lambda: integrated.kube.request("GET", "/apis/build.openshift.io").status_code == 404,
        timeout=60,
    )


def ready_condition(installed: Installed) -> str | None:
    body = installed.get(f"/apis/quay.redhat.com/v1/quayintegrations/{INTEGRATION}") or {}
    for condition in (body.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return str(condition.get("status"))
    return None
