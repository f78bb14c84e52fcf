"""The mutating admission chain against a real HTTPS test webhook (certificates from ``certs``).

Each test gets its own namespace labelled with its id and a MutatingWebhookConfiguration whose
``namespaceSelector`` matches only that label, so tests never see each other's webhooks.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
from aiohttp import web
from kubernetes.client.exceptions import ApiException

from certs.issuing import Issued, make_ca, make_serving_cert
from devstack.ports import free_port
from devstack.sim import SimServer, sim_server


@dataclass
class Webhook:
    """A real HTTPS admission webhook whose answers depend on the URL path."""

    ca: Issued
    port: int
    reviews: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ca_bundle(self) -> str:
        return base64.b64encode(self.ca.cert_pem).decode()

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}/{path}"


HOOK: web.AppKey[Webhook] = web.AppKey("hook", Webhook)


def _b64(ops: list[dict[str, Any]]) -> str:
    return base64.b64encode(json.dumps(ops).encode()).decode()


async def _handle(request: web.Request) -> web.Response:
    hook = request.app[HOOK]
    review = await request.json()
    hook.reviews.append(review)
    uid = review["request"]["uid"]
    mode = request.match_info["mode"]
    response: dict[str, Any] = {"uid": uid, "allowed": True}
    if mode == "deny":
        response = {"uid": uid, "allowed": False, "status": {"message": "not today"}}
    elif mode == "deny-403":
        response = {
            "uid": uid,
            "allowed": False,
            "status": {"code": 403, "reason": "Forbidden", "message": "go away"},
        }
    elif mode == "patch":
        response["patchType"] = "JSONPatch"
        response["patch"] = _b64(
            [{"op": "add", "path": "/metadata/labels", "value": {"mutated": "yes"}}]
        )
    elif mode == "bad-patch":
        response["patchType"] = "JSONPatch"
        response["patch"] = _b64([{"op": "add", "path": "/metadata/annotations/x", "value": "y"}])
    elif mode == "wrong-uid":
        response["uid"] = "not-the-uid"
    elif mode == "slow":
        await asyncio.sleep(3)
    return web.json_response(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
    )


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    ca = make_ca("test webhook CA")
    serving = make_serving_cert(ca, "hook", "hooks", ip_addresses=["127.0.0.1"])
    directory = Path(tempfile.mkdtemp(prefix="webhook-"))
    (directory / "tls.crt").write_bytes(serving.cert_pem)
    (directory / "tls.key").write_bytes(serving.key_pem)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "tls.crt", directory / "tls.key")
    hook = Webhook(ca, free_port())
    loop = asyncio.new_event_loop()
    app = web.Application()
    app[HOOK] = hook
    app.router.add_post("/{mode}", _handle)
    runner = web.AppRunner(app, access_log=None)
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(
            web.TCPSite(runner, "127.0.0.1", hook.port, ssl_context=context).start()
        )
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10)
    yield hook
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@pytest.fixture(scope="module")
def sim(webhook: Webhook) -> Iterator[SimServer]:
    with sim_server("--service-address", f"hook.hooks:443=127.0.0.1:{webhook.port}") as server:
        yield server


def core(api: Any) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(api)


def register(sim: SimServer, webhook: Webhook, mode: str, **overrides: Any) -> str:
    """Create a labelled namespace and a webhook config for configmaps in it; return its name."""
    api = sim.api_client()
    ns = f"adm-{uuid.uuid4().hex[:6]}"
    core(api).create_namespace({"metadata": {"name": ns, "labels": {"hook-test": ns}}})
    hook: dict[str, Any] = {
        "name": f"{mode}.test.quay-bridge.io",
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "clientConfig": {"url": webhook.url(mode), "caBundle": webhook.ca_bundle},
        "rules": [
            {
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["configmaps"],
            }
        ],
        "namespaceSelector": {"matchLabels": {"hook-test": ns}},
        **overrides,
    }
    kubernetes.client.AdmissionregistrationV1Api(api).create_mutating_webhook_configuration(
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": ns},
            "webhooks": [hook],
        }
    )
    return ns


def create_cm(sim: SimServer, ns: str) -> Any:
    return core(sim.api_client()).create_namespaced_config_map(
        ns, {"metadata": {"name": "cm"}, "data": {"a": "1"}}
    )


def error_of(sim: SimServer, ns: str) -> tuple[int, dict[str, Any]]:
    with pytest.raises(ApiException) as err:
        create_cm(sim, ns)
    return err.value.status, json.loads(err.value.body)


class TestCalls:
    def test_an_allowing_webhook_receives_a_v1_review_and_the_object_is_stored(
        self, sim: SimServer, webhook: Webhook
    ) -> None:
        ns = register(sim, webhook, "allow")
        before = len(webhook.reviews)
        create_cm(sim, ns)
        request = webhook.reviews[before]["request"]
        assert webhook.reviews[before]["apiVersion"] == "admission.k8s.io/v1"
        assert (request["operation"], request["namespace"], request["name"]) == ("CREATE", ns, "cm")
        assert request["resource"] == {"group": "", "version": "v1", "resource": "configmaps"}
        assert request["oldObject"] is None
        core(sim.api_client()).patch_namespaced_config_map("cm", ns, {"data": {"a": "2"}})
        update = webhook.reviews[-1]["request"]
        assert update["operation"] == "UPDATE"
        assert update["oldObject"]["data"] == {"a": "1"} and update["object"]["data"] == {"a": "2"}

    def test_a_patching_webhook_mutates_the_stored_object(
        self, sim: SimServer, webhook: Webhook
    ) -> None:
        ns = register(sim, webhook, "patch")
        assert create_cm(sim, ns).metadata.labels == {"mutated": "yes"}

    def test_a_patch_under_a_missing_parent_is_a_500(
        self, sim: SimServer, webhook: Webhook
    ) -> None:
        ns = register(sim, webhook, "bad-patch")
        code, status = error_of(sim, ns)
        assert code == 500
        assert status["reason"] == "InternalError"


class TestDenials:
    @pytest.mark.parametrize(
        ("mode", "code", "message"),
        [
            (
                "deny",
                400,
                'admission webhook "deny.test.quay-bridge.io" denied the request: not today',
            ),
            (
                "deny-403",
                403,
                'admission webhook "deny-403.test.quay-bridge.io" denied the request: go away',
            ),
        ],
    )
    def test_a_denial_keeps_its_code_or_is_400(
        self, sim: SimServer, webhook: Webhook, mode: str, code: int, message: str
    ) -> None:
        ns = register(sim, webhook, mode)
        got, status = error_of(sim, ns)
        assert (got, status["code"], status["message"]) == (code, code, message)


class TestFailures:
    @pytest.mark.parametrize(
        ("mode", "overrides", "cause"),
        [
            ("slow", {"timeoutSeconds": 1}, "context deadline exceeded"),
            ("allow", {"clientConfig": "untrusted"}, "failed to verify certificate"),
            ("wrong-uid", {}, "received invalid webhook response"),
        ],
        ids=["timeout", "untrusted certificate", "wrong uid"],
    )
    def test_calling_errors_fail_closed_with_500_and_are_skipped_with_ignore(
        self, sim: SimServer, webhook: Webhook, mode: str, overrides: dict[str, Any], cause: str
    ) -> None:
        if overrides.get("clientConfig") == "untrusted":
            other = base64.b64encode(make_ca("someone else").cert_pem).decode()
            overrides = {"clientConfig": {"url": webhook.url(mode), "caBundle": other}}
        ns = register(sim, webhook, mode, **overrides)
        code, status = error_of(sim, ns)
        assert code == 500
        assert status["message"].startswith(
            f'Internal error occurred: failed calling webhook "{mode}.test.quay-bridge.io": '
        )
        assert cause in status["message"]
        ignoring = register(sim, webhook, mode, failurePolicy="Ignore", **overrides)
        assert create_cm(sim, ignoring).metadata.name == "cm"


class TestSelection:
    def test_a_namespace_outside_the_namespace_selector_is_not_sent_to_the_webhook(
        self, sim: SimServer, webhook: Webhook
    ) -> None:
        register(sim, webhook, "deny")
        other = f"plain-{uuid.uuid4().hex[:6]}"
        core(sim.api_client()).create_namespace({"metadata": {"name": other}})
        assert create_cm(sim, other).metadata.name == "cm"

    def test_a_service_reference_reaches_the_mapped_address_with_the_service_name_verified(
        self, sim: SimServer, webhook: Webhook
    ) -> None:
        ns = register(
            sim,
            webhook,
            "patch",
            clientConfig={
                "service": {"name": "hook", "namespace": "hooks", "path": "/patch", "port": 443},
                "caBundle": webhook.ca_bundle,
            },
        )
        assert create_cm(sim, ns).metadata.labels == {"mutated": "yes"}

    def test_builds_written_by_the_build_controller_pass_the_webhook_as_updates(
        self, sim: SimServer, webhook: Webhook
    ) -> None:
        api = sim.api_client()
        ns = register(
            sim,
            webhook,
            "allow",
            rules=[
                {
                    "apiGroups": ["build.openshift.io"],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE", "UPDATE"],
                    "resources": ["builds"],
                }
            ],
        )
        before = len(webhook.reviews)
        body = {
            "apiVersion": "build.openshift.io/v1",
            "kind": "Build",
            "metadata": {"name": "b"},
            "spec": {
                "strategy": {"type": "Docker", "dockerStrategy": {}},
                "output": {"to": {"kind": "DockerImage", "name": "registry.invalid/o/r:t"}},
            },
        }
        kubernetes.client.CustomObjectsApi(api).create_namespaced_custom_object(
            "build.openshift.io", "v1", ns, "builds", body
        )
        end = time.monotonic() + 10
        while time.monotonic() < end:
            ops = [
                r["request"]["operation"]
                for r in webhook.reviews[before:]
                if r["request"]["resource"]["resource"] == "builds"
            ]
            if ops.count("UPDATE") >= 3:
                break
            time.sleep(0.05)
        assert ops[0] == "CREATE" and ops.count("UPDATE") >= 3


def test_a_config_change_instantiate_denied_by_a_webhook_is_not_retried_and_leaves_an_event(
    sim: SimServer, webhook: Webhook
) -> None:
    api = sim.api_client()
    ns = register(
        sim,
        webhook,
        "deny",
        rules=[
            {
                "apiGroups": ["build.openshift.io"],
                "apiVersions": ["v1"],
                "operations": ["CREATE"],
                "resources": ["builds"],
            }
        ],
    )
    bc = {
        "apiVersion": "build.openshift.io/v1",
        "kind": "BuildConfig",
        "metadata": {"name": "app"},
        "spec": {
            "strategy": {"type": "Docker", "dockerStrategy": {}},
            "output": {"to": {"kind": "DockerImage", "name": "registry.invalid/o/r:t"}},
            "triggers": [{"type": "ConfigChange"}],
        },
    }
    kubernetes.client.CustomObjectsApi(api).create_namespaced_custom_object(
        "build.openshift.io", "v1", ns, "buildconfigs", bc
    )
    end = time.monotonic() + 10
    events: list[Any] = []
    while time.monotonic() < end and not events:
        events = [
            e
            for e in core(api).list_namespaced_event(ns).items
            if e.reason == "BuildConfigInstantiateFailed"
        ]
        time.sleep(0.05)
    assert (
        events
        and 'admission webhook "deny.test.quay-bridge.io" denied the request' in events[0].message
    )
    time.sleep(0.5)
    denials = [
        r
        for r in webhook.reviews
        if r["request"]["namespace"] == ns and r["request"]["resource"]["resource"] == "builds"
    ]
    assert len(denials) == 1
    assert (
        kubernetes.client.CustomObjectsApi(api).list_namespaced_custom_object(
            "build.openshift.io", "v1", ns, "builds"
        )["items"]
        == []
    )


def test_an_object_outside_the_object_selector_is_not_sent_to_the_webhook(
    sim: SimServer, webhook: Webhook
) -> None:
    ns = register(sim, webhook, "deny", objectSelector={"matchLabels": {"checked": "yes"}})
    api = core(sim.api_client())
    assert (
        api.create_namespaced_config_map(ns, {"metadata": {"name": "free"}}).metadata.name == "free"
    )
    with pytest.raises(ApiException) as err:
        api.create_namespaced_config_map(
            ns, {"metadata": {"name": "checked", "labels": {"checked": "yes"}}}
        )
    assert err.value.status == 400
