"""The operator's webhook called by a real kube-apiserver through the MutatingWebhookConfiguration.

OpenShift's ``build.openshift.io`` Build is installed as a CRD stand-in (the API server then calls
admission webhooks for it exactly as for any resource). deploy/base's MutatingWebhookConfiguration
is pointed at the operator's webhook on loopback with a ``url`` client config (no Service can be
reached without a pod network), and a Build created in a managed namespace must come back rewritten
to push to Quay. Two modes: the operator manages its certificate itself (and sets the ``caBundle``),
or it serves a certificate made with ``quay-bridge certs generate`` whose CA an admin injected.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from devstack.operator import Operator, make_certificates
from devstack.ports import free_port
from devstack.registry import RegistryServer
from devstack.waiting import wait_until
from tests.realapi.conftest import CLUSTER_ID, Installed
from tests.webhook.builds import build

MWC = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/quay-bridge-webhook"


def point_webhook_at(installed: Installed, url: str, ca_bundle: str | None) -> None:
    client_config: dict[str, Any] = {"url": url}
    if ca_bundle is not None:
        client_config["caBundle"] = ca_bundle
    operations = [{"op": "replace", "path": "/webhooks/0/clientConfig", "value": client_config}]
    response = installed.kube.request(
        "PATCH", MWC, json=operations, headers={"Content-Type": "application/json-patch+json"}
    )
    assert response.status_code == 200, response.text


def start_operator_with_webhook(
    kubeconfig: str, port: int, metrics_port: int, cert_dir: Path
) -> Operator:
    """``quay-bridge run`` in the operator's namespace, its webhook at a port chosen beforehand."""
    return Operator.start(
        kubeconfig,
        cert_dir=cert_dir,
        webhook_port=port,
        metrics_port=metrics_port,
        env={"POD_NAMESPACE": "quay-bridge"},
        timeout=60,
    )


def create_build_and_expect_quay(
    installed: Installed, registry: RegistryServer, namespace: str
) -> None:
    body = build(namespace=namespace, name=f"httpd-example-{uuid.uuid4().hex[:6]}")
    created = installed.create(f"/apis/build.openshift.io/v1/namespaces/{namespace}/builds", body)
    expected = f"{registry.host}/{CLUSTER_ID}_{namespace}/httpd-example:latest"
    assert created["spec"]["output"]["to"] == {"kind": "DockerImage", "name": expected}


def prepare_namespace(installed: Installed, namespace: str) -> None:
    """A managed namespace with a ``builder`` ServiceAccount (plain Kubernetes makes none)."""
    installed.create_namespace(namespace)
    installed.create(
        f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": "builder"}}
    )
    wait_until(lambda: installed.linked(namespace, "builder", f"builder-quay-{CLUSTER_ID}"), 60)


@pytest.mark.parametrize("mode", ["self-managed", "provided"])
def test_the_real_api_server_calls_the_webhook_and_the_build_pushes_to_quay(
    builds_served: Installed,
    registry: RegistryServer,
    operator_kubeconfig: str,
    tmp_path: Path,
    mode: str,
) -> None:
    installed = builds_served
    namespace = f"qb-builds-{'self' if mode == 'self-managed' else 'given'}"
    port = free_port()
    cert_dir = tmp_path / "certs"
    url = f"https://127.0.0.1:{port}/admissionwebhook"
    if mode == "provided":
        make_certificates(cert_dir)
        point_webhook_at(installed, url, None)
        # As an admin would: inject the CA into the live configuration.
        inject = subprocess.run(
            [sys.executable, "-m", "quaybridge_cli", "certs", "inject-cabundle", "--ca",
             str(cert_dir / "ca.crt"), "--name", "quay-bridge-webhook",
             "--kubeconfig", installed.kube.kubeconfig],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert inject.returncode == 0, inject.stderr
    else:
        cert_dir.mkdir()
        point_webhook_at(installed, url, None)
    metrics_port = free_port()
    operator = start_operator_with_webhook(operator_kubeconfig, port, metrics_port, cert_dir)
    try:
        if mode == "self-managed":
            # The operator made its CA, kept it in a Secret and set the live caBundle itself.
            wait_until(
                lambda: (installed.get(MWC) or {})["webhooks"][0]["clientConfig"].get("caBundle"),
                timeout=60,
            )
            assert installed.secret("quay-bridge", "quay-bridge-webhook-selfmanaged") is not None
        prepare_namespace(installed, namespace)
        create_build_and_expect_quay(installed, registry, namespace)
        log = operator.log()
        assert "HTTP 403" not in log, log
    finally:
        operator.stop()
