"""Where Quay's `/v2` answers differ from distribution's, the registry core answers as Quay.

- answers without content (upload started, chunk accepted, blob created, upload status, upload
  cancelled, manifest deleted) say `text/html; charset=utf-8`, Flask's default; a manifest PUT
  answers `OK` with a relative `Location`;
- a public repository is readable with no `Authorization` header at all (no token needed);
- Basic credentials sent straight to a data endpoint get Quay's `{"error": ...}` text/html 401
  with the challenge naming the repository, not the distribution error list.
"""

from __future__ import annotations

import pytest

from tests.registry.oci.images import make_image
from tests.registry.oci.registry_fixture import Registry, error_code, push_image

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
