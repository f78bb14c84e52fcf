"""Fixtures for the controller's end-to-end tests: simulator, registry core, operator, helpers."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from devstack.operator import Operator
from devstack.registry import RegistryServer
from devstack.sim import SimServer, start_sim

CRD = Path(__file__).resolve().parents[2] / "crds" / "quayintegration.yaml"
QI = ("quay.redhat.com", "v1", "quayintegrations")


class Cluster:
    """Test-side helpers over the official client, against the simulator."""

    def __init__(self, sim: SimServer) -> None:
        self.sim = sim
        self.api = sim.api_client()
        self.core = kubernetes.client.CoreV1Api(self.api)
        self.custom = kubernetes.client.CustomObjectsApi(self.api)

    def install_crd(self) -> None:
        body = yaml.safe_load(CRD.read_text())
        try:
            kubernetes.client.ApiextensionsV1Api(self.api).create_custom_resource_definition(body)
        except ApiException as exc:
            if exc.status != 409:
                raise

    def secret(self, namespace: str, name: str, data: dict[str, str]) -> None:
        self.ensure_namespace(namespace)
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }
        try:
            self.core.create_namespaced_secret(namespace, body)
        except ApiException as exc:
            if exc.status != 409:
                raise
            self.core.replace_namespaced_secret(name, namespace, body)

    def ensure_namespace(self, name: str) -> None:
        try:
            self.core.create_namespace({"metadata": {"name": name}})
        except ApiException as exc:
            if exc.status != 409:
                raise

    def new_project(self, name: str) -> None:
        self.custom.create_cluster_custom_object(
            "project.openshift.io",
            "v1",
            "projectrequests",
            {
                "apiVersion": "project.openshift.io/v1",
                "kind": "ProjectRequest",
                "metadata": {"name": name},
            },
        )

    def integration(self, name: str, registry: RegistryServer | str, **spec: Any) -> None:
        url = registry if isinstance(registry, str) else registry.url
        body = {
            "apiVersion": "quay.redhat.com/v1",
            "kind": "QuayIntegration",
            "metadata": {"name": name},
            "spec": {
                "clusterID": "openshift",
                "credentialsSecret": {"name": "quay-token", "namespace": "openshift-operators"},
                "quayHostname": url,
                **spec,
            },
        }
        self.custom.create_cluster_custom_object(*QI, body)

    def get_integration(self, name: str) -> dict[str, Any]:
        return dict(self.custom.get_cluster_custom_object(*QI, name))

    def condition(self, name: str, kind: str) -> dict[str, Any] | None:
        status = self.get_integration(name).get("status") or {}
        for condition in status.get("conditions") or []:
            if condition["type"] == kind:
                return dict(condition)
        return None

    def get_sa(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            raw = self.core.read_namespaced_service_account(name, namespace, _preload_content=False)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(json.loads(raw.data))

    def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            raw = self.core.read_namespaced_secret(name, namespace, _preload_content=False)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(json.loads(raw.data))

    def get_namespace(self, name: str) -> dict[str, Any] | None:
        try:
            raw = self.core.read_namespace(name, _preload_content=False)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(json.loads(raw.data))

    def linked(self, namespace: str, sa: str, secret: str) -> bool:
        body = self.get_sa(namespace, sa)
        if body is None:
            return False
        return all(
            secret in [e.get("name") for e in body.get(field) or []]
            for field in ("secrets", "imagePullSecrets")
        )

    def robot_login(self, namespace: str, secret: str, host: str) -> tuple[str, str] | None:
        body = self.get_secret(namespace, secret)
        if body is None:
            return None
        document = json.loads(base64.b64decode(body["data"][".dockerconfigjson"]))
        entry = document["auths"].get(host)
        return (entry["username"], entry["password"]) if entry else None

    def image_stream(self, namespace: str, name: str) -> None:
        self.custom.create_namespaced_custom_object(
            "image.openshift.io",
            "v1",
            namespace,
            "imagestreams",
            {
                "apiVersion": "image.openshift.io/v1",
                "kind": "ImageStream",
                "metadata": {"name": name, "namespace": namespace},
            },
        )

    def events(self, namespace: str) -> list[dict[str, Any]]:
        raw = self.core.list_namespaced_event(namespace, _preload_content=False)
        return list(json.loads(raw.data).get("items") or [])

    def integration_events(self, name: str) -> list[dict[str, Any]]:
        """Events about QuayIntegration ``name``: in ``default``, as client-go puts them."""
        return [
            event
            for event in self.events("default")
            if event["involvedObject"].get("kind") == "QuayIntegration"
            and event["involvedObject"].get("name") == name
        ]

    def namespace_events(self, name: str) -> list[dict[str, Any]]:
        """Events about Namespace ``name``: in ``default``, as a real API server requires."""
        return [
            event
            for event in self.events("default")
            if event["involvedObject"].get("kind") == "Namespace"
            and event["involvedObject"].get("name") == name
            and not event["involvedObject"].get("namespace")
        ]


@pytest.fixture
def sim(request: pytest.FixtureRequest) -> Iterator[SimServer]:
    """The simulator; ``indirect`` parametrization passes extra arguments (e.g. ``--delay``)."""
    server = start_sim(*getattr(request, "param", ()))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def cluster(sim: SimServer) -> Cluster:
    helper = Cluster(sim)
    helper.install_crd()
    # The operator's own namespace, as deploy/base installs it: its Build decision key lives there.
    helper.ensure_namespace("quay-bridge")
    return helper


@pytest.fixture
def registry() -> Iterator[RegistryServer]:
    server = RegistryServer.start(gc_seconds=1.0)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def operator_factory(sim: SimServer) -> Iterator[Any]:
    started: list[Operator] = []

    def start(*extra: str) -> Operator:
        operator = Operator.start(sim.kubeconfig, *extra)
        started.append(operator)
        return operator

    try:
        yield start
    finally:
        for operator in started:
            operator.stop()


@pytest.fixture
def ready_integration(cluster: Cluster, registry: RegistryServer) -> Cluster:
    """A credentials Secret holding the registry's admin token, and the default integration."""
    cluster.secret("openshift-operators", "quay-token", {"token": registry.token})
    cluster.integration("quay", registry)
    return cluster
