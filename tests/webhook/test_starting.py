"""``start_webhook``: mounted and self-managed certificates, against the simulator.

``bridge.app.webhook_server.start_webhook`` is what ``quay-bridge run`` starts the webhook with.

The simulator is the real API server here: the operator writes the shared Secret and the
MutatingWebhookConfiguration's caBundle through its own client (``bridge.kube.cluster.Cluster``), as
in a cluster; the tests read them back through the official kubernetes client.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import kubernetes.client
import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from bridge.app.webhook_server import SelfManagedSettings, start_webhook
from bridge.kube.cluster import Cluster
from bridge.kube.connection import load_connection
from bridge.metrics import Metrics
from certs.issuing import make_serving_cert
from certs.sharing import SharedCertificates
from devstack.sim import SimServer, sim_server
from tests.webhook.builds import build, destinations, review
from tests.webhook.support import DictView, serving_files
from webhook.serving import WebhookServer, WebhookSettings

DEPLOYED = Path(__file__).parents[2] / "deploy" / "base" / "mutatingwebhookconfiguration.yaml"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with sim_server() as running:
        core = kubernetes.client.CoreV1Api(running.api_client())
        core.create_namespace({"metadata": {"name": "quay-bridge"}})
        yield running


@pytest.fixture
def api(sim: SimServer) -> kubernetes.client.ApiClient:
    return sim.api_client()


@pytest.fixture
async def kube(sim: SimServer) -> AsyncIterator[Cluster]:
    """The operator's own client for the simulator, from the kubeconfig the simulator wrote."""
    cluster = Cluster(load_connection(sim.kubeconfig), Metrics())
    yield cluster
    await cluster.aclose()


@pytest.fixture
def configuration(api: kubernetes.client.ApiClient, request: pytest.FixtureRequest) -> str:
    """The deployed MutatingWebhookConfiguration, under a name unique to the test."""
    body = yaml.safe_load(DEPLOYED.read_text())
    body["metadata"]["name"] = name = f"mwc-{abs(hash(request.node.nodeid)) % 10**8}"
    admission = kubernetes.client.AdmissionregistrationV1Api(api)
    admission.create_mutating_webhook_configuration(body)
    return name


def ca_bundle(api: kubernetes.client.ApiClient, name: str) -> bytes:
    admission = kubernetes.client.AdmissionregistrationV1Api(api)
    live = api.sanitize_for_serialization(admission.read_mutating_webhook_configuration(name))
    return base64.b64decode(live["webhooks"][0]["clientConfig"]["caBundle"])


def shared_secret(api: kubernetes.client.ApiClient, name: str) -> SharedCertificates | None:
    core = kubernetes.client.CoreV1Api(api)
    secret = api.sanitize_for_serialization(core.read_namespaced_secret(name, "quay-bridge"))
    return SharedCertificates.from_secret_data(secret["data"])


async def admitted_with(server: WebhookServer, ca_pem: bytes) -> bool:
    context = ssl.create_default_context(cadata=ca_pem.decode())
    connector = aiohttp.TCPConnector(ssl=context)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.post(server.url, json=review(build())) as reply,
    ):
        answer: dict[str, Any] = await reply.json()
        return bool(answer["response"]["allowed"])


def names(configuration: str, secret: str) -> SelfManagedSettings:
    return SelfManagedSettings(
        service="quay-bridge-webhook",
        namespace="quay-bridge",
        configuration=configuration,
        secret=secret,
    )


@pytest.fixture
def view() -> DictView:
    return DictView(destinations("p"), ready={"p"})


class TestMountedCertificates:
    async def test_certificates_in_the_cert_dir_are_served_and_nothing_is_written(
        self,
        view: DictView,
        tmp_path: Path,
        api: kubernetes.client.ApiClient,
        configuration: str,
        kube: Cluster,
    ) -> None:
        _, ca = serving_files(tmp_path)

        server = await start_webhook(view, host="127.0.0.1", port=0, cert_dir=tmp_path,
                                     cluster=kube)  # fmt: skip
        try:
            assert await admitted_with(server, ca.cert_pem)
            assert server.metrics.count("rewritten") == 1
        finally:
            await server.stop()
        admission = kubernetes.client.AdmissionregistrationV1Api(api)
        live = api.sanitize_for_serialization(
            admission.read_mutating_webhook_configuration(configuration)
        )
        assert "caBundle" not in live["webhooks"][0]["clientConfig"]


class TestMetrics:
    async def test_the_operators_registry_receives_the_webhooks_series(
        self, view: DictView, tmp_path: Path
    ) -> None:
        serving_files(tmp_path)
        registry = CollectorRegistry()

        server = await start_webhook(view, host="127.0.0.1", port=0, cert_dir=tmp_path,
                                     metrics_registry=registry)  # fmt: skip
        try:
            await admitted_with(server, (tmp_path / "ca.crt").read_bytes())
        finally:
            await server.stop()

        text = generate_latest(registry).decode()
        assert 'quay_bridge_admissions_total{outcome="rewritten"} 1.0' in text


class TestSelfManagedCertificates:
    async def test_the_operator_makes_a_ca_stores_it_and_sets_the_ca_bundle(
        self,
        view: DictView,
        tmp_path: Path,
        api: kubernetes.client.ApiClient,
        configuration: str,
        kube: Cluster,
    ) -> None:
        options = names(configuration, f"{configuration}-certs")

        server = await start_webhook(view, host="127.0.0.1", port=0, cert_dir=tmp_path / "c",
                                     cluster=kube, self_managed=options)  # fmt: skip
        try:
            shared = shared_secret(api, options.secret)
            assert shared is not None
            assert ca_bundle(api, configuration) == shared.ca.cert_pem
            assert (tmp_path / "c" / "tls.crt").read_bytes() == shared.serving.cert_pem
            assert await admitted_with(server, ca_bundle(api, configuration))
        finally:
            await server.stop()

    async def test_a_second_replica_serves_the_same_certificate_under_the_same_ca_bundle(
        self,
        view: DictView,
        tmp_path: Path,
        api: kubernetes.client.ApiClient,
        configuration: str,
        kube: Cluster,
    ) -> None:
        options = names(configuration, f"{configuration}-certs")

        first = await start_webhook(view, host="127.0.0.1", port=0, cert_dir=tmp_path / "a",
                                    cluster=kube, self_managed=options)  # fmt: skip
        second = await start_webhook(view, host="127.0.0.1", port=0, cert_dir=tmp_path / "b",
                                     cluster=kube, self_managed=options)  # fmt: skip
        try:
            bundle = ca_bundle(api, configuration)
            assert await admitted_with(first, bundle)
            assert await admitted_with(second, bundle)
            assert (tmp_path / "a" / "tls.crt").read_bytes() == (
                tmp_path / "b" / "tls.crt"
            ).read_bytes()
        finally:
            await first.stop()
            await second.stop()

    async def test_a_replica_that_cannot_use_the_secret_still_serves_with_its_own_ca(
        self,
        view: DictView,
        tmp_path: Path,
        api: kubernetes.client.ApiClient,
        configuration: str,
        kube: Cluster,
    ) -> None:
        options = SelfManagedSettings(
            namespace="no-such-namespace", configuration=configuration, secret="x"
        )

        server = await start_webhook(view, host="127.0.0.1", port=0, cert_dir=None,
                                     cluster=kube, self_managed=options)  # fmt: skip
        try:
            assert await admitted_with(server, ca_bundle(api, configuration))
        finally:
            await server.stop()

    async def test_a_replica_on_its_own_ca_keeps_it_across_renewal_checks(
        self,
        view: DictView,
        tmp_path: Path,
        api: kubernetes.client.ApiClient,
        configuration: str,
        kube: Cluster,
    ) -> None:
        options = SelfManagedSettings(
            namespace="no-such-namespace",
            configuration=configuration,
            secret="x",
            renewal_check_seconds=0.05,
        )
        server = await start_webhook(view, host="127.0.0.1", port=0, cert_dir=tmp_path,
                                     cluster=kube, self_managed=options)  # fmt: skip
        try:
            served = (tmp_path / "tls.crt").read_bytes()
            await asyncio.sleep(0.5)

            assert (tmp_path / "tls.crt").read_bytes() == served
            assert await admitted_with(server, ca_bundle(api, configuration))
        finally:
            await server.stop()

    async def test_a_configuration_applied_after_start_gets_its_ca_bundle(
        self, view: DictView, tmp_path: Path, api: kubernetes.client.ApiClient, kube: Cluster
    ) -> None:
        late = f"late-{uuid.uuid4().hex[:8]}"
        options = dataclasses.replace(names(late, f"{late}-certs"), renewal_check_seconds=0.1)
        server = await start_webhook(view, host="127.0.0.1", port=0, cert_dir=tmp_path,
                                     cluster=kube, self_managed=options)  # fmt: skip
        try:
            body = yaml.safe_load(DEPLOYED.read_text())
            body["metadata"]["name"] = late
            admission = kubernetes.client.AdmissionregistrationV1Api(api)
            admission.create_mutating_webhook_configuration(body)

            async with asyncio.timeout(10):
                while True:
                    live = api.sanitize_for_serialization(
                        admission.read_mutating_webhook_configuration(late)
                    )
                    if "caBundle" in live["webhooks"][0]["clientConfig"]:
                        break
                    await asyncio.sleep(0.1)
            assert await admitted_with(server, ca_bundle(api, late))
        finally:
            await server.stop()

    async def test_a_missing_webhook_configuration_does_not_stop_the_webhook(
        self, view: DictView, tmp_path: Path, api: kubernetes.client.ApiClient, kube: Cluster
    ) -> None:
        options = names("not-registered", "not-registered-certs")

        server = await start_webhook(view, host="127.0.0.1", port=0, cert_dir=tmp_path,
                                     cluster=kube, self_managed=options)  # fmt: skip
        try:
            shared = shared_secret(api, options.secret)
            assert shared is not None
            assert await admitted_with(server, shared.ca.cert_pem)
        finally:
            await server.stop()

    async def test_self_managed_mode_without_a_cluster_is_refused(
        self, view: DictView, tmp_path: Path
    ) -> None:
        with pytest.raises(ValueError, match="need a cluster"):
            await start_webhook(view, host="127.0.0.1", port=0, cert_dir=tmp_path)


class TestSelfManagedRenewal:
    async def test_a_certificate_renewed_by_another_replica_is_picked_up_while_serving(
        self,
        view: DictView,
        tmp_path: Path,
        api: kubernetes.client.ApiClient,
        configuration: str,
        kube: Cluster,
    ) -> None:
        options = dataclasses.replace(
            names(configuration, f"{configuration}-certs"), renewal_check_seconds=0.1
        )
        settings = WebhookSettings(reload_interval=0.05)
        server = await start_webhook(view, host="127.0.0.1", port=0, cert_dir=tmp_path,
                                     cluster=kube, settings=settings,
                                     self_managed=options)  # fmt: skip
        try:
            shared = shared_secret(api, options.secret)
            assert shared is not None
            renewed = make_serving_cert(
                shared.ca,
                "quay-bridge-webhook",
                "quay-bridge",
                dns_names=["localhost"],
                ip_addresses=["127.0.0.1"],
            )
            core = kubernetes.client.CoreV1Api(api)
            core.patch_namespaced_secret(
                options.secret,
                "quay-bridge",
                {"data": SharedCertificates(shared.ca, renewed).secret_data()},
            )

            async with asyncio.timeout(5):
                while server.certificates.reloads < 1:
                    await asyncio.sleep(0.05)
            assert (tmp_path / "tls.crt").read_bytes() == renewed.cert_pem
            assert ca_bundle(api, configuration) == shared.ca.cert_pem
            assert await admitted_with(server, shared.ca.cert_pem)
        finally:
            await server.stop()
