"""The first user (``user/initialize``) and the current user (``GET /api/v1/user/``).

``initialize`` works only while no user exists, makes that user a superuser and, with
``access_token``, an OAuth app ``automation`` plus a token with all eight scopes that expires after
9000 s, exactly as Quay with FEATURE_USER_INITIALIZE (docs/reference/quay.md#first-user).
"""

from __future__ import annotations

import asyncio
import re
import secrets

from aiohttp import web
from sqlalchemy import text

from registry import boundedjson, credentials, names
from registry.access import Entity
from registry.api.bodies import TAG_EXPIRATION_S, Json, account_avatar, org_avatar
from registry.api.errors import ModelError, unauthorized
from registry.api.requests import caller, store_of
from registry.scopes import ALL_SCOPES, team_role_at_least, user_role_cap
from registry.settings import INITIALIZE_TOKEN_SECONDS
from registry.store import accounts, oauth, organizations

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _initialize_error(reason: str) -> ModelError:
    return ModelError(f"Failed to initialize user: {reason}")


async def initialize(request: web.Request) -> web.Response:
    """``POST /api/v1/user/initialize``: create the first user (no CSRF check)."""
    try:
        body = boundedjson.loads(await request.read() or b"null")
    except boundedjson.JsonTooDeep as error:
        raise _initialize_error(f"invalid JSON body: {error}") from error
    except (ValueError, UnicodeDecodeError) as error:
        raise _initialize_error("invalid JSON body") from error
    if not isinstance(body, dict):
        raise _initialize_error("a JSON object body is required")
    username, password = body.get("username"), body.get("password")
    email = body.get("email")
    if not isinstance(username, str) or not isinstance(password, str):
        raise _initialize_error("username and password are required")
    if email is not None and (not isinstance(email, str) or not EMAIL_RE.match(email)):
        raise _initialize_error("Invalid email address")
    store = store_of(request)
    async with store.read() as conn:
        if await accounts.count_users(conn) > 0:
            raise ModelError("Cannot initialize user in a non-empty database")
    problem = names.namespace_error(username)
    if problem is not None:
        raise _initialize_error(problem)
    if len(password) < 8 or any(ch.isspace() for ch in password):
        raise _initialize_error("Password must be at least 8 characters and contain no whitespace.")
    password_hash = await asyncio.to_thread(
        credentials.hash_password, password, store.keyring.algorithms.password_scheme
    )
    token_secret: str | None = None
    async with store.write() as conn:
        if store.dialect == "postgresql":  # two first users must not both see an empty table
            await conn.execute(text("SELECT pg_advisory_xact_lock(7312001)"))
        if await accounts.count_users(conn) > 0:
            raise ModelError("Cannot initialize user in a non-empty database")
        try:
            user = await accounts.create_user(conn, username, email, password_hash, superuser=True)
        except (accounts.NameTakenError, accounts.NameReservedError) as error:
            raise _initialize_error("Username is not available") from error
        if body.get("access_token"):
            app = await oauth.create_application(
                conn, store.keyring, user.id, "automation", client_id=username
            )
            _, token_secret = await oauth.create_token(
                conn,
                store.keyring,
                app,
                user.id,
                " ".join(ALL_SCOPES),
                name="initialize",
                lifetime_seconds=INITIALIZE_TOKEN_SECONDS,
                created_by=username,
            )
    result: Json = {"username": username, "email": email, "encrypted_password": password_hash}
    if token_secret is not None:
        result["access_token"] = token_secret
    response = web.json_response(result)
    response.set_cookie(
        "_csrf_token", secrets.token_urlsafe(32), httponly=True, path="/", samesite="Lax"
    )
    return response


async def user_view(request: web.Request, entity: Entity) -> Json:
    """The current user's view; admin fields need user:admin, ``super_user`` super:user."""
    store = store_of(request)
    async with store.read() as conn:
        user = await accounts.get_by_id(conn, entity.account_id)
        memberships = await organizations.organizations_of(conn, entity.account_id)
    assert user is not None
    view: Json = {
        "anonymous": False,
        "username": user.username,
        "avatar": account_avatar(user),
        "can_create_repo": True,
    }
    if user_role_cap(entity.scopes) == "admin":
        view.update(
            {
                "is_me": True,
                "verified": True,
                "email": user.email,
                "logins": [],
                "invoice_email": False,
                "invoice_email_address": None,
                "preferred_namespace": False,
                "tag_expiration_s": TAG_EXPIRATION_S,
                "prompts": [],
                "company": None,
                "family_name": None,
                "given_name": None,
                "location": None,
                "is_free_account": True,
                "has_password_set": user.password_hash is not None,
            }
        )
    view["organizations"] = [
        {
            "name": org.username,
            "avatar": org_avatar(org, "org"),
            "can_create_repo": team_role_at_least(role, "creator"),
            "public": False,
            "is_org_admin": role == "admin",
            "preferred_namespace": False,
        }
        for org, role in memberships
    ]
    if entity.acts_as_superuser:
        view["super_user"] = True
    return view


async def get_user(request: web.Request) -> web.Response:
    """``GET /api/v1/user/``: 401 with ``session_required`` unless a user:read token is shown."""
    entity = await caller(request)
    if entity is None or entity.is_robot or user_role_cap(entity.scopes) is None:
        error = unauthorized(False)
        error.payload = {"session_required": False}
        raise error
    return web.json_response(await user_view(request, entity))
