"""What a development cluster gets before the operator works on it, and the objects it is fed.

The QuayIntegration set-up (CRD, the Quay token Secret, one integration), ``deploy/base``'s
MutatingWebhookConfiguration pointed at an operator on loopback, and a Build as ``oc new-app``
makes it: the webhook's tests and the first-build benchmark prepare the simulator the same way.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import kubernetes.client
import yaml
from kubernetes.client.exceptions import ApiException

from devstack.registry import RegistryServer
from devstack.sim import SimServer
from devstack.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]
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
    namespace: Any = {"metadata": {"name": "openshift-operators"}}
    try:
        core.create_namespace(namespace)
    except ApiException as exc:
        if exc.status != 409:
            raise
    token = base64.b64encode(registry.token.encode()).decode()
    secret: Any = {"metadata": {"name": "quay-token"}, "data": {"token": token}}
    core.create_namespaced_secret("openshift-operators", secret)
    custom = kubernetes.client.CustomObjectsApi(api)

    def crd_served() -> bool:
        try:
            custom.list_cluster_custom_object("quay.redhat.com", "v1", "quayintegrations")
        except ApiException:
            return False
        return True

    wait_until(crd_served, 30, "the QuayIntegration CRD being served")
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


STRATEGY_FIELDS = {
    "Docker": "dockerStrategy",
    "Source": "sourceStrategy",
    "Custom": "customStrategy",
    "JenkinsPipeline": "jenkinsPipelineStrategy",
}


def build(
    *,
    namespace: str = "p",
    name: str = "httpd-example-1",
    strategy: str = "Source",
    output: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Return a Build as ``oc new-app`` makes it (output to an ImageStreamTag by default)."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations is not None:
        metadata["annotations"] = dict(annotations)
    strategy_body: dict[str, Any] = {"type": strategy}
    if strategy != "JenkinsPipeline":
        strategy_body[STRATEGY_FIELDS[strategy]] = {
            "from": {"kind": "DockerImage", "name": "registry.example.com/base:1"}
        }
    else:
        strategy_body[STRATEGY_FIELDS[strategy]] = {"jenkinsfile": "node {}"}
    spec: dict[str, Any] = {
        "serviceAccount": "builder",
        "source": {"type": "Git", "git": {"uri": "https://github.com/sclorg/httpd-ex.git"}},
        "strategy": strategy_body,
    }
    spec["output"] = (
        {"to": {"kind": "ImageStreamTag", "name": "httpd-example:latest"}}
        if output is None
        else output
    )
    return {
        "kind": "Build",
        "apiVersion": "build.openshift.io/v1",
        "metadata": metadata,
        "spec": spec,
        "status": {"phase": "New"},
    }
