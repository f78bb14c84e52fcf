"""The `/v2` success answers without content, written as Quay writes them.

Quay's registry endpoints return Flask `Response` objects with no body (or the two bytes `OK` for a
manifest PUT), so they carry Flask's default `Content-Type: text/html; charset=utf-8`: upload
started or chunk accepted (202), blob or manifest created (201), upload status and cancel (204),
manifest deleted (202). Clients ignore the type; a comparison with Quay does not.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

API_VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}


def empty(status: int, headers: Mapping[str, str], body: bytes = b"") -> web.Response:
    """A `status` answer with `headers`, `body` (usually none) and Quay's text/html type."""
    response = web.Response(status=status, body=body, headers={**API_VERSION, **headers})
    response.content_type = "text/html"
    response.charset = "utf-8"
    return response
