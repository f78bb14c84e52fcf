"""Replay from a resourceVersion: exactly the later events, in order, or 410 when compacted."""

from __future__ import annotations

from typing import Any

import pytest

from sim.errors import ApiError
from sim.store import Store

KEY = ("", "configmaps")


def _cm(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "a"}}


def test_a_watch_replays_the_events_after_its_resource_version_in_order() -> None:
    store = Store()
    stored = [store.put(KEY, _cm(f"c{i}"), None) for i in range(6)]
    store.put(("", "secrets"), _cm("other-resource"), None)
    store.remove(KEY, "a", "c1")
    since = int(stored[3]["metadata"]["resourceVersion"])
    _, first = store.watch(KEY, None, since, [])
    assert [(e.type, e.obj["metadata"]["name"]) for e in first] == [
        ("ADDED", "c4"),
        ("ADDED", "c5"),
        ("DELETED", "c1"),
    ]
    assert all(e.rv > since for e in first)
    _, none = store.watch(KEY, None, store.rv, [])
    assert none == []
    _, everything = store.watch(KEY, None, 0, [])
    assert len(everything) == 7


def test_a_watch_older_than_the_kept_history_is_gone() -> None:
    store = Store(history_limit=3)
    first = store.put(KEY, _cm("c0"), None)
    for i in range(1, 6):
        store.put(KEY, _cm(f"c{i}"), None)
    with pytest.raises(ApiError) as err:
        store.watch(KEY, None, int(first["metadata"]["resourceVersion"]), [])
    assert err.value.code == 410
    _, kept = store.watch(KEY, None, store.rv - 2, [])
    assert [e.obj["metadata"]["name"] for e in kept] == ["c4", "c5"]
