"""Users, organizations, teams and robots: queries over the ``account`` family of tables.

Deleting an organization follows Quay: the row is renamed to its uuid and disabled, and a
``deleted_namespace`` marker keeps the old name reserved until the namespace GC purges both.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, case, delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.scopes import TeamRole
from registry.store import prepared
from registry.store.prepared import Prepared
from registry.store.schema import (
    account,
    deleted_namespace,
    oauth_application,
    oauth_token,
    prototype,
    repository,
    repository_permission,
    team,
    team_member,
)


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
    return Account(
        id=row[0],
        username=row[1],
        email=row[2],
        kind=row[3],
        password_hash=row[4],
        organization_id=row[5],
        enabled=bool(row[6]),
        superuser=bool(row[7]),
        uuid=row[8],
        description=row[9],
        metadata_json=row[10],
        robot_token_sealed=row[11],
        created=row[12],
        last_accessed=row[13],
    )


_COLUMN_ORDER = (
    "id",
    "username",
    "email",
    "kind",
    "password_hash",
    "organization_id",
    "enabled",
    "superuser",
    "uuid",
    "description",
    "metadata_json",
    "robot_token_sealed",
    "created",
    "last_accessed",
)
assert tuple(account.c.keys()) == _COLUMN_ORDER, "to_account reads account rows by position"

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


_INSERT_ACCOUNT = Prepared(
    account.insert().values({column: bindparam(column) for column in _COLUMN_ORDER[1:]})
)


async def _insert_account(
    conn: AsyncConnection,
    *,
    username: str,
    kind: str,
    email: str | None = None,
    password_hash: str | None = None,
    organization_id: int | None = None,
    superuser: bool = False,
    description: str = "",
    metadata_json: str = "{}",
    robot_token_sealed: str | None = None,
) -> Account:
    created = time.time()
    new_uuid = str(uuid.uuid4())
    values = {
        "username": username,
        "email": email,
        "kind": kind,
        "password_hash": password_hash,
        "organization_id": organization_id,
        "enabled": True,
        "superuser": superuser,
        "uuid": new_uuid,
        "description": description,
        "metadata_json": metadata_json,
        "robot_token_sealed": robot_token_sealed,
        "created": created,
        "last_accessed": None,
    }
    try:
        outcome = await prepared.run(conn, _INSERT_ACCOUNT, values)
    except IntegrityError as error:
        raise NameTakenError(username) from error
    assert outcome.lastrowid is not None
    return Account(
        id=outcome.lastrowid,
        username=username,
        email=email,
        kind=kind,
        password_hash=password_hash,
        organization_id=organization_id,
        enabled=True,
        superuser=superuser,
        uuid=new_uuid,
        description=description,
        metadata_json=metadata_json,
        robot_token_sealed=robot_token_sealed,
        created=created,
        last_accessed=None,
    )


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
    if await is_reserved(conn, username):
        raise NameReservedError(username)
    return await _insert_account(
        conn,
        username=username,
        email=email,
        kind="user",
        password_hash=password_hash,
        superuser=superuser,
    )


_INSERT_TEAM = Prepared(
    team.insert().values(
        organization_id=bindparam("org_id"),
        name=bindparam("name"),
        role=bindparam("role"),
        description=bindparam("description"),
    )
)
_INSERT_TEAM_MEMBER = Prepared(
    team_member.insert().values(team_id=bindparam("team_id"), account_id=bindparam("account_id"))
)


async def create_organization(
    conn: AsyncConnection, name: str, email: str | None, creator_id: int
) -> Account:
    """Insert an organization with an ``owners`` team (role admin) holding ``creator_id``.

    Raises:
        NameTakenError: the name is used by any account.
        NameReservedError: the name is a deleted org's, not yet purged.
    """
    if await is_reserved(conn, name):
        raise NameReservedError(name)
    return await insert_organization(conn, name, email, creator_id)


async def insert_organization(
    conn: AsyncConnection, name: str, email: str | None, creator_id: int
) -> Account:
    """``create_organization`` for a caller that has checked the name is not reserved.

    Raises:
        NameTakenError: the name is used by any account.
    """
    org = await _insert_account(conn, username=name, email=email or str(uuid.uuid4()), kind="org")
    owners = await prepared.run(
        conn,
        _INSERT_TEAM,
        {"org_id": org.id, "name": "owners", "role": "admin", "description": ""},
    )
    await prepared.run(
        conn, _INSERT_TEAM_MEMBER, {"team_id": owners.lastrowid, "account_id": creator_id}
    )
    return org


def org_email_visible(org: Account) -> str:
    """The email an org view shows: "" when the org was created without one (a uuid is stored)."""
    if org.email is None:
        return ""
    try:
        uuid.UUID(org.email)
    except ValueError:
        return org.email
    return ""


async def mark_organization_deleted(conn: AsyncConnection, org: Account) -> None:
    """Rename and disable ``org`` (or a user) and reserve its name until the namespace GC runs."""
    await conn.execute(
        update(account)
        .where(account.c.id == org.id)
        .values(username=f"deleted-{org.uuid}", enabled=False)
    )
    await conn.execute(
        deleted_namespace.insert().values(
            original_name=org.username, account_id=org.id, marked=time.time()
        )
    )


@dataclass(frozen=True)
class TeamInfo:
    """One team of an organization, with its counts."""

    id: int
    name: str
    role: TeamRole
    description: str
    member_count: int


def _is_member(account_id: Any) -> Any:
    """``team`` has ``account_id`` as a member (the primary key lookup on ``team_member``).

    Written as EXISTS so the database walks the org's few teams by ``team.organization_id`` and
    probes each membership, instead of walking every membership of the account (an owner of many
    orgs has one per org) and checking each team's org.
    """
    return exists().where(
        team_member.c.team_id == team.c.id, team_member.c.account_id == account_id
    )


_TEAM_ROLES = Prepared(
    select(team.c.role).where(
        team.c.organization_id == bindparam("org_id"), _is_member(bindparam("account_id"))
    )
)


async def team_role(conn: AsyncConnection, org_id: int, account_id: int) -> TeamRole | None:
    """The highest team role ``account_id`` holds in ``org_id``, or None when not a member."""
    rows = await prepared.fetch_all(conn, _TEAM_ROLES, {"org_id": org_id, "account_id": account_id})
    order = {"member": 1, "creator": 2, "admin": 3}
    best: TeamRole | None = None
    for (role,) in rows:
        if best is None or order[role] > order[best]:
            best = role
    return best


_ROLE_RANK = case({"admin": 3, "creator": 2, "member": 1}, value=team.c.role, else_=0)
_BEST_ROLE = (
    select(team.c.role)
    .where(team.c.organization_id == account.c.id, _is_member(bindparam("caller_id")))
    .order_by(_ROLE_RANK.desc())
    .limit(1)
    .correlate(account)
    .scalar_subquery()
)
_BY_NAME_WITH_ROLE = Prepared(
    select(account, _BEST_ROLE.label("caller_role")).where(
        account.c.username == bindparam("username"), account.c.enabled.is_(True)
    )
)


async def get_with_role(
    conn: AsyncConnection, username: str, caller_id: int | None
) -> tuple[Account | None, TeamRole | None]:
    """The enabled account ``username`` and the best team role ``caller_id`` holds in it.

    One statement instead of two for the most common question of the REST API ("this org, and
    am I its admin?"). The role is None for users, robots and non-members.
    """
    row = await prepared.fetch_one(
        conn, _BY_NAME_WITH_ROLE, {"username": username, "caller_id": caller_id or -1}
    )
    if row is None:
        return None, None
    found = to_account(row)
    role = row[len(_COLUMN_ORDER)] if found.is_org else None
    return found, role


_MEMBER_COUNT = (
    select(func.count()).where(team_member.c.team_id == team.c.id).correlate(team).scalar_subquery()
)
_TEAMS = Prepared(
    select(team.c.id, team.c.name, team.c.role, team.c.description, _MEMBER_COUNT.label("members"))
    .where(team.c.organization_id == bindparam("org_id"))
    .order_by(team.c.name)
)


async def list_teams(conn: AsyncConnection, org_id: int) -> list[TeamInfo]:
    """The org's teams with member counts, by name."""
    rows = await prepared.fetch_all(conn, _TEAMS, {"org_id": org_id})
    return [
        TeamInfo(team_id, name, role, description, int(members))
        for team_id, name, role, description, members in rows
    ]


async def get_team(conn: AsyncConnection, org_id: int, name: str) -> TeamInfo | None:
    """The org's team ``name``, or None."""
    for info in await list_teams(conn, org_id):
        if info.name == name:
            return info
    return None


_ORGANIZATIONS_OF = Prepared(
    select(account, team.c.role)
    .select_from(
        account.join(team, team.c.organization_id == account.c.id).join(
            team_member, team_member.c.team_id == team.c.id
        )
    )
    .where(team_member.c.account_id == bindparam("account_id"), account.c.enabled.is_(True))
    .order_by(account.c.username)
)


async def organizations_of(
    conn: AsyncConnection, account_id: int
) -> list[tuple[Account, TeamRole]]:
    """The enabled orgs ``account_id`` belongs to, each with its best team role, by name."""
    rows = await prepared.fetch_all(conn, _ORGANIZATIONS_OF, {"account_id": account_id})
    best: dict[int, tuple[Account, TeamRole]] = {}
    order = {"member": 1, "creator": 2, "admin": 3}
    for row in rows:
        org = to_account(row)
        role = row[len(_COLUMN_ORDER)]
        if org.id not in best or order[role] > order[best[org.id][1]]:
            best[org.id] = (org, role)
    return list(best.values())


# --- robots ---


async def create_robot(
    conn: AsyncConnection,
    org: Account,
    full_name: str,
    description: str,
    metadata: dict[str, Any] | None,
    token_sealed: str,
) -> Account:
    """Insert a robot owned by ``org``.

    Raises:
        NameTakenError: a robot (or any account) already has ``full_name``.
    """
    return await _insert_account(
        conn,
        username=full_name,
        email=None,
        kind="robot",
        password_hash=None,
        organization_id=org.id,
        description=description,
        metadata_json=json.dumps(metadata or {}),
        robot_token_sealed=token_sealed,
    )


_ROBOT = Prepared(
    select(account).where(
        account.c.username == bindparam("username"),
        account.c.kind == "robot",
        account.c.organization_id == bindparam("org_id"),
    )
)


async def get_robot(conn: AsyncConnection, org: Account, full_name: str) -> Account | None:
    """The robot ``full_name`` owned by ``org``, or None."""
    row = await prepared.fetch_one(conn, _ROBOT, {"username": full_name, "org_id": org.id})
    return to_account(row) if row else None


async def list_robots(conn: AsyncConnection, org: Account) -> list[Account]:
    """The robots owned by ``org``, by name."""
    rows = await conn.execute(
        select(account)
        .where(account.c.kind == "robot", account.c.organization_id == org.id)
        .order_by(account.c.username)
    )
    return [to_account(row) for row in rows]


async def set_robot_token(conn: AsyncConnection, robot: Account, token_sealed: str) -> None:
    """Replace a robot's token and rotate its uuid, as Quay's regenerate does."""
    await conn.execute(
        update(account)
        .where(account.c.id == robot.id)
        .values(robot_token_sealed=token_sealed, uuid=str(uuid.uuid4()))
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


async def delete_robot(conn: AsyncConnection, robot: Account) -> None:
    """Delete a robot with its permissions, team memberships and prototypes naming it."""
    await conn.execute(
        delete(repository_permission).where(repository_permission.c.account_id == robot.id)
    )
    await conn.execute(delete(team_member).where(team_member.c.account_id == robot.id))
    await conn.execute(
        delete(prototype).where(
            (prototype.c.delegate_account_id == robot.id)
            | (prototype.c.activating_account_id == robot.id)
        )
    )
    await conn.execute(delete(account).where(account.c.id == robot.id))


async def robot_repository_roles(conn: AsyncConnection, robot: Account) -> list[tuple[str, str]]:
    """(repository name, role) pairs of a robot's direct permissions."""
    rows = await conn.execute(
        select(repository.c.name, repository_permission.c.role)
        .select_from(
            repository_permission.join(
                repository, repository.c.id == repository_permission.c.repository_id
            )
        )
        .where(
            repository_permission.c.account_id == robot.id,
            repository.c.state == "NORMAL",
        )
        .order_by(repository.c.name)
    )
    return [(r.name, r.role) for r in rows]


# --- namespace GC ---


async def purge_organization(conn: AsyncConnection, org_id: int) -> None:
    """Remove an organization or user and everything it owns (the namespace GC's work)."""
    from registry.store.repositories import purge_repository  # a cycle only at call time

    repo_ids = (
        (await conn.execute(select(repository.c.id).where(repository.c.namespace_id == org_id)))
        .scalars()
        .all()
    )
    for repo_id in repo_ids:
        await purge_repository(conn, repo_id)
    robot_ids = (
        (
            await conn.execute(
                select(account.c.id).where(
                    account.c.kind == "robot", account.c.organization_id == org_id
                )
            )
        )
        .scalars()
        .all()
    )
    team_ids = (
        (await conn.execute(select(team.c.id).where(team.c.organization_id == org_id)))
        .scalars()
        .all()
    )
    app_ids = (
        (
            await conn.execute(
                select(oauth_application.c.id).where(oauth_application.c.organization_id == org_id)
            )
        )
        .scalars()
        .all()
    )
    await conn.execute(delete(prototype).where(prototype.c.organization_id == org_id))
    if app_ids:
        await conn.execute(delete(oauth_token).where(oauth_token.c.application_id.in_(app_ids)))
        await conn.execute(delete(oauth_application).where(oauth_application.c.id.in_(app_ids)))
    if robot_ids:
        await conn.execute(
            delete(repository_permission).where(repository_permission.c.account_id.in_(robot_ids))
        )
        await conn.execute(delete(team_member).where(team_member.c.account_id.in_(robot_ids)))
        await conn.execute(
            delete(prototype).where(
                prototype.c.delegate_account_id.in_(robot_ids)
                | prototype.c.activating_account_id.in_(robot_ids)
            )
        )
    if team_ids:
        await conn.execute(
            delete(repository_permission).where(repository_permission.c.team_id.in_(team_ids))
        )
        await conn.execute(delete(prototype).where(prototype.c.delegate_team_id.in_(team_ids)))
        await conn.execute(delete(team_member).where(team_member.c.team_id.in_(team_ids)))
        await conn.execute(delete(team).where(team.c.id.in_(team_ids)))
    if robot_ids:
        await conn.execute(delete(account).where(account.c.id.in_(robot_ids)))
    # A deleted user (the same GC purges it) holds rows of its own: tokens, memberships, grants.
    await conn.execute(delete(oauth_token).where(oauth_token.c.account_id == org_id))
    await conn.execute(delete(team_member).where(team_member.c.account_id == org_id))
    await conn.execute(
        delete(repository_permission).where(repository_permission.c.account_id == org_id)
    )
    await conn.execute(
        delete(prototype).where(
            (prototype.c.delegate_account_id == org_id)
            | (prototype.c.activating_account_id == org_id)
        )
    )
    await conn.execute(delete(deleted_namespace).where(deleted_namespace.c.account_id == org_id))
    await conn.execute(delete(account).where(account.c.id == org_id))


async def due_deleted_namespaces(conn: AsyncConnection, marked_before: float) -> list[int]:
    """Account ids of deleted orgs marked before ``marked_before``."""
    rows = await conn.execute(
        select(deleted_namespace.c.account_id).where(deleted_namespace.c.marked <= marked_before)
    )
    return [int(value) for value in rows.scalars()]
