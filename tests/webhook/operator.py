"""The real operator (``quay-bridge run``) with its webhook, for the webhook's end-to-end tests.

The simulator, the registry core and the operator run as processes, as in the demo; the operator's
webhook serves a certificate made with ``quay-bridge certs generate`` for 127.0.0.1.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes.client
import requests
import yaml
from kubernetes.client.exceptions import ApiException

from devstack.ports import free_port
from devstack.registry import RegistryServer
from devstack.sim import SimServer

ROOT = Path(__file__).resolve().parents[2]
CRD = ROOT / "crds" / "quayintegration.yaml"
DEPLOYED = ROOT / "deploy" / "base" / "mutatingwebhookconfiguration.yaml"


def deployed_configuration(admission_url: str, ca_pem: bytes | None) -> dict[str, Any]:
    """deploy/base's MutatingWebhookConfiguration with every webhook reaching ``admission_url``.

    Each webhook keeps its own path (``/admissionwebhook``, ``/admissionwebhook/namespaces``):
    only the Service reference becomes a loopback URL, as no Service can be reached here.
    """
    body: dict[str, Any] = yaml.safe_load(DEPLOYED.read_text())
    base = admission_url.removesuffix("/admissionwebhook")
    for hook in body["webhooks"]:
        config: dict[str, Any] = {"url": base + hook["clientConfig"]["service"]["path"]}
        if ca_pem is not None:
            config["caBundle"] = base64.b64encode(ca_pem).decode()
        hook["clientConfig"] = config
    return body


@dataclass
class OperatorWithWebhook:
    """A running operator; ``webhook_url`` is its admission endpoint."""

    process: subprocess.Popen[bytes]
    webhook_url: str
    ca_file: Path
    log_path: str
    metrics_url: str = ""

    def log(self) -> str:
        return Path(self.log_path).read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_operator_with_webhook(sim: SimServer, workdir: Path) -> OperatorWithWebhook:
    """Make certificates and start ``quay-bridge run`` with its webhook on 127.0.0.1."""
    certs = workdir / "certs"
    subprocess.run(
        [sys.executable, "-m", "quaybridge_cli", "certs", "generate", "--service",
         "quay-bridge-webhook", "--namespace", "quay-bridge", "--out", str(certs),
         "--ip", "127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    webhook_port, metrics_port = free_port(), free_port()
    log_path = tempfile.mktemp(prefix="operator-webhook-", suffix=".log")
    args = [
        sys.executable, "-m", "quaybridge_cli", "run", "--standalone",
        "--kubeconfig", sim.kubeconfig,
        "--webhook-host", "127.0.0.1", "--webhook-port", str(webhook_port),
        "--cert-dir", str(certs),
        "--metrics-host", "127.0.0.1", "--metrics-port", str(metrics_port),
    ]  # fmt: skip
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            args, stdout=log_file, stderr=subprocess.STDOUT, env=dict(os.environ)
        )

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"operator exited: {Path(log_path).read_text(errors='replace')}")
        try:
            return requests.get(f"http://127.0.0.1:{metrics_port}/readyz", timeout=1).ok
        except requests.ConnectionError:
            return False

    wait_for(ready, timeout=30)
    url = f"https://127.0.0.1:{webhook_port}/admissionwebhook"
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    return OperatorWithWebhook(process, url, certs / "ca.crt", log_path, metrics_url)


def wait_for(predicate: Callable[[], bool], timeout: float) -> None:
    """Poll ``predicate`` every 50 ms until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(0.05)


def install_integration(
    sim: SimServer, registry: RegistryServer, denylist: list[str] | None = None
) -> kubernetes.client.ApiClient:
    """Install the CRD, the Quay token Secret and a QuayIntegration for ``registry``.

    It selects every namespace but the system ones and those in ``denylist``.
    """
    api = sim.api_client()
    try:
        kubernetes.client.ApiextensionsV1Api(api).create_custom_resource_definition(
            yaml.safe_load(CRD.read_text())
        )
    except ApiException as exc:
        if exc.status != 409:
            raise
    core = kubernetes.client.CoreV1Api(api)
    # OpenShift (and the simulator) has it already; a plain Kubernetes cluster would not.
    try:
        core.create_namespace({"metadata": {"name": "openshift-operators"}})
    except ApiException as exc:
        if exc.status != 409:
            raise
    token = base64.b64encode(registry.token.encode()).decode()
    core.create_namespaced_secret(
        "openshift-operators",
        {"metadata": {"name": "quay-token"}, "data": {"token": token}},
    )
    custom = kubernetes.client.CustomObjectsApi(api)

    def crd_served() -> bool:
        try:
            custom.list_cluster_custom_object("quay.redhat.com", "v1", "quayintegrations")
        except ApiException:
            return False
        return True

    wait_for(crd_served, timeout=30)
    custom.create_cluster_custom_object(
        "quay.redhat.com",
        "v1",
        "quayintegrations",
        {
            "apiVersion": "quay.redhat.com/v1",
            "kind": "QuayIntegration",
            "metadata": {"name": "quay"},
            "spec": {
                "clusterID": "openshift",
                "credentialsSecret": {"name": "quay-token", "namespace": "openshift-operators"},
                "quayHostname": registry.url,
                **({"denylistNamespaces": denylist} if denylist else {}),
            },
        },
    )
    return api


def new_project(api: kubernetes.client.ApiClient, name: str) -> None:
    kubernetes.client.CustomObjectsApi(api).create_cluster_custom_object(
        "project.openshift.io",
        "v1",
        "projectrequests",
        {
            "apiVersion": "project.openshift.io/v1",
            "kind": "ProjectRequest",
            "metadata": {"name": name},
        },
    )


def builder_linked(api: kubernetes.client.ApiClient, namespace: str) -> bool:
    """Whether the builder SA lists ``builder-quay-openshift`` in both of its lists."""
    core = kubernetes.client.CoreV1Api(api)
    try:
        sa: Any = api.sanitize_for_serialization(
            core.read_namespaced_service_account("builder", namespace)
        )
    except ApiException:
        return False
    return all(
        "builder-quay-openshift" in [entry.get("name") for entry in sa.get(field) or []]
        for field in ("secrets", "imagePullSecrets")
    )


def namespace_labels(api: kubernetes.client.ApiClient, namespace: str) -> dict[str, str]:
    core = kubernetes.client.CoreV1Api(api)
    body: Any = api.sanitize_for_serialization(core.read_namespace(namespace))
    return dict(body["metadata"].get("labels") or {})
