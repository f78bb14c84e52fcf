"""Build objects and admission requests for the webhook tests, shaped as OpenShift sends them."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from devstack.cluster import build
from webhook.state_view import Destination

QUAY = "quay.example.com:8443"

__all__ = ["QUAY", "build", "destinations", "review"]


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
