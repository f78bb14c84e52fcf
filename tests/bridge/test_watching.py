"""The controller's informers: list, watch, relist after 410, selectors, errors, per-object order.

Against a real simulator (its ``--history-limit`` makes an old resourceVersion expire, as etcd
compaction does). A misbehaving API server (watch ``ERROR`` events, broken lines, a stream that
ends at once) cannot be had from the simulator, so a small aiohttp server plays it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp.web
import kubernetes.client
import pytest

from bridge.kube.cluster import Cluster
from bridge.kube.connection import load_connection
from bridge.kube.watching import Informer, KeyedDispatch, Source
from bridge.metrics import Metrics
from devstack.sim import SimServer, sim_server

Events = list[tuple[str, str, str]]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with sim_server("--history-limit", "5") as server:
        yield server


@pytest.fixture
def core(sim: SimServer) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(sim.api_client())


def _namespace(core: kubernetes.client.CoreV1Api, name: str) -> None:
    core.create_namespace({"metadata": {"name": name}})


def _configmap(name: str, labels: dict[str, str] | None = None, value: str = "1") -> Any:
    return {"metadata": {"name": name, "labels": labels or {}}, "data": {"v": value}}


class Recorder:
    """A handler that records (type, name, data value) of every event it is given."""

    def __init__(self) -> None:
        self.events: Events = []
        self.changed = asyncio.Event()

    async def __call__(self, event_type: str, body: dict[str, Any]) -> None:
        value = str((body.get("data") or {}).get("v", ""))
        self.events.append((event_type, body["metadata"]["name"], value))
        self.changed.set()

    async def until(self, wanted: tuple[str, str, str], timeout: float = 10.0) -> None:
        async def seen() -> None:
            while wanted not in self.events:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(seen(), timeout)


@contextlib.asynccontextmanager
async def following(
    cluster: Cluster, source: Source, recorder: Recorder
) -> AsyncIterator[tuple[Informer, Metrics]]:
    metrics = Metrics()
    informer = Informer(cluster, source, recorder, metrics)
    task = asyncio.get_running_loop().create_task(informer.run())
    try:
        await asyncio.wait_for(informer.synced.wait(), 10)
        yield informer, metrics
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await informer.dispatch.cancel()


@contextlib.asynccontextmanager
async def bridge_cluster(kubeconfig: str) -> AsyncIterator[Cluster]:
    cluster = Cluster(load_connection(kubeconfig), Metrics())
    try:
        yield cluster
    finally:
        await cluster.aclose()


async def test_an_informer_hands_out_the_listing_then_every_change_in_order(
    sim: SimServer, core: kubernetes.client.CoreV1Api
) -> None:
    _namespace(core, "w-order")
    core.create_namespaced_config_map("w-order", _configmap("before"))
    recorder = Recorder()
    source = Source("configmaps", "/api/v1/namespaces/w-order/configmaps")
    async with bridge_cluster(sim.kubeconfig) as cluster, following(cluster, source, recorder):
        await recorder.until(("ADDED", "before", "1"))
        await asyncio.to_thread(core.create_namespaced_config_map, "w-order", _configmap("after"))
        await asyncio.to_thread(
            core.patch_namespaced_config_map, "before", "w-order", {"data": {"v": "2"}}
        )
        await asyncio.to_thread(core.delete_namespaced_config_map, "before", "w-order")
        await recorder.until(("DELETED", "before", "2"))
        await recorder.until(("ADDED", "after", "1"))
    about_before = [e for e in recorder.events if e[1] == "before"]
    assert about_before[0] == ("ADDED", "before", "1")
    assert about_before[-1] == ("DELETED", "before", "2")
    # Events of one object may be coalesced, never reordered.
    assert about_before in (
        [("ADDED", "before", "1"), ("MODIFIED", "before", "2"), ("DELETED", "before", "2")],
        [("ADDED", "before", "1"), ("DELETED", "before", "2")],
    )


async def test_selectors_keep_other_objects_away(
    sim: SimServer, core: kubernetes.client.CoreV1Api
) -> None:
    _namespace(core, "w-select")
    core.create_namespaced_config_map("w-select", _configmap("mine", {"owner": "bridge"}))
    core.create_namespaced_config_map("w-select", _configmap("theirs"))
    core.create_namespaced_config_map("w-select", _configmap("named"))
    by_label, by_name = Recorder(), Recorder()
    labelled = Source(
        "configmaps", "/api/v1/namespaces/w-select/configmaps", label_selector="owner=bridge"
    )
    named = Source(
        "configmaps/named",
        "/api/v1/namespaces/w-select/configmaps",
        field_selector="metadata.name=named",
    )
    async with (
        bridge_cluster(sim.kubeconfig) as cluster,
        following(cluster, labelled, by_label),
        following(cluster, named, by_name),
    ):
        await asyncio.to_thread(
            core.patch_namespaced_config_map, "theirs", "w-select", {"data": {"v": "9"}}
        )
        await asyncio.to_thread(
            core.patch_namespaced_config_map, "mine", "w-select", {"data": {"v": "3"}}
        )
        await asyncio.to_thread(
            core.patch_namespaced_config_map, "named", "w-select", {"data": {"v": "4"}}
        )
        await by_label.until(("MODIFIED", "mine", "3"))
        await by_name.until(("MODIFIED", "named", "4"))
    assert {name for _, name, _ in by_label.events} == {"mine"}
    assert {name for _, name, _ in by_name.events} == {"named"}


async def test_an_expired_version_is_listed_again_and_deletions_meanwhile_are_reported(
    sim: SimServer, core: kubernetes.client.CoreV1Api
) -> None:
    _namespace(core, "w-expire")
    for name in ("stays", "goes"):
        core.create_namespaced_config_map("w-expire", _configmap(name))
    recorder = Recorder()
    source = Source("configmaps", "/api/v1/namespaces/w-expire/configmaps")
    async with bridge_cluster(sim.kubeconfig) as cluster:
        metrics = Metrics()
        informer = Informer(cluster, source, recorder, metrics)
        task = asyncio.get_running_loop().create_task(informer.run())
        await asyncio.wait_for(informer.synced.wait(), 10)
        await recorder.until(("ADDED", "goes", "1"))
        task.cancel()  # the watch is down ...
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # ... while more changes happen than the server keeps (history limit 5).
        core.delete_namespaced_config_map("goes", "w-expire")
        for index in range(8):
            core.create_namespaced_config_map("w-expire", _configmap(f"new-{index}"))
        core.patch_namespaced_config_map("stays", "w-expire", {"data": {"v": "5"}})
        recorder.events.clear()
        task = asyncio.get_running_loop().create_task(informer.run())
        try:
            await recorder.until(("DELETED", "goes", ""))  # only the metadata last seen
            await recorder.until(("ADDED", "stays", "5"))
            await recorder.until(("ADDED", "new-7", "1"))
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await informer.dispatch.cancel()
    text = metrics.render().decode()
    assert 'quay_bridge_watch_restarts_total{reason="expired",resource="configmaps"}' in text
    # Every object is handed out once after the relist, none twice.
    names = [name for _, name, _ in recorder.events]
    assert len(names) == len(set(names))


async def test_a_collection_that_is_not_served_is_reported_and_retried(
    sim: SimServer, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    source = Source("widgets", "/apis/example.com/v1/widgets")
    caplog.set_level(logging.WARNING, logger="bridge.kube.watching")
    async with bridge_cluster(sim.kubeconfig) as cluster:
        metrics = Metrics()
        informer = Informer(cluster, source, recorder, metrics)
        task = asyncio.get_running_loop().create_task(informer.run())
        await asyncio.sleep(1.0)
        assert not task.done(), "the informer keeps trying"
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    warnings = [r.getMessage() for r in caplog.records if "widgets" in r.getMessage()]
    assert len(warnings) == 1, "the same failure is reported once, not on every retry"
    assert "404" in warnings[0] and "is the API served" in warnings[0]
    assert not informer.synced.is_set()


class Misbehaving:
    """An API server whose watches send what a real one may: ERRORs, bad lines, early ends."""

    def __init__(self) -> None:
        self.watches = 0
        self.lists = 0
        self.item: dict[str, Any] = {
            "metadata": {"name": "one", "namespace": "x", "resourceVersion": "10"}
        }

    async def handle(self, request: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
        if request.query.get("watch") != "true":
            self.lists += 1
            version = self.item["metadata"]["resourceVersion"]
            return aiohttp.web.json_response(
                {"kind": "List", "metadata": {"resourceVersion": version}, "items": [self.item]}
            )
        self.watches += 1
        response = aiohttp.web.StreamResponse()
        await response.prepare(request)
        if self.watches == 1:
            self.item = {
                "metadata": {**self.item["metadata"], "resourceVersion": "11"},
                "data": {"v": "2"},
            }
            event = {"type": "MODIFIED", "object": self.item}
            await response.write(json.dumps(event).encode())
            await response.write(b"\n")
            error = {"kind": "Status", "code": 500, "message": "etcd is unhappy"}
            await response.write(json.dumps({"type": "ERROR", "object": error}).encode() + b"\n")
        elif self.watches == 2:
            await response.write(b'{"type": "MODIFIED", "obj\n')  # a broken line
        elif self.watches == 3:
            expired = {"kind": "Status", "code": 410, "message": "too old resource version"}
            await response.write(json.dumps({"type": "ERROR", "object": expired}).encode() + b"\n")
        else:
            await asyncio.sleep(30)
        return response


async def test_watch_errors_and_broken_lines_lead_to_a_retry_never_to_a_crash(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server = Misbehaving()
    app = aiohttp.web.Application()
    app.router.add_get("/api/v1/things", server.handle)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    recorder = Recorder()
    caplog.set_level(logging.WARNING, logger="bridge.kube.watching")
    try:
        async with bridge_cluster(str(kubeconfig)) as cluster:
            metrics = Metrics()
            informer = Informer(cluster, Source("things", "/api/v1/things"), recorder, metrics)
            task = asyncio.get_running_loop().create_task(informer.run())
            try:
                await recorder.until(("MODIFIED", "one", "2"))

                async def relisted() -> None:
                    while server.watches < 4:
                        await asyncio.sleep(0.05)

                await asyncio.wait_for(relisted(), 10)
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await informer.dispatch.cancel()
    finally:
        await runner.cleanup()
    messages = " | ".join(r.getMessage() for r in caplog.records)
    assert "etcd is unhappy" in messages
    assert "things" in messages and "JSONDecodeError" in messages
    assert server.lists == 2, "listed at start and again after the 410, not after other errors"
    # The relist after 410 found "one" at the version already handed out: nothing is repeated.
    assert recorder.events == [("ADDED", "one", ""), ("MODIFIED", "one", "2")]


async def test_dispatch_runs_one_object_at_a_time_and_coalesces_but_never_across_a_deletion() -> (
    None
):
    seen: list[tuple[str, str]] = []
    gate = asyncio.Event()
    running: set[str] = set()
    overlapping: list[str] = []

    async def handler(event_type: str, body: dict[str, Any]) -> None:
        name = body["metadata"]["name"]
        if name in running:
            overlapping.append(name)
        running.add(name)
        try:
            if name == "a" and not gate.is_set():
                await gate.wait()
            seen.append((event_type, f"{name}@{body['metadata']['resourceVersion']}"))
        finally:
            running.discard(name)

    dispatch = KeyedDispatch("things", handler)

    def submit(event_type: str, name: str, version: str) -> None:
        body = {"metadata": {"name": name, "resourceVersion": version}}
        dispatch.submit(("", name), event_type, body)

    submit("ADDED", "a", "1")  # held at the gate
    await asyncio.sleep(0)
    submit("MODIFIED", "a", "2")
    submit("MODIFIED", "a", "3")  # replaces 2
    submit("DELETED", "a", "3")
    submit("ADDED", "a", "4")  # re-created: kept apart from the deletion
    submit("MODIFIED", "a", "5")  # replaces 4
    submit("ADDED", "b", "1")  # another object is not held up by "a"
    await asyncio.sleep(0.05)
    assert seen == [("ADDED", "b@1")]
    gate.set()
    await asyncio.wait_for(dispatch.idle(), 5)
    assert [e for e in seen if e[1].startswith("a")] == [
        ("ADDED", "a@1"),
        ("MODIFIED", "a@3"),
        ("DELETED", "a@3"),
        ("MODIFIED", "a@5"),
    ]
    assert overlapping == []


async def test_a_failing_handler_is_logged_and_the_next_event_still_handled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handled: list[str] = []

    async def handler(event_type: str, body: dict[str, Any]) -> None:
        if body["metadata"]["resourceVersion"] == "1":
            raise RuntimeError("boom")
        handled.append(body["metadata"]["resourceVersion"])

    dispatch = KeyedDispatch("things", handler)
    caplog.set_level(logging.ERROR, logger="bridge.kube.watching")
    dispatch.submit(("ns", "x"), "ADDED", {"metadata": {"name": "x", "resourceVersion": "1"}})
    dispatch.submit(("ns", "x"), "MODIFIED", {"metadata": {"name": "x", "resourceVersion": "2"}})
    await asyncio.wait_for(dispatch.idle(), 5)
    assert handled == ["2"]
    assert any("things ns/x: handler failed" in r.getMessage() for r in caplog.records)
