"""`GET /v2/<name>/tags/list` (end-8a, end-8b): live tags in lexical order, paged with `n`/`last`.

Read straight from the metadata store on every request (Quay serves it from a cache that can be two
minutes stale after a push; that is not copied). When a page is full and more tags follow, a
`Link: <...>; rel="next"` header points at the next page.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from aiohttp import web

from registry.oci import errors, metadata
from registry.oci.context import authorize, context_of

MAX_PAGE = 10000


async def list_tags(request: web.Request) -> web.Response:
    """End-8: `{"name", "tags"}`, optionally paged."""
    ctx = context_of(request)
    allowed = await authorize(request, "pull")
    assert allowed.repository is not None
    n_text, last = request.query.get("n"), request.query.get("last")
    limit: int | None = None
    if n_text is not None:
        if not n_text.isdigit():
            raise errors.RegistryError(errors.INVALID_REQUEST, "n must be a non-negative integer")
        limit = min(int(n_text), MAX_PAGE)
    headers = {"Docker-Distribution-API-Version": "registry/2.0"}
    if limit == 0:
        names: list[str] = []
    else:
        async with ctx.store.read() as conn:
            fetched = await metadata.tag_names(
                conn, allowed.repository.id, last, None if limit is None else limit + 1
            )
        names = fetched if limit is None else fetched[:limit]
        if limit is not None and len(fetched) > limit:
            query = urlencode({"n": limit, "last": names[-1]})
            headers["Link"] = f'</v2/{allowed.name}/tags/list?{query}>; rel="next"'
    body = json.dumps({"name": str(allowed.name), "tags": names})
    return web.Response(text=body, content_type="application/json", headers=headers)
