"""Conformance, push workflow: uploads, manifests, mounts, and what malformed input leaves behind.

Endpoints end-4a/4b (start), end-5 (chunks), end-6 (finish), end-7 (manifests), end-11 (mount) and
end-13 (status); error codes code-2/3/4/5/6/10/11.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.registry.oci.images import OCI_INDEX, OCI_MANIFEST, descriptor, digest_of, make_image
from tests.registry.oci.registry_fixture import (
    Registry,
    error_code,
    push_blob,
    push_image,
    running_registry,
)

PUSH = "repository:acme/app:push,pull"
UPLOADS = "/v2/acme/app/blobs/uploads/"


async def _start(registry: Registry, headers: dict[str, str]) -> str:
    assert registry.http is not None
    async with registry.http.post(registry.url + UPLOADS, headers=headers) as resp:
        assert resp.status == 202
        return str(resp.headers["Location"])


async def _status(registry: Registry, headers: dict[str, str], location: str) -> tuple[int, str]:
    assert registry.http is not None
    async with registry.http.get(location, headers=headers) as resp:
        return resp.status, resp.headers.get("Range", "")


async def _blob_status(registry: Registry, headers: dict[str, str], digest: str) -> int:
    assert registry.http is not None
    url = f"{registry.url}/v2/acme/app/blobs/{digest}"
    async with registry.http.head(url, headers=headers) as resp:
        return resp.status


class TestEnd4UploadStart:
    async def test_end_4a_opens_a_session_with_quays_headers(self, registry: Registry) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        async with registry.http.post(registry.url + UPLOADS, headers=headers) as resp:
            assert resp.status == 202
            assert await resp.read() == b""
            uuid = resp.headers["Docker-Upload-UUID"]
            assert resp.headers["Location"] == f"{registry.url}{UPLOADS}{uuid}"
            assert resp.headers["Range"] == "bytes=0--1"

    async def test_end_4b_a_single_request_upload_is_201(self, registry: Registry) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        data = b"monolithic"
        digest = digest_of(data)
        url = registry.url + UPLOADS
        async with registry.http.post(
            url, params={"digest": digest}, data=data, headers=headers
        ) as resp:
            assert resp.status == 201
            assert resp.headers["Location"] == f"{registry.url}/v2/acme/app/blobs/{digest}"
            assert resp.headers["Docker-Content-Digest"] == digest

    async def test_code_11_a_read_robot_cannot_start_an_upload(self, registry: Registry) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+reader", PUSH)
        async with registry.http.post(registry.url + UPLOADS, headers=headers) as resp:
            assert resp.status == 401
            assert await error_code(resp) == "UNAUTHORIZED"
            assert resp.headers["WWW-Authenticate"].endswith(
                ',scope="repository:acme/app:pull,push"'
            )


class TestEnd5End6ChunkedUpload:
    async def test_end_5_end_6_end_13_chunks_then_finish(self, registry: Registry) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        location = await _start(registry, headers)
        chunks = [b"a" * 1000, b"b" * 2000, b"c" * 10]
        offset = 0
        for chunk in chunks:
            content_range = {"Content-Range": f"{offset}-{offset + len(chunk) - 1}"}
            async with registry.http.patch(
                location, data=chunk, headers=headers | content_range
            ) as resp:
                assert resp.status == 202
                offset += len(chunk)
                assert resp.headers["Range"] == f"bytes=0-{offset - 1}"
                location = resp.headers["Location"]
        assert await _status(registry, headers, location) == (204, f"bytes=0-{offset - 1}")
        data = b"".join(chunks)
        async with registry.http.put(
            location, params={"digest": digest_of(data)}, headers=headers
        ) as resp:
            assert resp.status == 201
            assert resp.headers["Docker-Content-Digest"] == digest_of(data)
        assert await _blob_status(registry, headers, digest_of(data)) == 200
        assert (await _status(registry, headers, location))[0] == 404

    async def test_end_6_the_last_chunk_may_come_with_the_finish(self, registry: Registry) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        location = await _start(registry, headers)
        async with registry.http.patch(location, data=b"first ", headers=headers) as resp:
            assert resp.status == 202
        digest = digest_of(b"first last")
        async with registry.http.put(
            location, params={"digest": digest}, data=b"last", headers=headers
        ) as resp:
            assert resp.status == 201

    async def test_end_5_a_chunk_without_content_length_is_streamed(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        location = await _start(registry, headers)
        parts = [b"p" * 300_000, b"q" * 900_000, b"r" * 5]

        async def body() -> AsyncIterator[bytes]:
            for part in parts:
                yield part

        async with registry.http.patch(location, data=body(), headers=headers) as resp:
            assert resp.status == 202
            assert resp.request_info.headers.get("Transfer-Encoding") == "chunked"
            assert resp.headers["Range"] == f"bytes=0-{sum(map(len, parts)) - 1}"
        digest = digest_of(b"".join(parts))
        async with registry.http.put(location, params={"digest": digest}, headers=headers) as resp:
            assert resp.status == 201

    async def test_end_5_a_chunk_out_of_order_is_416(self, registry: Registry) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        location = await _start(registry, headers)
        async with registry.http.patch(
            location, data=b"xyz", headers=headers | {"Content-Range": "5-7"}
        ) as resp:
            assert resp.status == 416
        assert await _status(registry, headers, location) == (204, "bytes=0--1")

    async def test_end_6_a_sha512_digest_is_verified_with_sha512(self, registry: Registry) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        data = b"sha512 content"
        digest = "sha512:" + hashlib.sha512(data).hexdigest()
        await push_blob(registry, headers, "acme/app", data, digest)
        assert await _blob_status(registry, headers, digest) == 200

    async def test_an_upload_session_survives_a_registry_restart(self, tmp_path: Path) -> None:
        data_dir = tmp_path / "data"
        async with running_registry(data_dir) as first:
            headers = await first.bearer("acme+writer", PUSH)
            location = await _start(first, headers)
            assert first.http is not None
            async with first.http.patch(location, data=b"before ", headers=headers) as resp:
                assert resp.status == 202
            path = location.split(first.host, 1)[1]
        async with running_registry(data_dir) as second:
            assert second.http is not None
            headers = await second.bearer("acme+writer", PUSH)
            url = second.url + path
            assert await _status(second, headers, url) == (204, "bytes=0-6")
            digest = digest_of(b"before after")
            async with second.http.put(
                url, params={"digest": digest}, data=b"after", headers=headers
            ) as resp:
                assert resp.status == 201


class TestMalformedUploads:
    async def test_code_2_a_wrong_digest_at_finish_is_blob_upload_invalid_and_leaves_nothing(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        location = await _start(registry, headers)
        wrong = digest_of(b"something else")
        async with registry.http.put(
            location, params={"digest": wrong}, data=b"actual", headers=headers
        ) as resp:
            assert resp.status == 400
            assert await error_code(resp) == "BLOB_UPLOAD_INVALID"
        assert await _blob_status(registry, headers, wrong) == 404
        assert await _blob_status(registry, headers, digest_of(b"actual")) == 404
        assert (await _status(registry, headers, location))[0] == 404
        assert list((registry.data_dir / "oci" / "uploads").iterdir()) == []

    async def test_code_2_a_wrong_digest_on_a_single_request_upload_leaves_nothing(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        wrong = digest_of(b"x")
        async with registry.http.post(
            registry.url + UPLOADS, params={"digest": wrong}, data=b"y", headers=headers
        ) as resp:
            assert resp.status == 400
            assert await error_code(resp) == "BLOB_UPLOAD_INVALID"
        assert list((registry.data_dir / "oci" / "uploads").iterdir()) == []
        assert not (registry.data_dir / "oci" / "blobs" / "sha256").exists() or not any(
            (registry.data_dir / "oci" / "blobs" / "sha256").rglob("*")
        )

    @pytest.mark.parametrize("digest", ["sha256:short", "md5:abc", "nonsense", ""])
    async def test_code_4_a_malformed_digest_is_digest_invalid(
        self, registry: Registry, digest: str
    ) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        location = await _start(registry, headers)
        async with registry.http.put(
            location, params={"digest": digest}, data=b"d", headers=headers
        ) as resp:
            assert resp.status == 400
            assert await error_code(resp) == "DIGEST_INVALID"

    async def test_code_3_an_unknown_session_is_blob_upload_unknown(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        url = f"{registry.url}{UPLOADS}00000000-0000-4000-8000-000000000000"
        async with registry.http.patch(url, data=b"x", headers=headers) as resp:
            assert resp.status == 404
            assert await error_code(resp) == "BLOB_UPLOAD_UNKNOWN"

    async def test_a_truncated_chunk_is_rolled_back_to_where_it_started(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        location = await _start(registry, headers)
        async with registry.http.patch(location, data=b"kept", headers=headers) as resp:
            assert resp.status == 202
        path = location.split(registry.host, 1)[1]
        host, port = registry.host.split(":")
        _, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            (
                f"PATCH {path} HTTP/1.1\r\nHost: {registry.host}\r\n"
                f"Authorization: {headers['Authorization']}\r\n"
                "Content-Length: 100000\r\n\r\n"
            ).encode()
            + b"z" * 40000
        )
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        for _ in range(50):  # the server notices the lost connection asynchronously
            status = await _status(registry, headers, location)
            if status == (204, "bytes=0-3"):
                break
            await asyncio.sleep(0.05)
        assert status == (204, "bytes=0-3")
        async with registry.http.put(
            location, params={"digest": digest_of(b"kept")}, headers=headers
        ) as resp:
            assert resp.status == 201


def _manifest_with(config: bytes, layers: list[bytes]) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor("application/vnd.oci.image.config.v1+json", config),
            "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", x) for x in layers],
        }
    ).encode()


class TestEnd7PushManifests:
    async def test_end_7_by_tag_answers_201_with_location_and_digest(
        self, registry: Registry
    ) -> None:
        headers = await registry.bearer("acme+writer", PUSH)
        image = make_image()
        digest = await push_image(registry, headers, "acme/app", image, "v1")
        assert digest == image.manifest_digest

    async def test_end_7_by_digest_is_accepted_and_untagged(self, registry: Registry) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        image = make_image()
        for data in image.blobs().values():
            await push_blob(registry, headers, "acme/app", data)
        url = f"{registry.url}/v2/acme/app/manifests/{image.manifest_digest}"
        put = headers | {"Content-Type": OCI_MANIFEST}
        async with registry.http.put(url, data=image.manifest, headers=put) as resp:
            assert resp.status == 201
            # Relative, as Quay's (its upload and blob Locations are absolute).
            assert resp.headers["Location"] == url.removeprefix(registry.url)
            assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
            assert await resp.read() == b"OK"
        async with registry.http.get(f"{registry.url}/v2/acme/app/tags/list", headers=headers) as r:
            assert (await r.json())["tags"] == []

    async def test_code_4_a_manifest_put_under_another_digest_is_digest_invalid(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        image = make_image()
        for data in image.blobs().values():
            await push_blob(registry, headers, "acme/app", data)
        url = f"{registry.url}/v2/acme/app/manifests/{digest_of(b'other')}"
        put = headers | {"Content-Type": OCI_MANIFEST}
        async with registry.http.put(url, data=image.manifest, headers=put) as resp:
            assert resp.status == 400
            assert await error_code(resp) == "DIGEST_INVALID"

    @pytest.mark.parametrize(
        ("body", "content_type", "status", "code"),
        [
            (b"{not json", OCI_MANIFEST, 400, "MANIFEST_INVALID"),
            (b'{"schemaVersion": 1}', OCI_MANIFEST, 400, "MANIFEST_INVALID"),
            (b'{"schemaVersion": 2, "config": 7}', OCI_MANIFEST, 400, "MANIFEST_INVALID"),
            (
                _manifest_with(b"cfg", [b"missing layer"]),
                OCI_MANIFEST,
                400,
                "MANIFEST_BLOB_UNKNOWN",
            ),
            (b" " * (4 * 1024 * 1024 + 1), OCI_MANIFEST, 413, "SIZE_INVALID"),
            (
                json.dumps(
                    {"schemaVersion": 2, "manifests": [descriptor(OCI_MANIFEST, b"no such")]}
                ).encode(),
                OCI_INDEX,
                400,
                "MANIFEST_BLOB_UNKNOWN",
            ),
        ],
        ids=["bad-json", "schema-1", "bad-config", "missing-blob", "oversize", "missing-child"],
    )
    async def test_code_5_6_10_a_malformed_manifest_is_refused_and_nothing_is_stored(
        self, registry: Registry, body: bytes, content_type: str, status: int, code: str
    ) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        await push_blob(registry, headers, "acme/app", b"cfg")
        url = f"{registry.url}/v2/acme/app/manifests/broken"
        async with registry.http.put(
            url, data=io.BytesIO(body), headers=headers | {"Content-Type": content_type}
        ) as resp:
            assert resp.status == status
            assert await error_code(resp) == code
        async with registry.http.get(url, headers=headers) as resp:
            assert resp.status == 404
        async with registry.http.get(f"{registry.url}/v2/acme/app/tags/list", headers=headers) as r:
            assert (await r.json())["tags"] == []

    async def test_end_7_an_index_whose_children_exist_is_accepted(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        image = make_image()
        await push_image(registry, headers, "acme/app", image, "amd64")
        index = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [descriptor(OCI_MANIFEST, image.manifest)],
            }
        ).encode()
        url = f"{registry.url}/v2/acme/app/manifests/multi"
        async with registry.http.put(
            url, data=index, headers=headers | {"Content-Type": OCI_INDEX}
        ) as resp:
            assert resp.status == 201
        async with registry.http.get(url, headers=headers) as resp:
            assert resp.headers["Content-Type"] == OCI_INDEX
            assert await resp.read() == index

    async def test_a_moved_tag_points_at_the_new_manifest(self, registry: Registry) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        await push_image(registry, headers, "acme/app", make_image("one\n"), "latest")
        second = make_image("two\n")
        await push_image(registry, headers, "acme/app", second, "latest")
        url = f"{registry.url}/v2/acme/app/manifests/latest"
        async with registry.http.get(url, headers=headers) as resp:
            assert resp.headers["Docker-Content-Digest"] == second.manifest_digest


class TestEnd11Mount:
    async def test_end_11_a_blob_is_mounted_from_a_readable_repository(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        headers = await registry.bearer("quayadmin", PUSH, "repository:acme/public:push,pull")
        digest = await push_blob(registry, headers, "acme/public", b"shared layer")
        async with registry.http.post(
            registry.url + UPLOADS, params={"mount": digest, "from": "acme/public"}, headers=headers
        ) as resp:
            assert resp.status == 201
            assert resp.headers["Docker-Content-Digest"] == digest
        assert await _blob_status(registry, headers, digest) == 200

    async def test_end_11_without_pull_on_the_source_falls_back_to_an_upload(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        admin = await registry.bearer("quayadmin", "repository:acme/public:push,pull")
        digest = await push_blob(registry, admin, "acme/public", b"not yours")
        writer = await registry.bearer("acme+writer", PUSH)
        async with registry.http.post(
            registry.url + UPLOADS, params={"mount": digest, "from": "acme/public"}, headers=writer
        ) as resp:
            assert resp.status == 202
        assert await _blob_status(registry, writer, digest) == 404


class TestPushToCreate:
    async def test_an_org_admin_creates_a_repository_by_pushing(self, registry: Registry) -> None:
        assert registry.http is not None
        scope = "repository:acme/brand-new:push,pull"
        headers = await registry.bearer("quayadmin", scope)
        image = make_image()
        await push_image(registry, headers, "acme/brand-new", image, "v1")
        fresh = await registry.bearer("quayadmin", scope)
        async with registry.http.get(
            f"{registry.url}/v2/acme/brand-new/tags/list", headers=fresh
        ) as resp:
            assert (await resp.json())["tags"] == ["v1"]

    async def test_a_write_robot_cannot_create_a_repository_by_pushing(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", "repository:acme/brand-new:push,pull")
        url = f"{registry.url}/v2/acme/brand-new/blobs/uploads/"
        async with registry.http.post(url, headers=headers) as resp:
            assert resp.status == 401
