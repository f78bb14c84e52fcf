"""`GET /v2/<name>/referrers/<digest>` (end-12a, end-12b): manifests whose `subject` is `<digest>`.

Answers an OCI image index of descriptors (media type, digest, size, artifact type, annotations),
filtered by `artifactType` when asked (then `OCI-Filters-Applied: artifactType`). An unknown subject
gives an empty index, as the spec requires.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from registry.oci import metadata
from registry.oci.context import authorize, context_of
from registry.oci.handlers.blobs import parse_digest
from registry.oci.manifests import OCI_INDEX, ManifestError, parse_manifest, referrer_artifact_type


async def list_referrers(request: web.Request) -> web.Response:
    """End-12: the referrers index."""
    ctx = context_of(request)
    allowed = await authorize(request, "pull")
    assert allowed.repository is not None
    subject = parse_digest(request.match_info["digest"])
    wanted = request.query.get("artifactType")
    async with ctx.store.read() as conn:
        found = await metadata.referrers(conn, allowed.repository.id, subject)
    descriptors: list[dict[str, Any]] = []
    for stored in found:
        try:
            parsed = parse_manifest(stored.content, stored.media_type)
        except ManifestError:
            continue
        artifact_type = referrer_artifact_type(parsed)
        if wanted is not None and artifact_type != wanted:
            continue
        descriptor: dict[str, Any] = {
            "mediaType": stored.media_type,
            "digest": stored.digest,
            "size": stored.size,
        }
        if artifact_type is not None:
            descriptor["artifactType"] = artifact_type
        if parsed.annotations:
            descriptor["annotations"] = parsed.annotations
        descriptors.append(descriptor)
    headers = {"Docker-Distribution-API-Version": "registry/2.0"}
    if wanted is not None:
        headers["OCI-Filters-Applied"] = "artifactType"
    body = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}
    response = web.Response(body=json.dumps(body).encode(), headers=headers)
    response.content_type = OCI_INDEX
    return response
