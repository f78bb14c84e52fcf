"""OAuth applications and access tokens.

A bearer token is 40 ``[A-Z0-9]`` characters: the first 20 are a lookup name stored in clear
(unique), the last 20 a secret stored only as an HMAC-SHA256 digest (quay/quay data/model/oauth.py
does the same split with a password hash). Checking a token is one indexed query plus one HMAC.
"""

from __future__ import annotations

import hmac
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.credentials import OAUTH_LOOKUP_LENGTH, OAUTH_TOKEN_LENGTH, Keyring, random_token
from registry.store import prepared
from registry.store.prepared import Prepared
from registry.store.schema import account, oauth_application, oauth_token


@dataclass(frozen=True)
class Application:
    """An OAuth application owned by an organization (or, for ``automation``, a user)."""

    id: int
    client_id: str
    client_secret_sealed: str
    organization_id: int
    name: str
    description: str
    application_uri: str
    redirect_uri: str
    avatar_email: str | None


@dataclass(frozen=True)
class Token:
    """An OAuth access token row (never the secret itself)."""

    id: int
    uuid: str
    application_id: int
    account_id: int
    name: str
    scope: str
    created: float
    expires_at: float | None
    last_accessed: float | None
    created_by: str | None


def _application(m: Any) -> Application:
    return Application(**{key: m[key] for key in Application.__dataclass_fields__})


def _token(m: Any) -> Token:
    return Token(**{key: m[key] for key in Token.__dataclass_fields__})


async def create_application(
    conn: AsyncConnection,
    keyring: Keyring,
    owner_id: int,
    name: str,
    *,
    client_id: str | None = None,
    description: str = "",
    application_uri: str = "",
    redirect_uri: str = "",
    avatar_email: str | None = None,
) -> Application:
    """Insert an application with a fresh 20-char client id and 40-char secret."""
    values = {
        "client_id": client_id or random_token(20),
        "client_secret_sealed": keyring.seal(random_token(40)),
        "organization_id": owner_id,
        "name": name,
        "description": description,
        "application_uri": application_uri,
        "redirect_uri": redirect_uri,
        "avatar_email": avatar_email,
    }
    await conn.execute(oauth_application.insert().values(**values))
    found = await get_application(conn, owner_id, str(values["client_id"]))
    assert found is not None
    return found


async def get_application(
    conn: AsyncConnection, owner_id: int, client_id: str
) -> Application | None:
    """The owner's application ``client_id``, or None."""
    row = (
        await conn.execute(
            select(oauth_application).where(
                oauth_application.c.organization_id == owner_id,
                oauth_application.c.client_id == client_id,
            )
        )
    ).first()
    return _application(row._mapping) if row else None


async def list_applications(conn: AsyncConnection, owner_id: int) -> list[Application]:
    """The owner's applications in creation order."""
    rows = await conn.execute(
        select(oauth_application)
        .where(oauth_application.c.organization_id == owner_id)
        .order_by(oauth_application.c.id)
    )
    return [_application(row._mapping) for row in rows]


async def update_application(conn: AsyncConnection, app: Application, **values: Any) -> None:
    """Change an application's descriptive fields."""
    await conn.execute(
        update(oauth_application).where(oauth_application.c.id == app.id).values(**values)
    )


async def delete_application(conn: AsyncConnection, app: Application) -> None:
    """Delete an application and every token it issued."""
    await conn.execute(delete(oauth_token).where(oauth_token.c.application_id == app.id))
    await conn.execute(delete(oauth_application).where(oauth_application.c.id == app.id))


async def create_token(
    conn: AsyncConnection,
    keyring: Keyring,
    app: Application,
    account_id: int,
    scope: str,
    *,
    name: str = "",
    lifetime_seconds: float | None,
    created_by: str | None = None,
) -> tuple[Token, str]:
    """Mint a token; return its row and the 40-char secret (shown once, never stored)."""
    secret = random_token(OAUTH_TOKEN_LENGTH)
    lookup, code = secret[:OAUTH_LOOKUP_LENGTH], secret[OAUTH_LOOKUP_LENGTH:]
    now = time.time()
    token_uuid = str(uuid.uuid4())
    await conn.execute(
        oauth_token.insert().values(
            uuid=token_uuid,
            application_id=app.id,
            account_id=account_id,
            name=name,
            lookup=lookup,
            code_digest=keyring.digest(code),
            scope=scope,
            created=now,
            expires_at=None if lifetime_seconds is None else now + lifetime_seconds,
            created_by=created_by,
        )
    )
    row = (await conn.execute(select(oauth_token).where(oauth_token.c.uuid == token_uuid))).one()
    return _token(row._mapping), secret


_TOKEN_COLUMNS = tuple(oauth_token.c.keys())
_BY_LOOKUP = Prepared(
    select(oauth_token)
    .join(account, account.c.id == oauth_token.c.account_id)
    .where(oauth_token.c.lookup == bindparam("lookup"), account.c.enabled.is_(True))
)


async def find_valid_token(
    conn: AsyncConnection, keyring: Keyring, secret: str, now: float
) -> Token | None:
    """The unexpired token whose secret is ``secret``, if its owner is enabled; else None."""
    if len(secret) != OAUTH_TOKEN_LENGTH or not secret.isalnum():
        return None
    row = await prepared.fetch_one(conn, _BY_LOOKUP, {"lookup": secret[:OAUTH_LOOKUP_LENGTH]})
    if row is None:
        return None
    m = dict(zip(_TOKEN_COLUMNS, row, strict=True))
    if not hmac.compare_digest(m["code_digest"], keyring.digest(secret[OAUTH_LOOKUP_LENGTH:])):
        return None
    if m["expires_at"] is not None and m["expires_at"] <= now:
        return None
    return _token(m)


_HOLDER = Prepared(
    select(account.c.username, account.c.enabled, oauth_token.c.expires_at)
    .select_from(oauth_token.join(account, account.c.id == oauth_token.c.account_id))
    .where(oauth_token.c.uuid == bindparam("uuid"))
)


async def live_token_holder(conn: AsyncConnection, token_uuid: str, now: float) -> str | None:
    """The username behind the unrevoked, unexpired token ``token_uuid`` if enabled, else None."""
    row = await prepared.fetch_one(conn, _HOLDER, {"uuid": token_uuid})
    if row is None:
        return None
    username, enabled, expires_at = row
    if not enabled or (expires_at is not None and expires_at <= now):
        return None
    return str(username)


async def list_tokens(conn: AsyncConnection, app: Application) -> list[Token]:
    """Tokens issued by ``app``, newest first."""
    rows = await conn.execute(
        select(oauth_token)
        .where(oauth_token.c.application_id == app.id)
        .order_by(oauth_token.c.created.desc(), oauth_token.c.id.desc())
    )
    return [_token(row._mapping) for row in rows]


async def delete_token(conn: AsyncConnection, app: Application, token_uuid: str) -> bool:
    """Revoke a token; False when ``app`` issued none with that uuid."""
    result = await conn.execute(
        delete(oauth_token).where(
            oauth_token.c.application_id == app.id, oauth_token.c.uuid == token_uuid
        )
    )
    return bool(result.rowcount)
