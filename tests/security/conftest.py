"""A whole stack for the security tests: registry core, simulator and ``quay-bridge run``.

Started as processes on loopback through ``devstack.stack`` and the demo's own first steps
(registry, first Quay user, simulator with the CRD, operator with its webhook registered, the
QuayIntegration), so every attack below goes through the same servers a user would meet.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from demo.kube import Kube
from demo.quay import Quay
from demo.scenario import DemoConfig, Scenario, wait_for
from devstack.stack import Stack
from tests.e2e.conftest import RecordingReporter

CLUSTER_ID = "openshift"
MANAGED_LABEL = "quay-bridge.quay.redhat.com/managed"
BUILDS = "build.openshift.io/v1"
IMAGES = "image.openshift.io/v1"


@dataclass
class Running:
    """The running stack and clients onto it, as a cluster admin and a Quay admin."""

    stack: Stack
    scenario: Scenario
    kube: Kube
    quay: Quay
    token: str

    @property
    def registry_host(self) -> str:
        return self.stack.registry_url.split("://", 1)[1]

    def path(self, namespace: str, resource: str, name: str = "", api: str = "v1") -> str:
        base = "/api/v1" if api == "v1" else f"/apis/{api}"
        return f"{base}/namespaces/{namespace}/{resource}" + (f"/{name}" if name else "")

    def new_project(self, name: str) -> None:
        """``oc new-project``; returns once the bridge linked the builder's push secret."""
        self.kube.create(
            "/apis/project.openshift.io/v1/projectrequests",
            {
                "apiVersion": "project.openshift.io/v1",
                "kind": "ProjectRequest",
                "metadata": {"name": name},
            },
        )
        secret = f"builder-quay-{CLUSTER_ID}"

        def linked() -> bool:
            account = self.kube.get(self.path(name, "serviceaccounts", "builder")) or {}
            pulls = {ref.get("name") for ref in account.get("imagePullSecrets") or []}
            labels = (self.kube.get(f"/api/v1/namespaces/{name}") or {}).get("metadata", {})
            return secret in pulls and (labels.get("labels") or {}).get(MANAGED_LABEL) == "true"

        wait_for(lambda: linked() or None, 60, f"namespace {name} managed")

    def image_stream(self, namespace: str, name: str) -> None:
        """Create an ImageStream; returns once its Quay repository exists."""
        self.kube.create(
            self.path(namespace, "imagestreams", api=IMAGES),
            {"apiVersion": IMAGES, "kind": "ImageStream", "metadata": {"name": name}},
        )
        org = f"{CLUSTER_ID}_{namespace}"
        wait_for(lambda: name in self.quay.repositories(org) or None, 60, f"repo {org}/{name}")

    def build(self, namespace: str, name: str, to: dict[str, Any], **annotations: str) -> Any:
        """Create a Docker-strategy Build pushing with the bridge's builder secret."""
        return self.kube.create(
            self.path(namespace, "builds", api=BUILDS),
            {
                "apiVersion": BUILDS,
                "kind": "Build",
                "metadata": {"name": name, "annotations": dict(annotations)},
                "spec": {
                    "serviceAccount": "builder",
                    "source": {"type": "Git", "git": {"uri": "https://example.com/app.git"}},
                    "strategy": {"type": "Docker", "dockerStrategy": {}},
                    "output": {
                        "to": to,
                        "pushSecret": {"name": f"builder-quay-{CLUSTER_ID}"},
                    },
                },
            },
        )

    def finished(self, namespace: str, name: str) -> dict[str, Any]:
        path = self.path(namespace, "builds", name, api=BUILDS)

        def done() -> dict[str, Any] | None:
            build = self.kube.get(path) or {}
            phase = (build.get("status") or {}).get("phase")
            return build if phase in {"Complete", "Failed", "Error", "Cancelled"} else None

        return wait_for(done, 120, f"build {namespace}/{name} finishing")

    def annotations(self, namespace: str, name: str) -> dict[str, str]:
        build = self.kube.get(self.path(namespace, "builds", name, api=BUILDS)) or {}
        return dict(build.get("metadata", {}).get("annotations") or {})

    def events(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return [
            event
            for event in self.kube.items(self.path(namespace, "events"))
            if (event.get("involvedObject") or {}).get("name") == name
        ]

    def tags(self, namespace: str, stream: str) -> list[str]:
        body = self.kube.get(self.path(namespace, "imagestreams", stream, api=IMAGES)) or {}
        return [str(tag.get("tag")) for tag in (body.get("status") or {}).get("tags") or []]


def run_steps(scenario: Scenario, *names: str) -> None:
    steps = {name: (title, step) for name, title, step in scenario.steps()}
    for name in names:
        title, step = steps[name]
        assert scenario.run_step(name, title, step), scenario.records[-1].error


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    stack = Stack(tmp_path_factory.mktemp("security"))
    scenario = Scenario(stack, RecordingReporter(), DemoConfig())
    try:
        run_steps(scenario, "registry", "token", "simulator", "operator", "integration")
        assert scenario.kube is not None and scenario.quay is not None
        token = str(scenario.facts["_token"])
        yield Running(stack, scenario, scenario.kube, Quay(stack.registry_url, token), token)
    finally:
        for component in stack.components.values():
            print(f"--- {component.name} log tail ---\n{component.log_tail(60)}")
        scenario.close()
        stack.close()


def operator_log(running: Running) -> str:
    return Path(running.stack.components["operator"].log).read_text(errors="replace")
