"""Per-request plumbing for the REST handlers: the caller, the CSRF rule and JSON bodies.

Quay never rejects a bad bearer token up front: the request goes on as anonymous
(docs/reference/quay.md#surprises).
Reads then fall back to the anonymous view or answer 401; writes fail the CSRF check, which only a
*validated* OAuth token skips. Body parsing reproduces Flask's 415 and 400 and jsonschema's 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from registry import boundedjson, validation
from registry.access import Entity, authenticate_bearer_in, cached_bearer
from registry.api.errors import (
    BAD_REQUEST,
    UNSUPPORTED_MEDIA_TYPE,
    HttpError,
    csrf_failure,
    invalid_request,
    unauthorized,
)
from registry.appkeys import STORE_KEY
from registry.store.database import Store


@dataclass(frozen=True)
class _CallerSlot:
    entity: Entity | None


_CALLER = web.RequestKey("quay_caller", _CallerSlot)


def store_of(request: web.Request) -> Store:
    """The app's metadata store."""
    return request.app[STORE_KEY]


async def caller(request: web.Request) -> Entity | None:
    """The validated OAuth caller, or None (no token, or an invalid or expired one)."""
    if _CALLER in request:
        return request[_CALLER].entity
    found: Entity | None = None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        store = store_of(request)
        found = cached_bearer(store, token.strip())
        if found is None:
            async with store.read() as conn:
                found = await authenticate_bearer_in(conn, store, token.strip())
    request[_CALLER] = _CallerSlot(found)
    return found


async def writer(request: web.Request) -> Entity:
    """The caller of a write; without a validated token this is Quay's CSRF 403."""
    entity = await caller(request)
    if entity is None:
        raise csrf_failure()
    return entity


async def reader(request: web.Request) -> Entity:
    """The caller of a protected read; without one, 401 invalid_token."""
    entity = await caller(request)
    if entity is None:
        raise unauthorized(False)
    return entity


async def json_body(
    request: web.Request, schema: validation.JsonSchema, *, optional: bool = False
) -> dict[str, Any]:
    """Parse and validate a JSON object body as Quay's ``validate_json_request`` does.

    ``optional``: a missing or non-JSON body is an empty object (robot PUT), not a 415.
    """
    is_json = request.content_type == "application/json"
    raw = await request.read()
    if not is_json:
        if optional:
            return {}
        raise HttpError(UNSUPPORTED_MEDIA_TYPE, status=415)
    if optional and not raw.strip():
        return {}
    try:
        data = boundedjson.loads(raw)
    except boundedjson.JsonTooDeep as error:
        raise HttpError(f"Invalid JSON body: {error}") from error
    except (ValueError, UnicodeDecodeError) as error:
        raise HttpError(BAD_REQUEST) from error
    if data is None and optional:
        return {}
    problem = validation.validate(schema, data)
    if problem is not None:
        raise invalid_request(str(problem))
    assert isinstance(data, dict)
    return data


def truthy(value: str | None, default: bool) -> bool:
    """Quay's ``truthy_bool`` for query parameters."""
    if value is None:
        return default
    return value.strip().lower() not in {"false", "0", "no", "off", ""}


def no_content() -> web.Response:
    """204 with an empty body; Quay still says application/json."""
    return web.Response(status=204, headers={"Content-Type": "application/json"})
