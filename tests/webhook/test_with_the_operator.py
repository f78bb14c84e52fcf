"""The webhook inside the real operator: it answers from the controller's state, with no API calls.

Simulator (with its request log), registry core and ``quay-bridge run`` run as processes. A thousand
Build admissions are posted to the operator's webhook while nothing else changes in the cluster; the
simulator's request log must not grow by a single request.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
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
from tests.webhook.operator import builder_linked, namespace_labels, new_project

ADMISSIONS = 1000
MANAGED_LABEL = "quay-bridge.quay.redhat.com/managed"


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SimServer, RegistryServer, Operator, Path]]:
    workdir = tmp_path_factory.mktemp("operator")
    request_log = workdir / "requests.jsonl"
    with sim_server("--request-log", str(request_log)) as sim, registry_server() as registry:
        api = install_integration(sim, registry)
        certificates = make_certificates(workdir / "certs")
        with operator_process(sim.kubeconfig, cert_dir=certificates) as operator:
            new_project(api, "team")
            wait_until(lambda: builder_linked(api, "team"), timeout=60)
            register(sim, operator)
            yield sim, registry, operator, request_log


def wait_until_quiet(log: Path, quiet: float = 2.0, timeout: float = 30.0) -> None:
    """Wait until the operator has made no request for ``quiet`` seconds (its startup settled)."""
    wait_until_steady(lambda: len(api_requests(log)), quiet, timeout, "the operator's requests")


def api_requests(log: Path) -> list[dict[str, Any]]:
    """Requests the simulator served, without long-running watch streams."""
    lines = log.read_text().splitlines() if log.exists() else []
    return [entry for entry in map(json.loads, lines) if entry.get("verb") != "watch"]


def register(sim: SimServer, operator: Operator) -> None:
    """Register the deployed MutatingWebhookConfiguration, reaching the operator on loopback."""
    body = deployed_configuration(operator.webhook_url, operator.ca_file.read_bytes())
    api = sim.api_client()
    kubernetes.client.AdmissionregistrationV1Api(api).create_mutating_webhook_configuration(body)


def create_build(sim: SimServer, namespace: str) -> dict[str, Any]:
    obj = build(namespace=namespace, name=f"httpd-example-{uuid.uuid4().hex[:6]}")
    custom = kubernetes.client.CustomObjectsApi(sim.api_client())
    return dict(
        custom.create_namespaced_custom_object("build.openshift.io", "v1", namespace, "builds", obj)
    )


class TestTheOperatorsWebhook:
    def test_a_managed_namespace_carries_the_label_the_webhook_configuration_selects(
        self, stack: tuple[SimServer, RegistryServer, Operator, Path]
    ) -> None:
        sim, _, _, _ = stack

        assert (
            namespace_labels(sim.api_client(), "team")["quay-bridge.quay.redhat.com/managed"]
            == "true"
        )

    def test_a_thousand_admissions_make_no_api_server_request(
        self, stack: tuple[SimServer, RegistryServer, Operator, Path]
    ) -> None:
        _, registry, operator, request_log = stack
        expected = f"{registry.host}/openshift_team/httpd-example:latest"
        body = json.dumps(review(build(namespace="team"), namespace="team")).encode()
        with requests.Session() as http:
            http.trust_env = False
            http.verify = str(operator.ca_file)
            http.post(operator.webhook_url, data=body, timeout=10).raise_for_status()
            wait_until_quiet(request_log)
            before = len(api_requests(request_log))

            answers = [
                http.post(operator.webhook_url, data=body, timeout=10).json()["response"]
                for _ in range(ADMISSIONS)
            ]

            after = api_requests(request_log)
        assert all(answer["allowed"] for answer in answers)
        patch = json.loads(base64.b64decode(answers[-1]["patch"]))
        assert {"op": "replace", "path": "/spec/output/to/name", "value": expected} in patch
        assert after[before:] == []

    def test_the_operators_metrics_count_the_webhooks_answers(
        self, stack: tuple[SimServer, RegistryServer, Operator, Path]
    ) -> None:
        _, _, operator, _ = stack
        body = json.dumps(review(build(namespace="team"), namespace="team")).encode()
        with requests.Session() as http:
            http.trust_env = False
            http.verify = str(operator.ca_file)
            http.post(operator.webhook_url, data=body, timeout=10).raise_for_status()
        text = requests.get(operator.metrics_url, timeout=5).text
        answered = [
            line
            for line in text.splitlines()
            if line.startswith("quay_bridge_admission") and 'outcome="rewritten"' in line
        ]
        assert answered, "the webhook's series are on the operator's /metrics"
        assert "quay_bridge_reconciles_total" in text

    def test_a_build_created_through_the_api_server_is_rewritten_by_the_operator(
        self, stack: tuple[SimServer, RegistryServer, Operator, Path]
    ) -> None:
        sim, registry, _, _ = stack

        stored = create_build(sim, "team")

        assert stored["spec"]["output"]["to"] == {
            "kind": "DockerImage",
            "name": f"{registry.host}/openshift_team/httpd-example:latest",
        }

    def test_the_first_build_of_a_brand_new_project_is_admitted_and_rewritten(
        self, stack: tuple[SimServer, RegistryServer, Operator, Path]
    ) -> None:
        sim, registry, _, _ = stack
        api = sim.api_client()
        new_project(api, "brand-new")
        wait_until(
            lambda: namespace_labels(api, "brand-new").get(MANAGED_LABEL) == "true", timeout=30
        )

        stored = create_build(sim, "brand-new")

        assert stored["spec"]["output"]["to"]["name"] == (
            f"{registry.host}/openshift_brand-new/httpd-example:latest"
        )
        assert builder_linked(api, "brand-new")
