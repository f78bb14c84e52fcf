"""``ensure_now`` (the webhook's call) provisions a namespace the watches have not shown yet.

The controller runs in-process without kopf, against a real simulator and registry core, so no
watch event ever reaches it: everything ``ensure_now`` needs it must read itself.
"""

from __future__ import annotations

from typing import Any

from bridge.cluster import Cluster as BridgeCluster
from bridge.cluster import load_client_config
from bridge.controller import Controller
from bridge.metrics import Metrics
from bridge.state import BridgeState
from tests.bridge.conftest import Cluster
from tests.bridge.servers import Registry, wait_for


async def test_ensure_now_provisions_and_links_the_builder_without_any_watch_event(
    ready_integration: Cluster, registry: Registry
) -> None:
    cluster = ready_integration
    cluster.new_project("hurry")

    def scc_set() -> bool:
        body = cluster.get_namespace("hurry") or {"metadata": {}}
        return "openshift.io/sa.scc.mcs" in (body["metadata"].get("annotations") or {})

    wait_for(scc_set, timeout=10)
    wait_for(lambda: cluster.get_sa("hurry", "builder"), timeout=10)
    metrics = Metrics()
    state = BridgeState()
    kube = BridgeCluster(load_client_config(cluster.sim.kubeconfig), metrics)
    controller = Controller(kube, metrics, state)
    try:
        await controller.start()
        assert state.destination_for("hurry") is None
        assert not state.builder_ready("hurry")
        await state.ensure_now("hurry")
        assert state.builder_ready("hurry")
        destination: Any = state.destination_for("hurry")
        assert destination.organization == "openshift_hurry"
        assert destination.registry_host == registry.host
        assert cluster.linked("hurry", "builder", "builder-quay-openshift")
        await state.ensure_now("no-such-namespace")  # unknown: returns quietly
    finally:
        await controller.stop()
        await kube.aclose()
