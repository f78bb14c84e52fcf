"""Namespace objects and their admission requests, shaped as the API server sends them."""

from __future__ import annotations

import uuid
from typing import Any


def namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """Return a Namespace as ``kubectl create namespace`` (or a ProjectRequest) submits it."""
    metadata: dict[str, Any] = {"name": name}
    if labels is not None:
        metadata["labels"] = dict(labels)
    return {"kind": "Namespace", "apiVersion": "v1", "metadata": metadata, "spec": {}}


def namespace_review(obj: Any, *, operation: str = "CREATE") -> dict[str, Any]:
    """Return the AdmissionReview of a Namespace write (cluster-scoped: no request namespace)."""
    gvk = {"group": "", "version": "v1", "kind": "Namespace"}
    gvr = {"group": "", "version": "v1", "resource": "namespaces"}
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else ""
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": gvk,
            "resource": gvr,
            "requestKind": gvk,
            "requestResource": gvr,
            "name": name if isinstance(name, str) else "",
            "namespace": "",
            "operation": operation,
            "userInfo": {"username": "developer", "groups": ["system:authenticated"]},
            "object": obj,
            "oldObject": obj if operation == "UPDATE" else None,
            "dryRun": False,
        },
    }
