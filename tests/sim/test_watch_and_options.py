"""Watch history limits (410), dry runs, delete preconditions, and lists of missing namespaces."""

from __future__ import annotations

import json
from typing import Any

import kubernetes.client
import pytest
import requests
from kubernetes.client.exceptions import ApiException

from devstack.sim import SimServer, sim_server

PATCH_TYPE = "application/merge-patch+json"


def core(api: Any) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(api)


def test_a_watch_from_a_resource_version_older_than_the_kept_history_gets_410_expired() -> None:
    with sim_server("--history-limit", "5") as sim:
        api = core(sim.api_client())
        first = api.create_namespaced_config_map("default", {"metadata": {"name": "c0"}})
        for i in range(1, 10):
            api.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}"}})
        with requests.get(
            f"{sim.url}/api/v1/namespaces/default/configmaps",
            params={
                "watch": "true",
                "resourceVersion": first.metadata.resource_version,
                "timeoutSeconds": "2",
            },
            stream=True,
            timeout=10,
        ) as resp:
            event = json.loads(next(resp.iter_lines()))
        assert event["type"] == "ERROR"
        assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")
        latest = api.list_namespaced_config_map("default").metadata.resource_version
        with requests.get(
            f"{sim.url}/api/v1/namespaces/default/configmaps",
            params={"watch": "true", "resourceVersion": latest, "timeoutSeconds": "1"},
            stream=True,
            timeout=10,
        ) as resp:
            assert list(resp.iter_lines()) == []


def test_a_dry_run_create_answers_the_object_and_stores_nothing(
    sim: SimServer, namespace: str
) -> None:
    resp = requests.post(
        f"{sim.url}/api/v1/namespaces/{namespace}/configmaps",
        params={"dryRun": "All"},
        json={"metadata": {"name": "dry"}},
        timeout=5,
    )
    assert resp.status_code == 201 and resp.json()["metadata"]["name"] == "dry"
    with pytest.raises(ApiException) as err:
        core(sim.api_client()).read_namespaced_config_map("dry", namespace)
    assert err.value.status == 404


def test_delete_preconditions_on_uid_and_resource_version_are_409_when_stale(
    sim: SimServer, namespace: str
) -> None:
    api = core(sim.api_client())
    cm = api.create_namespaced_config_map(namespace, {"metadata": {"name": "pre"}})
    for preconditions in ({"uid": "other"}, {"resourceVersion": "1"}):
        with pytest.raises(ApiException) as err:
            api.delete_namespaced_config_map(
                "pre", namespace, body={"preconditions": preconditions}
            )
        assert err.value.status == 409
    api.delete_namespaced_config_map(
        "pre", namespace, body={"preconditions": {"uid": cm.metadata.uid}}
    )


def test_a_list_in_a_namespace_that_does_not_exist_is_empty(sim: SimServer) -> None:
    assert core(sim.api_client()).list_namespaced_config_map("never-created").items == []


@pytest.mark.parametrize(
    ("method", "path", "body", "code"),
    [
        ("GET", "/api/v1/nothings", None, 404),
        ("POST", "/api/v1/namespaces/default/configmaps", b"{not json", 400),
        ("POST", "/api/v1/namespaces/default/configmaps", b"[1]", 400),
        ("POST", "/api/v1/namespaces/default/configmaps/x", b"{}", 405),
        ("PUT", "/apis/image.openshift.io/v1/namespaces/default/imagestreamimports/x", b"{}", 405),
        ("GET", "/api/v1/namespaces/default/configmaps?labelSelector=a+in+(b", None, 400),
        ("POST", "/api/v1/namespaces/default/configmaps", b'{"metadata": {}}', 422),
        ("POST", "/api/v1/namespaces/default/configmaps", b'{"metadata": {"name": 7}}', 422),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            b'{"metadata": {"generateName": 7}}',
            422,
        ),
        ("POST", "/api/v1/namespaces/default/configmaps", b'{"metadata": {"name": "a%b"}}', 422),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            b'{"metadata": {"name": "l", "labels": ["x"]}}',
            422,
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            b'{"metadata": {"name": "f", "finalizers": "x"}}',
            422,
        ),
        ("POST", "/api/v1/namespaces", b'{"metadata": {"name": "Not_A_Label"}}', 422),
        ("POST", "/api/v1/namespaces/default/configmaps", b'{"metadata": "x"}', 400),
        ("PUT", "/api/v1/namespaces/default", b'{"metadata": "x"}', 400),
        ("PATCH", "/api/v1/namespaces/default", b'{"metadata": {"labels": {"a": 1}}}', 422),
    ],
    ids=[
        "unknown resource",
        "bad json",
        "not an object",
        "post to a name",
        "update a create-only type",
        "bad selector",
        "no name",
        "name not a string",
        "generateName not a string",
        "percent in name",
        "labels not a map",
        "finalizers not a list",
        "namespace name not a DNS label",
        "metadata not an object",
        "put with metadata not an object",
        "patch making a label a number",
    ],
)
def test_bad_requests_get_status_bodies_not_crashes(
    sim: SimServer, method: str, path: str, body: bytes | None, code: int
) -> None:
    resp = requests.request(
        method,
        f"{sim.url}{path}",
        data=body,
        headers={"Content-Type": PATCH_TYPE if method == "PATCH" else "application/json"},
        timeout=5,
    )
    assert resp.status_code == code
    assert resp.json()["kind"] == "Status" and resp.json()["code"] == code


def test_a_label_selected_watch_sees_objects_enter_and_leave_the_selection(
    sim: SimServer, namespace: str
) -> None:
    api = core(sim.api_client())
    rv = api.list_namespaced_config_map(namespace).metadata.resource_version
    api.create_namespaced_config_map(
        namespace, {"metadata": {"name": "m", "labels": {"app": "no"}}}
    )
    api.patch_namespaced_config_map("m", namespace, {"metadata": {"labels": {"app": "yes"}}})
    api.patch_namespaced_config_map("m", namespace, {"data": {"k": "v"}})
    api.patch_namespaced_config_map("m", namespace, {"metadata": {"labels": {"app": "no"}}})
    with requests.get(
        f"{sim.url}/api/v1/namespaces/{namespace}/configmaps",
        params={
            "watch": "true",
            "resourceVersion": rv,
            "labelSelector": "app=yes",
            "timeoutSeconds": "1",
        },
        stream=True,
        timeout=10,
    ) as resp:
        types = [json.loads(line)["type"] for line in resp.iter_lines()]
    assert types == ["ADDED", "MODIFIED", "DELETED"]


def test_a_watch_that_allows_bookmarks_ends_with_one_carrying_the_current_resource_version(
    sim: SimServer, namespace: str
) -> None:
    api = core(sim.api_client())
    rv = api.list_namespaced_config_map(namespace).metadata.resource_version
    created = api.create_namespaced_config_map(namespace, {"metadata": {"name": "bm"}})
    with requests.get(
        f"{sim.url}/api/v1/namespaces/{namespace}/configmaps",
        params={
            "watch": "true",
            "resourceVersion": rv,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": "1",
        },
        stream=True,
        timeout=10,
    ) as resp:
        events = [json.loads(line) for line in resp.iter_lines()]
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    assert int(events[1]["object"]["metadata"]["resourceVersion"]) >= int(
        created.metadata.resource_version
    )


def test_a_client_that_expects_100_continue_gets_it_and_then_the_answer(
    sim: SimServer, namespace: str
) -> None:
    resp = requests.post(
        f"{sim.url}/api/v1/namespaces/{namespace}/configmaps",
        data=json.dumps({"metadata": {"name": "expecting"}}),
        headers={"Content-Type": "application/json", "Expect": "100-continue"},
        timeout=5,
    )
    assert resp.status_code == 201 and resp.json()["metadata"]["name"] == "expecting"


def test_bodies_larger_than_a_megabyte_are_accepted(sim: SimServer, namespace: str) -> None:
    big = "x" * (3 * 1024 * 1024)
    resp = requests.post(
        f"{sim.url}/api/v1/namespaces/{namespace}/configmaps",
        json={"metadata": {"name": "big"}, "data": {"blob": big}},
        timeout=30,
    )
    assert resp.status_code == 201
    got = requests.get(f"{sim.url}/api/v1/namespaces/{namespace}/configmaps/big", timeout=30)
    assert got.json()["data"]["blob"] == big
