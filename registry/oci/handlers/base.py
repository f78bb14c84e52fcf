"""`GET /v2/` (end-1): the version check and the token challenge.

Quay answers 401 with the body `true` (as text/html) and a `Bearer` challenge naming its token
endpoint when the request carries no valid registry JWT, `{"error": ...}` when it carries something
else than a bearer token, and 200 `true` with one.
"""

from __future__ import annotations

import json

from aiohttp import web

from registry.oci.context import context_of, live_bearer_access
from registry.oci.errors import challenge_header


def _response(status: int, body: str, request: web.Request) -> web.Response:
    ctx = context_of(request)
    headers = {
        "Docker-Distribution-API-Version": "registry/2.0",
        "X-Sparse-Manifest-Support": "false",
    }
    if status == 401:
        headers["WWW-Authenticate"] = challenge_header(ctx.realm(request), ctx.hostname(request))
    return web.Response(
        status=status, text=body, content_type="text/html", charset="utf-8", headers=headers
    )


async def version_check(request: web.Request) -> web.Response:
    """End-1: 200 `true` with a valid token, 401 with the challenge otherwise."""
    ctx = context_of(request)
    header = request.headers.get("Authorization", "")
    if header and not header.lower().startswith("bearer "):
        return _response(401, json.dumps({"error": "Invalid bearer token format"}), request)
    if await live_bearer_access(request, ctx) is None:
        body = "true" if not header else json.dumps({"error": "Invalid bearer token"})
        return _response(401, body, request)
    return _response(200, "true", request)
