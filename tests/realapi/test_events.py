"""The bridge's Events on a real API server: where they go, and into a namespace being deleted.

The bridge's own ``Cluster`` posts, in-process, as the operator's ServiceAccount (RBAC enforced).
"""

from __future__ import annotations

import logging
import re

import pytest

from bridge.kube.cluster import Cluster
from bridge.kube.connection import load_connection
from bridge.metrics import Metrics
from devstack.waiting import wait_until
from tests.realapi.conftest import Installed

HOLD = "quay-bridge.test/hold"


async def test_an_event_about_a_namespace_goes_to_default_as_client_go_puts_it(
    integrated: Installed, operator_kubeconfig: str, caplog: pytest.LogCaptureFixture
) -> None:
    integrated.create_namespace("qb-evented")
    namespace = integrated.namespace("qb-evented")
    assert namespace is not None
    cluster = Cluster(load_connection(operator_kubeconfig), Metrics())
    try:
        with caplog.at_level(logging.DEBUG, logger="bridge.kube.cluster"):
            await cluster.post_event(namespace | {"kind": "Namespace", "apiVersion": "v1"},
                                     "QuayUnmanaged", "a test message")  # fmt: skip
    finally:
        await cluster.aclose()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    [event] = integrated.events_about("Namespace", "qb-evented")
    assert event["metadata"]["namespace"] == "default"
    assert event["involvedObject"]["uid"] == namespace["metadata"]["uid"]
    shown = integrated.kube.kubectl("events", "-A", "--for", "namespace/qb-evented").stdout
    assert "QuayUnmanaged" in shown and "a test message" in shown


async def test_an_event_into_a_namespace_being_deleted_is_no_warning(
    integrated: Installed, operator_kubeconfig: str, caplog: pytest.LogCaptureFixture
) -> None:
    name = "qb-terminating"
    integrated.create_namespace(name)
    held = integrated.create(
        f"/api/v1/namespaces/{name}/configmaps",
        {"metadata": {"name": "held", "finalizers": [HOLD]}},
    )
    integrated.kube.kubectl("delete", "namespace", name, "--wait=false")
    wait_until(lambda: (integrated.namespace(name) or {}).get("status", {}).get("phase")
             == "Terminating", timeout=30)  # fmt: skip
    cluster = Cluster(load_connection(operator_kubeconfig), Metrics())
    try:
        with caplog.at_level(logging.DEBUG, logger="bridge.kube.cluster"):
            await cluster.post_event(
                held | {"kind": "ConfigMap", "apiVersion": "v1"},
                "QuayCleanup",
                "posted while the namespace terminates",
            )
    finally:
        await cluster.aclose()
        integrated.kube.request(
            "PATCH",
            f"/api/v1/namespaces/{name}/configmaps/held",
            json={"metadata": {"finalizers": None}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("being terminated" in r.getMessage() for r in caplog.records)
    wait_until(lambda: integrated.namespace(name) is None, timeout=120)


async def test_an_event_about_the_integration_is_shown_by_kubectl_describe(
    integrated: Installed, operator_kubeconfig: str
) -> None:
    # Posted as client-go posts about a cluster-scoped object, kubectl describe finds it: it looks
    # for Events whose involvedObject.namespace is empty, as the reference of such an object has.
    integration = integrated.get("/apis/quay.redhat.com/v1/quayintegrations/real")
    assert integration is not None
    cluster = Cluster(load_connection(operator_kubeconfig), Metrics())
    try:
        await cluster.post_event(integration, "QuayDescribed", "an event kubectl describe shows")
    finally:
        await cluster.aclose()
    described = integrated.kube.kubectl("describe", "qi", "real").stdout
    assert re.search(r"Normal\s+QuayDescribed\s+.*an event kubectl describe shows", described), (
        described
    )
