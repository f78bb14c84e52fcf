"""The patch formats as pure functions: RFC 6902 strictness, RFC 7386, strategic merge lists."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sim.patching import (
    PatchError,
    PatchTestFailed,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_patch,
)

DOC = {"metadata": {"name": "x", "labels": {"a": "1"}}, "list": [1, 2, 3]}


class TestJsonPatch:
    @pytest.mark.parametrize(
        ("ops", "expected"),
        [
            (
                [{"op": "add", "path": "/metadata/labels/b", "value": "2"}],
                {**DOC, "metadata": {"name": "x", "labels": {"a": "1", "b": "2"}}},
            ),
            ([{"op": "add", "path": "/list/-", "value": 4}], {**DOC, "list": [1, 2, 3, 4]}),
            ([{"op": "add", "path": "/list/0", "value": 0}], {**DOC, "list": [0, 1, 2, 3]}),
            ([{"op": "remove", "path": "/list/1"}], {**DOC, "list": [1, 3]}),
            (
                [{"op": "replace", "path": "/metadata/name", "value": "y"}],
                {**DOC, "metadata": {"name": "y", "labels": {"a": "1"}}},
            ),
            (
                [{"op": "move", "from": "/list", "path": "/moved"}],
                {"metadata": DOC["metadata"], "moved": [1, 2, 3]},
            ),
            ([{"op": "copy", "from": "/list/0", "path": "/first"}], {**DOC, "first": 1}),
            ([{"op": "test", "path": "/metadata/name", "value": "x"}], DOC),
            (
                [{"op": "add", "path": "/metadata/labels/a~1b", "value": "s"}],
                {**DOC, "metadata": {"name": "x", "labels": {"a": "1", "a/b": "s"}}},
            ),
        ],
        ids=[
            "add key",
            "append",
            "insert",
            "remove",
            "replace",
            "move",
            "copy",
            "test",
            "escaped key",
        ],
    )
    def test_operations_apply_as_rfc_6902_says(
        self, ops: list[dict[str, Any]], expected: dict[str, Any]
    ) -> None:
        assert apply_json_patch(DOC, ops) == expected

    @pytest.mark.parametrize(
        "ops",
        [
            [{"op": "add", "path": "/metadata/annotations/x", "value": "y"}],
            [{"op": "remove", "path": "/missing"}],
            [{"op": "replace", "path": "/missing", "value": 1}],
            [{"op": "add", "path": "/list/9", "value": 1}],
            [{"op": "add", "path": "/list/01", "value": 1}],
            [{"op": "frobnicate", "path": "/x"}],
            [{"op": "add", "path": "/x"}],
            {"op": "add"},
        ],
        ids=[
            "add under missing parent",
            "remove missing",
            "replace missing",
            "index out of range",
            "leading zero",
            "unknown op",
            "no value",
            "not a list",
        ],
    )
    def test_inapplicable_patches_are_errors(self, ops: Any) -> None:
        with pytest.raises(PatchError):
            apply_json_patch(DOC, ops)

    def test_a_failed_test_is_its_own_error_and_nothing_is_applied(self) -> None:
        ops = [
            {"op": "add", "path": "/new", "value": 1},
            {"op": "test", "path": "/metadata/name", "value": "z"},
        ]
        with pytest.raises(PatchTestFailed):
            apply_json_patch(DOC, ops)
        assert "new" not in DOC


class TestMergePatch:
    @pytest.mark.parametrize(
        ("doc", "patch", "expected"),
        [
            ({"a": "b"}, {"a": "c"}, {"a": "c"}),
            ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
            ({"a": "b"}, {"a": None}, {}),
            ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
            ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
            ({"a": "foo"}, "bar", "bar"),
            ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
        ],
    )
    def test_rfc_7386_examples(self, doc: Any, patch: Any, expected: Any) -> None:
        assert apply_merge_patch(doc, patch) == expected


class TestStrategicMerge:
    def test_service_account_secrets_merge_by_name_and_pull_secrets_are_replaced(self) -> None:
        sa = {"secrets": [{"name": "a"}], "imagePullSecrets": [{"name": "a"}, {"name": "b"}]}
        patched = apply_strategic_patch(
            sa, {"secrets": [{"name": "c"}], "imagePullSecrets": [{"name": "b"}, {"name": "c"}]}
        )
        # kube-apiserver: merged lists put the patch's new entries before the live ones;
        # imagePullSecrets has no merge strategy
        assert patched == {
            "secrets": [{"name": "c"}, {"name": "a"}],
            "imagePullSecrets": [{"name": "b"}, {"name": "c"}],
        }

    def test_merged_items_keep_their_live_position(self) -> None:
        sa = {"secrets": [{"name": "a"}, {"name": "b", "x": 1}]}
        patched = apply_strategic_patch(sa, {"secrets": [{"name": "b", "y": 2}, {"name": "n"}]})
        assert patched == {"secrets": [{"name": "a"}, {"name": "b", "x": 1, "y": 2}, {"name": "n"}]}

    def test_patch_delete_removes_one_item(self) -> None:
        sa = {"secrets": [{"name": "a"}, {"name": "b"}]}
        assert apply_strategic_patch(sa, {"secrets": [{"name": "a", "$patch": "delete"}]}) == {
            "secrets": [{"name": "b"}]
        }

    def test_finalizers_merge_as_a_set_and_delete_from_primitive_list_removes(self) -> None:
        obj = {"metadata": {"finalizers": ["x"]}}
        assert apply_strategic_patch(obj, {"metadata": {"finalizers": ["y", "x"]}}) == {
            "metadata": {"finalizers": ["y", "x"]}
        }
        assert apply_strategic_patch(obj, {"metadata": {"finalizers": ["y"]}}) == {
            "metadata": {"finalizers": ["y", "x"]}
        }
        assert apply_strategic_patch(
            obj, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}}
        ) == {"metadata": {"finalizers": []}}

    def test_lists_without_a_merge_key_are_replaced_and_null_deletes(self) -> None:
        assert apply_strategic_patch(
            {"data": {"a": "1"}, "l": [1, 2]}, {"data": {"a": None}, "l": [3]}
        ) == {"data": {}, "l": [3]}


def _ids_of_containers(value: Any) -> set[int]:
    found: set[int] = set()
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found.add(id(node))
            stack.extend(node.values())
        elif isinstance(node, list):
            found.add(id(node))
            stack.extend(node)
    return found


STORED = {
    "metadata": {"name": "sa", "labels": {"a": "1"}, "finalizers": ["x"]},
    "secrets": [{"name": "s1"}, {"name": "s2"}],
    "imagePullSecrets": [{"name": "s1"}],
    "spec": {"tags": [{"name": "latest", "from": {"kind": "DockerImage", "name": "a"}}]},
}


@pytest.mark.parametrize(
    ("apply", "patch"),
    [
        (apply_json_patch, [{"op": "add", "path": "/secrets/-", "value": {"name": "s3"}}]),
        (apply_json_patch, [{"op": "copy", "from": "/spec", "path": "/copied"}]),
        (apply_merge_patch, {"metadata": {"labels": {"b": "2"}}, "extra": {"deep": [1]}}),
        (
            apply_strategic_patch,
            {
                "secrets": [{"name": "s3"}, {"name": "s1", "$patch": "delete"}],
                "metadata": {"finalizers": ["y"]},
                "spec": {"tags": [{"name": "latest", "from": {"name": "b"}}]},
            },
        ),
    ],
)
def test_a_patch_leaves_the_document_and_the_patch_alone_and_shares_nothing_with_them(
    apply: Any, patch: Any
) -> None:
    """Stored versions are shared by readers, so a patch must work on a copy of its own."""
    doc, body = copy.deepcopy(STORED), copy.deepcopy(patch)
    result = apply(doc, body)
    assert doc == STORED and body == patch
    assert not _ids_of_containers(result) & (_ids_of_containers(doc) | _ids_of_containers(body))
