"""``ensure_now`` (the webhook's call) provisions a namespace the watches have not shown yet.

The controller runs in-process without kopf, against a real simulator and registry core, so no
watch event ever reaches it: everything ``ensure_now`` needs it must read itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bridge.controller.composition import Controller
from bridge.controller.state import BridgeState
from bridge.kube.cluster import Cluster as BridgeCluster
from bridge.kube.connection import load_connection
from bridge.metrics import Metrics
from devstack.registry import RegistryServer
from devstack.waiting import wait_until
from tests.bridge.conftest import Cluster
from webhook.resolving import resolve


async def test_ensure_now_provisions_and_links_the_builder_without_any_watch_event(
    ready_integration: Cluster, registry: RegistryServer
) -> None:
    cluster = ready_integration
    cluster.new_project("hurry")

    def scc_set() -> bool:
        body = cluster.get_namespace("hurry") or {"metadata": {}}
        return "openshift.io/sa.scc.mcs" in (body["metadata"].get("annotations") or {})

    wait_until(scc_set, timeout=10)
    wait_until(lambda: cluster.get_sa("hurry", "builder"), timeout=10)
    metrics = Metrics()
    state = BridgeState()
    kube = BridgeCluster(load_connection(cluster.sim.kubeconfig), metrics)
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


async def test_the_webhook_decides_a_namespace_it_has_not_seen_by_the_rules_after_one_read(
    cluster: Cluster, registry: RegistryServer
) -> None:
    """No watch event reaches this controller: every namespace is "not seen yet" to the webhook."""
    cluster.secret("openshift-operators", "quay-token", {"token": registry.token})
    cluster.integration(
        "quay",
        registry,
        denylistNamespaces=["left-alone"],
        namespaceSelector={"matchLabels": {"team": "builds"}},
    )
    cluster.ensure_namespace("left-alone")
    metrics = Metrics()
    state = BridgeState()
    kube = BridgeCluster(load_connection(cluster.sim.kubeconfig), metrics)
    controller = Controller(kube, metrics, state)
    try:
        assert not state.rules_known()
        await controller.start()
        assert state.rules_known()
        # The integration's first pass lists the namespaces once; created after it, these are
        # known to nobody but the API server, as a namespace made a moment before its Build.
        await _first_pass_done(controller, "quay")
        for name, labels in (("chosen", {"team": "builds"}), ("other-team", {"team": "web"})):
            cluster.core.create_namespace({"metadata": {"name": name, "labels": labels}})
        assert state.labels_seen("chosen") is None

        resolution = await resolve(state, ["chosen", "other-team", "left-alone", "absent"])
        chosen: Any = resolution.destination_for("chosen")
        assert chosen.organization == "openshift_chosen"
        assert chosen.registry_host == registry.host
        seen: Any = state.labels_seen("chosen")  # remembered, so ensure_now does not read again
        assert seen["team"] == "builds"
        assert state.destination_for("chosen") is None  # not provisioned: the webhook holds
        for name in ("other-team", "left-alone", "absent"):
            assert (await resolve(state, [name])).destination_for(name) is None
        assert state.destination_by_rules("quay-bridge", {"team": "builds"}) is None
        # The selector matches, but system namespaces are never managed, so never labelled either.
        for system in ("kube-builds", "openshift-builds", "default"):
            assert state.destination_by_rules(system, {"team": "builds"}) is None
    finally:
        await controller.stop()
        await kube.aclose()


async def _first_pass_done(controller: Controller, integration: str) -> None:
    """Wait until the integration's first pass over the listed namespaces has finished."""
    for _ in range(400):
        if controller.integrations[integration].synced:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"integration {integration}'s first pass never finished")
