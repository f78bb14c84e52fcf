"""The one caBundle read-patch-retry loop, through each transport that carries it, on a live server.

A concurrent writer (a real call to the simulator) reorders the configuration's webhooks between
the loop's read and its patch: the patch's ``test`` operations then fail on the server (422) and the
loop must read again rather than put the CA on the wrong webhook.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
import yaml

from bridge.kube.cluster import Cluster
from bridge.kube.connection import load_connection
from bridge.metrics import Metrics
from certs.api import WebhookConfigurations, status_of
from certs.injecting import ATTEMPTS, inject_ca_bundle
from certs.issuing import make_ca
from certs.official_client import OfficialWebhookConfigurations, patch_live_ca_bundle
from devstack.sim import SimServer, sim_server

DEPLOYED = Path(__file__).parents[2] / "deploy" / "base" / "mutatingwebhookconfiguration.yaml"
CA = make_ca().cert_pem


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with sim_server() as running:
        yield running


@pytest.fixture
def configuration(sim: SimServer) -> Iterator[str]:
    admission = kubernetes.client.AdmissionregistrationV1Api(sim.api_client())
    body = yaml.safe_load(DEPLOYED.read_text())
    admission.create_mutating_webhook_configuration(body)
    yield body["metadata"]["name"]
    admission.delete_mutating_webhook_configuration(body["metadata"]["name"])


@pytest.fixture(params=["official client", "operator client"])
async def transport(
    request: pytest.FixtureRequest, sim: SimServer
) -> AsyncIterator[WebhookConfigurations]:
    """Each transport the loop runs through: the command's and the operator's."""
    if request.param == "official client":
        yield OfficialWebhookConfigurations(sim.api_client())
        return
    cluster = Cluster(load_connection(sim.kubeconfig), Metrics())
    try:
        yield cluster
    finally:
        await cluster.aclose()


class Racing:
    """A transport after whose first ``races`` reads another writer reverses the webhooks."""

    def __init__(self, inner: WebhookConfigurations, sim: SimServer, races: int) -> None:
        self.inner = inner
        self.client = sim.api_client()
        self.races = races
        self.reads = 0
        self.patches = 0

    async def read_mutating_webhook_configuration(self, name: str) -> dict[str, Any]:
        live = await self.inner.read_mutating_webhook_configuration(name)
        self.reads += 1
        if self.reads <= self.races:
            await asyncio.to_thread(self._reverse, name)
        return live

    async def patch_mutating_webhook_configuration(
        self, name: str, operations: list[dict[str, Any]]
    ) -> None:
        self.patches += 1
        await self.inner.patch_mutating_webhook_configuration(name, operations)

    def _reverse(self, name: str) -> None:
        admission = kubernetes.client.AdmissionregistrationV1Api(self.client)
        current = self.client.sanitize_for_serialization(
            admission.read_mutating_webhook_configuration(name)
        )
        current["webhooks"].reverse()
        admission.replace_mutating_webhook_configuration(name, current)


def bundles(sim: SimServer, name: str) -> dict[str, bytes | None]:
    api = sim.api_client()
    live = api.sanitize_for_serialization(
        kubernetes.client.AdmissionregistrationV1Api(api).read_mutating_webhook_configuration(name)
    )
    found: dict[str, bytes | None] = {}
    for entry in live["webhooks"]:
        value = entry["clientConfig"].get("caBundle")
        found[entry["name"]] = base64.b64decode(value) if value else None
    return found


async def test_a_patch_that_raced_a_reorder_is_planned_again_from_a_fresh_read(
    transport: WebhookConfigurations, sim: SimServer, configuration: str
) -> None:
    racing = Racing(transport, sim, races=1)
    updated = await inject_ca_bundle(racing, configuration, CA)

    assert updated == 2
    assert (racing.reads, racing.patches) == (2, 2)
    assert set(bundles(sim, configuration).values()) == {CA}


async def test_one_webhook_gets_the_ca_even_when_a_reorder_moved_it(
    transport: WebhookConfigurations, sim: SimServer, configuration: str
) -> None:
    racing = Racing(transport, sim, races=1)
    await inject_ca_bundle(racing, configuration, CA, webhook="quayintegration.quay.redhat.com")

    assert bundles(sim, configuration) == {
        "namespaces.quay-bridge.quay.redhat.com": None,
        "quayintegration.quay.redhat.com": CA,
    }


async def test_the_loop_gives_up_with_the_servers_error_after_its_attempts(
    transport: WebhookConfigurations, sim: SimServer, configuration: str
) -> None:
    racing = Racing(transport, sim, races=ATTEMPTS)
    with pytest.raises(Exception) as raised:
        await inject_ca_bundle(racing, configuration, CA)

    assert status_of(raised.value) == 422
    assert racing.patches == ATTEMPTS
    assert set(bundles(sim, configuration).values()) == {None}


def test_the_blocking_entry_point_runs_the_same_loop(sim: SimServer, configuration: str) -> None:
    assert patch_live_ca_bundle(sim.api_client(), configuration, CA) == 2
    assert set(bundles(sim, configuration).values()) == {CA}
