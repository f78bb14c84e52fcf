"""Where Quay's `/v2` answers differ from distribution's, the registry core answers as Quay.

- answers without content (upload started, chunk accepted, blob created, upload status, upload
  cancelled, manifest deleted) say `text/html; charset=utf-8`, Flask's default; a manifest PUT
  answers `OK` with a relative `Location`;
- a public repository is readable with no `Authorization` header at all (no token needed);
- Basic credentials sent straight to a data endpoint get Quay's `{"error": ...}` text/html 401
  with the challenge naming the repository, not the distribution error list;
- an invalid manifest is `MANIFEST_INVALID` "manifest invalid" with the reason in
  `detail.message`, and a Docker schema 2 manifest whose config lacks `history` or `rootfs` (or
  is not JSON) is refused as Quay refuses it.
"""

from __future__ import annotations

import json

import pytest

from tests.registry.oci.images import descriptor, make_image
from tests.registry.oci.registry_fixture import Registry, error_code, push_blob, push_image

HTML = "text/html; charset=utf-8"
PUSH = "repository:acme/app:push,pull"


async def test_answers_without_content_are_text_html_as_quays(registry: Registry) -> None:
    http = registry.http
    assert http is not None
    headers = await registry.bearer("acme+writer", PUSH)
    async with http.post(f"{registry.url}/v2/acme/app/blobs/uploads/", headers=headers) as resp:
        assert (resp.status, resp.headers["Content-Type"]) == (202, HTML)
        location = resp.headers["Location"]
        assert location.startswith(registry.url)  # upload Locations are absolute in Quay
    async with http.patch(location, data=b"abc", headers=headers) as resp:
        assert (resp.status, resp.headers["Content-Type"]) == (202, HTML)
    async with http.get(location, headers=headers) as resp:
        assert (resp.status, resp.headers["Content-Type"]) == (204, HTML)
    digest = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    async with http.put(location, params={"digest": digest}, headers=headers) as resp:
        assert (resp.status, resp.headers["Content-Type"]) == (201, HTML)
        assert await resp.read() == b""
    async with http.post(f"{registry.url}/v2/acme/app/blobs/uploads/", headers=headers) as resp:
        other = resp.headers["Location"]
    async with http.delete(other, headers=headers) as resp:
        assert (resp.status, resp.headers["Content-Type"]) == (204, HTML)

    image = make_image("fidelity\n")
    manifest_digest = await push_image(registry, headers, "acme/app", image, "v1")
    async with http.delete(
        f"{registry.url}/v2/acme/app/manifests/{manifest_digest}", headers=headers
    ) as resp:
        assert (resp.status, resp.headers["Content-Type"]) == (202, HTML)
        assert await resp.read() == b""


async def test_a_public_repository_is_readable_without_any_token(registry: Registry) -> None:
    http = registry.http
    assert http is not None
    writer = await registry.bearer("quayadmin", "repository:acme/public:push,pull")
    image = make_image("public\n")
    digest = await push_image(registry, writer, "acme/public", image, "latest")

    async with http.get(f"{registry.url}/v2/acme/public/tags/list") as resp:
        assert resp.status == 200
        assert await resp.json() == {"name": "acme/public", "tags": ["latest"]}
    async with http.get(f"{registry.url}/v2/acme/public/manifests/latest") as resp:
        assert resp.status == 200 and await resp.read() == image.manifest
    async with http.head(f"{registry.url}/v2/acme/public/manifests/{digest}") as resp:
        assert resp.status == 200
    for blob_digest, data in image.blobs().items():
        async with http.get(f"{registry.url}/v2/acme/public/blobs/{blob_digest}") as resp:
            assert resp.status == 200 and await resp.read() == data

    # Reading is all: a push without a token, and a private repository, still need one.
    async with http.post(f"{registry.url}/v2/acme/public/blobs/uploads/") as resp:
        assert resp.status == 401 and await error_code(resp) == "UNAUTHORIZED"
    async with http.get(f"{registry.url}/v2/acme/app/tags/list") as resp:
        assert resp.status == 401 and await error_code(resp) == "UNAUTHORIZED"
    async with http.get(f"{registry.url}/v2/acme/nosuch/tags/list") as resp:
        assert resp.status == 401 and await error_code(resp) == "UNAUTHORIZED"


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/v2/acme/app/tags/list", "repository:acme/app:pull"),
        ("GET", "/v2/acme/public/tags/list", "repository:acme/public:pull"),
        ("POST", "/v2/acme/app/blobs/uploads/", "repository:acme/app:pull,push"),
    ],
)
async def test_basic_credentials_on_a_data_endpoint_get_quays_error_answer(
    registry: Registry, method: str, path: str, scope: str
) -> None:
    http = registry.http
    assert http is not None
    headers = {"Authorization": registry.basic("acme+writer", registry.robots["acme+writer"])}
    async with http.request(method, f"{registry.url}{path}", headers=headers) as resp:
        assert resp.status == 401
        assert resp.headers["Content-Type"] == HTML
        assert await resp.json(content_type=None) == {"error": "Invalid bearer token format"}
        challenge = resp.headers["WWW-Authenticate"]
        assert challenge.endswith(f',scope="{scope}"')
        assert challenge.startswith(f'Bearer realm="{registry.url}/v2/auth",service=')


DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def _docker_manifest(config: bytes, layer: bytes) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": descriptor(DOCKER_CONFIG, config),
            "layers": [descriptor(DOCKER_LAYER, layer)],
        }
    ).encode()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}},
            "config data does not match schema: 'history' is a required property\n",
        ),
        (
            {"history": [], "os": "linux"},
            "config data does not match schema: 'rootfs' is a required property\n",
        ),
        (
            {"history": [], "rootfs": {"diff_ids": []}},
            "config data does not match schema: 'type' is a required property\n",
        ),
        (None, "malformed config data: "),
    ],
    ids=["no-history", "no-rootfs", "rootfs-without-type", "not-json"],
)
async def test_a_docker_schema2_config_quay_refuses_is_manifest_invalid(
    registry: Registry, config: object, message: str
) -> None:
    http = registry.http
    assert http is not None
    headers = await registry.bearer("acme+writer", PUSH)
    config_bytes = b"{not json" if config is None else json.dumps(config).encode()
    layer = b"docker layer"
    for data in (config_bytes, layer):
        await push_blob(registry, headers, "acme/app", data)
    url = f"{registry.url}/v2/acme/app/manifests/docker"
    put = headers | {"Content-Type": DOCKER_MANIFEST}
    async with http.put(url, data=_docker_manifest(config_bytes, layer), headers=put) as resp:
        assert resp.status == 400
        error = (await resp.json())["errors"][0]
        assert (error["code"], error["message"]) == ("MANIFEST_INVALID", "manifest invalid")
        assert error["detail"]["message"].startswith(message)
    async with http.get(url, headers=headers) as resp:
        assert resp.status == 404  # nothing was stored

    good = json.dumps({"history": [], "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    await push_blob(registry, headers, "acme/app", good)
    async with http.put(url, data=_docker_manifest(good, layer), headers=put) as resp:
        assert resp.status == 201


async def test_an_unparsable_manifest_names_the_reason_in_detail_message(
    registry: Registry,
) -> None:
    http = registry.http
    assert http is not None
    headers = await registry.bearer("acme+writer", PUSH) | {"Content-Type": DOCKER_MANIFEST}
    url = f"{registry.url}/v2/acme/app/manifests/bad"
    async with http.put(url, data=b"{not json", headers=headers) as resp:
        assert resp.status == 400
        error = (await resp.json())["errors"][0]
        assert (error["code"], error["message"]) == ("MANIFEST_INVALID", "manifest invalid")
        assert error["detail"]["message"].startswith("failed to parse manifest: ")
