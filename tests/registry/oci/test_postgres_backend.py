"""The `/v2` workflows on PostgreSQL metadata (a real throwaway cluster), not only SQLite.

The OCI queries use dialect-specific inserts (`ON CONFLICT DO NOTHING`) and savepoints; these tests
push, pull, page tags, race two identical manifest PUTs and delete, with the metadata in PostgreSQL.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.registry.oci.images import OCI_MANIFEST, make_image
from tests.registry.oci.registry_fixture import Registry, push_blob, push_image, running_registry
from tests.support.postgres import PostgresCluster, PostgresUnavailableError, start_cluster

pytestmark = pytest.mark.postgres
PUSH = "repository:acme/app:push,pull"
_names = itertools.count()


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    try:
        cluster = start_cluster()
    except PostgresUnavailableError as error:
        pytest.skip(f"PostgreSQL run skipped: {error}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
async def pg_registry(postgres: PostgresCluster, tmp_path: Path) -> AsyncIterator[Registry]:
    url = postgres.create_database(f"oci_{next(_names)}")
    async with running_registry(tmp_path / "data", database_url=url) as running:
        yield running


async def test_an_image_pushed_on_postgres_is_pulled_back_byte_for_byte(
    pg_registry: Registry,
) -> None:
    registry = pg_registry
    assert registry.http is not None
    headers = await registry.bearer("acme+writer", PUSH)
    image = make_image()
    digest = await push_image(registry, headers, "acme/app", image, "v1")
    # Pushing the same blobs again must be a no-op on the link tables, not a conflict.
    await push_image(registry, headers, "acme/app", image, "v2")
    async with registry.http.get(
        f"{registry.url}/v2/acme/app/manifests/v1", headers=headers
    ) as resp:
        assert await resp.read() == image.manifest
        assert resp.headers["Docker-Content-Digest"] == digest
    for blob_digest, data in image.blobs().items():
        async with registry.http.get(
            f"{registry.url}/v2/acme/app/blobs/{blob_digest}", headers=headers
        ) as resp:
            assert await resp.read() == data
    async with registry.http.get(
        f"{registry.url}/v2/acme/app/tags/list", params={"n": "1"}, headers=headers
    ) as resp:
        assert (await resp.json())["tags"] == ["v1"]
        assert resp.headers["Link"] == '</v2/acme/app/tags/list?n=1&last=v1>; rel="next"'


async def test_two_identical_manifest_puts_at_once_both_succeed_with_one_manifest(
    pg_registry: Registry,
) -> None:
    registry = pg_registry
    assert registry.http is not None
    headers = await registry.bearer("acme+writer", PUSH)
    image = make_image("race\n")
    for data in image.blobs().values():
        await push_blob(registry, headers, "acme/app", data)

    async def put(tag: str) -> int:
        assert registry.http is not None
        async with registry.http.put(
            f"{registry.url}/v2/acme/app/manifests/{tag}",
            data=image.manifest,
            headers=headers | {"Content-Type": OCI_MANIFEST},
        ) as resp:
            return resp.status

    assert await asyncio.gather(put("a"), put("b"), put("c")) == [201, 201, 201]
    async with registry.http.delete(
        f"{registry.url}/v2/acme/app/manifests/{image.manifest_digest}", headers=headers
    ) as resp:
        assert resp.status == 202
    async with registry.http.get(f"{registry.url}/v2/acme/app/tags/list", headers=headers) as r:
        assert (await r.json())["tags"] == []


async def test_concurrent_pushes_of_one_tag_leave_exactly_one_live_tag(
    pg_registry: Registry,
) -> None:
    registry = pg_registry
    assert registry.http is not None
    headers = await registry.bearer("acme+writer", PUSH)
    images = [make_image(f"image {i}\n") for i in range(4)]
    for image in images:
        for data in image.blobs().values():
            await push_blob(registry, headers, "acme/app", data)

    async def put(body: bytes) -> int:
        assert registry.http is not None
        async with registry.http.put(
            f"{registry.url}/v2/acme/app/manifests/latest",
            data=body,
            headers=headers | {"Content-Type": OCI_MANIFEST},
        ) as resp:
            return resp.status

    statuses = await asyncio.gather(*(put(image.manifest) for image in images))
    assert statuses == [201] * len(images)
    async with registry.http.get(f"{registry.url}/v2/acme/app/tags/list", headers=headers) as r:
        assert (await r.json())["tags"] == ["latest"]
    async with registry.http.get(
        f"{registry.url}/v2/acme/app/manifests/latest", headers=headers
    ) as resp:
        assert resp.headers["Docker-Content-Digest"] in {i.manifest_digest for i in images}


async def test_concurrent_first_pushes_create_the_repository_once(pg_registry: Registry) -> None:
    registry = pg_registry
    assert registry.http is not None
    headers = await registry.bearer("quayadmin", "repository:acme/racing:push,pull")

    async def start() -> int:
        assert registry.http is not None
        async with registry.http.post(
            f"{registry.url}/v2/acme/racing/blobs/uploads/", headers=headers
        ) as resp:
            return resp.status

    assert await asyncio.gather(*(start() for _ in range(5))) == [202] * 5
