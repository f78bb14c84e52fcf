"""The first Build of a brand-new namespace on a real kube-apiserver, through the shipped webhooks.

deploy/base's MutatingWebhookConfiguration (applied by the session) has both of its webhooks
pointed at the operator on loopback (``url`` client configs: no Service can be reached without a
pod network) with the CA of a certificate made by ``quay-bridge certs generate``. Fifty namespaces
are created at once, each followed at once by its ``builder`` ServiceAccount (plain Kubernetes
makes none) and a Build stand-in whose output is an ImageStreamTag: each namespace must carry the
managed label from its creation and each Build must come back rewritten to push to Quay. Namespaces
the integration does not select are left alone. The API server's audit log, which records every
request of the operator's ServiceAccount, shows that admissions for namespaces the operator knows
make no request.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.cluster import deployed_configuration
from devstack.operator import Operator, make_certificates
from devstack.ports import free_port
from devstack.registry import RegistryServer
from devstack.waiting import wait_until, wait_until_steady
from tests.realapi.conftest import (
    CLUSTER_ID,
    FIRST_BUILD_NAMESPACES,
    OPERATOR_USER,
    SELECTED_PREFIX,
    Installed,
)
from tests.realapi.test_webhook import MWC, start_operator_with_webhook
from tests.webhook.builds import build, review

MANAGED_LABEL = "quay-bridge.quay.redhat.com/managed"
UNSELECTED = [f"{SELECTED_PREFIX}unselected-{n}" for n in range(5)]


@dataclass
class RunningWebhook:
    installed: Installed
    url: str
    ca_file: Path
    operator: Operator


@pytest.fixture(scope="module")
def webhook(
    builds_served: Installed, operator_kubeconfig: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningWebhook]:
    installed = builds_served
    cert_dir = tmp_path_factory.mktemp("first-build") / "certs"
    make_certificates(cert_dir)
    port, metrics_port = free_port(), free_port()
    url = f"https://127.0.0.1:{port}/admissionwebhook"
    shipped = deployed_configuration(url, (cert_dir / "ca.crt").read_bytes())
    applied = installed.get(MWC) or {}
    assert [hook["name"] for hook in applied["webhooks"]] == [
        hook["name"] for hook in shipped["webhooks"]
    ]
    set_client_configs(installed, [hook["clientConfig"] for hook in shipped["webhooks"]])
    operator = start_operator_with_webhook(operator_kubeconfig, port, metrics_port, cert_dir)
    try:
        yield RunningWebhook(installed, url, cert_dir / "ca.crt", operator)
    finally:
        operator.stop()
        # As applied, so that a later `kubectl apply -k deploy/base` merges into what it made.
        set_client_configs(installed, [hook["clientConfig"] for hook in applied["webhooks"]])


def set_client_configs(installed: Installed, configs: list[dict[str, Any]]) -> None:
    operations = [
        {"op": "replace", "path": f"/webhooks/{index}/clientConfig", "value": config}
        for index, config in enumerate(configs)
    ]
    response = installed.kube.request(
        "PATCH", MWC, json=operations, headers={"Content-Type": "application/json-patch+json"}
    )
    assert response.status_code == 200, response.text


def namespace_then_build(installed: Installed, namespace: str) -> dict[str, Any]:
    """Create a namespace, its builder ServiceAccount and a Build, one right after the other."""
    installed.create_namespace(namespace)
    installed.create(
        f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": "builder"}}
    )
    body = build(namespace=namespace, name=f"httpd-example-{uuid.uuid4().hex[:6]}")
    return installed.create(f"/apis/build.openshift.io/v1/namespaces/{namespace}/builds", body)


def operator_requests(installed: Installed) -> list[dict[str, Any]]:
    """The operator's requests in the audit log, without long-running watches."""
    path = installed.kube.audit_log
    lines = path.read_text().splitlines() if path.exists() else []
    return [
        entry
        for entry in map(json.loads, lines)
        if entry.get("user", {}).get("username") == OPERATOR_USER and entry.get("verb") != "watch"
    ]


def wait_until_quiet(installed: Installed, quiet: float = 3.0, timeout: float = 60.0) -> None:
    wait_until_steady(
        lambda: len(operator_requests(installed)),
        quiet,
        timeout,
        "the operator's requests",
        interval=0.2,
    )


def test_fifty_namespaces_created_at_once_each_have_their_first_build_rewritten(
    webhook: RunningWebhook, registry: RegistryServer
) -> None:
    installed = webhook.installed

    with ThreadPoolExecutor(max_workers=len(FIRST_BUILD_NAMESPACES)) as pool:
        builds = list(
            pool.map(lambda name: namespace_then_build(installed, name), FIRST_BUILD_NAMESPACES)
        )

    for namespace, stored in zip(FIRST_BUILD_NAMESPACES, builds, strict=True):
        assert stored["spec"]["output"]["to"] == {
            "kind": "DockerImage",
            "name": f"{registry.host}/{CLUSTER_ID}_{namespace}/httpd-example:latest",
        }, namespace
        labels = (installed.namespace(namespace) or {})["metadata"].get("labels") or {}
        assert labels.get(MANAGED_LABEL) == "true"
        assert installed.linked(namespace, "builder", f"builder-quay-{CLUSTER_ID}")


def test_namespaces_the_integration_does_not_select_are_never_touched(
    webhook: RunningWebhook,
) -> None:
    installed = webhook.installed

    with ThreadPoolExecutor(max_workers=len(UNSELECTED)) as pool:
        builds = list(pool.map(lambda name: namespace_then_build(installed, name), UNSELECTED))
    wait_until_quiet(installed)

    for namespace, stored in zip(UNSELECTED, builds, strict=True):
        assert stored["spec"]["output"]["to"] == {
            "kind": "ImageStreamTag",
            "name": "httpd-example:latest",
        }
        labels = (installed.namespace(namespace) or {})["metadata"].get("labels") or {}
        assert MANAGED_LABEL not in labels
    touched = [
        entry
        for entry in operator_requests(installed)
        if entry["verb"] not in ("get", "list")
        and (
            entry.get("objectRef", {}).get("namespace") in UNSELECTED
            or entry.get("objectRef", {}).get("name") in UNSELECTED
        )
    ]
    assert touched == []


def test_admissions_for_namespaces_the_operator_knows_make_no_api_request(
    webhook: RunningWebhook,
) -> None:
    installed = webhook.installed
    known = [FIRST_BUILD_NAMESPACES[0], UNSELECTED[0]]
    wait_until(lambda: installed.namespace(UNSELECTED[0]) is not None, timeout=30)
    bodies = [json.dumps(review(build(namespace=n), namespace=n)).encode() for n in known]
    with requests.Session() as http:
        http.trust_env = False
        http.verify = str(webhook.ca_file)
        for body in bodies:  # the operator has seen both namespaces by now
            http.post(webhook.url, data=body, timeout=10).raise_for_status()
        wait_until_quiet(installed)
        before = len(operator_requests(installed))

        answers = [
            http.post(webhook.url, data=body, timeout=10).json()["response"]
            for body in bodies * 150
        ]

        after = operator_requests(installed)
    assert all(answer["allowed"] for answer in answers)
    assert [bool(answer.get("patch")) for answer in answers[:2]] == [True, False]
    assert after[before:] == []
