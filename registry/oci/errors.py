"""The `/v2` error catalogue and its one writer.

Every error the OCI API can answer is registered here once, with its distribution-spec ID
(`code-1`…), its HTTP status and its default message, as distribution does in
`registry/api/errcode/register.go`. Handlers raise `RegistryError`; only `error_response` turns one
into bytes on the wire, so the body shape `{"errors": [{"code", "message", "detail"}]}` and the
`WWW-Authenticate` challenge on 401 are written in exactly one place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class ErrorCode:
    """One registered wire error: its code string, spec ID, status and default message."""

    code: str
    spec_id: str
    status: int
    message: str


_CATALOGUE: dict[str, ErrorCode] = {}


def _register(code: str, spec_id: str, status: int, message: str) -> ErrorCode:
    entry = ErrorCode(code, spec_id, status, message)
    _CATALOGUE[code] = entry
    return entry


BLOB_UNKNOWN = _register("BLOB_UNKNOWN", "code-1", 404, "blob unknown to registry")
BLOB_UPLOAD_INVALID = _register("BLOB_UPLOAD_INVALID", "code-2", 400, "blob upload invalid")
BLOB_UPLOAD_UNKNOWN = _register("BLOB_UPLOAD_UNKNOWN", "code-3", 404, "blob upload unknown")
DIGEST_INVALID = _register(
    "DIGEST_INVALID", "code-4", 400, "provided digest did not match uploaded content"
)
MANIFEST_BLOB_UNKNOWN = _register(
    "MANIFEST_BLOB_UNKNOWN", "code-5", 400, "manifest references a manifest or blob unknown"
)
MANIFEST_INVALID = _register("MANIFEST_INVALID", "code-6", 400, "manifest invalid")
MANIFEST_UNKNOWN = _register("MANIFEST_UNKNOWN", "code-7", 404, "manifest unknown")
NAME_INVALID = _register("NAME_INVALID", "code-8", 400, "invalid repository name")
NAME_UNKNOWN = _register("NAME_UNKNOWN", "code-9", 404, "repository name not known to registry")
SIZE_INVALID = _register(
    "SIZE_INVALID", "code-10", 400, "provided length did not match content length"
)
UNAUTHORIZED = _register(
    "UNAUTHORIZED", "code-11", 401, "access to the requested resource is not authorized"
)
DENIED = _register("DENIED", "code-12", 403, "requested access to the resource is denied")
UNSUPPORTED = _register("UNSUPPORTED", "code-13", 405, "the operation is unsupported")
TOOMANYREQUESTS = _register("TOOMANYREQUESTS", "code-14", 429, "too many requests")
# Beyond the spec's table: Quay's token endpoint and distribution's range check.
INVALID_REQUEST = _register("INVALID_REQUEST", "quay", 400, "invalid request")
RANGE_INVALID = _register("RANGE_INVALID", "distribution", 416, "invalid content range")


def lookup(code: str) -> ErrorCode:
    """Return the registered entry for `code` (raises KeyError for an unregistered code)."""
    return _CATALOGUE[code]


@dataclass
class RegistryError(Exception):
    """A `/v2` failure a handler raises; `error_response` renders it.

    Attributes:
        error: the catalogue entry.
        message: overrides the entry's default message when given.
        detail: the `detail` object of the wire error (`{}` by default, as Quay).
        status: overrides the entry's status (a spec code can travel with several statuses).
        challenge_scope: on 401, the `scope="..."` added to `WWW-Authenticate`.
    """

    error: ErrorCode
    message: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    status: int | None = None
    challenge_scope: str | None = None

    def __str__(self) -> str:
        return f"{self.error.code}: {self.message or self.error.message}"


class TokenRefused(Exception):
    """A bad `Authorization` header on a data endpoint: Quay's `abort(401)` from its JWT check.

    Quay answers these (Basic credentials sent straight to a data endpoint, a malformed, expired or
    foreign token) not with the distribution error list but with `{"error": <reason>}` as
    text/html, and the challenge naming the repository and the scopes the endpoint needs.
    """

    def __init__(self, reason: str, challenge_scope: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.challenge_scope = challenge_scope


def token_refused_response(
    refused: TokenRefused, *, realm: str, service: str, head: bool = False
) -> web.Response:
    """Render `refused` as Quay does: 401 `{"error": reason}` (text/html) with the challenge."""
    headers = {
        "Docker-Distribution-API-Version": "registry/2.0",
        "WWW-Authenticate": challenge_header(realm, service, refused.challenge_scope),
    }
    body = b"" if head else json.dumps({"error": refused.reason}).encode()
    response = web.Response(status=401, body=body, headers=headers)
    response.content_type = "text/html"
    response.charset = "utf-8"
    return response


def error_body(err: RegistryError) -> bytes:
    """The wire body of one error, `{"errors": [{"code", "detail", "message"}]}`."""
    entry = {
        "code": err.error.code,
        "detail": err.detail,
        "message": err.message or err.error.message,
    }
    return json.dumps({"errors": [entry]}).encode()


def challenge_header(realm: str, service: str, scope: str | None = None) -> str:
    """The `WWW-Authenticate` value Quay sends: realm, service and, per repository, the scope."""
    value = f'Bearer realm="{realm}",service="{service}"'
    if scope:
        value += f',scope="{scope}"'
    return value


def error_response(
    err: RegistryError, *, realm: str, service: str, head: bool = False
) -> web.Response:
    """Render `err` as the one wire form of every `/v2` error.

    Args:
        err: the error raised by a handler.
        realm: the token endpoint URL for the 401 challenge.
        service: the service name for the 401 challenge.
        head: HEAD requests get the status and headers but no body (Quay: a missing blob's HEAD is
            404 with a JSON content type and no body).
    """
    status = err.status or err.error.status
    headers = {"Docker-Distribution-API-Version": "registry/2.0"}
    if status == 401:
        headers["WWW-Authenticate"] = challenge_header(realm, service, err.challenge_scope)
    body = b"" if head else error_body(err)
    response = web.Response(status=status, body=body, headers=headers)
    response.content_type = "application/json"
    return response
