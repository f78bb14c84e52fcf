"""What each watched object's event makes the controller do, on an in-memory cluster and Quay."""

from __future__ import annotations

import asyncio

from tests.bridge.fakes import Bench


async def test_a_new_image_stream_costs_one_repository_creation_and_no_full_pass() -> None:
    bench = Bench()
    await bench.add_integration()
    await bench.provisioned("team")
    calls = len(bench.quay.calls)

    stream = bench.cluster.put("ImageStream", {"metadata": {"name": "app", "namespace": "team"}})
    await bench.router.on_image_stream("ADDED", stream)

    assert bench.quay.calls[calls:] == ["create_repository"]
    assert "app" in bench.quay.organizations["openshift_team"].repositories
    assert "app" in bench.state.records["team"].repositories
    await bench.stop()


async def test_a_deleted_image_stream_deletes_its_repository_only_by_policy() -> None:
    for policy, kept in (("Retain", True), ("Delete", False)):
        bench = Bench()
        await bench.add_integration(repositoryDeletionPolicy=policy)
        stream = bench.cluster.put(
            "ImageStream", {"metadata": {"name": "app", "namespace": "team"}}
        )
        await bench.provisioned("team")

        await bench.router.on_image_stream("DELETED", stream)

        assert ("app" in bench.quay.organizations["openshift_team"].repositories) is kept
        assert "app" not in bench.state.records["team"].repositories
        await bench.stop()


async def test_a_deleted_pull_secret_is_written_again() -> None:
    bench = Bench()
    await bench.add_integration()
    await bench.provisioned("team")
    secret = bench.cluster.get("Secret", "team", "builder-quay-openshift")
    assert secret is not None
    bench.cluster.delete("Secret", "team", "builder-quay-openshift")

    await bench.router.on_secret("DELETED", secret)
    await bench.scheduler.idle()

    written = bench.cluster.get("Secret", "team", "builder-quay-openshift")
    assert written is not None and written["data"] == secret["data"]
    await bench.stop()


async def test_a_pull_secret_changed_by_someone_else_is_put_back() -> None:
    bench = Bench()
    await bench.add_integration()
    await bench.provisioned("team")
    secret = bench.cluster.get("Secret", "team", "default-quay-openshift") or {}
    good = dict(secret["data"])
    secret["data"] = {".dockerconfigjson": "e30="}  # "{}": no login at all
    changed = bench.cluster.put("Secret", secret)

    await bench.router.on_secret("MODIFIED", changed)
    await bench.scheduler.idle()

    assert (bench.cluster.get("Secret", "team", "default-quay-openshift") or {})["data"] == good
    await bench.stop()


async def test_a_service_account_made_later_is_linked_without_a_quay_call() -> None:
    bench = Bench()
    await bench.add_integration(
        serviceAccounts=[{"name": "builder", "role": "write"}, {"name": "pusher", "role": "write"}]
    )
    await bench.provisioned("team")
    assert "pusher" not in bench.state.records["team"].linked
    calls = len(bench.quay.calls)

    account = bench.cluster.put(
        "ServiceAccount", {"metadata": {"name": "pusher", "namespace": "team"}}
    )
    await bench.router.on_service_account("ADDED", account)

    assert bench.quay.calls[calls:] == []
    linked = bench.cluster.get("ServiceAccount", "team", "pusher") or {}
    assert linked["imagePullSecrets"] == [{"name": "pusher-quay-openshift"}]
    assert "pusher" in bench.state.records["team"].linked
    await bench.stop()


async def test_a_deleted_namespace_is_forgotten() -> None:
    bench = Bench()
    await bench.add_integration()
    await bench.provisioned("team")
    body = bench.cluster.get("Namespace", "", "team") or {}

    await bench.router.on_namespace("DELETED", body)

    assert "team" not in bench.state.records
    assert "team" not in bench.view.namespaces
    assert bench.view.caches.accounts.names("team") == []
    await bench.stop()


async def test_new_credentials_are_read_and_a_deleted_integration_drops_its_records() -> None:
    bench = Bench()
    integration = await bench.add_integration()
    await bench.provisioned("team")
    credentials = bench.cluster.get("Secret", "ops", "quay-token") or {}
    credentials["data"] = {"token": "bmV3LXRva2Vu"}  # "new-token"
    await bench.router.on_secret("MODIFIED", bench.cluster.put("Secret", credentials))
    await bench.scheduler.idle()
    assert bench.quay.token == "new-token"

    await bench.router.on_integration("DELETED", {"metadata": {"name": "quay"}})
    await bench.scheduler.idle()

    assert bench.state.records == {}
    assert "quay" not in bench.view.integrations
    assert bench.quay.closed and integration.client is None
    await bench.stop()


async def test_a_stream_that_arrives_during_a_pass_gets_its_repository_after_it() -> None:
    bench = Bench()
    await bench.add_integration()
    await bench.provisioned("team")
    lock = bench.scheduler.lock("team")
    await lock.acquire()  # a pass of the namespace is running
    stream = bench.cluster.put("ImageStream", {"metadata": {"name": "late", "namespace": "team"}})
    handled = asyncio.create_task(bench.router.on_image_stream("ADDED", stream))
    await asyncio.sleep(0.01)
    assert not handled.done(), "it waits for the pass instead of racing it"

    lock.release()
    await handled

    assert "late" in bench.quay.organizations["openshift_team"].repositories
    await bench.stop()
