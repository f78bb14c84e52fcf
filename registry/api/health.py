"""Health checks in Quay's body shape: ``{"data": {"services": {name: bool}}, "status_code": N}``.

``/health/instance`` (also ``/health``) adds the process-level checks to the end-to-end set
(``/health/endtoend``, also ``/status``). The HTTP status equals ``status_code``: 200, or 503 when
any check fails. There is no Redis and no separate gunicorn here: those report healthy when the one
process serving the request is.
"""

from __future__ import annotations

import shutil

from aiohttp import web
from sqlalchemy import text

from registry.appkeys import SETTINGS_KEY, STORE_KEY

MIN_FREE_BYTES = 64 * 1024 * 1024


async def _database_ok(request: web.Request) -> bool:
    try:
        async with request.app[STORE_KEY].read() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:  # any failure means unhealthy; the reason is not the caller's business
        return False
    return True


def _storage_ok(request: web.Request) -> bool:
    data_dir = request.app[SETTINGS_KEY].data_dir
    return data_dir.is_dir() and shutil.disk_usage(data_dir).free >= MIN_FREE_BYTES


def _answer(services: dict[str, bool]) -> web.Response:
    status = 200 if all(services.values()) else 503
    return web.json_response(
        {"data": {"services": services}, "status_code": status},
        status=status,
        headers={"Cache-Control": "no-cache, no-store, must-revalidate"},
    )


async def instance(request: web.Request) -> web.Response:
    """``GET /health/instance``."""
    database = await _database_ok(request)
    storage = _storage_ok(request)
    return _answer(
        {
            "auth": database,
            "database": database,
            "disk_space": storage,
            "registry_gunicorn": True,
            "service_key": True,
            "web_gunicorn": True,
        }
    )


async def endtoend(request: web.Request) -> web.Response:
    """``GET /health/endtoend``."""
    database = await _database_ok(request)
    return _answer(
        {"auth": database, "database": database, "redis": True, "storage": _storage_ok(request)}
    )
