"""Encoding once and sharing: cached JSON of stored objects, list splicing, batched watch streams.

The store hands every reader the same JSON bytes for a stored version and each watcher the events
that piled up since it last wrote; these tests hold that what clients see is still exactly the
objects and events, in order, with every change visible at once.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import requests

from devstack.sim import SimServer
from sim.encoding import EncodingCache, dumps, dumps_list
from sim.store import Event, Store, Watcher

KEY = ("", "configmaps")


def _cm(name: str, namespace: str = "a", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": dict(data),
    }


def test_dumps_list_splices_item_bytes_into_the_same_document() -> None:
    doc = {
        "kind": "ConfigMapList",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": "7"},
        "items": [_cm("x", v="é"), _cm("y")],
    }
    assert json.loads(dumps_list(doc)) == doc
    assert json.loads(dumps_list({**doc, "items": []})) == {**doc, "items": []}
    assert json.loads(dumps_list({"items": [_cm("z")]})) == {"items": [_cm("z")]}
    assert list(json.loads(dumps_list(doc))) == ["kind", "apiVersion", "metadata", "items"]


def test_the_cache_answers_only_for_the_stored_version() -> None:
    store = Store()
    first = store.put(KEY, _cm("c", v="1"), None)
    assert json.loads(store.encode(first)) == first
    assert store.encode(first) is store.encode(first)
    second = store.put(KEY, _cm("c", v="2"), first)
    assert json.loads(store.encode(second))["data"] == {"v": "2"}
    # the replaced version is no longer cached, and its own content is what it encodes to
    assert json.loads(store.encode(first))["data"] == {"v": "1"}
    assert len(store.encodings) == 1
    last = store.remove(KEY, "a", "c")
    assert last is not None and json.loads(store.encode(last))["data"] == {"v": "2"}
    assert len(store.encodings) == 0


def test_an_object_that_is_not_stored_is_encoded_afresh_each_time() -> None:
    cache = EncodingCache()
    obj = _cm("loose")
    assert cache.encode(obj) == dumps(obj)
    obj["data"]["k"] = "changed"
    assert json.loads(cache.encode(obj))["data"] == {"k": "changed"}


def test_event_lines_are_one_json_event_with_the_cached_object_bytes() -> None:
    store = Store()
    stored = store.put(KEY, _cm("e", v="1"), None)
    event = Event("ADDED", 1, stored)
    line = event.line(store.encode)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == {"type": "ADDED", "object": stored}
    assert store.encode(stored) in line


async def test_a_watcher_takes_everything_pushed_since_it_last_took_in_order() -> None:
    store = Store()
    watcher, first = store.watch(KEY, "a", None, [])
    assert first == []
    for i in range(3):
        store.put(KEY, _cm(f"w{i}"), None)
    store.put(KEY, _cm("other", namespace="b"), None)
    events = await watcher.take()
    assert [e.obj["metadata"]["name"] for e in events] == ["w0", "w1", "w2"]
    assert [e.rv for e in events] == sorted(e.rv for e in events)
    assert not watcher.pending


async def test_a_waiting_watcher_wakes_for_a_change_and_for_its_end() -> None:
    store = Store()
    watcher, _ = store.watch(KEY, None, None, [])
    waiting = asyncio.create_task(watcher.take())
    await asyncio.sleep(0)
    assert not waiting.done()
    store.put(KEY, _cm("late"), None)
    assert [e.type for e in await asyncio.wait_for(waiting, 1)] == ["ADDED"]

    expiring = asyncio.create_task(watcher.take())
    await asyncio.sleep(0)
    watcher.expire()
    assert await asyncio.wait_for(expiring, 1) == [] and watcher.expired

    ended = Watcher(None, [])
    store.close_all()
    ended.end()
    assert await asyncio.wait_for(ended.take(), 1) == [] and ended.ended


def _watch_lines(sim: SimServer, path: str, params: dict[str, str], out: list[bytes]) -> None:
    with requests.get(
        f"{sim.url}{path}", params={"watch": "true", **params}, stream=True, timeout=30
    ) as resp:
        out.extend(line for line in resp.iter_lines() if line)


def test_a_burst_of_changes_reaches_every_watcher_complete_and_in_order(
    sim: SimServer, namespace: str
) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    rv = requests.get(f"{sim.url}{path}", timeout=5).json()["metadata"]["resourceVersion"]
    for i in range(30):
        body = {"metadata": {"name": f"b{i:02d}", "labels": {"odd": str(i % 2)}}}
        assert requests.post(f"{sim.url}{path}", json=body, timeout=5).status_code == 201
    streams: list[list[bytes]] = [[], [], []]
    threads = [
        threading.Thread(
            target=_watch_lines,
            args=(sim, path, {"resourceVersion": rv, "timeoutSeconds": "2", **extra}, out),
        )
        for extra, out in zip(
            ({}, {"labelSelector": "odd=1"}, {"fieldSelector": "metadata.name=b07"}),
            streams,
            strict=True,
        )
    ]
    for thread in threads:
        thread.start()
    # one request deletes them all: the events are emitted back to back, as a burst
    deleted = requests.delete(f"{sim.url}{path}", timeout=5)
    assert deleted.status_code == 200 and len(deleted.json()["items"]) == 30
    for thread in threads:
        thread.join(30)
    everything, odd, one = ([json.loads(line) for line in s] for s in streams)
    names = [f"b{i:02d}" for i in range(30)]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in everything] == [
        ("ADDED", n) for n in names
    ] + [("DELETED", n) for n in names]
    assert [e["object"]["metadata"]["name"] for e in odd] == names[1::2] * 2
    assert [e["type"] for e in one] == ["ADDED", "DELETED"]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in everything]
    assert versions == sorted(versions)


def test_reads_after_a_write_carry_the_new_version(sim: SimServer, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    created = requests.post(
        f"{sim.url}{path}", json={"metadata": {"name": "v"}, "data": {"n": "1"}}, timeout=5
    ).json()
    assert requests.get(f"{sim.url}{path}/v", timeout=5).json() == created
    patched = requests.patch(
        f"{sim.url}{path}/v",
        data=json.dumps({"data": {"n": "2"}}),
        headers={"Content-Type": "application/merge-patch+json"},
        timeout=5,
    ).json()
    assert patched["data"] == {"n": "2"}
    assert requests.get(f"{sim.url}{path}/v", timeout=5).json() == patched
    assert requests.get(f"{sim.url}{path}", timeout=5).json()["items"] == [patched]
    deleted = requests.delete(f"{sim.url}{path}/v", timeout=5).json()
    assert deleted["status"] == "Success" and deleted["details"]["name"] == "v"
    assert requests.get(f"{sim.url}{path}", timeout=5).json()["items"] == []
