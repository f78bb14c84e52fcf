"""A minimal kopf operator runs against a real simulator process with zero kopf warnings.

It exercises what kopf needs from an API server: discovery of a CRD applied at run time, list then
watch from the list's resourceVersion, JSON patches guarded by a ``test`` on resourceVersion (for
finalizers), merge patches of ``status``, core v1 Events with ``generateName``, and deletion held by
a finalizer until the delete handler has run.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf
import kubernetes.client
import pytest

from devstack.sim import SimServer
from devstack.waiting import wait_until_async

GROUP, VERSION, PLURAL = "test.quay-bridge.io", "v1", "widgets"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": PLURAL, "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def make_registry(sim: SimServer, calls: list[str]) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=sim.url, token="sim-token", scheme="Bearer")

    @kopf.on.startup(registry=registry)
    def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.watching.server_timeout = 1  # reconnects, bookmarks
        settings.posting.level = logging.INFO

    @kopf.on.create(GROUP, VERSION, PLURAL, id="created", registry=registry)
    def created(spec: Any, body: Any, patch: kopf.Patch, **_: Any) -> dict[str, Any]:
        calls.append(f"create:{spec.get('size')}")
        kopf.info(body, reason="Created", message="widget seen")
        patch.status["phase"] = "Ready"
        return {"seen": spec.get("size")}

    @kopf.on.update(GROUP, VERSION, PLURAL, field="spec.size", registry=registry)
    def updated(old: Any, new: Any, **_: Any) -> None:
        calls.append(f"update:{old}->{new}")

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry)
    def deleted(**_: Any) -> None:
        calls.append("delete")

    return registry


@pytest.mark.timeout(60)
async def test_kopf_runs_create_update_delete_handlers_with_finalizers_and_status(
    sim: SimServer,
) -> None:
    api = sim.api_client()
    ext = kubernetes.client.ApiextensionsV1Api(api)
    ext.create_custom_resource_definition(CRD)
    core = kubernetes.client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": "kopf-test"}})
    custom = kubernetes.client.CustomObjectsApi(api)

    capture = Capture()
    kopf_logger = logging.getLogger("kopf")
    kopf_logger.addHandler(capture)
    calls: list[str] = []
    stop_flag: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    ready_flag = asyncio.Event()
    operator = asyncio.create_task(
        kopf.operator(
            registry=make_registry(sim, calls),
            clusterwide=True,
            standalone=True,
            stop_flag=stop_flag,
            ready_flag=ready_flag,
        )
    )
    try:
        await asyncio.wait_for(ready_flag.wait(), 15)
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Widget",
            "metadata": {"name": "w1"},
            "spec": {"size": 1},
        }
        custom.create_namespaced_custom_object(GROUP, VERSION, "kopf-test", PLURAL, body)

        def read() -> dict[str, Any]:
            obj: dict[str, Any] = custom.get_namespaced_custom_object(
                GROUP, VERSION, "kopf-test", PLURAL, "w1"
            )
            return obj

        obj = await wait_until_async(lambda: (o := read()).get("status", {}).get("created") and o)
        assert obj["status"]["phase"] == "Ready"
        assert obj["status"]["created"] == {"seen": 1}
        assert "kopf.zalando.org/KopfFinalizerMarker" in obj["metadata"]["finalizers"]
        assert calls == ["create:1"]

        custom.patch_namespaced_custom_object(
            GROUP, VERSION, "kopf-test", PLURAL, "w1", {"spec": {"size": 2}}
        )
        await wait_until_async(lambda: "update:1->2" in calls)

        custom.delete_namespaced_custom_object(GROUP, VERSION, "kopf-test", PLURAL, "w1")

        def gone() -> bool:
            try:
                read()
            except kubernetes.client.exceptions.ApiException as exc:
                return exc.status == 404
            return False

        await wait_until_async(gone)
        assert calls == ["create:1", "update:1->2", "delete"]
        await wait_until_async(
            lambda: any(
                e.involved_object.name == "w1"
                for e in core.list_namespaced_event("kopf-test").items
            )
        )
    finally:
        stop_flag.set_result(None)
        await asyncio.wait_for(operator, 15)
        kopf_logger.removeHandler(capture)
    assert [r.getMessage() for r in capture.records] == []
