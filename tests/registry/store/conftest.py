"""One metadata-store contract suite, run on SQLite and on a real throwaway PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from registry.settings import Settings
from registry.store.database import Store
from tests.support.postgres import PostgresCluster, PostgresUnavailableError, start_cluster

_names = itertools.count()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    try:
        cluster = start_cluster()
    except PostgresUnavailableError as error:
        pytest.skip(f"PostgreSQL contract run skipped: {error}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    if backend == "sqlite":
        return Settings(data_dir=tmp_path)
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    url = cluster.create_database(f"contract_{next(_names)}")
    return Settings(data_dir=tmp_path, database_url=url)


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    opened = await Store.open(settings)
    try:
        yield opened
    finally:
        await opened.close()
