"""Reading the simulator in the webhook's end-to-end tests (devstack starts and prepares it)."""

from __future__ import annotations

from typing import Any

import kubernetes.client
from kubernetes.client.exceptions import ApiException


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
