"""Conformance, content discovery: end-8a/8b (tags list and paging) and end-12a/12b (referrers).

Plus what discovery must show right after a push: the `/v2` tag list at once (no stale cache, unlike
Quay's up-to-120 s), and the Quay REST API's repository and tag views, checked against a real
`quay-registry serve` process set up through the REST API the way the bridge does it.
"""

from __future__ import annotations

import json

import pytest
import requests

from devstack.registry import registry_server
from tests.registry.oci.images import OCI_MANIFEST, descriptor, make_image
from tests.registry.oci.registry_fixture import Registry, push_blob, push_image

PUSH = "repository:acme/app:push,pull"
TAGS = ["a", "b", "c", "latest", "v1", "v2"]


async def _push_tags(registry: Registry, headers: dict[str, str]) -> None:
    image = make_image()
    await push_image(registry, headers, "acme/app", image, TAGS[0])
    assert registry.http is not None
    for tag in TAGS[1:]:
        url = f"{registry.url}/v2/acme/app/manifests/{tag}"
        put = headers | {"Content-Type": OCI_MANIFEST}
        async with registry.http.put(url, data=image.manifest, headers=put) as resp:
            assert resp.status == 201


class TestEnd8TagsList:
    async def test_end_8a_lists_every_tag_in_lexical_order(self, registry: Registry) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        await _push_tags(registry, headers)
        async with registry.http.get(f"{registry.url}/v2/acme/app/tags/list", headers=headers) as r:
            assert r.status == 200
            assert await r.json() == {"name": "acme/app", "tags": TAGS}
            assert "Link" not in r.headers

    @pytest.mark.parametrize(
        ("query", "tags", "link"),
        [
            ({"n": "2"}, ["a", "b"], "n=2&last=b"),
            ({"n": "2", "last": "b"}, ["c", "latest"], "n=2&last=latest"),
            ({"n": "2", "last": "latest"}, ["v1", "v2"], None),
            ({"last": "v1"}, ["v2"], None),
            ({"n": "0"}, [], None),
            ({"n": "100"}, TAGS, None),
        ],
    )
    async def test_end_8b_pages_with_n_and_last_and_a_link_to_the_next_page(
        self, registry: Registry, query: dict[str, str], tags: list[str], link: str | None
    ) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        await _push_tags(registry, headers)
        url = f"{registry.url}/v2/acme/app/tags/list"
        async with registry.http.get(url, params=query, headers=headers) as resp:
            assert (await resp.json())["tags"] == tags
            if link is None:
                assert "Link" not in resp.headers
            else:
                assert resp.headers["Link"] == f'</v2/acme/app/tags/list?{link}>; rel="next"'

    async def test_end_8a_shows_a_push_at_once(self, registry: Registry) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        url = f"{registry.url}/v2/acme/app/tags/list"
        async with registry.http.get(url, headers=headers) as resp:
            assert (await resp.json())["tags"] == []
        await push_image(registry, headers, "acme/app", make_image(), "fresh")
        async with registry.http.get(url, headers=headers) as resp:
            assert (await resp.json())["tags"] == ["fresh"]


class TestEnd12Referrers:
    async def test_end_12a_lists_manifests_whose_subject_is_the_digest(
        self, registry: Registry
    ) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+writer", PUSH)
        image = make_image()
        subject = await push_image(registry, headers, "acme/app", image, "v1")
        empty = b"{}"
        await push_blob(registry, headers, "acme/app", empty)
        signature = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": "application/vnd.example.signature",
                "config": descriptor("application/vnd.oci.empty.v1+json", empty),
                "layers": [descriptor("application/vnd.oci.empty.v1+json", empty)],
                "subject": descriptor(OCI_MANIFEST, image.manifest),
                "annotations": {"signed-by": "tests"},
            }
        ).encode()
        url = f"{registry.url}/v2/acme/app/manifests/sha256-sig"
        async with registry.http.put(
            url, data=signature, headers=headers | {"Content-Type": OCI_MANIFEST}
        ) as resp:
            assert resp.status == 201
            assert resp.headers["OCI-Subject"] == subject
        referrers = f"{registry.url}/v2/acme/app/referrers/{subject}"
        async with registry.http.get(referrers, headers=headers) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "application/vnd.oci.image.index.v1+json"
            index = await resp.json(content_type=None)
        assert index["manifests"] == [
            descriptor(OCI_MANIFEST, signature)
            | {
                "artifactType": "application/vnd.example.signature",
                "annotations": {"signed-by": "tests"},
            }
        ]
        for wanted, count in (("application/vnd.example.signature", 1), ("other/type", 0)):
            async with registry.http.get(
                referrers, params={"artifactType": wanted}, headers=headers
            ) as resp:
                assert resp.headers["OCI-Filters-Applied"] == "artifactType"
                assert len((await resp.json(content_type=None))["manifests"]) == count

    async def test_end_12a_an_unknown_subject_has_an_empty_index(self, registry: Registry) -> None:
        assert registry.http is not None
        headers = await registry.bearer("acme+reader", "repository:acme/app:pull")
        url = f"{registry.url}/v2/acme/app/referrers/sha256:{'0' * 64}"
        async with registry.http.get(url, headers=headers) as resp:
            assert resp.status == 200
            assert (await resp.json(content_type=None))["manifests"] == []


def test_the_quay_rest_api_shows_a_pushed_tag_with_its_digest_and_size() -> None:
    with registry_server() as quay:
        api = quay.headers()
        org = requests.post(f"{quay.url}/api/v1/organization/", json={"name": "acme"}, headers=api)
        assert org.status_code == 201
        robot = requests.put(f"{quay.url}/api/v1/organization/acme/robots/builder", headers=api)
        repo = requests.post(
            f"{quay.url}/api/v1/repository",
            json={
                "namespace": "acme",
                "repository": "app",
                "visibility": "private",
                "description": "",
            },
            headers=api,
        )
        assert repo.status_code == 201
        grant = requests.put(
            f"{quay.url}/api/v1/repository/acme/app/permissions/user/acme+builder",
            json={"role": "write"},
            headers=api,
        )
        assert grant.status_code == 200
        token = requests.get(
            f"{quay.url}/v2/auth",
            params={"service": quay.host, "scope": "repository:acme/app:push,pull"},
            auth=("acme+builder", robot.json()["token"]),
            timeout=10,
        ).json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        image = make_image()
        for digest, data in image.blobs().items():
            pushed = requests.post(
                f"{quay.url}/v2/acme/app/blobs/uploads/",
                params={"digest": digest},
                data=data,
                headers=bearer,
                timeout=10,
            )
            assert pushed.status_code == 201
        put = requests.put(
            f"{quay.url}/v2/acme/app/manifests/v1",
            data=image.manifest,
            headers=bearer | {"Content-Type": OCI_MANIFEST},
            timeout=10,
        )
        assert put.status_code == 201
        tags = requests.get(f"{quay.url}/api/v1/repository/acme/app/tag/", headers=api).json()
        assert [(t["name"], t["manifest_digest"]) for t in tags["tags"]] == [
            ("v1", image.manifest_digest)
        ]
        assert tags["tags"][0]["size"] == len(image.layer) + len(image.config)
        view = requests.get(f"{quay.url}/api/v1/repository/acme/app", headers=api).json()
        assert view["tags"]["v1"]["manifest_digest"] == image.manifest_digest
