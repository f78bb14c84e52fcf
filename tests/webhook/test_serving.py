"""The webhook's HTTPS server, called directly over real TLS (not through the simulator)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from certs.issuing import make_ca, make_serving_cert
from certs.storing import write_atomically, write_serving_files
from tests.webhook.builds import QUAY, build, destinations, review
from tests.webhook.namespaces import namespace, namespace_review
from tests.webhook.support import DictView, serving_files
from vocabulary import MANAGED_LABEL
from webhook.serving import WebhookServer, WebhookSettings, start_webhook

FAST = WebhookSettings(provision_timeout=1.0, provision_poll_interval=0.02, reload_interval=0.05)


class Client:
    """An HTTPS client that trusts only the webhook's CA, as the API server does."""

    def __init__(self, server: WebhookServer, ca_file: Path) -> None:
        self.server = server
        self.context = ssl.create_default_context(cafile=str(ca_file))
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=self.context),
            timeout=aiohttp.ClientTimeout(total=10),
        )

    async def post(self, body: bytes | dict[str, Any]) -> tuple[int, Any]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with self.session.post(self.server.url, data=data) as response:
            text = await response.text()
            return response.status, json.loads(text)

    async def admit(self, body: dict[str, Any]) -> dict[str, Any]:
        status, reply = await self.post(body)
        assert status == 200, reply
        assert reply["apiVersion"] == "admission.k8s.io/v1"
        assert reply["kind"] == "AdmissionReview"
        assert reply["response"]["uid"] == body["request"]["uid"]
        response: dict[str, Any] = reply["response"]
        return response


def patch_of(response: dict[str, Any]) -> list[dict[str, Any]]:
    assert response["patchType"] == "JSONPatch"
    ops: list[dict[str, Any]] = json.loads(base64.b64decode(response["patch"]))
    return ops


@pytest.fixture
def view() -> DictView:
    return DictView(destinations("p", "shared", "fresh"), ready={"p", "shared"})


@pytest.fixture
async def webhook(view: DictView, tmp_path: Path) -> AsyncIterator[WebhookServer]:
    serving_files(tmp_path)
    server = await start_webhook(view, "127.0.0.1", 0, tmp_path, FAST)
    yield server
    await server.stop()


@pytest.fixture
async def client(webhook: WebhookServer, tmp_path: Path) -> AsyncIterator[Client]:
    client = Client(webhook, tmp_path / "ca.crt")
    yield client
    await client.session.close()


class TestAdmission:
    async def test_a_build_in_a_managed_namespace_is_answered_with_the_patch(
        self, client: Client
    ) -> None:
        response = await client.admit(review(build()))

        assert response["allowed"] is True
        ops = patch_of(response)
        assert {"op": "replace", "path": "/spec/output/to/name",
                "value": f"{QUAY}/openshift_p/httpd-example:latest"} in ops  # fmt: skip

    async def test_a_build_in_an_unmanaged_namespace_is_allowed_without_a_patch(
        self, client: Client
    ) -> None:
        response = await client.admit(review(build(namespace="x"), namespace="x"))

        assert response == {"uid": response["uid"], "allowed": True}

    async def test_the_health_endpoints_answer(self, client: Client) -> None:
        base = client.server.url.removesuffix("/admissionwebhook")
        for path in ("/healthz", "/readyz"):
            async with client.session.get(base + path) as reply:
                assert (reply.status, await reply.text()) == (200, "ok")


class TestMalformedRequests:
    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (b"{", "not JSON"),
            (b'{"kind": "Pod", "apiVersion": "v1"}', "expected kind AdmissionReview"),
            (b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1"}', "no request"),
            (
                b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": {}}',
                "no uid",
            ),
        ],
    )
    async def test_a_malformed_body_gets_400_with_a_message(
        self, client: Client, body: bytes, message: str
    ) -> None:
        status, reply = await client.post(body)

        assert status == 400
        assert message in reply["message"]

    async def test_an_oversized_body_is_refused_and_the_server_keeps_serving(
        self, client: Client
    ) -> None:
        async with client.session.post(
            client.server.url, data=io.BytesIO(b"x" * (5 * 1024 * 1024))
        ) as reply:
            assert reply.status == 413

        assert (await client.admit(review(build())))["allowed"] is True


class TestJustInTimeProvisioning:
    async def test_the_first_build_of_a_fresh_project_is_admitted_once_provisioned(
        self, client: Client, view: DictView
    ) -> None:
        view.provision_delay = 0.3

        started = time.monotonic()
        response = await client.admit(review(build(namespace="fresh"), namespace="fresh"))

        assert response["allowed"] is True
        assert patch_of(response)
        assert view.ensure_calls == ["fresh"]
        assert 0.3 <= time.monotonic() - started < FAST.provision_timeout

    async def test_concurrent_builds_of_one_fresh_project_share_one_provisioning(
        self, client: Client, view: DictView
    ) -> None:
        view.provision_delay = 0.2

        responses = await asyncio.gather(
            *(client.admit(review(build(namespace="fresh"), namespace="fresh")) for _ in range(5))
        )

        assert all(response["allowed"] for response in responses)
        assert view.ensure_calls == ["fresh"]

    async def test_a_project_still_not_ready_after_the_bound_is_denied_with_503_naming_it(
        self, client: Client, view: DictView
    ) -> None:
        view.provisionable = False

        started = time.monotonic()
        response = await client.admit(review(build(namespace="fresh"), namespace="fresh"))

        elapsed = time.monotonic() - started
        assert response["allowed"] is False
        assert response["status"]["code"] == 503
        assert "'fresh'" in response["status"]["message"]
        assert "push secret" in response["status"]["message"]
        assert FAST.provision_timeout <= elapsed < FAST.provision_timeout + 1

    async def test_a_shorter_api_server_timeout_shortens_the_wait(
        self, client: Client, view: DictView
    ) -> None:
        view.provisionable = False
        body = json.dumps(review(build(namespace="fresh"), namespace="fresh")).encode()

        started = time.monotonic()
        url = client.server.url + "?timeout=1300ms"
        async with client.session.post(url, data=body) as reply:
            answer = await reply.json()

        assert answer["response"]["allowed"] is False
        assert time.monotonic() - started < 0.3 + 0.5
        assert "within 0.3 s" in answer["response"]["status"]["message"]

    async def test_a_provisioning_that_fails_is_a_denial_not_a_server_error(
        self, client: Client, view: DictView
    ) -> None:
        view.provision_error = RuntimeError("quay said no")

        response = await client.admit(review(build(namespace="fresh"), namespace="fresh"))

        assert response["allowed"] is False

    async def test_a_slow_provisioning_keeps_going_after_a_denial_so_a_retry_succeeds(
        self, client: Client, view: DictView
    ) -> None:
        view.provision_delay = FAST.provision_timeout + 0.3

        first = await client.admit(review(build(namespace="fresh"), namespace="fresh"))
        await asyncio.sleep(0.5)
        second = await client.admit(review(build(namespace="fresh"), namespace="fresh"))

        assert (first["allowed"], second["allowed"]) == (False, True)
        assert view.ensure_calls == ["fresh"]

    async def test_a_dry_run_never_provisions_and_warns_instead(
        self, client: Client, view: DictView
    ) -> None:
        response = await client.admit(
            review(build(namespace="fresh"), namespace="fresh", dry_run=True)
        )

        assert response["allowed"] is True
        assert "fresh" in response["warnings"][0]
        assert view.ensure_calls == []


class TestCertificateRotation:
    async def test_a_rotated_certificate_is_served_to_new_connections(
        self, webhook: WebhookServer, client: Client, tmp_path: Path
    ) -> None:
        rotated = tmp_path / "rotated"
        serving_files(rotated, make_ca())
        assert (await client.admit(review(build())))["allowed"]

        for name in ("tls.key", "tls.crt"):
            write_atomically(tmp_path / name, (rotated / name).read_bytes(), 0o600)
        await wait_for_reloads(webhook, 1)

        trusting_new, trusting_old = (
            Client(webhook, rotated / "ca.crt"),
            Client(webhook, tmp_path / "ca.crt"),
        )
        try:
            assert (await trusting_new.admit(review(build())))["allowed"]
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await trusting_old.admit(review(build()))
        finally:
            await trusting_new.session.close()
            await trusting_old.session.close()

    async def test_a_certificate_without_its_key_yet_keeps_the_old_pair_in_service(
        self, webhook: WebhookServer, client: Client, tmp_path: Path
    ) -> None:
        serving = make_serving_cert(make_ca(), "s", "n", ip_addresses=["127.0.0.1"])
        write_atomically(tmp_path / "tls.crt", serving.cert_pem)
        await asyncio.sleep(FAST.reload_interval * 4)

        assert webhook.certificates.reloads == 0
        assert (await client.admit(review(build())))["allowed"]

        write_serving_files(tmp_path, (tmp_path / "ca.crt").read_bytes(), serving)
        await wait_for_reloads(webhook, 1)


async def wait_for_reloads(webhook: WebhookServer, count: int) -> None:
    async with asyncio.timeout(5):
        while webhook.certificates.reloads < count:
            await asyncio.sleep(0.02)


class TestMetrics:
    async def test_answers_are_counted_by_outcome_with_their_latency(
        self, client: Client, view: DictView, webhook: WebhookServer
    ) -> None:
        view.provisionable = False
        await client.admit(review(build()))
        await client.admit(review(build(namespace="x"), namespace="x"))
        await client.post(b"{")
        await client.admit(review(build(namespace="fresh"), namespace="fresh"))

        metrics = webhook.metrics
        counts = {o: metrics.count(o) for o in ("rewritten", "unchanged", "malformed", "denied")}
        assert counts == {"rewritten": 1, "unchanged": 1, "malformed": 1, "denied": 1}
        assert (
            metrics.registry.get_sample_value(
                "quay_bridge_admission_provisioning_waits_total", {"result": "timeout"}
            )
            == 1
        )
        assert (
            metrics.registry.get_sample_value("quay_bridge_admission_duration_seconds_count") == 4
        )
        slow = metrics.registry.get_sample_value(
            "quay_bridge_admission_duration_seconds_bucket", {"le": "0.5"}
        )
        assert slow == 3  # the denial waited the whole provisioning budget


class TestNamespacesNotSeenYet:
    async def test_a_build_in_a_namespace_the_controller_has_not_seen_is_held_and_rewritten(
        self, tmp_path: Path
    ) -> None:
        state = DictView(
            {},
            selected=destinations("brand-new"),
            seen={},
            cluster={"brand-new": {}},
            provision_delay=0.05,
        )
        serving_files(tmp_path)
        server = await start_webhook(state, "127.0.0.1", 0, tmp_path, FAST)
        client = Client(server, tmp_path / "ca.crt")
        try:
            response = await client.admit(
                review(build(namespace="brand-new"), namespace="brand-new")
            )
        finally:
            await client.session.close()
            await server.stop()

        assert response["allowed"] is True
        image = f"{QUAY}/openshift_brand-new/httpd-example:latest"
        rewrite = {"op": "replace", "path": "/spec/output/to/name", "value": image}
        assert rewrite in patch_of(response)
        assert state.reads == ["brand-new"]
        assert state.ensure_calls == ["brand-new"]

    async def test_a_failed_read_of_an_unseen_namespace_is_a_503_not_a_pass(
        self, tmp_path: Path
    ) -> None:
        state = DictView({}, seen={}, read_error=ConnectionError("refused"))
        serving_files(tmp_path)
        server = await start_webhook(state, "127.0.0.1", 0, tmp_path, FAST)
        client = Client(server, tmp_path / "ca.crt")
        try:
            response = await client.admit(review(build(namespace="new"), namespace="new"))
        finally:
            await client.session.close()
            await server.stop()

        assert response["allowed"] is False
        assert response["status"]["code"] == 503
        assert "could not be read" in response["status"]["message"]


class TestNamespaceEndpoint:
    async def post(self, client: Client, body: dict[str, Any]) -> dict[str, Any]:
        url = client.server.url + "/namespaces"
        async with client.session.post(url, data=json.dumps(body).encode()) as reply:
            assert reply.status == 200
            answer: dict[str, Any] = (await reply.json())["response"]
            return answer

    async def test_a_selected_namespace_is_labelled_and_counted(self, tmp_path: Path) -> None:
        state = DictView({}, selected=destinations("team"))
        serving_files(tmp_path)
        server = await start_webhook(state, "127.0.0.1", 0, tmp_path, FAST)
        client = Client(server, tmp_path / "ca.crt")
        try:
            labelled = await self.post(client, namespace_review(namespace("team")))
            other = await self.post(client, namespace_review(namespace("other")))
        finally:
            await client.session.close()
            await server.stop()

        assert patch_of(labelled) == [
            {"op": "add", "path": "/metadata/labels", "value": {MANAGED_LABEL: "true"}}
        ]
        assert other == {"uid": other["uid"], "allowed": True}
        assert state.reads == []
        samples = server.metrics.registry.get_sample_value
        assert samples("quay_bridge_namespace_admissions_total", {"outcome": "labelled"}) == 1
        assert samples("quay_bridge_namespace_admissions_total", {"outcome": "unchanged"}) == 1
