"""The UI's one stylesheet, served from the package (no build step, no script)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from aiohttp import web


@cache
def _stylesheet() -> bytes:
    return resources.files("registry.ui").joinpath("static/quay-ui.css").read_bytes()


async def stylesheet(request: web.Request) -> web.Response:
    """``GET /static/ui/quay-ui.css``: cacheable for an hour, never sniffed as anything else."""
    return web.Response(
        body=_stylesheet(),
        content_type="text/css",
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
