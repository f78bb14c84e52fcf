"""Conformance, content management: end-9 (manifests, tags), end-10 (blob deletion, refused).

Deleting needs push, and an unknown target is the spec's `*_UNKNOWN` code.
"""

from __future__ import annotations

from tests.registry.oci.images import digest_of, make_image
from tests.registry.oci.registry_fixture import Registry, error_code, push_blob, push_image

PUSH = "repository:acme/app:push,pull"


class TestEnd9DeleteManifests:
    async def test_end_9_deleting_by_digest_removes_the_manifest_and_its_tags(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        digest = await push_image(registry, headers, "acme/app", make_image(), "v1")
        url = f"{registry.url}/v2/acme/app/manifests/{digest}"
        async with registry.http.delete(url, headers=headers) as resp:
            assert resp.status == 202
        async with registry.http.get(url, headers=headers) as resp:
            assert resp.status == 404
            assert await error_code(resp) == "MANIFEST_UNKNOWN"
        async with registry.http.get(f"{registry.url}/v2/acme/app/tags/list", headers=headers) as r:
            assert (await r.json())["tags"] == []

    async def test_end_9_deleting_a_tag_keeps_the_manifest(self, registry: Registry) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        digest = await push_image(registry, headers, "acme/app", make_image(), "v1")
        async with registry.http.delete(
            f"{registry.url}/v2/acme/app/manifests/v1", headers=headers
        ) as resp:
            assert resp.status == 202
        async with registry.http.get(
            f"{registry.url}/v2/acme/app/manifests/{digest}", headers=headers
        ) as resp:
            assert resp.status == 200
        async with registry.http.get(
            f"{registry.url}/v2/acme/app/manifests/v1", headers=headers
        ) as resp:
            assert resp.status == 404

    async def test_end_9_an_unknown_manifest_is_404_code_7(self, registry: Registry) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        url = f"{registry.url}/v2/acme/app/manifests/{digest_of(b'none')}"
        async with registry.http.delete(url, headers=headers) as resp:
            assert resp.status == 404
            assert await error_code(resp) == "MANIFEST_UNKNOWN"

    async def test_code_11_a_read_robot_cannot_delete(self, registry: Registry) -> None:
        assert registry.http is not None
        writer = await registry.bearer("acme+writer", PUSH)
        digest = await push_image(registry, writer, "acme/app", make_image(), "v1")
        reader = await registry.bearer("acme+reader", PUSH)
        url = f"{registry.url}/v2/acme/app/manifests/{digest}"
        async with registry.http.delete(url, headers=reader) as resp:
            assert resp.status == 401
        async with registry.http.get(url, headers=reader) as resp:
            assert resp.status == 200


class TestEnd10DeleteBlobs:
    async def test_end_10_blob_deletion_is_unsupported_and_the_blob_stays(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        digest = await push_blob(registry, headers, "acme/app", b"to delete")
        url = f"{registry.url}/v2/acme/app/blobs/{digest}"
        async with registry.http.delete(url, headers=headers) as resp:
            assert resp.status == 405
            assert await error_code(resp) == "UNSUPPORTED"
        async with registry.http.head(url, headers=headers) as resp:
            assert resp.status == 200


class TestCancelUpload:
    async def test_a_cancelled_upload_is_gone_with_its_data(self, registry: Registry) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        async with registry.http.post(
            f"{registry.url}/v2/acme/app/blobs/uploads/", headers=headers
        ) as resp:
            location = resp.headers["Location"]
        async with registry.http.patch(location, data=b"partial", headers=headers) as resp:
            assert resp.status == 202
        async with registry.http.delete(location, headers=headers) as resp:
            assert resp.status == 204
        async with registry.http.get(location, headers=headers) as resp:
            assert resp.status == 404
            assert await error_code(resp) == "BLOB_UPLOAD_UNKNOWN"
        assert list((registry.data_dir / "oci" / "uploads").iterdir()) == []
