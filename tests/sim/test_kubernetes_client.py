"""The official kubernetes client against a real simulator process: every verb and patch type."""

from __future__ import annotations

import threading
from typing import Any

import kubernetes.client
import pytest
from kubernetes import watch
from kubernetes.client.exceptions import ApiException

CM = {"metadata": {"name": "cm", "labels": {"app": "x"}}, "data": {"a": "1"}}


def core(api: kubernetes.client.ApiClient) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(api)


class TestCrud:
    def test_create_answers_201_and_fills_server_metadata(self, api: Any, namespace: str) -> None:
        data, status, _ = core(api).create_namespaced_config_map_with_http_info(namespace, CM)
        assert status == 201
        meta = data.metadata
        assert meta.uid and meta.creation_timestamp and meta.resource_version
        assert meta.namespace == namespace
        assert meta.generation is None or meta.generation == 1

    def test_generate_name_makes_a_unique_name(self, api: Any, namespace: str) -> None:
        body = {"metadata": {"generateName": "ev-"}, "data": {}}
        a = core(api).create_namespaced_config_map(namespace, body)
        b = core(api).create_namespaced_config_map(namespace, body)
        assert a.metadata.name.startswith("ev-") and len(a.metadata.name) == 8
        assert a.metadata.name != b.metadata.name

    def test_create_of_an_existing_name_is_409_already_exists(
        self, api: Any, namespace: str
    ) -> None:
        core(api).create_namespaced_config_map(namespace, CM)
        with pytest.raises(ApiException) as err:
            core(api).create_namespaced_config_map(namespace, CM)
        assert err.value.status == 409
        assert '"reason": "AlreadyExists"' in err.value.body

    def test_read_of_a_missing_object_is_404_not_found(self, api: Any, namespace: str) -> None:
        with pytest.raises(ApiException) as err:
            core(api).read_namespaced_secret("nope", namespace)
        assert err.value.status == 404
        assert 'secrets \\"nope\\" not found' in err.value.body

    def test_create_in_a_missing_namespace_is_404(self, api: Any) -> None:
        with pytest.raises(ApiException) as err:
            core(api).create_namespaced_config_map("no-such-ns", CM)
        assert err.value.status == 404

    def test_list_has_kind_api_version_and_resource_version(self, api: Any, namespace: str) -> None:
        core(api).create_namespaced_config_map(namespace, CM)
        raw = core(api).list_namespaced_config_map(namespace, _preload_content=False).json()
        assert raw["kind"] == "ConfigMapList" and raw["apiVersion"] == "v1"
        assert int(raw["metadata"]["resourceVersion"]) >= 1
        assert [i["metadata"]["name"] for i in raw["items"]] == ["cm"]

    def test_replace_with_a_stale_resource_version_is_409_conflict(
        self, api: Any, namespace: str
    ) -> None:
        created = core(api).create_namespaced_config_map(namespace, CM)
        created.data = {"a": "2"}
        core(api).replace_namespaced_config_map("cm", namespace, created)
        created.data = {"a": "3"}
        with pytest.raises(ApiException) as err:
            core(api).replace_namespaced_config_map("cm", namespace, created)
        assert err.value.status == 409
        assert '"reason": "Conflict"' in err.value.body

    def test_replace_with_the_current_resource_version_bumps_it(
        self, api: Any, namespace: str
    ) -> None:
        created = core(api).create_namespaced_config_map(namespace, CM)
        created.data = {"a": "2"}
        replaced = core(api).replace_namespaced_config_map("cm", namespace, created)
        assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
        assert replaced.data == {"a": "2"}

    def test_delete_answers_a_success_status_and_removes_it(self, api: Any, namespace: str) -> None:
        created = core(api).create_namespaced_config_map(namespace, CM)
        raw = core(api).delete_namespaced_config_map("cm", namespace, _preload_content=False).json()
        # as kube-apiserver answers for kinds that do not return the deleted object
        assert raw["kind"] == "Status" and raw["status"] == "Success"
        assert raw["details"] == {
            "name": "cm",
            "group": "",
            "kind": "configmaps",
            "uid": created.metadata.uid,
        }
        with pytest.raises(ApiException) as err:
            core(api).read_namespaced_config_map("cm", namespace)
        assert err.value.status == 404

    def test_label_and_field_selectors_filter_lists(self, api: Any, namespace: str) -> None:
        for name, tier in [("a", "web"), ("b", "db"), ("c", "web")]:
            core(api).create_namespaced_config_map(
                namespace, {"metadata": {"name": name, "labels": {"tier": tier}}}
            )
        core(api).create_namespaced_config_map(namespace, {"metadata": {"name": "d"}})

        def names(**kw: str) -> list[str]:
            return [
                i.metadata.name for i in core(api).list_namespaced_config_map(namespace, **kw).items
            ]

        assert names(label_selector="tier=web") == ["a", "c"]
        assert names(label_selector="tier!=web") == ["b", "d"]
        assert names(label_selector="tier in (db,web)") == ["a", "b", "c"]
        assert names(label_selector="tier notin (web)") == ["b", "d"]
        assert names(label_selector="tier") == ["a", "b", "c"]
        assert names(label_selector="!tier") == ["d"]
        assert names(field_selector="metadata.name=b") == ["b"]


class TestPatch:
    @pytest.mark.parametrize(
        ("content_type", "patch", "expected"),
        [
            (
                "application/json-patch+json",
                [{"op": "add", "path": "/data/b", "value": "2"}],
                {"a": "1", "b": "2"},
            ),
            ("application/merge-patch+json", {"data": {"a": None, "c": "3"}}, {"c": "3"}),
            ("application/strategic-merge-patch+json", {"data": {"d": "4"}}, {"a": "1", "d": "4"}),
        ],
    )
    def test_each_patch_type_is_applied_by_content_type(
        self, api: Any, namespace: str, content_type: str, patch: Any, expected: dict[str, str]
    ) -> None:
        core(api).create_namespaced_config_map(namespace, CM)
        patched = core(api).patch_namespaced_config_map(
            "cm", namespace, patch, _content_type=content_type
        )
        raw = {"data": patched.data}
        assert raw["data"] == expected

    def test_strategic_merge_appends_service_account_secrets_by_name(
        self, api: Any, namespace: str
    ) -> None:
        core(api).create_namespaced_service_account(
            namespace,
            {
                "metadata": {"name": "robot"},
                "secrets": [{"name": "a"}],
                "imagePullSecrets": [{"name": "a"}],
            },
        )
        patched = core(api).patch_namespaced_service_account(
            "robot",
            namespace,
            {"secrets": [{"name": "b"}], "imagePullSecrets": [{"name": "b"}, {"name": "a"}]},
        )

        # OpenShift's own pull secret (robot-dockercfg-*) may be linked too; ``secrets`` merges by
        # name (the patch's new entries first, as kube-apiserver orders them), ``imagePullSecrets``
        # has no merge strategy and is replaced
        def ours(items: Any) -> list[str]:
            return [s.name for s in items if not s.name.startswith("robot-dockercfg-")]

        assert ours(patched.secrets) == ["b", "a"]
        assert ours(patched.image_pull_secrets) == ["b", "a"]

    def test_json_patch_with_a_failed_test_is_422(self, api: Any, namespace: str) -> None:
        core(api).create_namespaced_config_map(namespace, CM)
        with pytest.raises(ApiException) as err:
            core(api).patch_namespaced_config_map(
                "cm",
                namespace,
                [
                    {"op": "test", "path": "/metadata/resourceVersion", "value": "0"},
                    {"op": "add", "path": "/data/x", "value": "y"},
                ],
            )
        assert err.value.status == 422
        assert core(api).read_namespaced_config_map("cm", namespace).data == {"a": "1"}

    def test_merge_patch_with_a_stale_resource_version_is_409(
        self, api: Any, namespace: str
    ) -> None:
        core(api).create_namespaced_config_map(namespace, CM)
        with pytest.raises(ApiException) as err:
            core(api).patch_namespaced_config_map(
                "cm", namespace, {"metadata": {"resourceVersion": "1"}, "data": {"a": "9"}}
            )
        assert err.value.status == 409


class TestWatch:
    def test_a_watch_from_a_lists_resource_version_sees_every_later_change(
        self, api: Any, namespace: str
    ) -> None:
        core(api).create_namespaced_config_map(namespace, {"metadata": {"name": "before"}})
        listed = core(api).list_namespaced_config_map(namespace)
        rv = listed.metadata.resource_version
        # changes made after the list and before the watch starts must not be lost
        core(api).create_namespaced_config_map(namespace, {"metadata": {"name": "gap"}})
        seen: list[tuple[str, str]] = []

        def writer() -> None:
            core(api).patch_namespaced_config_map("gap", namespace, {"data": {"k": "v"}})
            core(api).delete_namespaced_config_map("gap", namespace)

        thread = threading.Thread(target=writer)
        w = watch.Watch()
        thread.start()
        for event in w.stream(
            core(api).list_namespaced_config_map, namespace, resource_version=rv, timeout_seconds=5
        ):
            seen.append((event["type"], event["object"].metadata.name))
            if event["type"] == "DELETED":
                w.stop()
        thread.join(timeout=5)
        assert seen == [("ADDED", "gap"), ("MODIFIED", "gap"), ("DELETED", "gap")]

    def test_a_watch_without_resource_version_starts_with_the_current_objects(
        self, api: Any, namespace: str
    ) -> None:
        core(api).create_namespaced_config_map(namespace, {"metadata": {"name": "one"}})
        w = watch.Watch()
        events = []
        for event in w.stream(core(api).list_namespaced_config_map, namespace, timeout_seconds=2):
            events.append((event["type"], event["object"].metadata.name))
            w.stop()
        assert events == [("ADDED", "one")]
