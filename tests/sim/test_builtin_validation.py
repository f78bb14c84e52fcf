"""Built-in defaults and validation with kube-apiserver's field paths and messages.

Each case is a real request to a simulator process; the expected texts are kube-apiserver 1.36's.
"""

from __future__ import annotations

import base64
from typing import Any

import requests

from devstack.sim import SimServer

SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
IMMUTABLE = "field is immutable when `immutable` is set"


def call(sim: SimServer, method: str, path: str, body: Any = None, **headers: str) -> Any:
    answer = requests.request(method, sim.url + path, json=body, headers=headers, timeout=10)
    return answer.status_code, answer.json()


def test_secret_string_data_is_merged_into_data_and_dropped(sim: SimServer, namespace: str) -> None:
    code, created = call(
        sim,
        "POST",
        f"/api/v1/namespaces/{namespace}/secrets",
        {
            "metadata": {"name": "creds"},
            "data": {"kept": base64.b64encode(b"old").decode(), "both": "eA=="},
            "stringData": {"token": "s3cr3t", "both": "from-string"},
        },
    )
    assert code == 201
    assert "stringData" not in created
    assert created["type"] == "Opaque"
    decoded = {k: base64.b64decode(v).decode() for k, v in created["data"].items()}
    assert decoded == {"kept": "old", "token": "s3cr3t", "both": "from-string"}
    _, stored = call(sim, "GET", f"/api/v1/namespaces/{namespace}/secrets/creds")
    assert stored["data"] == created["data"]


def test_immutable_secret_refuses_data_changes_and_type_changes(
    sim: SimServer, namespace: str
) -> None:
    path = f"/api/v1/namespaces/{namespace}/secrets"
    call(
        sim,
        "POST",
        path,
        {"metadata": {"name": "frozen"}, "immutable": True, "stringData": {"a": "b"}},
    )
    code, status = call(
        sim,
        "PATCH",
        f"{path}/frozen",
        {"stringData": {"a": "c"}},
        **{"Content-Type": "application/merge-patch+json"},
    )
    assert code == 422
    assert status["message"] == f'Secret "frozen" is invalid: data: Forbidden: {IMMUTABLE}'
    assert status["details"]["causes"] == [
        {"reason": "FieldValueForbidden", "message": f"Forbidden: {IMMUTABLE}", "field": "data"}
    ]
    code, status = call(
        sim,
        "PATCH",
        f"{path}/frozen",
        {"type": "kubernetes.io/tls"},
        **{"Content-Type": "application/merge-patch+json"},
    )
    assert code == 422
    assert status["message"].startswith(
        'Secret "frozen" is invalid: [type: Invalid value: "kubernetes.io/tls": field is immutable'
    )


def test_immutable_configmap(sim: SimServer, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    call(sim, "POST", path, {"metadata": {"name": "c"}, "immutable": True, "data": {"a": "b"}})
    code, status = call(
        sim,
        "PATCH",
        f"{path}/c",
        {"immutable": False, "data": {"a": "x"}},
        **{"Content-Type": "application/merge-patch+json"},
    )
    assert code == 422
    assert status["message"] == (
        f'ConfigMap "c" is invalid: [immutable: Forbidden: {IMMUTABLE}, '
        f"data: Forbidden: {IMMUTABLE}]"
    )
    # labels may still change
    code, _ = call(
        sim,
        "PATCH",
        f"{path}/c",
        {"metadata": {"labels": {"x": "y"}}},
        **{"Content-Type": "application/merge-patch+json"},
    )
    assert code == 200


def test_event_namespace_must_match(sim: SimServer, namespace: str) -> None:
    code, status = call(
        sim,
        "POST",
        f"/api/v1/namespaces/{namespace}/events",
        {
            "metadata": {"name": "e"},
            "involvedObject": {"kind": "Secret", "name": "x", "namespace": "elsewhere"},
            "reason": "R",
        },
    )
    assert code == 422
    assert status["message"] == (
        'Event "e" is invalid: involvedObject.namespace: Invalid value: "elsewhere": '
        "does not match event.namespace"
    )


def test_names_follow_their_kind(sim: SimServer, namespace: str) -> None:
    code, status = call(
        sim,
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps",
        {"metadata": {"name": "Bad_Name"}},
    )
    assert code == 422
    assert status["message"] == (
        f'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": {SUBDOMAIN}'
    )
    code, status = call(sim, "POST", "/api/v1/namespaces", {"metadata": {"name": "a.b"}})
    assert code == 422
    assert status["message"] == (
        'Namespace "a.b" is invalid: metadata.name: Invalid value: "a.b": must not contain dots'
    )
    # Services take DNS-1123 labels (a leading digit is fine, a dot is not)
    code, _ = call(
        sim, "POST", f"/api/v1/namespaces/{namespace}/services", {"metadata": {"name": "1svc"}}
    )
    assert code == 201
    code, status = call(
        sim, "POST", f"/api/v1/namespaces/{namespace}/services", {"metadata": {"name": "s.x"}}
    )
    assert code == 422 and status["message"].endswith('"s.x": must not contain dots')
    code, status = call(
        sim,
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps",
        {"metadata": {"name": "ok", "labels": {"bad key!": "v"}}},
    )
    assert code == 422
    assert status["details"]["causes"][0]["field"] == "metadata.labels"
    assert 'Invalid value: "bad key!": name part must consist of' in status["message"]


def test_docker_secret_needs_its_key(sim: SimServer, namespace: str) -> None:
    code, status = call(
        sim,
        "POST",
        f"/api/v1/namespaces/{namespace}/secrets",
        {"metadata": {"name": "pull"}, "type": "kubernetes.io/dockerconfigjson"},
    )
    assert code == 422
    assert status["message"] == (
        'Secret "pull" is invalid: data[.dockerconfigjson]: Required value'
    )
