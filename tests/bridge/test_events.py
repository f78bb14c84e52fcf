"""The one builder of the operator's core/v1 Event bodies, and the API server accepting them."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import kubernetes.client
import pytest

from bridge.kube.cluster import Cluster
from bridge.kube.connection import load_connection
from bridge.metrics import Metrics
from bridge.model.events import event_body, object_reference
from devstack.sim import SimServer, sim_server

NOW = datetime.datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=datetime.UTC)
BUILD = {
    "metadata": {
        "name": "app-1",
        "namespace": "team",
        "uid": "b-uid",
        "resourceVersion": "42",
        "annotations": {"ignored": "yes"},
    }
}
NAMESPACE = {
    "apiVersion": "v1",
    "kind": "Namespace",
    "metadata": {"name": "team", "uid": "ns-uid", "resourceVersion": "7"},
}


class TestObjectReference:
    def test_a_list_item_gets_the_given_kind_and_pins_its_version_when_asked(self) -> None:
        reference = object_reference(
            BUILD, api_version="build.openshift.io/v1", kind="Build", at_version=True
        )
        assert reference == {
            "apiVersion": "build.openshift.io/v1",
            "kind": "Build",
            "name": "app-1",
            "namespace": "team",
            "uid": "b-uid",
            "resourceVersion": "42",
        }

    def test_a_cluster_scoped_object_has_no_namespace_and_no_version_unless_asked(self) -> None:
        assert object_reference(NAMESPACE) == {
            "apiVersion": "v1",
            "kind": "Namespace",
            "name": "team",
            "uid": "ns-uid",
        }

    def test_empty_fields_are_left_out(self) -> None:
        body = {"kind": "ConfigMap", "apiVersion": "", "metadata": {"name": "c", "uid": ""}}
        assert object_reference(body) == {"kind": "ConfigMap", "name": "c"}


class TestEventBody:
    def test_an_event_about_a_build_lives_in_its_namespace_under_a_generated_name(self) -> None:
        reference = object_reference(
            BUILD, api_version="build.openshift.io/v1", kind="Build", at_version=True
        )
        body = event_body(
            reference, "Imported", "done", type_="Normal", now=NOW, generate_name="app-1."
        )
        assert body == {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": "app-1.", "namespace": "team"},
            "involvedObject": reference,
            "reason": "Imported",
            "message": "done",
            "type": "Normal",
            "source": {"component": "quay-bridge"},
            "firstTimestamp": "2026-03-04T05:06:07Z",
            "lastTimestamp": "2026-03-04T05:06:07Z",
            "count": 1,
        }

    def test_an_event_about_a_cluster_scoped_object_goes_to_default(self) -> None:
        body = event_body(
            object_reference(NAMESPACE), "QuayUnmanaged", "why", type_="Warning", now=NOW, name="e1"
        )
        assert body["metadata"] == {"name": "e1", "namespace": "default"}
        assert "namespace" not in body["involvedObject"]
        assert body["type"] == "Warning"

    def test_the_timestamps_are_utc_whatever_zone_now_is_in(self) -> None:
        east = NOW.astimezone(datetime.timezone(datetime.timedelta(hours=5)))
        body = event_body({"name": "x"}, "R", "m", type_="Normal", now=east, name="e")
        assert body["firstTimestamp"] == body["lastTimestamp"] == "2026-03-04T05:06:07Z"

    def test_the_message_is_kept_as_given(self) -> None:
        long = "x" * 5000
        body = event_body({"name": "x"}, "R", long, type_="Normal", now=NOW, name="e")
        assert body["message"] == long

    @pytest.mark.parametrize("names", [{}, {"name": "a", "generate_name": "b."}])
    def test_exactly_one_of_name_and_generate_name(self, names: dict[str, str]) -> None:
        with pytest.raises(ValueError, match="exactly one of name and generate_name"):
            event_body({"name": "x"}, "R", "m", type_="Normal", now=NOW, **names)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with sim_server() as running:
        kubernetes.client.CoreV1Api(running.api_client()).create_namespace(
            {"metadata": {"name": "team"}}
        )
        yield running


async def test_the_api_server_stores_both_bodies_as_built(sim: SimServer) -> None:
    core = kubernetes.client.CoreV1Api(sim.api_client())
    namespace = sim.api_client().sanitize_for_serialization(core.read_namespace("team"))
    configmap = sim.api_client().sanitize_for_serialization(
        core.create_namespaced_config_map("team", {"metadata": {"name": "c"}})
    )
    cluster = Cluster(load_connection(sim.kubeconfig), Metrics())
    try:
        about_object = event_body(
            object_reference(
                configmap | {"kind": "ConfigMap", "apiVersion": "v1"}, at_version=True
            ),
            "Checked",
            "in its namespace",
            type_="Normal",
            now=NOW,
            generate_name="c.",
        )
        await cluster.create_event("team", about_object)
        await cluster.post_event(namespace | {"kind": "Namespace", "apiVersion": "v1"}, "R", "m")
    finally:
        await cluster.aclose()

    [stored] = core.list_namespaced_event("team").items
    assert stored.metadata.name.startswith("c.")
    assert stored.involved_object.resource_version == configmap["metadata"]["resourceVersion"]
    [about_namespace] = [
        e
        for e in core.list_namespaced_event("default").items
        if e.involved_object.kind == "Namespace"
    ]
    assert about_namespace.involved_object.uid == namespace["metadata"]["uid"]
    assert about_namespace.involved_object.namespace is None
    assert about_namespace.source.component == "quay-bridge"
