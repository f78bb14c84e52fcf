"""Peering: only the active replica writes; a passive one keeps the webhook's view; takeover.

The rule is checked against kopf's own decision for a table of peering states. The controller
runs in-process against a real simulator and registry core, following a real ClusterKopfPeering
whose keep-alives the test writes the way kopf's replicas do.
"""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path
from typing import Any

import kopf
import pytest
import requests
import yaml
from kopf._cogs.aiokits.aiotoggles import Toggle
from kopf._cogs.structs import references
from kopf._core.engines import peering as kopf_peering
from kubernetes.client import ApiextensionsV1Api

from bridge.controller.composition import Controller
from bridge.controller.state import BridgeState
from bridge.kube.cluster import Cluster as BridgeCluster
from bridge.kube.connection import load_connection
from bridge.kube.peering import Peering, is_active
from bridge.metrics import Metrics
from devstack.operator import Operator
from devstack.registry import RegistryServer
from devstack.waiting import wait_until
from tests.bridge.conftest import Cluster
from tests.bridge.metrics import metric_total

ROOT = Path(__file__).resolve().parents[2]

ME, PRIORITY = "me@host/1", 100
SAS = ("builder", "default", "deployer")


def _peer(priority: int, seconds_ago: float, lifetime: int = 60) -> dict[str, Any]:
    seen = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=seconds_ago)
    return {"priority": priority, "lifetime": lifetime, "lastseen": seen.isoformat()}


CASES: dict[str, dict[str, Any]] = {
    "alone": {ME: _peer(PRIORITY, 0)},
    "nobody yet": {},
    "a lower peer": {ME: _peer(PRIORITY, 0), "low": _peer(PRIORITY - 1, 5)},
    "a higher peer": {ME: _peer(PRIORITY, 0), "high": _peer(PRIORITY + 1, 5)},
    "the same priority": {ME: _peer(PRIORITY, 0), "twin": _peer(PRIORITY, 5)},
    "a higher peer, dead": {"high": _peer(PRIORITY + 1, 120)},
    "a higher peer that exited": {"high": _peer(PRIORITY + 1, 1, lifetime=0)},
    "a higher peer without lifetime": {
        "high": {"priority": PRIORITY + 1, "lastseen": _peer(0, 30)["lastseen"]}
    },
}


async def _kopf_says_active(status: dict[str, Any]) -> bool:
    settings = kopf.OperatorSettings()
    settings.peering.name = "p"
    settings.peering.priority = PRIORITY
    paused = Toggle(False)
    pressure = asyncio.Event()
    pressure.set()  # return at once instead of sleeping until a blocking peer expires
    await kopf_peering.process_peering_event(
        raw_event={"type": "MODIFIED", "object": {"metadata": {"name": "p"}, "status": status}},
        namespace=None,
        resource=references.CLUSTER_PEERINGS_K,  # type: ignore[arg-type]
        identity=kopf_peering.Identity(ME),
        settings=settings,
        autoclean=False,
        stream_pressure=pressure,
        conflicts_found=paused,
    )
    return paused.is_off()


@pytest.mark.parametrize("case", sorted(CASES))
async def test_the_rule_is_kopfs(case: str) -> None:
    status = CASES[case]
    ours, recheck = is_active(status, ME, PRIORITY, datetime.datetime.now(datetime.UTC))
    assert ours == await _kopf_says_active(status)
    assert (recheck is None) == ours


def _install_peering(cluster: Cluster) -> None:
    # deploy/base ships the CRD only; the object is the one the operator makes at start.
    text = (ROOT / "deploy" / "base" / "kopf-peering.yaml").read_text()
    (crd,) = yaml.safe_load_all(text)
    ApiextensionsV1Api(cluster.api).create_custom_resource_definition(crd)
    peering = {"apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering"}
    peering["metadata"] = {"name": "quay-bridge"}
    cluster.custom.create_cluster_custom_object("kopf.dev", "v1", "clusterkopfpeerings", peering)


def _keepalive(cluster: Cluster, peers: dict[str, Any]) -> None:
    cluster.custom.patch_cluster_custom_object(
        "kopf.dev", "v1", "clusterkopfpeerings", "quay-bridge", {"status": peers}
    )


async def test_a_passive_replica_writes_nothing_keeps_the_view_and_takes_over(
    ready_integration: Cluster, registry: RegistryServer
) -> None:
    cluster = ready_integration
    _install_peering(cluster)
    _keepalive(cluster, {"other": _peer(PRIORITY + 1, 0)})
    metrics = Metrics()
    state = BridgeState()
    kube = BridgeCluster(load_connection(cluster.sim.kubeconfig), metrics)
    peering = Peering(kube, metrics, "quay-bridge", identity=ME, priority=PRIORITY)
    controller = Controller(kube, metrics, state, peering)
    try:
        await controller.start(follow=True)
        assert not controller.active
        await asyncio.to_thread(cluster.new_project, "standby")

        # The active replica (played here by the test) provisions; this one only watches.
        def sa_exists() -> bool:
            return cluster.get_sa("standby", "builder") is not None

        await asyncio.to_thread(wait_until, sa_exists, 10)
        await asyncio.sleep(1.0)
        assert state.destination_for("standby") is not None, "the webhook knows the namespace"
        assert not state.builder_ready("standby")
        assert registry.get("/api/v1/organization/openshift_standby").status_code == 404
        text = metrics.render().decode()
        assert "quay_bridge_kubernetes_writes_total{" not in text
        quay_writes = [
            line
            for line in text.splitlines()
            if line.startswith("quay_bridge_quay_calls_total{") and 'method="GET"' not in line
        ]
        assert quay_writes == []
        assert "quay_bridge_active 0.0" in text

        secret: Any = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/dockerconfigjson",
            "metadata": {
                "name": "builder-quay-openshift",
                "labels": {
                    "quay-bridge.quay.redhat.com/managed": "true",
                    "quay-bridge.quay.redhat.com/integration": "quay",
                },
            },
            "data": {".dockerconfigjson": "e30="},
        }
        await asyncio.to_thread(cluster.core.create_namespaced_secret, "standby", secret)
        link = {
            "secrets": [{"name": "builder-quay-openshift"}],
            "imagePullSecrets": [{"name": "builder-quay-openshift"}],
        }
        await asyncio.to_thread(
            cluster.core.patch_namespaced_service_account, "builder", "standby", link
        )
        for _ in range(100):
            if state.builder_ready("standby"):
                break
            await asyncio.sleep(0.05)
        assert state.builder_ready("standby"), "the passive view follows the active replica"

        # The active replica exits (kopf reports lifetime 0): this one takes over.
        _keepalive(cluster, {"other": _peer(PRIORITY + 1, 0, lifetime=0)})

        def provisioned() -> bool:
            return registry.get("/api/v1/organization/openshift_standby").ok and all(
                cluster.linked("standby", sa, f"{sa}-quay-openshift")
                for sa in ("builder", "default", "deployer")
            )

        await asyncio.to_thread(wait_until, provisioned, 20)
        assert controller.active
        login = cluster.robot_login("standby", "builder-quay-openshift", registry.host)
        assert login is not None and login[0] == "openshift_standby+builder"
    finally:
        await controller.stop()
        await kube.aclose()


def _metric(operator: Operator, name: str) -> float:
    text = requests.get(operator.metrics_url, timeout=5).text
    return metric_total(text, name)


def _writes(operator: Operator) -> float:
    text = requests.get(operator.metrics_url, timeout=5).text
    quay_writes = sum(
        metric_total(text, "quay_bridge_quay_calls_total", method=method)
        for method in ("POST", "PUT", "DELETE")
    )
    return metric_total(text, "quay_bridge_kubernetes_writes_total") + quay_writes


def test_two_replicas_one_writes_and_the_other_takes_over_when_it_stops(
    ready_integration: Cluster, registry: RegistryServer, operator_factory: Any
) -> None:
    cluster = ready_integration
    _install_peering(cluster)
    first = operator_factory("--peering", "quay-bridge")
    second = operator_factory("--peering", "quay-bridge")
    wait_until(
        lambda: _metric(first, "quay_bridge_active") + _metric(second, "quay_bridge_active") == 1,
        30,
    )
    active, passive = (first, second) if _metric(first, "quay_bridge_active") else (second, first)
    # The first replica was alone for a moment, and active then: count from here on.
    before = _writes(passive)
    cluster.new_project("twin")
    wait_until(lambda: all(cluster.linked("twin", sa, f"{sa}-quay-openshift") for sa in SAS), 30)
    assert _writes(active) > 0
    assert _writes(passive) == before, "the passive replica wrote"

    active.stop()
    wait_until(lambda: _metric(passive, "quay_bridge_active") == 1, 30)
    cluster.new_project("after")
    wait_until(lambda: all(cluster.linked("after", sa, f"{sa}-quay-openshift") for sa in SAS), 30)
    assert registry.get("/api/v1/organization/openshift_after").ok
