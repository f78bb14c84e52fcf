"""The operator's webhook called by a real kube-apiserver through the MutatingWebhookConfiguration.

OpenShift's ``build.openshift.io`` Build is installed as a CRD stand-in (the API server then calls
admission webhooks for it exactly as for any resource). deploy/base's MutatingWebhookConfiguration
is pointed at the operator's webhook on loopback with a ``url`` client config (no Service can be
reached without a pod network), and a Build created in a managed namespace must come back rewritten
to push to Quay. Two modes: the operator manages its certificate itself (and sets the ``caBundle``),
or it serves a certificate made with ``quay-bridge certs generate`` whose CA an admin injected.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.bridge.servers import Registry, stop_process, wait_for
from tests.realapi.conftest import CLUSTER_ID, Installed
from tests.support.ports import free_port
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
) -> tuple[Any, str]:
    handle, log_path = tempfile.mkstemp(prefix="operator-webhook-", suffix=".log")
    os.close(handle)
    args = [
        sys.executable, "-m", "quaybridge_cli", "run", "--standalone", "--kubeconfig", kubeconfig,
        "--webhook-host", "127.0.0.1", "--webhook-port", str(port), "--cert-dir", str(cert_dir),
        "--metrics-host", "127.0.0.1", "--metrics-port", str(metrics_port),
    ]  # fmt: skip
    env = dict(os.environ, POD_NAMESPACE="quay-bridge")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
    return process, log_path


def ready(metrics_port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{metrics_port}/readyz", timeout=2).ok
    except requests.RequestException:
        return False


def create_build_and_expect_quay(installed: Installed, registry: Registry, namespace: str) -> None:
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
    wait_for(lambda: installed.linked(namespace, "builder", f"builder-quay-{CLUSTER_ID}"), 60)


@pytest.mark.parametrize("mode", ["self-managed", "provided"])
def test_the_real_api_server_calls_the_webhook_and_the_build_pushes_to_quay(
    builds_served: Installed,
    registry: Registry,
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
        subprocess.run(
            [sys.executable, "-m", "quaybridge_cli", "certs", "generate", "--service",
             "quay-bridge-webhook", "--namespace", "quay-bridge", "--out", str(cert_dir),
             "--ip", "127.0.0.1"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
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
    process, log_path = start_operator_with_webhook(
        operator_kubeconfig, port, metrics_port, cert_dir
    )
    try:
        wait_for(lambda: process.poll() is None and ready(metrics_port), timeout=60)
        if mode == "self-managed":
            # The operator made its CA, kept it in a Secret and set the live caBundle itself.
            wait_for(
                lambda: (installed.get(MWC) or {})["webhooks"][0]["clientConfig"].get("caBundle"),
                timeout=60,
            )
            assert installed.secret("quay-bridge", "quay-bridge-webhook-selfmanaged") is not None
        prepare_namespace(installed, namespace)
        create_build_and_expect_quay(installed, registry, namespace)
        log = Path(log_path).read_text(errors="replace")
        assert "HTTP 403" not in log, log
    finally:
        stop_process(process)
        os.remove(log_path)
