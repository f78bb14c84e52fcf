"""Plans: the smallest set of changes, and none when everything is in place."""

from __future__ import annotations

import base64
import json
from typing import Any

import jsonpatch  # type: ignore[import-untyped]
import pytest

from bridge.model import dockercfg, planning
from bridge.model.quay_records import Prototype
from vocabulary import FINALIZER, MANAGED_LABEL

ORG = "openshift_ns"
DESIRED = {f"{ORG}+builder": "write", f"{ORG}+default": "read"}


def proto(pid: str, name: str, role: str, activating: object = None) -> Prototype:
    return {
        "id": pid,
        "role": role,
        "delegate": {"name": name, "kind": "user", "is_robot": True},
        "activating_user": activating,  # type: ignore[typeddict-item]
    }


class TestPrototypePlans:
    def test_an_empty_org_gets_one_prototype_per_robot(self) -> None:
        plan = planning.plan_prototypes(DESIRED, [])  # type: ignore[arg-type]
        assert sorted(plan.create) == [(f"{ORG}+builder", "write"), (f"{ORG}+default", "read")]
        assert not plan.update and not plan.delete

    def test_prototypes_in_place_give_an_empty_plan(self) -> None:
        observed = [proto("1", f"{ORG}+builder", "write"), proto("2", f"{ORG}+default", "read")]
        assert planning.plan_prototypes(DESIRED, observed).empty  # type: ignore[arg-type]

    def test_a_wrong_role_is_updated_and_duplicates_are_deleted(self) -> None:
        observed = [
            proto("1", f"{ORG}+builder", "read"),
            proto("2", f"{ORG}+builder", "write"),
            proto("3", f"{ORG}+default", "read"),
        ]
        plan = planning.plan_prototypes(DESIRED, observed)  # type: ignore[arg-type]
        assert plan.update == (("1", "write"),)
        assert plan.delete == ("2",)
        assert not plan.create

    def test_other_prototypes_are_left_alone(self) -> None:
        observed = [
            proto("9", "someone", "admin"),
            proto("8", f"{ORG}+builder", "read", activating={"name": "x"}),
        ]
        plan = planning.plan_prototypes(DESIRED, observed)  # type: ignore[arg-type]
        assert len(plan.create) == 2 and not plan.update and not plan.delete


def service_account(secrets: list[str] | None, pulls: list[str] | None) -> dict[str, Any]:
    sa: dict[str, Any] = {"metadata": {"name": "builder", "resourceVersion": "7"}}
    if secrets is not None:
        sa["secrets"] = [{"name": n} for n in secrets]
    if pulls is not None:
        sa["imagePullSecrets"] = [{"name": n} for n in pulls]
    return sa


class TestServiceAccountLinks:
    @pytest.mark.parametrize(
        ("secrets", "pulls"),
        [
            (None, None),
            (["builder-dockercfg-abcde"], ["builder-dockercfg-abcde"]),
            (["builder-quay-openshift"], None),
        ],
    )
    def test_link_patch_appends_and_keeps_openshift_entries(
        self, secrets: list[str] | None, pulls: list[str] | None
    ) -> None:
        sa = service_account(secrets, pulls)
        ops = planning.link_patch(sa, "builder-quay-openshift")
        assert ops is not None and ops[0]["op"] == "test"
        patched = jsonpatch.apply_patch(sa, ops)
        for field in ("secrets", "imagePullSecrets"):
            names = [e["name"] for e in patched[field]]
            assert names.count("builder-quay-openshift") == 1
            for kept in sa.get(field) or []:
                assert kept["name"] in names

    def test_a_linked_service_account_needs_no_patch(self) -> None:
        sa = service_account(["x", "builder-quay-openshift"], ["builder-quay-openshift"])
        assert planning.link_patch(sa, "builder-quay-openshift") is None
        assert planning.is_linked(sa, "builder-quay-openshift")

    def test_the_patch_fails_when_someone_else_wrote_in_between(self) -> None:
        sa = service_account([], [])
        ops = planning.link_patch(sa, "s")
        sa["metadata"]["resourceVersion"] = "8"
        with pytest.raises(jsonpatch.JsonPatchTestFailed):
            jsonpatch.apply_patch(sa, ops)


class TestNamespacePatches:
    def test_finalizer_label_and_annotation_are_added_once(self) -> None:
        ns = {"metadata": {"name": "a", "resourceVersion": "1", "finalizers": ["other"]}}
        ops = planning.namespace_patch(ns, {"x/y": "1"})
        assert ops is not None
        patched = jsonpatch.apply_patch(ns, ops)
        assert patched["metadata"]["finalizers"] == ["other", FINALIZER]
        assert patched["metadata"]["labels"] == {MANAGED_LABEL: "true"}
        assert patched["metadata"]["annotations"] == {"x/y": "1"}
        assert planning.namespace_patch(patched, {"x/y": "1"}) is None

    def test_release_removes_only_our_finalizer(self) -> None:
        ns = {"metadata": {"resourceVersion": "3", "finalizers": ["a", FINALIZER, "b"]}}
        ops = planning.release_patch(ns)
        assert ops is not None
        assert jsonpatch.apply_patch(ns, ops)["metadata"]["finalizers"] == ["a", "b"]
        assert planning.release_patch({"metadata": {"finalizers": ["a"]}}) is None

    def test_disowning_removes_our_finalizer_and_label_and_nothing_else(self) -> None:
        ns = {
            "metadata": {
                "resourceVersion": "4",
                "finalizers": ["a", FINALIZER],
                "labels": {MANAGED_LABEL: "true", "team": "x"},
                "annotations": {"keep": "me"},
            }
        }
        ops = planning.disown_patch(ns)
        assert ops is not None and ops[0] == {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": "4",
        }
        meta = jsonpatch.apply_patch(ns, ops)["metadata"]
        assert meta["finalizers"] == ["a"]
        assert meta["labels"] == {"team": "x"}
        assert meta["annotations"] == {"keep": "me"}
        assert planning.disown_patch({"metadata": meta}) is None
        assert planning.disown_patch({"metadata": {"labels": {MANAGED_LABEL: "x"}}})


class TestPullSecrets:
    def test_dockerconfigjson_is_keyed_by_registry_host(self) -> None:
        data = dockercfg.secret_data("quay.example.com:8443", "org+builder", "TOKEN")
        document = json.loads(base64.b64decode(data[".dockerconfigjson"]))
        entry = document["auths"]["quay.example.com:8443"]
        assert entry["username"] == "org+builder" and entry["password"] == "TOKEN"
        assert base64.b64decode(entry["auth"]).decode() == "org+builder:TOKEN"

    def test_a_secret_with_the_same_login_is_up_to_date(self) -> None:
        body = planning.desired_secret("s", "ns", "h:1", "org+b", "T", "qi")
        assert planning.secret_up_to_date(body, "h:1", "org+b", "T")
        assert not planning.secret_up_to_date(body, "h:1", "org+b", "NEW")
        assert not planning.secret_up_to_date(body, "other", "org+b", "T")
        assert not planning.secret_up_to_date(None, "h:1", "org+b", "T")

    @pytest.mark.parametrize(
        "data", [None, {}, {".dockerconfigjson": "!!"}, {".dockerconfigjson": ""}]
    )
    def test_unreadable_secret_data_reads_as_no_login(self, data: dict[str, str] | None) -> None:
        assert dockercfg.read_login(data, "h") is None
