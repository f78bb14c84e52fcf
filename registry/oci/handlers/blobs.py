"""Blobs: `GET`/`HEAD /v2/<name>/blobs/<digest>` (end-2) and `DELETE` (end-10, refused).

A repository serves a blob only when the blob is linked to it (pushed there or mounted). Content is
sent from the content-addressed file with `sendfile`, with `Range` support (206, or 416 when out of
bounds) from aiohttp's file response; nothing is read into memory.
"""

from __future__ import annotations

from aiohttp import web

from registry.oci import errors, metadata
from registry.oci.context import authorize, context_of
from registry.oci.digests import Digest, DigestError


def parse_digest(text: str) -> Digest:
    """A digest from a path or query (400 `DIGEST_INVALID` otherwise)."""
    try:
        return Digest.parse(text)
    except DigestError as exc:
        raise errors.RegistryError(errors.DIGEST_INVALID, str(exc)) from exc


async def get_blob(request: web.Request) -> web.StreamResponse:
    """End-2: the blob's bytes (GET) or its size and digest (HEAD)."""
    ctx = context_of(request)
    allowed = await authorize(request, "pull", resolve=False)
    digest = parse_digest(request.match_info["digest"])
    name = allowed.name
    async with ctx.store.read() as conn:
        size = await metadata.blob_size_by_name(conn, name.namespace, name.repository, digest)
        if size is None and (
            await metadata.repository_by_name(conn, name.namespace, name.repository) is None
        ):
            raise errors.RegistryError(errors.NAME_UNKNOWN, detail={"name": str(name)})
    path = ctx.blobs.path_for(digest)
    if size is None or not path.exists():
        raise errors.RegistryError(errors.BLOB_UNKNOWN, detail={"digest": str(digest)})
    headers = {
        "Docker-Content-Digest": str(digest),
        "Content-Type": "application/octet-stream",
        "Docker-Distribution-API-Version": "registry/2.0",
        "Accept-Ranges": "bytes",
        "Cache-Control": "max-age=31536000",
    }
    return web.FileResponse(path, chunk_size=1024 * 1024, headers=headers)


async def delete_blob(request: web.Request) -> web.Response:
    """End-10: refused as Quay refuses it (405 `UNSUPPORTED`) once the caller may push.

    Deleting a blob a manifest references would break the image; blobs go away only through the
    blob GC (`registry.oci.collector`), when no manifest references them.
    """
    await authorize(request, "push", resolve=False)
    parse_digest(request.match_info["digest"])
    raise errors.RegistryError(errors.UNSUPPORTED, "The operation is unsupported.")
