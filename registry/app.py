"""The registry core's aiohttp application: REST API, ``/v2`` routes, health, metrics and the GC.

``make_app(settings)`` builds a ready application (the store opens on startup), usable by
``quay-registry serve`` and in-process by tests. Errors are written in one place (the error
middleware); the metrics middleware sits outside it so every answer is counted. The namespace GC
runs as a background task: deleted organizations are purged ``namespace_gc_seconds`` after deletion,
and repositories marked deleted are purged on every pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from registry import logsafety
from registry.api import routing
from registry.api.errors import METHOD_NOT_ALLOWED, QuayError, html_not_found
from registry.api.metrics import RequestMetrics
from registry.appkeys import SETTINGS_KEY, STORE_KEY
from registry.oci import routing as oci_routing
from registry.quaycost import CostModel
from registry.settings import Settings
from registry.store import accounts, collection
from registry.store.database import Store
from registry.ui import routing as ui_routing

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
METRICS_KEY = web.AppKey("metrics", RequestMetrics)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render ``QuayError``s, unmatched paths (HTML 404) and 405s the way Quay does."""
    try:
        return await handler(request)
    except QuayError as error:
        return error.response(request)
    except web.HTTPMethodNotAllowed:
        return web.json_response({"message": METHOD_NOT_ALLOWED}, status=405)
    except web.HTTPNotFound:
        if request.match_info.http_exception is not None:
            return html_not_found()
        raise
    except web.HTTPException:
        raise
    except Exception:
        # The traceback names the route only; request bodies and headers (tokens) are not logged.
        log.exception("unhandled error on %s %s", request.method, request.match_info.route)
        return web.json_response({"message": "Internal Server Error"}, status=500)


async def gc_pass(store: Store, delay_seconds: float) -> int:
    """Purge orgs deleted more than ``delay_seconds`` ago and repos marked deleted; return count."""
    purged = 0
    async with store.read() as conn:
        due = await collection.due_deleted_namespaces(conn, time.time() - delay_seconds)
        repos = await collection.repositories_marked_deleted(conn)
    for repo_id in repos:
        async with store.write() as conn:
            await collection.purge_repository(conn, repo_id)
        purged += 1
    for org_id in due:
        async with store.write() as conn:
            await collection.purge_organization(conn, org_id)
        purged += 1
    return purged


async def _gc_loop(store: Store, delay_seconds: float) -> None:
    interval = min(5.0, max(0.05, delay_seconds / 4))
    while True:
        await asyncio.sleep(interval)
        try:
            purged = await gc_pass(store, delay_seconds)
            if purged:
                log.info("namespace GC purged %d item(s)", purged)
        except Exception:  # keep collecting; the next pass retries
            log.exception("namespace GC pass failed")


def make_app(settings: Settings) -> web.Application:
    """Build the application; its store is opened on startup and closed on cleanup."""
    logsafety.install()
    metrics = RequestMetrics()
    app = web.Application(
        middlewares=[metrics.middleware, error_middleware], client_max_size=1024**3
    )
    app[SETTINGS_KEY] = settings
    app[METRICS_KEY] = metrics
    if settings.quay_cost is not None:
        CostModel(settings.quay_cost).install(app)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        store = await Store.open(settings)
        app[STORE_KEY] = store
        if settings.algorithms.fips:
            async with store.read() as conn:
                left = await accounts.count_password_hashes(conn, "scrypt")
            if left:
                log.warning(
                    "FIPS mode: %d user(s) have scrypt password hashes, which FIPS mode cannot "
                    "check; their password logins fail until migrated (docs/fips.md)",
                    left,
                )
        gc = asyncio.create_task(_gc_loop(store, settings.namespace_gc_seconds))
        yield
        gc.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await gc
        await store.close()

    app.cleanup_ctx.append(lifecycle)
    routing.add_routes(app)
    app.router.add_get("/metrics", metrics.serve)
    oci_routing.add_routes(app)
    ui_routing.add_routes(app)
    return app
