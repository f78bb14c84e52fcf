"""Lists come ordered by namespace and name whatever the order of writes, selectors combined."""

from __future__ import annotations

from typing import Any

from sim.machinery import Machinery
from sim.selectors import all_of, field_matcher, label_matcher
from sim.settings import Settings
from sim.store import Store

KEY = ("", "configmaps")


def _cm(namespace: str, name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
    }


def test_stored_objects_come_sorted_by_namespace_then_name() -> None:
    store = Store()
    for ns, name in [("b", "z"), ("a", "y"), ("b", "a"), ("a", "b10"), ("a", "b2")]:
        store.put(KEY, _cm(ns, name), None)
    order = [
        (o["metadata"]["namespace"], o["metadata"]["name"]) for o in store.sorted_objects(KEY, None)
    ]
    assert order == [("a", "b10"), ("a", "b2"), ("a", "y"), ("b", "a"), ("b", "z")]
    assert [o["metadata"]["name"] for o in store.sorted_objects(KEY, "b")] == ["a", "z"]
    assert store.sorted_objects(KEY, "missing") == []
    assert store.sorted_objects(("", "secrets"), None) == []


def test_a_list_applies_label_and_field_selectors_together() -> None:
    m = Machinery(Settings())
    for ns, name, tier in [
        ("b", "x", "web"),
        ("a", "x", "web"),
        ("a", "y", "db"),
        ("a", "z", "web"),
    ]:
        m.store.put(KEY, _cm(ns, name, tier=tier), None)
    rt = m.rt("", "configmaps")
    listed = m.list(rt, None, "tier=web", "metadata.name!=z")
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in listed["items"]] == [
        ("a", "x"),
        ("b", "x"),
    ]
    assert listed["kind"] == "ConfigMapList" and listed["apiVersion"] == "v1"
    assert [
        o["metadata"]["name"] for o in m.list(rt, "a", "tier in (web,db),tier!=db")["items"]
    ] == [
        "x",
        "z",
    ]


def test_all_of_combines_matchers_and_ignores_missing_ones() -> None:
    web = label_matcher("tier=web")
    named = field_matcher("metadata.name=x")
    both = all_of(web, None, named)
    assert both is not None
    assert both(_cm("a", "x", tier="web"))
    assert not both(_cm("a", "y", tier="web")) and not both(_cm("a", "x", tier="db"))
    assert all_of(None, None) is None
    assert all_of(web) is web
