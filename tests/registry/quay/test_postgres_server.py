"""The real ``quay-registry serve --database postgresql://...`` process on a throwaway cluster."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from devstack.registry import registry_server
from tests.support.postgres import PostgresCluster, PostgresUnavailableError, start_cluster

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    try:
        cluster = start_cluster()
    except PostgresUnavailableError as error:
        pytest.skip(f"PostgreSQL server tests skipped: {error}")
    try:
        yield cluster
    finally:
        cluster.stop()


def test_fifty_parallel_creates_give_one_201_and_data_survives_a_restart(
    postgres: PostgresCluster, tmp_path: Path
) -> None:
    url = postgres.create_database("server_restart")
    with registry_server(database=url, data_dir=tmp_path / "data") as first:
        headers = first.headers()

        def create(_: int) -> int:
            return requests.post(
                f"{first.url}/api/v1/organization/",
                json={"name": "racy"},
                headers=headers,
                timeout=30,
            ).status_code

        with ThreadPoolExecutor(max_workers=50) as pool:
            statuses = sorted(pool.map(create, range(50)))
        assert statuses == [201] + [400] * 49
        robot = requests.put(
            f"{first.url}/api/v1/organization/racy/robots/builder", headers=headers, timeout=10
        ).json()
        token = first.token
    with registry_server(database=url, data_dir=tmp_path / "data", initialize=False) as second:
        again = requests.get(
            f"{second.url}/api/v1/organization/racy/robots/builder",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert again.status_code == 200 and again.json()["token"] == robot["token"]
