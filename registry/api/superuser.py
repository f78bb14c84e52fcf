"""Superuser user management: ``GET/POST /api/v1/superuser/users/``, ``DELETE .../{username}``.

Only a superuser whose token carries ``super:user`` may call these (403 otherwise, 401 without a
token). Created users get a random 32-character password, returned once. Deleting a user works as
deleting an organization does (renamed, disabled, its name reserved until the namespace GC purges
it); as in Quay a superuser cannot be deleted (400) and a missing user is 404.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web
from sqlalchemy import select

from registry import credentials, names
from registry.api import schemas
from registry.api.bodies import account_avatar
from registry.api.errors import invalid_request, not_found, unauthorized
from registry.api.requests import json_body, no_content, reader, store_of, truthy, writer
from registry.api.users import EMAIL_RE
from registry.store import accounts, organizations
from registry.store.schema import account


async def list_users(request: web.Request) -> web.Response:
    """List users, 100 per page at most (``limit``), with ``next_page``."""
    entity = await reader(request)
    if not entity.acts_as_superuser:
        raise unauthorized(True)
    raw_limit = request.query.get("limit", "100")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
        raise invalid_request("Page size must be between 1 and 100")
    limit = int(raw_limit)
    store = store_of(request)
    offset = 0
    if request.query.get("next_page"):
        try:
            offset = int(json.loads(store.keyring.unseal(request.query["next_page"]))["offset"])
        except (ValueError, KeyError, TypeError) as error:
            raise invalid_request("Invalid next page token") from error
    disabled = truthy(request.query.get("disabled"), False)
    query = select(account).where(account.c.kind == "user").order_by(account.c.username)
    if not disabled:
        query = query.where(account.c.enabled.is_(True))
    async with store.read() as conn:
        rows = (await conn.execute(query.offset(offset).limit(limit + 1))).all()
    users = [accounts.to_account(row) for row in rows]
    body: dict[str, object] = {
        "users": [
            {
                "kind": "user",
                "name": user.username,
                "username": user.username,
                "email": user.email,
                "verified": True,
                "avatar": account_avatar(user),
                "super_user": user.superuser,
                "global_readonly_super_user": False,
                "enabled": user.enabled,
            }
            for user in users[:limit]
        ]
    }
    if len(users) > limit:
        body["next_page"] = store.keyring.seal(json.dumps({"offset": offset + limit}))
    return web.json_response(body)


async def create_user(request: web.Request) -> web.Response:
    """Create a user with a generated password: 200 ``{username, email, password, ...}``."""
    entity = await writer(request)
    if not entity.acts_as_superuser:
        raise unauthorized(True)
    body = await json_body(request, schemas.NEW_SUPERUSER_USER)
    username: str = body["username"]
    email = body.get("email")
    problem = names.namespace_error(username)
    if problem is not None:
        raise invalid_request(problem)
    if email is not None and not EMAIL_RE.match(email):
        raise invalid_request("Invalid email address")
    password = credentials.random_token(32)
    store = store_of(request)
    password_hash = await asyncio.to_thread(
        credentials.hash_password, password, store.keyring.algorithms.password_scheme
    )
    try:
        async with store.write() as conn:
            if email is not None and await accounts.email_used_by_user(conn, email):
                raise invalid_request(f"Email has already been used: {email}")
            await accounts.create_user(conn, username, email, password_hash)
    except accounts.NameTakenError as error:
        raise invalid_request("A user or organization with this name already exists") from error
    except accounts.NameReservedError as error:
        raise invalid_request("Username is not available") from error
    return web.json_response(
        {
            "username": username,
            "email": email,
            "password": password,
            "encrypted_password": password_hash,
        }
    )


async def delete_user(request: web.Request) -> web.Response:
    """``DELETE /api/v1/superuser/users/{username}``: 204; the user's credentials die at once."""
    entity = await writer(request)
    if not entity.acts_as_superuser:
        raise unauthorized(True)
    store = store_of(request)
    async with store.write() as conn:
        user = await accounts.get_by_name(conn, request.match_info["username"])
        if user is None or user.kind != "user":
            raise not_found()
        if user.superuser:
            raise invalid_request("Cannot delete a superuser")
        await organizations.mark_organization_deleted(conn, user)
        store.token_cache.clear()
    return no_content()
