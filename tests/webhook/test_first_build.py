"""The first Build of a brand-new project, through the shipped webhook configuration (simulator).

The simulator, the registry core and ``quay-bridge run`` run as processes; deploy/base's
MutatingWebhookConfiguration (both webhooks) is registered with the simulator, which runs it on
every write as the API server does. Fifty projects are requested at once, each followed at once by
a Build whose output is an ImageStreamTag, as ``oc new-project x && oc new-app ...`` does: each
namespace must be labelled at its creation and each Build rewritten to push to Quay, although the
controller has not seen the namespace yet when the Build arrives. Denylisted projects made the same
way, and system namespaces, are left alone, and an admission for a namespace the controller knows
makes no API request.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
import requests

from devstack.cluster import deployed_configuration, install_integration
from devstack.operator import Operator, make_certificates, operator_process
from devstack.registry import RegistryServer, registry_server
from devstack.sim import SimServer, sim_server
from devstack.waiting import wait_until, wait_until_steady
from tests.webhook.builds import build, review
from tests.webhook.operator import builder_linked, namespace_labels
from vocabulary import RECORD_ANNOTATION
from webhook.decisions import verify

AT_ONCE = 50
MANAGED_LABEL = "quay-bridge.quay.redhat.com/managed"
#: The operator's namespace when ``POD_NAMESPACE`` is not set (deploy/base's).
OPERATOR_NAMESPACE = "quay-bridge"
OUTSIDE = [f"outside-{n}" for n in range(5)]
#: System namespaces: never managed, although the integration's rules would otherwise select them.
SYSTEM = ["kube-fresh", "openshift-fresh"]


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SimServer, RegistryServer, Operator, Path]]:
    workdir = tmp_path_factory.mktemp("first-build")
    request_log = workdir / "requests.jsonl"
    with sim_server("--request-log", str(request_log)) as sim, registry_server() as registry:
        api = install_integration(sim, registry, denylist=OUTSIDE)
        # The operator keeps its Build decision key in a Secret there, as when deployed.
        kubernetes.client.CoreV1Api(api).create_namespace(
            {"metadata": {"name": OPERATOR_NAMESPACE}}
        )
        certificates = make_certificates(workdir / "certs")
        with operator_process(sim.kubeconfig, cert_dir=certificates) as operator:
            ca = (certificates / "ca.crt").read_bytes()
            configuration = deployed_configuration(operator.webhook_url, ca)
            admission = kubernetes.client.AdmissionregistrationV1Api(api)
            admission.create_mutating_webhook_configuration(configuration)
            yield sim, registry, operator, request_log


def decision_key(api: kubernetes.client.ApiClient) -> bytes:
    """The operator's Build decision key, from its Secret in the operator's namespace."""
    secret = kubernetes.client.CoreV1Api(api).read_namespaced_secret(
        "quay-bridge-build-decisions", OPERATOR_NAMESPACE
    )
    return base64.b64decode(secret.data["key"])


def request_project_then_build(sim: SimServer, name: str) -> dict[str, Any]:
    """A ProjectRequest and, right after it, a Build in the new project; returns the Build."""
    api = sim.api_client()
    custom = kubernetes.client.CustomObjectsApi(api)
    custom.create_cluster_custom_object(
        "project.openshift.io",
        "v1",
        "projectrequests",
        {
            "apiVersion": "project.openshift.io/v1",
            "kind": "ProjectRequest",
            "metadata": {"name": name},
        },
    )
    body = build(namespace=name, name=f"httpd-example-{uuid.uuid4().hex[:6]}")
    created = custom.create_namespaced_custom_object(
        "build.openshift.io", "v1", name, "builds", body
    )
    return dict(created)


def create_namespace_then_build(sim: SimServer, name: str) -> dict[str, Any]:
    """A plain Namespace (``kubectl create namespace``) and, right after it, a Build in it."""
    api = sim.api_client()
    kubernetes.client.CoreV1Api(api).create_namespace({"metadata": {"name": name}})
    body = build(namespace=name, name=f"httpd-example-{uuid.uuid4().hex[:6]}")
    custom = kubernetes.client.CustomObjectsApi(api)
    created = custom.create_namespaced_custom_object(
        "build.openshift.io", "v1", name, "builds", body
    )
    return dict(created)


def api_requests(log: Path, agent: str = "quay-bridge") -> list[dict[str, Any]]:
    """The operator's requests the simulator served, without long-running watch streams."""
    lines = log.read_text().splitlines() if log.exists() else []
    return [
        entry
        for entry in map(json.loads, lines)
        if entry.get("verb") != "watch" and entry.get("user_agent", "").startswith(agent)
    ]


def wait_until_quiet(
    log: Path, quiet: float = 2.0, timeout: float = 60.0, agent: str = "quay-bridge"
) -> None:
    """Wait until no client starting with ``agent`` has made a request for ``quiet`` seconds."""
    wait_until_steady(
        lambda: len(api_requests(log, agent)), quiet, timeout, "the operator's requests"
    )


class TestTheFirstBuildOfABrandNewProject:
    def test_fifty_projects_requested_at_once_each_have_their_first_build_rewritten(
        self, stack: tuple[SimServer, RegistryServer, Operator, Path]
    ) -> None:
        sim, registry, operator, _ = stack
        names = [f"fresh-{n}" for n in range(AT_ONCE)]

        with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
            builds = list(pool.map(lambda name: request_project_then_build(sim, name), names))

        api = sim.api_client()
        key = decision_key(api)
        for name, stored in zip(names, builds, strict=True):
            image = f"{registry.host}/openshift_{name}/httpd-example:latest"
            assert stored["spec"]["output"]["to"] == {"kind": "DockerImage", "name": image}, name
            # Signed like any other rewrite, so its completion is imported.
            record = stored["metadata"]["annotations"][RECORD_ANNOTATION]
            assert verify(key, name, f"{name}/httpd-example:latest", image, record), name
            assert namespace_labels(api, name)[MANAGED_LABEL] == "true"
            assert builder_linked(api, name)
        assert "denied build" not in operator.log()

    def test_plain_namespaces_created_at_once_each_have_their_first_build_rewritten(
        self, stack: tuple[SimServer, RegistryServer, Operator, Path]
    ) -> None:
        sim, registry, _, _ = stack
        names = [f"plain-{n}" for n in range(AT_ONCE)]

        with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
            builds = list(pool.map(lambda name: create_namespace_then_build(sim, name), names))

        for name, stored in zip(names, builds, strict=True):
            assert stored["spec"]["output"]["to"]["name"] == (
                f"{registry.host}/openshift_{name}/httpd-example:latest"
            )

    def test_projects_no_integration_selects_are_never_touched(
        self, stack: tuple[SimServer, RegistryServer, Operator, Path]
    ) -> None:
        sim, _, _, request_log = stack

        with ThreadPoolExecutor(max_workers=len(OUTSIDE) + len(SYSTEM)) as pool:
            projects = pool.map(lambda name: request_project_then_build(sim, name), OUTSIDE)
            # OpenShift refuses project requests for these prefixes: plain namespaces, as an
            # administrator would make them.
            plain = pool.map(lambda name: create_namespace_then_build(sim, name), SYSTEM)
            builds = list(projects) + list(plain)
        wait_until_quiet(request_log)

        api = sim.api_client()
        for name, stored in zip(OUTSIDE + SYSTEM, builds, strict=True):
            assert stored["spec"]["output"]["to"] == {
                "kind": "ImageStreamTag",
                "name": "httpd-example:latest",
            }
            assert "annotations" not in stored["metadata"]
            assert MANAGED_LABEL not in namespace_labels(api, name)
        written = [
            entry
            for entry in api_requests(request_log)
            if entry["namespace"] in OUTSIDE + SYSTEM
            or (entry["resource"] == "namespaces" and entry["name"] in OUTSIDE + SYSTEM)
        ]
        assert [e for e in written if e["verb"] not in ("get", "list")] == []

    def test_admissions_for_namespaces_the_controller_knows_make_no_api_request(
        self, stack: tuple[SimServer, RegistryServer, Operator, Path]
    ) -> None:
        sim, _, operator, request_log = stack
        api = sim.api_client()
        request_project_then_build(sim, "known")
        wait_until(lambda: builder_linked(api, "known"), timeout=30)
        bodies = [
            json.dumps(review(build(namespace=name), namespace=name)).encode()
            for name in ("known", OUTSIDE[0], "fresh-0")
        ]
        with requests.Session() as http:
            http.trust_env = False
            http.verify = str(operator.ca_file)
            wait_until_quiet(request_log, agent="")
            before = len(api_requests(request_log, agent=""))

            answers = [
                http.post(operator.webhook_url, data=body, timeout=10).json()["response"]
                for body in bodies * 100
            ]

            after = api_requests(request_log, agent="")
        assert all(answer["allowed"] for answer in answers)
        assert [bool(answer.get("patch")) for answer in answers[:3]] == [True, False, True]
        assert after[before:] == []
