"""Fixtures of the simulator tests: one real simulator process per test module."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import kubernetes.client
import pytest

from devstack.sim import SimServer, sim_server


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with sim_server() as server:
        yield server


@pytest.fixture
def api(sim: SimServer) -> kubernetes.client.ApiClient:
    return sim.api_client()


@pytest.fixture
def namespace(api: kubernetes.client.ApiClient) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    kubernetes.client.CoreV1Api(api).create_namespace({"metadata": {"name": name}})
    return name
