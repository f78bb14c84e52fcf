"""The request log: one JSON line per API request, with the Kubernetes verb (for RBAC rules)."""

from __future__ import annotations

import json
import os
import tempfile

import kubernetes.client
from kubernetes import watch

from devstack.sim import sim_server


def test_each_request_is_logged_with_its_kubernetes_verb_resource_and_code() -> None:
    path = os.path.join(tempfile.mkdtemp(prefix="reqlog-"), "requests.jsonl")
    with sim_server("--request-log", path) as sim:
        api = kubernetes.client.CoreV1Api(sim.api_client())
        api.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
        api.read_namespaced_config_map("a", "default")
        api.list_namespaced_config_map("default")
        for _ in watch.Watch().stream(api.list_namespaced_config_map, "default", timeout_seconds=1):
            break
        api.patch_namespaced_config_map("a", "default", {"data": {"x": "y"}})
        api.replace_namespaced_config_map(
            "a", "default", api.read_namespaced_config_map("a", "default")
        )
        api.delete_collection_namespaced_config_map("default")
        try:
            api.delete_namespaced_config_map("a", "default")
        except kubernetes.client.exceptions.ApiException as exc:
            assert exc.status == 404
        api.patch_namespace_status("default", {"status": {"phase": "Active"}})
    with open(path, encoding="utf-8") as fh:
        entries = [json.loads(line) for line in fh]
    verbs = [(e["verb"], e["resource"], e["subresource"], e["code"]) for e in entries]
    # a watch is logged when its stream ends, so its line may come later
    assert ("watch", "configmaps", "", 200) in verbs
    verbs.remove(("watch", "configmaps", "", 200))
    assert verbs == [
        ("create", "configmaps", "", 201),
        ("get", "configmaps", "", 200),
        ("list", "configmaps", "", 200),
        ("patch", "configmaps", "", 200),
        ("get", "configmaps", "", 200),
        ("update", "configmaps", "", 200),
        ("deletecollection", "configmaps", "", 200),
        ("delete", "configmaps", "", 404),
        ("patch", "namespaces", "status", 200),
    ]
    first = entries[0]
    assert first["group"] == "" and first["version"] == "v1" and first["namespace"] == "default"
    assert first["user_agent"].startswith("OpenAPI-Generator")
    assert entries[1]["name"] == "a"
