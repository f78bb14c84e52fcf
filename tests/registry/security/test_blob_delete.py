"""Case 5: a write robot cannot delete a blob a tagged manifest references.

`DELETE /v2/<name>/blobs/<digest>` answers as Quay does, 405 `UNSUPPORTED` with Quay's message, once
the token may push (401 before that); the image stays pullable. Blobs go only through the blob GC,
when no manifest references them: a server started with a short `--unreferenced-blob-seconds` shows
an unreferenced upload, and the layers of a deleted manifest, removed from the database and disk,
while the blobs of a tagged manifest stay.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.registry import RegistryServer, registry_server
from devstack.waiting import poll_until
from tests.registry.oci.images import OCI_MANIFEST, Image, digest_of, make_image
from tests.registry.security.tenant import Tenant, make_tenant, push_blob, registry_token, v2

UNREFERENCED_SECONDS = 0.5


@pytest.fixture(scope="module")
def quay() -> Iterator[RegistryServer]:
    extra = ("--unreferenced-blob-seconds", str(UNREFERENCED_SECONDS))
    with registry_server(extra_args=extra) as server:
        yield server


def _push_image(quay: RegistryServer, tenant: Tenant, token: str, image: Image, tag: str) -> None:
    for data in image.blobs().values():
        assert push_blob(quay, tenant.name, token, data).status_code == 201
    put = v2(
        quay,
        "PUT",
        f"/v2/{tenant.name}/manifests/{tag}",
        token,
        data=image.manifest,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert put.status_code == 201, put.text


def _blob_file(quay: RegistryServer, digest: str) -> Path:
    hexdigest = digest.removeprefix("sha256:")
    return quay.data_dir / "oci" / "blobs" / "sha256" / hexdigest[:2] / hexdigest


def _wait_until_gone(path: Path, timeout: float = 20.0) -> bool:
    return poll_until(lambda: not path.exists(), timeout, interval=0.1) is not None


def test_deleting_a_referenced_blob_is_405_unsupported_and_the_image_still_pulls(
    quay: RegistryServer,
) -> None:
    tenant = make_tenant(quay, "blobs-victim")
    token = registry_token(
        quay, tenant.robot, tenant.robot_token, f"repository:{tenant.name}:push,pull"
    )
    image = make_image("keep me\n")
    _push_image(quay, tenant, token, image, "latest")
    layer = digest_of(image.layer)

    refused = v2(quay, "DELETE", f"/v2/{tenant.name}/blobs/{layer}", token)
    assert refused.status_code == 405
    assert refused.json() == {
        "errors": [
            {"code": "UNSUPPORTED", "detail": {}, "message": "The operation is unsupported."}
        ]
    }

    pulled = v2(quay, "GET", f"/v2/{tenant.name}/blobs/{layer}", token)
    assert pulled.status_code == 200 and pulled.content == image.layer
    manifest = v2(quay, "GET", f"/v2/{tenant.name}/manifests/latest", token)
    assert manifest.status_code == 200 and manifest.content == image.manifest

    time.sleep(UNREFERENCED_SECONDS * 4)  # several GC passes: referenced blobs stay
    assert _blob_file(quay, layer).exists()
    assert v2(quay, "GET", f"/v2/{tenant.name}/blobs/{layer}", token).status_code == 200


def test_a_token_without_push_gets_401_not_405(quay: RegistryServer) -> None:
    tenant = make_tenant(quay, "blobs-reader", role="read")
    token = registry_token(
        quay, tenant.robot, tenant.robot_token, f"repository:{tenant.name}:push,pull"
    )
    answer = v2(quay, "DELETE", f"/v2/{tenant.name}/blobs/{digest_of(b'x')}", token)
    assert answer.status_code == 401
    assert answer.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_the_blob_gc_removes_what_no_manifest_references(quay: RegistryServer) -> None:
    tenant = make_tenant(quay, "blobs-gc")
    token = registry_token(
        quay, tenant.robot, tenant.robot_token, f"repository:{tenant.name}:push,pull"
    )
    stray = b"uploaded, never referenced"
    assert push_blob(quay, tenant.name, token, stray).status_code == 201
    assert _wait_until_gone(_blob_file(quay, digest_of(stray)))
    gone = v2(quay, "GET", f"/v2/{tenant.name}/blobs/{digest_of(stray)}", token)
    assert gone.status_code == 404 and gone.json()["errors"][0]["code"] == "BLOB_UNKNOWN"

    image = make_image("deleted later\n")
    _push_image(quay, tenant, token, image, "v1")
    time.sleep(UNREFERENCED_SECONDS * 4)
    assert _blob_file(quay, digest_of(image.layer)).exists()
    deleted = v2(quay, "DELETE", f"/v2/{tenant.name}/manifests/{image.manifest_digest}", token)
    assert deleted.status_code == 202
    assert _wait_until_gone(_blob_file(quay, digest_of(image.layer)))
    assert _wait_until_gone(_blob_file(quay, digest_of(image.config)))
