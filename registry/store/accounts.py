"""The account record every user, organization and robot shares; users; name checks; credentials.

Organizations (``organizations``), teams (``teams``) and robots (``robots``) are accounts too and
build on this module; it imports none of them, so the store's modules form no cycle.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.store import prepared
from registry.store.prepared import Prepared
from registry.store.schema import account, deleted_namespace


class NameTakenError(Exception):
    """The username is already used by a user, organization or robot."""


class NameReservedError(Exception):
    """The name belongs to a deleted organization the namespace GC has not purged yet."""


@dataclass(frozen=True)
class Account:
    """A user, organization or robot row."""

    id: int
    username: str
    email: str | None
    kind: str  # user | org | robot
    password_hash: str | None
    organization_id: int | None
    enabled: bool
    superuser: bool
    uuid: str
    description: str
    metadata_json: str
    robot_token_sealed: str | None
    created: float
    last_accessed: float | None

    @property
    def is_robot(self) -> bool:
        """Whether this is a robot account."""
        return self.kind == "robot"

    @property
    def is_org(self) -> bool:
        """Whether this is an organization."""
        return self.kind == "org"

    @property
    def unstructured_metadata(self) -> dict[str, Any]:
        """The robot's stored metadata object (``{}`` when none was given)."""
        value = json.loads(self.metadata_json or "{}")
        return value if isinstance(value, dict) else {}


def to_account(row: Sequence[Any]) -> Account:
    """Build an ``Account`` from a row whose first columns are the ``account`` table's, in order."""
    values = list(row[: len(ACCOUNT_COLUMNS)])
    for flag in _FLAGS:
        values[flag] = bool(values[flag])  # SQLite hands back 0 and 1
    return Account(*values)


ACCOUNT_COLUMNS = tuple(account.columns.keys())
"""The ``account`` table's columns in order: a query selecting ``account`` first reads them so."""
assert tuple(field.name for field in fields(Account)) == ACCOUNT_COLUMNS, (
    "to_account reads account rows by position"
)
_FLAGS = (ACCOUNT_COLUMNS.index("enabled"), ACCOUNT_COLUMNS.index("superuser"))

_BY_NAME = Prepared(
    select(account).where(account.c.username == bindparam("username"), account.c.enabled.is_(True))
)
_BY_ID = Prepared(select(account).where(account.c.id == bindparam("account_id")))

_owner = account.alias("owner")
_CREDENTIAL = Prepared(
    select(
        account.c.username,
        account.c.uuid,
        account.c.password_hash,
        account.c.enabled,
        account.c.organization_id,
        _owner.c.enabled,
    )
    .select_from(account.outerjoin(_owner, _owner.c.id == account.c.organization_id))
    .where(account.c.id == bindparam("account_id"))
)


@dataclass(frozen=True)
class CredentialState:
    """What a registry token's credential is checked against: one primary-key lookup."""

    username: str
    uuid: str
    password_hash: str | None
    usable: bool
    """The account is enabled and, for a robot, so is its organization."""


async def credential_state(conn: AsyncConnection, account_id: int) -> CredentialState | None:
    """The live credential of account ``account_id`` (None when the row is gone)."""
    row = await prepared.fetch_one(conn, _CREDENTIAL, {"account_id": account_id})
    if row is None:
        return None
    username, account_uuid, password_hash, enabled, organization_id, owner_enabled = row
    usable = bool(enabled) and (organization_id is None or bool(owner_enabled))
    return CredentialState(username, account_uuid, password_hash, usable)


async def get_by_name(conn: AsyncConnection, username: str) -> Account | None:
    """The enabled account named ``username`` (case-sensitive), or None."""
    row = await prepared.fetch_one(conn, _BY_NAME, {"username": username})
    return to_account(row) if row else None


async def get_by_id(conn: AsyncConnection, account_id: int) -> Account | None:
    """The account with ``account_id``, or None."""
    row = await prepared.fetch_one(conn, _BY_ID, {"account_id": account_id})
    return to_account(row) if row else None


async def get_many(conn: AsyncConnection, account_ids: set[int]) -> dict[int, Account]:
    """The accounts with these ids, by id (missing ids are left out)."""
    if not account_ids:
        return {}
    rows = await conn.execute(select(account).where(account.c.id.in_(sorted(account_ids))))
    return {found.id: found for found in (to_account(row) for row in rows)}


async def get_organization(conn: AsyncConnection, name: str) -> Account | None:
    """The enabled organization named ``name``, or None (a user of that name is not an org)."""
    found = await get_by_name(conn, name)
    return found if found is not None and found.is_org else None


async def count_users(conn: AsyncConnection) -> int:
    """How many user accounts exist (organizations and robots not counted)."""
    return int(
        (await conn.execute(select(func.count()).where(account.c.kind == "user"))).scalar_one()
    )


_EMAIL_USED = Prepared(
    select(account.c.id).where(account.c.kind == "user", account.c.email == bindparam("email"))
)
_RESERVED = Prepared(
    select(deleted_namespace.c.id).where(deleted_namespace.c.original_name == bindparam("name"))
)


async def email_used_by_user(conn: AsyncConnection, email: str) -> bool:
    """Whether a *user* already has ``email`` (organizations may share one)."""
    return await prepared.fetch_one(conn, _EMAIL_USED, {"email": email}) is not None


async def is_reserved(conn: AsyncConnection, name: str) -> bool:
    """Whether ``name`` belongs to a deleted organization not yet purged."""
    return await prepared.fetch_one(conn, _RESERVED, {"name": name}) is not None


@dataclass(frozen=True)
class NameCheck:
    """What stands in the way of a new organization's name and email."""

    taken: bool  # an enabled account has the name
    reserved: bool  # a deleted organization not yet purged had it
    email_used: bool  # a user has the email


_NAME_CHECK = Prepared(
    select(
        select(account.c.id)
        .where(account.c.username == bindparam("name"), account.c.enabled.is_(True))
        .exists()
        .label("taken"),
        select(deleted_namespace.c.id)
        .where(deleted_namespace.c.original_name == bindparam("name"))
        .exists()
        .label("reserved"),
        select(account.c.id)
        .where(account.c.kind == "user", account.c.email == bindparam("email"))
        .exists()
        .label("email_used"),
    )
)


async def check_new_name(conn: AsyncConnection, name: str, email: str | None) -> NameCheck:
    """``get_by_name``, ``is_reserved`` and ``email_used_by_user`` in one statement."""
    row = await prepared.fetch_one(conn, _NAME_CHECK, {"name": name, "email": email})
    assert row is not None
    return NameCheck(bool(row[0]), bool(row[1]), email is not None and bool(row[2]))


_INSERT_ACCOUNT = prepared.insert_row(account)


async def insert_account(
    conn: AsyncConnection, *, username: str, kind: str, **values: Any
) -> Account:
    """Insert an enabled account of ``kind``; ``values`` are other ``Account`` fields to set.

    Raises:
        NameTakenError: the name is used by any account.
    """
    row: dict[str, Any] = {
        "username": username,
        "email": None,
        "kind": kind,
        "password_hash": None,
        "organization_id": None,
        "enabled": True,
        "superuser": False,
        "uuid": str(uuid.uuid4()),
        "description": "",
        "metadata_json": "{}",
        "robot_token_sealed": None,
        "created": time.time(),
        "last_accessed": None,
    }
    row.update(values)
    try:
        outcome = await prepared.run(conn, _INSERT_ACCOUNT, row)
    except IntegrityError as error:
        raise NameTakenError(username) from error
    assert outcome.lastrowid is not None
    return Account(id=outcome.lastrowid, **row)


async def refuse_reserved(conn: AsyncConnection, name: str) -> None:
    """Raise ``NameReservedError`` when ``name`` is a deleted organization's, not yet purged."""
    if await is_reserved(conn, name):
        raise NameReservedError(name)


async def create_user(
    conn: AsyncConnection,
    username: str,
    email: str | None,
    password_hash: str | None,
    *,
    superuser: bool = False,
) -> Account:
    """Insert a user.

    Raises:
        NameTakenError: the name is used by any account.
        NameReservedError: the name is a deleted org's, not yet purged.
    """
    await refuse_reserved(conn, username)
    return await insert_account(
        conn,
        username=username,
        kind="user",
        email=email,
        password_hash=password_hash,
        superuser=superuser,
    )


async def replace_password_hash(
    conn: AsyncConnection, account_id: int, old_hash: str, new_hash: str
) -> None:
    """Store a rehashed password, unless the password changed meanwhile (then nothing happens)."""
    await conn.execute(
        update(account)
        .where(account.c.id == account_id, account.c.password_hash == old_hash)
        .values(password_hash=new_hash)
    )


async def count_password_hashes(conn: AsyncConnection, scheme: str) -> int:
    """How many accounts have a password hash made with ``scheme``."""
    found = await conn.scalar(
        select(func.count()).select_from(account).where(account.c.password_hash.like(f"{scheme}$%"))
    )
    return int(found or 0)


async def touch(conn: AsyncConnection, account_id: int) -> None:
    """Record a login (``last_accessed``)."""
    await conn.execute(
        update(account).where(account.c.id == account_id).values(last_accessed=time.time())
    )
