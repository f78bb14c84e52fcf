"""Conformance, pull workflow: end-1 (version check), end-2 (blobs), end-3 (manifests).

Named with the distribution-spec endpoint and error IDs; run against a real registry core on
loopback with tokens from its own `/v2/auth`.
"""

from __future__ import annotations

import json

import pytest

from tests.registry.oci.images import OCI_MANIFEST, digest_of, make_image
from tests.registry.oci.registry_fixture import Registry, error_code, push_blob, push_image

PULL = "repository:acme/app:pull"
PUSH = "repository:acme/app:push,pull"


class TestEnd1VersionCheck:
    async def test_end_1_without_a_token_is_401_true_with_quays_challenge(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        async with registry.http.get(f"{registry.url}/v2/") as resp:
            assert resp.status == 401
            assert await resp.text() == "true"
            assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
            assert resp.headers["WWW-Authenticate"] == (
                f'Bearer realm="http://{registry.host}/v2/auth",service="{registry.host}"'
            )
            assert resp.headers["Docker-Distribution-API-Version"] == "registry/2.0"

    async def test_end_1_with_a_valid_token_is_200_true(self, registry: Registry) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+reader", PULL)
        async with registry.http.get(f"{registry.url}/v2/", headers=headers) as resp:
            assert (resp.status, await resp.text()) == (200, "true")
        async with registry.http.head(f"{registry.url}/v2/", headers=headers) as resp:
            assert (resp.status, await resp.read()) == (200, b"")

    @pytest.mark.parametrize(
        ("authorization", "body"),
        [
            ("Basic YWJjOmRlZg==", {"error": "Invalid bearer token format"}),
            ("Bearer not.a.jwt", {"error": "Invalid bearer token"}),
        ],
    )
    async def test_end_1_with_basic_or_a_forged_bearer_is_401(
        self, registry: Registry, authorization: str, body: dict[str, str]
    ) -> None:
        assert registry.http is not None
        headers = {"Authorization": authorization}
        async with registry.http.get(f"{registry.url}/v2/", headers=headers) as resp:
            assert resp.status == 401
            assert json.loads(await resp.text()) == body


class TestEnd2PullBlobs:
    async def test_end_2_get_and_head_serve_the_pushed_bytes(self, registry: Registry) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        data = b"layer bytes " * 1000
        digest = await push_blob(registry, headers, "acme/app", data)
        url = f"{registry.url}/v2/acme/app/blobs/{digest}"
        async with registry.http.get(url, headers=headers) as resp:
            assert resp.status == 200
            assert await resp.read() == data
            assert resp.headers["Docker-Content-Digest"] == digest
            assert resp.headers["Content-Type"] == "application/octet-stream"
        async with registry.http.head(url, headers=headers) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Length"] == str(len(data))
            assert resp.headers["Docker-Content-Digest"] == digest

    @pytest.mark.parametrize(
        ("range_header", "status", "expected"),
        [
            ("bytes=0-9", 206, slice(0, 10)),
            ("bytes=100-", 206, slice(100, None)),
            ("bytes=-5", 206, slice(-5, None)),
            ("bytes=999999-", 416, None),
        ],
    )
    async def test_end_2_honours_range_requests(
        self, registry: Registry, range_header: str, status: int, expected: slice | None
    ) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        data = bytes(range(256)) * 4
        digest = await push_blob(registry, headers, "acme/app", data)
        url = f"{registry.url}/v2/acme/app/blobs/{digest}"
        async with registry.http.get(url, headers=headers | {"Range": range_header}) as resp:
            assert resp.status == status
            if expected is not None:
                assert await resp.read() == data[expected]

    async def test_end_2_an_unknown_blob_is_404_code_1_blob_unknown(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+reader", PULL)
        url = f"{registry.url}/v2/acme/app/blobs/{digest_of(b'never pushed')}"
        async with registry.http.get(url, headers=headers) as resp:
            assert resp.status == 404
            assert await error_code(resp) == "BLOB_UNKNOWN"
        async with registry.http.head(url, headers=headers) as resp:
            assert resp.status == 404
            assert resp.headers["Content-Type"] == "application/json"
            assert await resp.read() == b""

    async def test_end_2_a_blob_of_another_repository_is_not_served(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        admin = await registry.bearer("quayadmin", "repository:acme/public:push,pull", PUSH)
        digest = await push_blob(registry, admin, "acme/public", b"only in public")
        url = f"{registry.url}/v2/acme/app/blobs/{digest}"
        async with registry.http.get(url, headers=admin) as resp:
            assert resp.status == 404
            assert await error_code(resp) == "BLOB_UNKNOWN"

    async def test_end_2_a_malformed_digest_is_code_4_digest_invalid(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+reader", PULL)
        url = f"{registry.url}/v2/acme/app/blobs/sha256:abc"
        async with registry.http.get(url, headers=headers) as resp:
            assert resp.status == 400
            assert await error_code(resp) == "DIGEST_INVALID"


class TestEnd3PullManifests:
    async def test_end_3_by_tag_and_by_digest_serves_the_exact_bytes(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        writer = await registry.bearer("acme+writer", PUSH)
        image = make_image()
        digest = await push_image(registry, writer, "acme/app", image, "v1")
        assert digest == image.manifest_digest
        reader = await registry.bearer("acme+reader", PULL)
        for reference in ("v1", digest):
            url = f"{registry.url}/v2/acme/app/manifests/{reference}"
            async with registry.http.get(url, headers=reader) as resp:
                assert resp.status == 200
                assert await resp.read() == image.manifest
                assert resp.headers["Content-Type"] == OCI_MANIFEST
                assert resp.headers["Docker-Content-Digest"] == digest
            async with registry.http.head(url, headers=reader) as resp:
                assert resp.status == 200
                assert resp.headers["Content-Length"] == str(len(image.manifest))
                assert resp.headers["Docker-Content-Digest"] == digest
                assert await resp.read() == b""

    async def test_end_3_without_accept_is_served_as_pushed_not_converted(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        writer = await registry.bearer("acme+writer", PUSH)
        image = make_image("no schema 1 please\n")
        await push_image(registry, writer, "acme/app", image, "plain")
        url = f"{registry.url}/v2/acme/app/manifests/plain"
        async with registry.http.get(url, headers=writer | {"Accept": ""}) as resp:
            assert resp.headers["Docker-Content-Digest"] == image.manifest_digest

    async def test_end_3_an_unknown_tag_is_404_code_7_manifest_unknown(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+reader", PULL)
        url = f"{registry.url}/v2/acme/app/manifests/nope"
        async with registry.http.get(url, headers=headers) as resp:
            assert resp.status == 404
            assert await error_code(resp) == "MANIFEST_UNKNOWN"

    async def test_end_3_a_missing_repository_is_404_code_9_name_unknown(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        # The org admin may create acme/ghost, so the token grants pull; the repo is not there.
        headers = await registry.bearer("quayadmin", "repository:acme/ghost:push,pull")
        url = f"{registry.url}/v2/acme/ghost/manifests/latest"
        async with registry.http.get(url, headers=headers) as resp:
            assert resp.status == 404
            assert await error_code(resp) == "NAME_UNKNOWN"

    async def test_end_3_an_invalid_repository_name_is_400_code_8_name_invalid(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        url = f"{registry.url}/v2/Acme/App/manifests/latest"
        async with registry.http.get(url) as resp:
            assert resp.status == 400
            assert await error_code(resp) == "NAME_INVALID"


class TestPullPermissions:
    async def test_code_11_a_token_for_another_repository_gets_401_with_a_scope_challenge(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        headers = await registry.bearer("quayadmin", "repository:acme/public:pull")
        url = f"{registry.url}/v2/acme/app/tags/list"
        async with registry.http.get(url, headers=headers) as resp:
            assert resp.status == 401
            assert await error_code(resp) == "UNAUTHORIZED"
            assert resp.headers["WWW-Authenticate"].endswith(',scope="repository:acme/app:pull"')

    async def test_code_11_an_anonymous_pull_of_a_private_repository_is_401(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        token = await registry.token(None, None, PULL)
        url = f"{registry.url}/v2/acme/app/tags/list"
        headers = {"Authorization": f"Bearer {token}"}
        async with registry.http.get(url, headers=headers) as resp:
            assert resp.status == 401
            assert await error_code(resp) == "UNAUTHORIZED"

    async def test_an_anonymous_pull_of_a_public_repository_works(self, registry: Registry) -> None:
        assert registry.http is not None
        admin = await registry.bearer("quayadmin", "repository:acme/public:push,pull")
        image = make_image("public\n")
        await push_image(registry, admin, "acme/public", image, "latest")
        token = await registry.token(None, None, "repository:acme/public:pull")
        url = f"{registry.url}/v2/acme/public/manifests/latest"
        async with registry.http.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
            assert resp.status == 200
            assert await resp.read() == image.manifest

    async def test_basic_credentials_on_a_data_endpoint_are_refused(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        headers = {"Authorization": registry.basic("acme+reader", registry.robots["acme+reader"])}
        async with registry.http.get(f"{registry.url}/v2/acme/app/tags/list", headers=headers) as r:
            assert r.status == 401
