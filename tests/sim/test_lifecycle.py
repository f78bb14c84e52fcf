"""Finalizers, deletionTimestamp, namespace deletion, /status separation and CRD serving."""

from __future__ import annotations

import time
from typing import Any

import kubernetes.client
import pytest
from kubernetes.client.exceptions import ApiException

from devstack.waiting import poll_until

QI = {
    "apiVersion": "quay.redhat.com/v1",
    "kind": "QuayIntegration",
    "metadata": {"name": "qi"},
    "spec": {"clusterID": "c1"},
}


def core(api: Any) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(api)


def custom(api: Any) -> kubernetes.client.CustomObjectsApi:
    return kubernetes.client.CustomObjectsApi(api)


def missing(read: Any) -> bool:
    """Whether ``read`` answers 404 now."""
    try:
        read()
    except ApiException as exc:
        if exc.status == 404:
            return True
        raise
    return False


def eventually_missing(read: Any, timeout: float = 5.0) -> bool:
    return poll_until(lambda: missing(read), timeout) is not None


class TestFinalizers:
    def test_an_object_with_finalizers_stays_with_a_deletion_timestamp_until_they_are_removed(
        self, api: Any, namespace: str
    ) -> None:
        core(api).create_namespaced_config_map(
            namespace, {"metadata": {"name": "f", "finalizers": ["x/y"]}}
        )
        deleted = (
            core(api).delete_namespaced_config_map("f", namespace, _preload_content=False).json()
        )
        assert deleted["metadata"]["deletionTimestamp"]
        still = core(api).read_namespaced_config_map("f", namespace)
        assert still.metadata.deletion_timestamp is not None
        core(api).patch_namespaced_config_map(
            "f",
            namespace,
            {"metadata": {"finalizers": None}},
            _content_type="application/merge-patch+json",
        )
        assert eventually_missing(lambda: core(api).read_namespaced_config_map("f", namespace))

    def test_deleting_a_namespace_removes_its_objects_and_then_the_namespace(
        self, api: Any, namespace: str
    ) -> None:
        core(api).create_namespaced_config_map(namespace, {"metadata": {"name": "a"}})
        core(api).create_namespaced_secret(namespace, {"metadata": {"name": "s"}})
        ns = core(api).delete_namespace(namespace, _preload_content=False).json()
        assert ns["status"]["phase"] == "Terminating"
        assert eventually_missing(lambda: core(api).read_namespace(namespace))
        with pytest.raises(ApiException) as err:
            core(api).read_namespaced_config_map("a", namespace)
        assert err.value.status == 404

    def test_a_namespace_waits_for_its_metadata_finalizer(self, api: Any, namespace: str) -> None:
        core(api).patch_namespace(
            namespace, {"metadata": {"finalizers": ["quay.redhat.com/quayintegrations"]}}
        )
        core(api).delete_namespace(namespace)
        time.sleep(0.3)
        assert core(api).read_namespace(namespace).status.phase == "Terminating"
        with pytest.raises(ApiException) as err:
            core(api).create_namespaced_config_map(namespace, {"metadata": {"name": "late"}})
        assert err.value.status == 403
        core(api).patch_namespace(
            namespace,
            {"metadata": {"finalizers": None}},
            _content_type="application/merge-patch+json",
        )
        assert eventually_missing(lambda: core(api).read_namespace(namespace))

    def test_namespaces_get_the_name_label_and_the_kubernetes_spec_finalizer(
        self, api: Any, namespace: str
    ) -> None:
        ns = core(api).read_namespace(namespace)
        assert ns.metadata.labels["kubernetes.io/metadata.name"] == namespace
        assert ns.spec.finalizers == ["kubernetes"]
        assert ns.status.phase == "Active"


class TestStatusSubresource:
    def test_main_resource_writes_ignore_status_and_status_writes_change_only_status(
        self, api: Any
    ) -> None:
        body = {**QI, "metadata": {"name": "qi-status"}, "status": {"message": "ignored"}}
        created = custom(api).create_cluster_custom_object(
            "quay.redhat.com", "v1", "quayintegrations", body
        )
        assert "status" not in created
        assert created["metadata"]["generation"] == 1
        custom(api).patch_cluster_custom_object_status(
            "quay.redhat.com",
            "v1",
            "quayintegrations",
            "qi-status",
            {"status": {"message": "ok"}, "spec": {"clusterID": "no"}},
        )
        obj = custom(api).get_cluster_custom_object(
            "quay.redhat.com", "v1", "quayintegrations", "qi-status"
        )
        assert obj["status"] == {"message": "ok"}
        assert obj["spec"]["clusterID"] == "c1"
        assert obj["metadata"]["generation"] == 1
        custom(api).patch_cluster_custom_object(
            "quay.redhat.com",
            "v1",
            "quayintegrations",
            "qi-status",
            {"spec": {"clusterID": "c2"}, "status": {"message": "x"}},
        )
        obj = custom(api).get_cluster_custom_object(
            "quay.redhat.com", "v1", "quayintegrations", "qi-status"
        )
        assert obj["status"] == {"message": "ok"}
        assert obj["metadata"]["generation"] == 2


class TestCustomResourceDefinitions:
    def test_a_crd_becomes_a_served_resource_in_discovery(self, api: Any) -> None:
        crd = {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "gadgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Cluster",
                "names": {
                    "plural": "gadgets",
                    "singular": "gadget",
                    "kind": "Gadget",
                    "shortNames": ["gd"],
                },
                "versions": [{"name": "v1alpha1", "served": True, "storage": True}],
            },
        }
        kubernetes.client.ApiextensionsV1Api(api).create_custom_resource_definition(crd)
        resources = kubernetes.client.CustomObjectsApi(api).get_api_resources(
            "example.com", "v1alpha1"
        )
        assert [(r.name, r.kind, r.namespaced) for r in resources.resources] == [
            ("gadgets", "Gadget", False)
        ]
        custom(api).create_cluster_custom_object(
            "example.com",
            "v1alpha1",
            "gadgets",
            {"apiVersion": "example.com/v1alpha1", "kind": "Gadget", "metadata": {"name": "g"}},
        )
        assert (
            custom(api).get_cluster_custom_object("example.com", "v1alpha1", "gadgets", "g")["kind"]
            == "Gadget"
        )
        kubernetes.client.ApiextensionsV1Api(api).delete_custom_resource_definition(
            "gadgets.example.com"
        )
        with pytest.raises(ApiException) as err:
            custom(api).get_cluster_custom_object("example.com", "v1alpha1", "gadgets", "g")
        assert err.value.status == 404


class TestCustomResourcePatches:
    def test_a_strategic_merge_patch_of_a_custom_resource_is_415_as_on_a_cluster(
        self, api: Any
    ) -> None:
        custom(api).create_cluster_custom_object(
            "quay.redhat.com", "v1", "quayintegrations", {**QI, "metadata": {"name": "qi-smp"}}
        )
        with pytest.raises(ApiException) as err:
            custom(api).patch_cluster_custom_object(
                "quay.redhat.com",
                "v1",
                "quayintegrations",
                "qi-smp",
                {"spec": {"clusterID": "x"}},
                _content_type="application/strategic-merge-patch+json",
            )
        assert err.value.status == 415
        patched = custom(api).patch_cluster_custom_object(
            "quay.redhat.com",
            "v1",
            "quayintegrations",
            "qi-smp",
            {"spec": {"clusterID": "x"}},
            _content_type="application/merge-patch+json",
        )
        assert patched["spec"]["clusterID"] == "x"


class TestNamespaceDeletionWaits:
    def test_a_namespace_stays_terminating_until_an_object_inside_drops_its_finalizer(
        self, api: Any, namespace: str
    ) -> None:
        core(api).create_namespaced_config_map(
            namespace, {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
        )
        core(api).delete_namespace(namespace)
        time.sleep(0.3)
        held = core(api).read_namespaced_config_map("held", namespace)
        assert held.metadata.deletion_timestamp is not None
        assert core(api).read_namespace(namespace).status.phase == "Terminating"
        core(api).patch_namespaced_config_map(
            "held",
            namespace,
            {"metadata": {"finalizers": None}},
            _content_type="application/merge-patch+json",
        )
        assert eventually_missing(lambda: core(api).read_namespace(namespace))
