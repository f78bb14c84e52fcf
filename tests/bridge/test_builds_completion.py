"""Build completion against real parts: the simulator's builds and imports, the registry core.

Each test starts the registry core and the OpenShift simulator as processes, lets the simulator's
build controller really push an image into the registry core, and drives
``bridge.builds.completion.BuildImporter`` against the simulator with the operator's own client.
Only the bridge's state view is a stand-in (a fixed :class:`Destination`), since the controller is
not under test.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from bridge.builds.completion import BuildImporter, ImportSettings
from bridge.builds.image_imports import Verdict
from bridge.kube.cluster import Cluster
from bridge.kube.connection import Connection
from bridge.metrics import Metrics
from demo.kube import Kube
from demo.quay import Quay
from demo.scenario import wait_for
from devstack.stack import Stack
from tests.e2e.faults import FaultProxy
from vocabulary import (
    DESTINATION_ANNOTATION,
    IMPORTED_ANNOTATION,
    MANAGED_ANNOTATION,
    RECORD_ANNOTATION,
)
from webhook.decisions import sign
from webhook.state_view import Destination

ORG = "openshift_builds"


@dataclass
class Servers:
    """The registry core and the simulator, shared by the tests of this module."""

    stack: Stack
    kube: Kube
    token: str


@dataclass
class Parts:
    """One test's namespace, push secret and ImageStream/repository, on the shared servers."""

    stack: Stack
    kube: Kube
    token: str
    ns: str
    repo: str

    @property
    def host(self) -> str:
        return self.stack.registry_url.split("://", 1)[1]

    @property
    def builds(self) -> str:
        return f"/apis/build.openshift.io/v1/namespaces/{self.ns}/builds"

    @property
    def stream(self) -> str:
        return f"/apis/image.openshift.io/v1/namespaces/{self.ns}/imagestreams/{self.repo}"

    def image(self, tag: str = "latest") -> str:
        return f"{self.host}/{ORG}/{self.repo}:{tag}"

    @contextlib.asynccontextmanager
    async def cluster(self, url: str | None = None) -> AsyncIterator[Cluster]:
        connection = Connection(server=url or self.stack.sim_url, token="sim-token")
        cluster = Cluster(connection, Metrics())
        try:
            yield cluster
        finally:
            await cluster.aclose()

    def view(self, destination: Destination | None = None) -> Fixed:
        return Fixed(self.ns, destination)


class Fixed:
    """The bridge's state view for one namespace, as the controller would hold it."""

    def __init__(self, namespace: str, destination: Destination | None) -> None:
        self.namespace = namespace
        self.destination = destination

    def destination_for(self, namespace: str) -> Destination | None:
        return self.destination if namespace == self.namespace else None


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    stack = Stack(tmp_path_factory.mktemp("builds"))
    try:
        stack.start_registry()
        token = Quay(stack.registry_url).initialize("admin", "password-1", "admin@example.com")
        answer = requests.post(
            f"{stack.registry_url}/api/v1/organization/",
            json={"name": ORG, "email": "org@example.com"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        stack.start_sim(stack.registry_url)
        assert stack.kubeconfig is not None
        kube = Kube(stack.kubeconfig)
        yield Servers(stack, kube, token)
        kube.close()
    finally:
        stack.close()


@pytest.fixture
def parts(servers: Servers) -> Parts:
    number = len(servers.kube.items("/api/v1/namespaces"))
    ns, repo = f"builds-{number}", f"app-{number}"
    auth = {"Authorization": f"Bearer {servers.token}"}
    answer = requests.post(
        f"{servers.stack.registry_url}/api/v1/repository",
        json={"namespace": ORG, "repository": repo, "visibility": "private", "description": ""},
        headers=auth,
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    kube = servers.kube
    kube.create(
        "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
    )
    host = servers.stack.registry_url.split("://")[1]
    login = base64.b64encode(f"$oauthtoken:{servers.token}".encode()).decode()
    config = {"auths": {host: {"auth": login}}}
    kube.create(
        f"/api/v1/namespaces/{ns}/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "push"},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()},
        },
    )
    kube.create(
        f"/apis/image.openshift.io/v1/namespaces/{ns}/imagestreams",
        {
            "apiVersion": "image.openshift.io/v1",
            "kind": "ImageStream",
            "metadata": {"name": repo},
            "spec": {},
        },
    )
    wait_for(
        lambda: kube.get(f"/api/v1/namespaces/{ns}/serviceaccounts/builder"),
        20,
        "the builder ServiceAccount",
    )
    return Parts(servers.stack, kube, servers.token, ns, repo)


#: The decision key the importer verifies with; ``create_build`` signs as the webhook would.
KEY = b"decision-key-of-the-build-tests!"


def create_build(parts: Parts, name: str, *, managed: bool = True, image: str = "") -> None:
    destination = f"{parts.ns}/{parts.repo}:latest"
    image = image or parts.image()
    annotations = (
        {
            MANAGED_ANNOTATION: "true",
            DESTINATION_ANNOTATION: destination,
            RECORD_ANNOTATION: sign(KEY, parts.ns, destination, image),
        }
        if managed
        else {}
    )
    parts.kube.create(
        parts.builds,
        {
            "apiVersion": "build.openshift.io/v1",
            "kind": "Build",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {
                "serviceAccount": "builder",
                "source": {"type": "Git", "git": {"uri": "https://github.com/sclorg/httpd-ex.git"}},
                "strategy": {"type": "Docker", "dockerStrategy": {}},
                "output": {
                    "to": {"kind": "DockerImage", "name": image},
                    "pushSecret": {"name": "push"},
                },
            },
        },
    )


def finished(parts: Parts, name: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        build = parts.kube.get(f"{parts.builds}/{name}") or {}
        phase = (build.get("status") or {}).get("phase")
        return build if phase in {"Complete", "Failed", "Error", "Cancelled"} else None

    return wait_for(done, 30, f"build {name} finishing")


def events_for(parts: Parts, name: str) -> list[dict[str, Any]]:
    return [
        event
        for event in parts.kube.items(f"/api/v1/namespaces/{parts.ns}/events")
        if event.get("involvedObject", {}).get("name") == name
    ]


FAST = ImportSettings(attempts=3, first_delay=0.05, max_delay=0.1)
DESTINATION = Destination(registry_host="unused", organization=ORG, insecure_registry=True)


class TestACompletedBuild:
    async def test_its_image_lands_in_the_destination_tag_and_the_build_is_marked(
        self, parts: Parts
    ) -> None:
        create_build(parts, "app-1")
        build = finished(parts, "app-1")
        assert build["status"]["phase"] == "Complete"
        digest = build["status"]["output"]["to"]["imageDigest"]
        async with parts.cluster() as api:
            outcome = await BuildImporter(api, parts.view(DESTINATION), FAST, key=KEY).on_build(
                build
            )
        assert outcome.imported, outcome.reason
        stream = parts.kube.get(parts.stream)
        assert stream is not None
        item = stream["status"]["tags"][0]["items"][0]
        assert item["dockerImageReference"] == f"{parts.host}/{ORG}/{parts.repo}@{digest}"
        spec_tag = stream["spec"]["tags"][0]
        assert spec_tag["importPolicy"].get("insecure") is True
        assert spec_tag["referencePolicy"]["type"] == "Source"
        marked = parts.kube.get(f"{parts.builds}/app-1")
        assert marked is not None
        assert marked["metadata"]["annotations"][IMPORTED_ANNOTATION] == "true"
        assert any(event["reason"] == "Imported" for event in events_for(parts, "app-1"))

    async def test_a_marked_build_is_never_imported_again_even_by_a_new_importer(
        self, parts: Parts
    ) -> None:
        create_build(parts, "app-1")
        build = finished(parts, "app-1")
        async with parts.cluster() as api:
            first = await BuildImporter(api, parts.view(DESTINATION), FAST, key=KEY).on_build(build)
            version = (parts.kube.get(parts.stream) or {})["metadata"]["resourceVersion"]
            # A restarted operator sees the same (stale, unmarked) event again.
            again = await BuildImporter(api, parts.view(DESTINATION), FAST, key=KEY).on_build(build)
        assert first.imported
        assert not again.imported and again.verdict is Verdict.ALREADY_IMPORTED
        assert (parts.kube.get(parts.stream) or {})["metadata"]["resourceVersion"] == version

    async def test_a_stream_changed_under_the_import_is_retried_with_its_fresh_version(
        self, parts: Parts
    ) -> None:
        create_build(parts, "app-1")
        build = finished(parts, "app-1")
        proxy = FaultProxy(parts.stack.sim_url)
        conflicts: list[str] = []

        def change_the_stream_first(method: str, path: str) -> None:
            if method == "POST" and path.endswith("/imagestreamimports") and not conflicts:
                conflicts.append(path)
                parts.kube.merge_patch(
                    parts.stream, {"metadata": {"annotations": {"touched": "1"}}}
                )

        proxy.hook = change_the_stream_first
        proxy.start()
        try:
            async with parts.cluster(proxy.url) as api:
                outcome = await BuildImporter(api, parts.view(DESTINATION), FAST, key=KEY).on_build(
                    build
                )
        finally:
            proxy.stop()
        assert conflicts, "the race was not played"
        assert outcome.imported, outcome.reason


class TestAnImportThatFails:
    @pytest.mark.parametrize("failure", ["repository deleted", "no credentials in the namespace"])
    async def test_a_per_image_failure_gives_warnings_and_bounded_retries_without_a_mark(
        self, parts: Parts, failure: str
    ) -> None:
        create_build(parts, "app-1")
        build = finished(parts, "app-1")
        if failure == "repository deleted":
            gone = requests.delete(
                f"{parts.stack.registry_url}/api/v1/repository/{ORG}/{parts.repo}",
                headers={"Authorization": f"Bearer {parts.token}"},
                timeout=10,
            )
            assert gone.status_code == 204
        else:
            # The import pulls with the namespace's docker secrets: without them, a private
            # repository answers Unauthorized.
            assert parts.kube.delete(f"/api/v1/namespaces/{parts.ns}/secrets/push")
        waits: list[float] = []

        async def record(seconds: float) -> None:
            waits.append(seconds)

        async with parts.cluster() as api:
            importer = BuildImporter(api, parts.view(DESTINATION), FAST, sleep=record, key=KEY)
            outcome = await importer.on_build(build)
        assert not outcome.imported
        assert outcome.result is not None
        assert outcome.result.reason in {"NotFound", "Unauthorized"}, outcome.result
        assert waits == [0.05, 0.1]
        reasons = [event["reason"] for event in events_for(parts, "app-1")]
        assert reasons.count("ImportFailed") == FAST.attempts
        assert reasons.count("ImportGaveUp") == 1
        assert all(event["type"] == "Warning" for event in events_for(parts, "app-1"))
        unmarked = parts.kube.get(f"{parts.builds}/app-1") or {}
        assert IMPORTED_ANNOTATION not in unmarked["metadata"]["annotations"]

    async def test_an_unknown_namespace_is_retried_then_given_up_with_a_warning(
        self, parts: Parts
    ) -> None:
        create_build(parts, "app-1")
        build = finished(parts, "app-1")
        async with parts.cluster() as api:
            importer = BuildImporter(
                api, parts.view(None), FAST, sleep=lambda s: asyncio.sleep(0), key=KEY
            )
            outcome = await importer.on_build(build)
        assert not outcome.imported
        assert f"no QuayIntegration manages namespace {parts.ns}" in outcome.reason
        assert [e["reason"] for e in events_for(parts, "app-1")] == ["ImportGaveUp"]


class TestBuildsThatImportNothing:
    @pytest.mark.parametrize("managed", [True, False])
    async def test_a_failed_or_unmanaged_build_leaves_the_stream_alone(
        self, parts: Parts, managed: bool
    ) -> None:
        # Nothing listens on port 9 of loopback: the push fails, the build ends Failed.
        create_build(
            parts, "app-1", managed=managed, image=f"127.0.0.1:9/{ORG}/{parts.repo}:latest"
        )
        build = finished(parts, "app-1")
        if managed:
            assert build["status"]["phase"] == "Failed"
        else:
            create_build(parts, "app-2", managed=False)
            build = finished(parts, "app-2")
            assert build["status"]["phase"] == "Complete"
        version = (parts.kube.get(parts.stream) or {})["metadata"]["resourceVersion"]
        async with parts.cluster() as api:
            outcome = await BuildImporter(api, parts.view(DESTINATION), FAST, key=KEY).on_build(
                build
            )
        expected = Verdict.UNSUCCESSFUL if managed else Verdict.UNMANAGED
        assert outcome.verdict is expected and not outcome.imported
        assert (parts.kube.get(parts.stream) or {})["metadata"]["resourceVersion"] == version
        assert events_for(parts, build["metadata"]["name"]) == []


class TestABuildTheBridgeCannotUse:
    async def test_a_malformed_destination_is_warned_about_once_and_never_imported(
        self, parts: Parts
    ) -> None:
        create_build(parts, "app-1")
        build = finished(parts, "app-1")
        build["metadata"]["annotations"][DESTINATION_ANNOTATION] = "no-slash-here"
        version = (parts.kube.get(parts.stream) or {})["metadata"]["resourceVersion"]
        async with parts.cluster() as api:
            importer = BuildImporter(api, parts.view(DESTINATION), FAST, key=KEY)
            outcomes = [await importer.on_build(build) for _ in range(3)]
        assert {outcome.verdict for outcome in outcomes} == {Verdict.INVALID}
        assert [e["reason"] for e in events_for(parts, "app-1")] == ["ImportSkipped"]
        assert (parts.kube.get(parts.stream) or {})["metadata"]["resourceVersion"] == version
