"""Manifests: `GET`/`HEAD` (end-3), `PUT` (end-7) and `DELETE` (end-9) `/v2/<name>/manifests/<ref>`.

The reference is a tag or a digest. A PUT is read up to the 4 MiB limit (413 past it), validated
(`MANIFEST_INVALID`), checked against the repository (every config and layer blob and every child
manifest must already be there, else `MANIFEST_BLOB_UNKNOWN`), then stored with its tag in one
transaction. Manifests are served byte for byte as pushed with their stored media type: no schema-1
conversion, whatever the `Accept` header
(docs/reference/quay.md#registry-api-details-from-the-second-run).
"""

from __future__ import annotations

import re

from aiohttp import web

from registry.oci import configs, errors, metadata, replies
from registry.oci.context import authorize, context_of, repository_for_push
from registry.oci.digests import Digest, DigestError
from registry.oci.manifests import (
    DOCKER_MANIFEST,
    MAX_MANIFEST_BYTES,
    ManifestError,
    ManifestTooLarge,
    parse_manifest,
)

_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$", re.ASCII)
_API_VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}


def _reference(request: web.Request) -> Digest | str:
    """The route's reference: a digest when it contains `:`, else a tag (validated)."""
    text = request.match_info["reference"]
    if ":" in text:
        try:
            return Digest.parse(text)
        except DigestError as exc:
            raise errors.RegistryError(errors.DIGEST_INVALID, str(exc)) from exc
    if not _TAG_RE.match(text):
        raise errors.RegistryError(errors.MANIFEST_INVALID, f"invalid tag: {text[:130]}")
    return text


async def get_manifest(request: web.Request) -> web.Response:
    """End-3: the manifest as pushed, with `Docker-Content-Digest` and its media type."""
    ctx = context_of(request)
    allowed = await authorize(request, "pull", resolve=False)
    reference = _reference(request)
    name = allowed.name
    async with ctx.store.read() as conn:
        found = await metadata.manifest_by_name(conn, name.namespace, name.repository, reference)
        if found is None:
            if await metadata.repository_by_name(conn, name.namespace, name.repository) is None:
                raise errors.RegistryError(errors.NAME_UNKNOWN, detail={"name": str(name)})
            raise errors.RegistryError(
                errors.MANIFEST_UNKNOWN, detail={"reference": str(reference)}
            )
    headers = {**_API_VERSION, "Docker-Content-Digest": found.digest}
    if request.method == "HEAD":
        headers["Content-Length"] = str(found.size)
        response = web.Response(status=200, headers=headers)
    else:
        response = web.Response(status=200, body=found.content, headers=headers)
    response.content_type = found.media_type
    return response


async def _read_limited(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_MANIFEST_BYTES:
        raise errors.RegistryError(
            errors.SIZE_INVALID, "manifest exceeds the 4 MiB limit", status=413
        )
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.content.iter_any():
        total += len(chunk)
        if total > MAX_MANIFEST_BYTES:
            raise errors.RegistryError(
                errors.SIZE_INVALID, "manifest exceeds the 4 MiB limit", status=413
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def put_manifest(request: web.Request) -> web.Response:
    """End-7: store a manifest by tag or digest (201, `Location`, `Docker-Content-Digest`)."""
    ctx = context_of(request)
    allowed = await authorize(request, "push", may_create=True)
    reference = _reference(request)
    body = await _read_limited(request)
    algorithm = reference.algorithm if isinstance(reference, Digest) else "sha256"
    try:
        parsed = parse_manifest(body, request.headers.get("Content-Type"), algorithm)
    except ManifestTooLarge as exc:
        raise errors.RegistryError(errors.SIZE_INVALID, str(exc), status=413) from exc
    except ManifestError as exc:
        raise errors.RegistryError(
            errors.MANIFEST_INVALID, detail={"message": f"failed to parse manifest: {exc}"}
        ) from exc
    if isinstance(reference, Digest) and reference != parsed.digest:
        raise errors.RegistryError(
            errors.DIGEST_INVALID,
            f"manifest hashes to {parsed.digest}, not {reference}",
            detail={"digest": str(reference)},
        )
    repo = await repository_for_push(request, allowed)
    async with ctx.store.write() as conn:
        missing = await metadata.missing_blobs(conn, repo.id, parsed.required_blobs())
        if missing:
            raise errors.RegistryError(
                errors.MANIFEST_BLOB_UNKNOWN,
                f"blob unknown to registry: {missing[0]}",
                detail={"digest": str(missing[0])},
            )
        children = await metadata.missing_manifests(
            conn, repo.id, [c.digest for c in parsed.children]
        )
        if children:
            raise errors.RegistryError(
                errors.MANIFEST_BLOB_UNKNOWN,
                f"manifest unknown to registry: {children[0]}",
                detail={"digest": str(children[0])},
            )
        if parsed.media_type == DOCKER_MANIFEST:
            config = parsed.blobs[0]
            problem = (
                configs.docker_config_problem(ctx.blobs.read(config.digest))
                if config.size <= MAX_MANIFEST_BYTES
                else f"config blob is larger than {MAX_MANIFEST_BYTES} bytes"
            )
            if problem is not None:
                raise errors.RegistryError(errors.MANIFEST_INVALID, detail={"message": problem})
        manifest_id = await metadata.store_manifest(conn, repo.id, parsed, body)
        if isinstance(reference, str):
            await metadata.point_tag(conn, repo.id, reference, manifest_id)
    headers = {
        # Quay's Location here is relative (Flask's url_for); upload Locations are absolute.
        "Location": f"/v2/{allowed.name}/manifests/{parsed.digest}",
        "Docker-Content-Digest": str(parsed.digest),
    }
    if parsed.subject is not None:
        headers["OCI-Subject"] = str(parsed.subject.digest)
    return replies.empty(201, headers, b"OK")


async def delete_manifest(request: web.Request) -> web.Response:
    """End-9: delete a manifest by digest (and its tags), or untag by tag name (202)."""
    ctx = context_of(request)
    allowed = await authorize(request, "push")
    assert allowed.repository is not None
    reference = _reference(request)
    async with ctx.store.write() as conn:
        if isinstance(reference, Digest):
            removed = await metadata.delete_manifest(conn, allowed.repository.id, reference)
        else:
            removed = await metadata.end_tag(conn, allowed.repository.id, reference)
    if not removed:
        raise errors.RegistryError(errors.MANIFEST_UNKNOWN, detail={"reference": str(reference)})
    return replies.empty(202, {})
