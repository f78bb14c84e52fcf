"""OAuth applications of an organization and the v3.18 token-minting API.

``POST .../applications/{client_id}/tokens`` lets an org admin mint a long-lived token for the
bridge without a browser: the scopes may not exceed the caller's own, comma-separated scopes are
normalised to spaces, the default lifetime is 3652.5 days, and the secret is shown once.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.access import Entity
from registry.api import schemas
from registry.api.bodies import application_view, token_view
from registry.api.errors import ModelError, not_found, unauthorized
from registry.api.organizations import require_org_admin
from registry.api.requests import json_body, no_content, reader, store_of, writer
from registry.scopes import InvalidScopeError, format_scopes, is_subset, parse_scopes
from registry.settings import MINTED_TOKEN_DEFAULT_SECONDS
from registry.store import oauth
from registry.store.database import Store

_APP_FIELDS = ("description", "application_uri", "redirect_uri", "avatar_email")


MAX_TOKEN_SECONDS = 100 * 31_557_600
"""Longest lifetime of a minted token (100 years): beyond it the expiry is not a time."""


async def _application_of(
    conn: AsyncConnection, entity: Entity | None, request: web.Request
) -> oauth.Application:
    """The application named in the path, if the caller administers its org; else 401/403/404."""
    org = await require_org_admin(conn, entity, request.match_info["orgname"])
    app = await oauth.get_application(conn, org.id, request.match_info["client_id"])
    if app is None:
        raise not_found()
    return app


async def create_application(request: web.Request) -> web.Response:
    """``POST .../applications``: 200 with the client id and secret."""
    entity = await writer(request)
    body = await json_body(request, schemas.NEW_APPLICATION)
    store = store_of(request)
    async with store.write() as conn:
        org = await require_org_admin(conn, entity, request.match_info["orgname"])
        app = await oauth.create_application(
            conn,
            store.keyring,
            org.id,
            body["name"],
            description=body.get("description", ""),
            application_uri=body.get("application_uri", ""),
            redirect_uri=body.get("redirect_uri", ""),
            avatar_email=body.get("avatar_email"),
        )
    return web.json_response(application_view(app, store.keyring.unseal(app.client_secret_sealed)))


async def list_applications(request: web.Request) -> web.Response:
    """``GET .../applications``."""
    entity = await reader(request)
    store = store_of(request)
    async with store.read() as conn:
        org = await require_org_admin(conn, entity, request.match_info["orgname"])
        apps = await oauth.list_applications(conn, org.id)
    views = [application_view(app, store.keyring.unseal(app.client_secret_sealed)) for app in apps]
    return web.json_response({"applications": views})


async def get_application(request: web.Request) -> web.Response:
    """``GET .../applications/{client_id}``: 404 when unknown."""
    entity = await reader(request)
    store = store_of(request)
    async with store.read() as conn:
        app = await _application_of(conn, entity, request)
    return web.json_response(application_view(app, store.keyring.unseal(app.client_secret_sealed)))


async def update_application(request: web.Request) -> web.Response:
    """``PUT .../applications/{client_id}``: 200 with the changed application."""
    entity = await writer(request)
    body = await json_body(request, schemas.NEW_APPLICATION)
    store = store_of(request)
    async with store.write() as conn:
        app = await _application_of(conn, entity, request)
        changes = {key: body[key] for key in _APP_FIELDS if key in body}
        await oauth.update_application(conn, app, name=body["name"], **changes)
        updated = await oauth.get_application(conn, app.organization_id, app.client_id)
    assert updated is not None
    app = updated
    return web.json_response(application_view(app, store.keyring.unseal(app.client_secret_sealed)))


async def delete_application(request: web.Request) -> web.Response:
    """``DELETE .../applications/{client_id}``: 204, revoking its tokens."""
    entity = await writer(request)
    store = store_of(request)
    async with store.write() as conn:
        app = await _application_of(conn, entity, request)
        await oauth.delete_application(conn, app)
        store.token_cache.clear()
    return no_content()


async def create_token(request: web.Request) -> web.Response:
    """``POST .../applications/{client_id}/tokens``: mint a token for the caller."""
    entity = await writer(request)
    store = store_of(request)
    async with store.read() as conn:
        app = await _application_of(conn, entity, request)
    body = await json_body(request, schemas.NEW_APP_TOKEN)
    token, secret = await mint_token(
        store, app, entity, body["scope"], body["name"], body.get("expiration")
    )
    return web.json_response(token_view(token, secret))


async def mint_token(
    store: Store,
    app: oauth.Application,
    entity: Entity,
    scope: str,
    name: str,
    expiration: int | None = None,
) -> tuple[oauth.Token, str]:
    """Mint a token of ``app`` for ``entity`` (the API's rules; the web UI's Generate Token too).

    The scopes must be known and held by the caller; the lifetime defaults to 3652.5 days.

    Raises:
        ModelError: an unknown scope or a non-positive expiration.
        ApiError: 403 when the scopes exceed the caller's.
    """
    try:
        wanted = parse_scopes(scope)
    except InvalidScopeError as error:
        raise ModelError(str(error)) from error
    if not is_subset(wanted, entity.scopes):
        raise unauthorized(True)
    if expiration is not None and expiration <= 0:
        raise ModelError("Invalid expiration: must be a positive number of seconds")
    if expiration is not None and expiration > MAX_TOKEN_SECONDS:
        raise ModelError(f"Invalid expiration: must be at most {MAX_TOKEN_SECONDS} seconds")
    lifetime = MINTED_TOKEN_DEFAULT_SECONDS if expiration is None else expiration
    async with store.write() as conn:
        return await oauth.create_token(
            conn,
            store.keyring,
            app,
            entity.account_id,
            format_scopes(wanted),
            name=name,
            lifetime_seconds=lifetime,
            created_by=entity.name,
        )


async def list_tokens(request: web.Request) -> web.Response:
    """``GET .../applications/{client_id}/tokens``: newest first, never the secret."""
    entity = await reader(request)
    store = store_of(request)
    async with store.read() as conn:
        app = await _application_of(conn, entity, request)
        tokens = await oauth.list_tokens(conn, app)
    return web.json_response({"tokens": [token_view(token) for token in tokens]})


async def delete_token(request: web.Request) -> web.Response:
    """``DELETE .../applications/{client_id}/tokens/{token_uuid}``: 204; 404 when unknown."""
    entity = await writer(request)
    store = store_of(request)
    async with store.write() as conn:
        app = await _application_of(conn, entity, request)
        if not await oauth.delete_token(conn, app, request.match_info["token_uuid"]):
            raise not_found()
        store.token_cache.clear()
    return no_content()
