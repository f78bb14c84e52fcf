"""`GET /v2/auth`: Quay's registry token endpoint.

Basic credentials (a user and password, a robot `org+short` and its token, or `$oauthtoken` and an
OAuth token) or none at all; one or more `scope=repository:<ns>/<repo>:<actions>`. Every scope is
downscoped to what the caller holds, never refused (docs/reference/quay.md#registry-token-auth): the
answer is always `{"token": <RS256 JWT>}` unless the credentials are wrong (401), there are neither
credentials nor a scope (401), or a scope is malformed (400 `INVALID_REQUEST` / `NAME_INVALID`).
"""

from __future__ import annotations

import base64
import binascii
import json
import time

from aiohttp import web

from registry import access
from registry.oci import errors, liveness
from registry.oci.context import context_of
from registry.oci.scopes import NameError_, Scope, ScopeError, parse_scope
from registry.oci.tokens import ANONYMOUS_IDENTITY, Grant, Identity, grant_actions, issue_claims
from registry.store import accounts, repositories
from registry.store.database import Store


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def _refusal(username: str) -> str:
    if "+" in username:
        return f"Could not find robot with username: {username} and supplied password."
    if username == "$oauthtoken":
        return "Invalid oauth access token"
    return "Invalid Username or Password"


def _identity(entity: access.Entity) -> Identity:
    if entity.token_uuid is not None:
        return Identity("oauthtoken", entity.name, entity.token_uuid)
    return Identity(entity.kind, entity.name)


async def _grant(store: Store, entity: access.Entity | None, scope: Scope) -> Grant:
    async with store.read() as conn:
        namespace = await accounts.get_by_name(conn, scope.name.namespace)
        repo = None
        if namespace is not None and not namespace.is_robot:
            repo = await repositories.get_repository(conn, namespace.id, scope.name.repository)
        role = None
        can_create = False
        if repo is not None:
            role = await access.repository_role_in(
                conn, entity, scope.name.namespace, scope.name.repository
            )
        elif namespace is not None and ("push" in scope.actions or "*" in scope.actions):
            can_create = await access.can_create_repository_in(conn, entity, scope.name.namespace)
    return grant_actions(
        scope,
        role=role,
        is_public=repo is not None and repo.is_public,
        exists=repo is not None,
        can_create=can_create,
    )


async def issue_token(request: web.Request) -> web.Response:
    """Authenticate, downscope every requested scope, and sign the token."""
    ctx = context_of(request)
    header = request.headers.get("Authorization")
    entity: access.Entity | None = None
    if header:
        credentials = _basic_credentials(header)
        if credentials is None:
            raise errors.RegistryError(errors.UNAUTHORIZED, "Invalid credentials format")
        entity = await access.authenticate_basic(ctx.store, *credentials)
        if entity is None:
            raise errors.RegistryError(errors.UNAUTHORIZED, _refusal(credentials[0]))
    requested = request.query.getall("scope", [])
    if entity is None and not requested:
        raise errors.RegistryError(errors.UNAUTHORIZED)
    scopes: list[Scope] = []
    for text in requested:
        try:
            scopes.append(parse_scope(text, host=ctx.hostname(request)))
        except ScopeError as exc:
            raise errors.RegistryError(errors.INVALID_REQUEST, str(exc)) from exc
        except NameError_ as exc:
            raise errors.RegistryError(errors.NAME_INVALID, str(exc)) from exc
    grants = [await _grant(ctx.store, entity, scope) for scope in scopes]
    identity = ANONYMOUS_IDENTITY if entity is None else _identity(entity)
    credential = None
    if entity is not None:
        async with ctx.store.read() as conn:
            credential = await liveness.credential_of(conn, entity)
        if credential is None:  # the credential went while the scopes were being looked at
            raise errors.RegistryError(errors.UNAUTHORIZED, _refusal(entity.name))
    service = request.query.get("service") or ctx.hostname(request)
    claims = issue_claims(identity, service, grants, int(time.time()), credential)
    return web.Response(
        body=json.dumps({"token": ctx.key.sign(claims)}).encode(),
        content_type="application/json",
    )
