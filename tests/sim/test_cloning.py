"""Deep copies of JSON trees: equal, independent, and faithful for values that are not JSON."""

from __future__ import annotations

from typing import Any

from sim.cloning import clone


def test_a_clone_is_equal_and_shares_no_container() -> None:
    doc: dict[str, Any] = {
        "metadata": {"name": "x", "labels": {"a": "1"}},
        "items": [{"n": 1, "f": 1.5, "b": True, "z": None}, [1, [2]]],
    }
    copied = clone(doc)
    assert copied == doc
    copied["metadata"]["labels"]["a"] = "2"
    copied["items"][0]["n"] = 9
    copied["items"][1][1].append(3)
    assert doc["metadata"]["labels"] == {"a": "1"}
    assert doc["items"] == [{"n": 1, "f": 1.5, "b": True, "z": None}, [1, [2]]]


def test_values_that_are_not_json_are_still_deep_copied() -> None:
    inner = [1]
    doc = {"t": (inner, "x"), "s": {1, 2}}
    copied = clone(doc)
    assert copied == doc and type(copied["t"]) is tuple
    assert copied["t"][0] is not inner and copied["s"] is not doc["s"]
