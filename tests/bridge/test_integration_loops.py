"""The integration loops on an in-memory cluster and Quay: status writes, resync, reread."""

from __future__ import annotations

import asyncio

from bridge.quay import errors as qe
from tests.bridge.fakes import Bench


async def test_the_status_is_written_once_per_change_with_its_readiness_event() -> None:
    bench = Bench()
    integration = await bench.add_integration()
    await bench.provisioned("team")
    await bench.provisioned("web")

    await bench.loops.write_status(integration)
    await bench.loops.write_status(integration)  # nothing changed: nothing written

    status_writes = [w for w in bench.cluster.writes if w[1] == "QuayIntegration/status"]
    assert len(status_writes) == 1
    status = (bench.cluster.get("QuayIntegration", "", "quay") or {})["status"]
    assert status["managedNamespaces"] == 2 and status["failedNamespaces"] == 0
    ready = {c["type"]: c["status"] for c in status["conditions"]}["Ready"]
    assert ready == "True"
    assert [e for e in bench.cluster.events if e["kind"] == "QuayIntegration"]
    await bench.stop()


async def test_the_status_loop_writes_what_the_passes_changed() -> None:
    bench = Bench()
    await bench.add_integration()
    await bench.provisioned("team")
    loop = bench.scheduler.spawn(bench.loops.status_loop())
    while not (bench.cluster.get("QuayIntegration", "", "quay") or {}).get("status"):
        await asyncio.sleep(0.01)
    loop.cancel()
    status = (bench.cluster.get("QuayIntegration", "", "quay") or {})["status"]
    assert status["managedNamespaces"] == 1
    await bench.stop()


async def test_a_resync_repairs_the_cluster_side_with_one_quay_read() -> None:
    bench = Bench()
    # A Quay check is due at every resync with these periods (see IntegrationLoops.resync).
    integration = await bench.add_integration(resyncPeriodSeconds=120, quayResyncPeriodSeconds=60)
    await bench.provisioned("team")
    # Drift no watch event reported: a pull Secret and a link gone.
    bench.cluster.delete("Secret", "team", "builder-quay-openshift")
    account = bench.cluster.get("ServiceAccount", "team", "deployer") or {}
    account.pop("imagePullSecrets", None)
    account.pop("secrets", None)
    bench.cluster.put("ServiceAccount", account)
    calls = len(bench.quay.calls)

    await bench.loops.resync(integration)

    # The probe, and one part of the Quay side (the robots, first in turn).
    assert bench.quay.calls[calls:] == ["get_user", "list_robots"]
    assert bench.cluster.get("Secret", "team", "builder-quay-openshift") is not None
    linked = bench.cluster.get("ServiceAccount", "team", "deployer") or {}
    assert {"name": "deployer-quay-openshift"} in linked["imagePullSecrets"]
    assert integration.last_sync is not None
    await bench.stop()


async def test_a_resync_before_the_quay_check_is_due_repairs_the_cluster_side_alone() -> None:
    bench = Bench()
    # The defaults: Quay is read again only an hour after provisioning, the cluster at each resync.
    integration = await bench.add_integration()
    await bench.provisioned("team")
    bench.cluster.delete("Secret", "team", "builder-quay-openshift")
    account = bench.cluster.get("ServiceAccount", "team", "deployer") or {}
    account.pop("imagePullSecrets", None)
    account.pop("secrets", None)
    bench.cluster.put("ServiceAccount", account)
    calls = len(bench.quay.calls)

    await bench.loops.resync(integration)

    assert bench.quay.calls[calls:] == ["get_user"], "the credential check alone"
    assert bench.cluster.get("Secret", "team", "builder-quay-openshift") is not None
    linked = bench.cluster.get("ServiceAccount", "team", "deployer") or {}
    assert {"name": "deployer-quay-openshift"} in linked["imagePullSecrets"]
    await bench.stop()


async def test_a_reread_finds_an_organization_deleted_in_quay_and_creates_it_again() -> None:
    bench = Bench()
    integration = await bench.add_integration()
    await bench.provisioned("team")
    del bench.quay.organizations["openshift_team"]

    await bench.loops.reread(integration)

    org = bench.quay.organizations["openshift_team"]
    assert sorted(org.robots) == ["builder", "default", "deployer"]
    secret = bench.cluster.get("Secret", "team", "builder-quay-openshift")
    assert secret is not None
    await bench.stop()


async def test_a_new_integrations_first_pass_provisions_the_namespaces_already_there() -> None:
    bench = Bench()
    bench.cluster.add_namespace("team")
    await bench.inform()  # no integration yet: nothing to do
    assert bench.quay.calls == []

    integration = await bench.add_integration()

    assert integration.synced
    assert "openshift_team" in bench.quay.organizations
    await bench.stop()


async def test_a_refresh_that_makes_an_integration_usable_passes_every_namespace() -> None:
    bench = Bench()
    bench.quay.failing = qe.Unauthenticated("the token was rejected", status=401)
    integration = await bench.add_integration()
    await bench.provisioned("team")
    assert not integration.usable
    assert bench.state.records["team"].error == "integration quay is not ready"

    bench.quay.failing = None
    await bench.loops.refresh(integration)
    await bench.scheduler.idle()

    assert integration.usable
    assert "openshift_team" in bench.quay.organizations
    assert bench.state.records["team"].error is None
    await bench.stop()
