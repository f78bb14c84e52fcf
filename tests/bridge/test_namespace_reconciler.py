"""The namespace pass on an in-memory cluster and Quay (``tests/bridge/fakes.py``), no processes."""

from __future__ import annotations

import asyncio
import base64
import json

from bridge.quay import errors as qe
from tests.bridge.fakes import Bench, FakeOrganization
from vocabulary import FINALIZER, MANAGED_LABEL

ACCOUNTS = ("builder", "default", "deployer")


def login(bench: Bench, namespace: str, secret: str) -> tuple[str, str] | None:
    """The (user, token) a pull Secret in the fake cluster carries for the registry."""
    body = bench.cluster.get("Secret", namespace, secret)
    if body is None:
        return None
    config = json.loads(base64.b64decode(body["data"][".dockerconfigjson"]))
    auth = config["auths"]["quay.example.com"]
    user, _, token = base64.b64decode(auth["auth"]).decode().partition(":")
    return user, token


async def test_a_new_namespace_gets_its_organization_robots_secrets_links_and_finalizer() -> None:
    bench = Bench()
    await bench.add_integration()
    bench.cluster.put("ImageStream", {"metadata": {"name": "app", "namespace": "team"}})
    await bench.provisioned("team")

    org = bench.quay.organizations["openshift_team"]
    assert sorted(org.robots) == sorted(ACCOUNTS)
    roles = {p["delegate"]["name"]: p["role"] for p in org.prototypes.values()}
    assert roles == {
        "openshift_team+builder": "write",
        "openshift_team+default": "read",
        "openshift_team+deployer": "read",
    }
    assert sorted(org.repositories) == ["app"]
    for account in ACCOUNTS:
        secret = f"{account}-quay-openshift"
        token = org.robots[account]["token"]
        assert login(bench, "team", secret) == (f"openshift_team+{account}", token)
        sa = bench.cluster.get("ServiceAccount", "team", account) or {}
        assert {"name": secret} in sa["imagePullSecrets"]
    namespace = bench.cluster.get("Namespace", "", "team") or {}
    assert FINALIZER in namespace["metadata"]["finalizers"]
    assert namespace["metadata"]["labels"][MANAGED_LABEL] == "true"
    assert bench.cluster.reasons() == ["QuayProvisioned"]
    record = bench.state.records["team"]
    assert record.names.robot("builder").full == "openshift_team+builder"
    assert bench.state.builder_ready("team")
    await bench.stop()


async def test_an_unchanged_namespace_costs_no_call_on_its_next_pass() -> None:
    bench = Bench()
    await bench.add_integration()
    await bench.provisioned("team")
    quay_calls, writes = len(bench.quay.calls), len(bench.cluster.writes)

    await bench.scheduler.run("team")

    assert bench.quay.calls[quay_calls:] == []
    assert bench.cluster.writes[writes:] == []
    await bench.stop()


async def test_a_namespace_quay_cannot_name_is_reported_and_nothing_is_called() -> None:
    bench = Bench()
    integration = await bench.add_integration()
    calls = len(bench.quay.calls)
    await bench.provisioned("a--b")

    assert bench.quay.calls[calls:] == []
    assert "a--b" not in bench.state.records
    assert "not valid in Quay" in integration.invalid_names["a--b"]
    (event,) = bench.cluster.events
    assert event["reason"] == "InvalidQuayName" and event["type"] == "Warning"
    assert "'openshift_a--b'" in event["message"]
    await bench.scheduler.run("a--b")
    assert len(bench.cluster.events) == 1, "told once"
    await bench.stop()


async def test_a_failing_quay_is_told_once_retried_on_its_own_and_recovers() -> None:
    bench = Bench()
    await bench.add_integration()
    bench.quay.failing = qe.QuayError("internal server error", status=500)
    await bench.provisioned("team")

    assert bench.cluster.reasons() == ["QuayProvisioningFailed"]
    assert "internal server error" in (bench.state.records["team"].error or "")
    failed_calls = len(bench.quay.calls)
    while len(bench.quay.calls) < failed_calls + 2:  # the scheduler retries by itself
        await asyncio.sleep(0.005)
    assert bench.cluster.reasons() == ["QuayProvisioningFailed"], "told once per run of failures"

    bench.quay.failing = None
    while "openshift_team" not in bench.quay.organizations or bench.state.records["team"].error:
        await asyncio.sleep(0.005)
    await bench.scheduler.idle()
    assert bench.cluster.reasons() == ["QuayProvisioningFailed", "QuayProvisioned"]
    await bench.stop()


async def test_a_deleted_namespace_has_its_organization_deleted_then_is_released() -> None:
    bench = Bench()
    await bench.add_integration()
    await bench.provisioned("team")

    bench.view.remember_namespace(bench.cluster.start_deleting_namespace("team"))
    await bench.scheduler.run("team")

    assert "openshift_team" not in bench.quay.organizations
    assert bench.cluster.get("Namespace", "", "team") is None, "its finalizer was released"
    assert bench.cluster.reasons()[-1] == "QuayCleanup"
    assert "team" not in bench.state.records
    await bench.stop()


async def test_an_organization_someone_else_holds_is_left_untouched() -> None:
    bench = Bench()
    await bench.add_integration()
    bench.quay.organizations["openshift_team"] = FakeOrganization(admin="someone-else")
    calls = len(bench.quay.calls)
    await bench.provisioned("team")

    writes = [c for c in bench.quay.calls[calls:] if not c.startswith(("get_", "list_"))]
    assert writes == ["create_organization"]  # refused: it exists, and nothing went into it
    assert bench.quay.organizations["openshift_team"].robots == {}
    assert "team" not in bench.state.records
    assert bench.cluster.reasons() == ["QuayOrganizationNotOwned"]
    assert bench.cluster.get("Secret", "team", "builder-quay-openshift") is None
    await bench.stop()


async def test_a_rotation_gives_every_robot_a_new_token_and_rewrites_the_secrets() -> None:
    bench = Bench()
    await bench.add_integration()
    await bench.provisioned("team")
    before = login(bench, "team", "builder-quay-openshift")

    bench.reconciler.request_rotation("team")
    await bench.scheduler.run("team")

    after = login(bench, "team", "builder-quay-openshift")
    assert after is not None and before is not None and after[1] != before[1]
    assert after[1] == bench.quay.organizations["openshift_team"].robots["builder"]["token"]
    await bench.stop()


async def test_a_due_quay_check_repairs_a_robot_deleted_in_quay() -> None:
    bench = Bench()
    await bench.add_integration()
    await bench.provisioned("team")
    del bench.quay.organizations["openshift_team"].robots["deployer"]

    bench.reconciler.plan_resync("team", quay_due_after=0.0)  # the first part checked: robots
    await bench.scheduler.run("team")

    robot = bench.quay.organizations["openshift_team"].robots["deployer"]
    assert login(bench, "team", "deployer-quay-openshift") == (robot["name"], robot["token"])
    await bench.stop()


async def test_a_resync_repairs_the_cluster_side_without_quay_when_its_check_is_not_due() -> None:
    bench = Bench()
    await bench.add_integration()
    bench.cluster.put("ImageStream", {"metadata": {"name": "app", "namespace": "team"}})
    await bench.provisioned("team")
    builder = login(bench, "team", "builder-quay-openshift")
    # Drift no watch event reported (missed in a disconnection, or made while the operator was
    # down): a pull Secret deleted, another one's login edited, a ServiceAccount's link removed.
    bench.cluster.delete("Secret", "team", "builder-quay-openshift")
    edited = bench.cluster.get("Secret", "team", "default-quay-openshift") or {}
    edited["data"][".dockerconfigjson"] = base64.b64encode(b'{"auths": {}}').decode()
    bench.cluster.put("Secret", edited)
    deployer = bench.cluster.get("ServiceAccount", "team", "deployer") or {}
    deployer["secrets"], deployer["imagePullSecrets"] = [], []
    bench.cluster.put("ServiceAccount", deployer)
    quay_calls, writes = len(bench.quay.calls), len(bench.cluster.writes)

    bench.reconciler.plan_resync("team", quay_due_after=3600.0)  # Quay was read just now
    await bench.scheduler.run("team")

    assert bench.quay.calls[quay_calls:] == [], "the Quay check is not due"
    assert login(bench, "team", "builder-quay-openshift") == builder
    robot = bench.quay.organizations["openshift_team"].robots["default"]
    assert login(bench, "team", "default-quay-openshift") == (robot["name"], robot["token"])
    sa = bench.cluster.get("ServiceAccount", "team", "deployer") or {}
    assert sa["imagePullSecrets"] == [{"name": "deployer-quay-openshift"}]
    assert sorted(bench.cluster.writes[writes:]) == [
        ("create", "Secret", "team", "builder-quay-openshift"),
        ("patch", "ServiceAccount", "team", "deployer"),
        ("replace", "Secret", "team", "default-quay-openshift"),
    ]
    assert bench.state.builder_ready("team")

    # Nothing drifted since: the next resync only lists, once each, and writes nothing.
    await bench.scheduler.idle()
    quay_calls, writes = len(bench.quay.calls), len(bench.cluster.writes)
    reads = len(bench.cluster.reads)
    bench.reconciler.plan_resync("team", quay_due_after=3600.0)
    await bench.scheduler.run("team")

    assert bench.quay.calls[quay_calls:] == []
    assert bench.cluster.writes[writes:] == []
    assert sorted(bench.cluster.reads[reads:]) == [
        ("list", "ImageStream", "team"),
        ("list", "Secret", "team"),
        ("list", "ServiceAccount", "team"),
    ]
    # The relist was the resync's: the pass after it, with no resync planned, reads nothing.
    reads = len(bench.cluster.reads)
    await bench.scheduler.run("team")
    assert bench.cluster.reads[reads:] == []
    await bench.stop()


async def test_a_passive_replica_writes_nothing_and_still_knows_the_destination() -> None:
    bench = Bench()
    await bench.add_integration()
    bench.active = False
    calls, writes = len(bench.quay.calls), len(bench.cluster.writes)
    await bench.provisioned("team")

    assert bench.quay.calls[calls:] == []
    assert bench.cluster.writes[writes:] == []
    destination = bench.state.destination_for("team")
    assert destination is not None and destination.organization == "openshift_team"
    await bench.stop()
