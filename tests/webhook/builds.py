"""Build objects and admission requests for the webhook tests, shaped as OpenShift sends them."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from webhook.state_view import Destination

QUAY = "quay.example.com:8443"

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


def review(
    obj: Any,
    *,
    namespace: str = "p",
    operation: str = "CREATE",
    uid: str | None = None,
    resource: str = "builds",
    sub_resource: str = "",
    kind: str = "Build",
    dry_run: bool = False,
) -> dict[str, Any]:
    """Return an ``admission.k8s.io/v1`` AdmissionReview request as the API server sends it."""
    gvk = {"group": "build.openshift.io", "version": "v1", "kind": kind}
    gvr = {"group": "build.openshift.io", "version": "v1", "resource": resource}
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid or str(uuid.uuid4()),
            "kind": gvk,
            "resource": gvr,
            "subResource": sub_resource,
            "requestKind": gvk,
            "requestResource": gvr,
            "name": _name_of(obj),
            "namespace": namespace,
            "operation": operation,
            "userInfo": {"username": "developer", "uid": "1", "groups": ["system:authenticated"]},
            "object": copy.deepcopy(obj),
            "oldObject": copy.deepcopy(obj) if operation == "UPDATE" else None,
            "dryRun": dry_run,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }


def _name_of(obj: Any) -> str:
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else ""


def destinations(*namespaces: str, prefix: str = "openshift") -> dict[str, Destination]:
    """Return the destinations of managed namespaces as the bridge would compute them."""
    return {ns: Destination(registry_host=QUAY, organization=f"{prefix}_{ns}") for ns in namespaces}
