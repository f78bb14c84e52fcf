"""The `/v2` route table: the one place that says which path and method reach which handler.

Each row names its distribution-spec endpoint ID. Repository names contain slashes, so `{name}`
matches greedily and the fixed suffixes (`/blobs/uploads/`, `/blobs/<digest>`, `/manifests/<ref>`,
`/tags/list`, `/referrers/<digest>`) are told apart by their patterns; upload rows come before blob
rows. Every handler is wrapped so a `RegistryError` it raises reaches the one error writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from registry.appkeys import SETTINGS_KEY, STORE_KEY
from registry.oci import collector, errors
from registry.oci.context import OCI_CONTEXT, OciContext, context_of
from registry.oci.handlers import auth, base, blobs, manifests, referrers, tags, uploads
from registry.settings import Settings
from registry.store.database import Store

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger(__name__)

_NAME = r"{name:.+?}"
_DIGEST = r"{digest:[A-Za-z0-9_+.-]+:[A-Za-z0-9=_-]+}"
_REFERENCE = r"{reference:[^/]+}"
_UUID = r"{uuid:[^/]+}"


@dataclass(frozen=True)
class Route:
    """One row of the table."""

    spec_id: str
    method: str
    path: str
    handler: Handler


ROUTES: tuple[Route, ...] = (
    Route("end-1", "GET", "/v2/", base.version_check),
    Route("end-1", "HEAD", "/v2/", base.version_check),
    Route("auth", "GET", "/v2/auth", auth.issue_token),
    Route("end-4a/4b/11", "POST", f"/v2/{_NAME}/blobs/uploads/", uploads.start_upload),
    Route("end-4a/4b/11", "POST", f"/v2/{_NAME}/blobs/uploads", uploads.start_upload),
    Route("end-13", "GET", f"/v2/{_NAME}/blobs/uploads/{_UUID}", uploads.upload_status),
    Route("end-5", "PATCH", f"/v2/{_NAME}/blobs/uploads/{_UUID}", uploads.upload_chunk),
    Route("end-6", "PUT", f"/v2/{_NAME}/blobs/uploads/{_UUID}", uploads.finish_upload),
    Route("cancel", "DELETE", f"/v2/{_NAME}/blobs/uploads/{_UUID}", uploads.cancel_upload),
    Route("end-2", "GET", f"/v2/{_NAME}/blobs/{_DIGEST}", blobs.get_blob),
    Route("end-2", "HEAD", f"/v2/{_NAME}/blobs/{_DIGEST}", blobs.get_blob),
    Route("end-10", "DELETE", f"/v2/{_NAME}/blobs/{_DIGEST}", blobs.delete_blob),
    Route("end-3", "GET", f"/v2/{_NAME}/manifests/{_REFERENCE}", manifests.get_manifest),
    Route("end-3", "HEAD", f"/v2/{_NAME}/manifests/{_REFERENCE}", manifests.get_manifest),
    Route("end-7", "PUT", f"/v2/{_NAME}/manifests/{_REFERENCE}", manifests.put_manifest),
    Route("end-9", "DELETE", f"/v2/{_NAME}/manifests/{_REFERENCE}", manifests.delete_manifest),
    Route("end-8a/8b", "GET", f"/v2/{_NAME}/tags/list", tags.list_tags),
    Route("end-12a/12b", "GET", f"/v2/{_NAME}/referrers/{_DIGEST}", referrers.list_referrers),
)


def _guarded(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except errors.TokenRefused as refused:
            ctx = context_of(request)
            log.info("%s %s -> 401 token refused", request.method, request.path)
            return errors.token_refused_response(
                refused,
                realm=ctx.realm(request),
                service=ctx.hostname(request),
                head=request.method == "HEAD",
            )
        except errors.RegistryError as err:
            ctx = context_of(request)
            log.info("%s %s -> %s", request.method, request.path, err.error.code)
            return errors.error_response(
                err,
                realm=ctx.realm(request),
                service=ctx.hostname(request),
                head=request.method == "HEAD",
            )

    return guarded


def attach_context(app: web.Application, store: Store, settings: Settings) -> OciContext:
    """Build the `/v2` context (blob store, upload sessions, signing key) and keep it on `app`."""
    context = OciContext.create(store, settings)
    app[OCI_CONTEXT] = context
    return context


_COLLECTOR = web.AppKey("oci_blob_collector", asyncio.Task[None])


async def _attach_on_startup(app: web.Application) -> None:
    if OCI_CONTEXT not in app:
        attach_context(app, app[STORE_KEY], app[SETTINGS_KEY])
    ctx = app[OCI_CONTEXT]
    app[_COLLECTOR] = asyncio.create_task(
        collector.run_forever(
            ctx.store, ctx.blobs, ctx.guard, ctx.settings.unreferenced_blob_seconds
        )
    )


async def _stop_collector(app: web.Application) -> None:
    task = app.get(_COLLECTOR)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def add_routes(app: web.Application) -> None:
    """Register every `/v2` route on `app`.

    The context is taken from `attach_context` when the application builder called it, or else
    built at start-up from the application's `STORE_KEY` and `SETTINGS_KEY` (the store is opened by
    a cleanup context, which aiohttp runs before later start-up hooks).
    """
    for route in ROUTES:
        app.router.add_route(route.method, route.path, _guarded(route.handler))
    app.on_startup.append(_attach_on_startup)
    app.on_shutdown.append(_stop_collector)
