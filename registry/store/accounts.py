"""Users, organizations, teams and robots: queries over the ``account`` family of tables.

Deleting an organization follows Quay: the row is renamed to its uuid and disabled, and a
``deleted_namespace`` marker keeps the old name reserved until the namespace GC purges both.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, case, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.scopes import TeamRole
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


def to_account(row: Row[Any]) -> Account:
    """Build an ``Account`` from an ``account`` row."""
    m = row._mapping
    return Account(
        id=m["id"],
        username=m["username"],
        email=m["email"],
        kind=m["kind"],
        password_hash=m["password_hash"],
        organization_id=m["organization_id"],
        enabled=bool(m["enabled"]),
        superuser=bool(m["superuser"]),
        uuid=m["uuid"],
        description=m["description"],
        metadata_json=m["metadata_json"],
        robot_token_sealed=m["robot_token_sealed"],
        created=m["created"],
        last_accessed=m["last_accessed"],
    )


async def get_by_name(conn: AsyncConnection, username: str) -> Account | None:
    """The enabled account named ``username`` (case-sensitive), or None."""
    row = (
        await conn.execute(
            select(account).where(account.c.username == username, account.c.enabled.is_(True))
        )
    ).first()
    return to_account(row) if row else None


async def get_by_id(conn: AsyncConnection, account_id: int) -> Account | None:
    """The account with ``account_id``, or None."""
    row = (await conn.execute(select(account).where(account.c.id == account_id))).first()
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


async def email_used_by_user(conn: AsyncConnection, email: str) -> bool:
    """Whether a *user* already has ``email`` (organizations may share one)."""
    row = (
        await conn.execute(
            select(account.c.id).where(account.c.kind == "user", account.c.email == email)
        )
    ).first()
    return row is not None


async def is_reserved(conn: AsyncConnection, name: str) -> bool:
    """Whether ``name`` belongs to a deleted organization not yet purged."""
    row = (
        await conn.execute(
            select(deleted_namespace.c.id).where(deleted_namespace.c.original_name == name)
        )
    ).first()
    return row is not None


async def _insert_account(conn: AsyncConnection, **values: Any) -> Account:
    values.setdefault("uuid", str(uuid.uuid4()))
    values.setdefault("created", time.time())
    values.setdefault("enabled", True)
    values.setdefault("superuser", False)
    values.setdefault("description", "")
    values.setdefault("metadata_json", "{}")
    try:
        result = await conn.execute(account.insert().values(**values))
    except IntegrityError as error:
        raise NameTakenError(values["username"]) from error
    assert result.inserted_primary_key is not None
    return Account(
        id=int(result.inserted_primary_key[0]),
        username=values["username"],
        email=values.get("email"),
        kind=values["kind"],
        password_hash=values.get("password_hash"),
        organization_id=values.get("organization_id"),
        enabled=bool(values["enabled"]),
        superuser=bool(values["superuser"]),
        uuid=values["uuid"],
        description=values["description"],
        metadata_json=values["metadata_json"],
        robot_token_sealed=values.get("robot_token_sealed"),
        created=values["created"],
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
    org = await _insert_account(
        conn, username=name, email=email or str(uuid.uuid4()), kind="org", password_hash=None
    )
    owners = await conn.execute(
        team.insert().values(organization_id=org.id, name="owners", role="admin", description="")
    )
    owners_id = owners.inserted_primary_key[0] if owners.inserted_primary_key else None
    await conn.execute(team_member.insert().values(team_id=owners_id, account_id=creator_id))
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
    """Rename and disable ``org`` and reserve its name until the namespace GC runs."""
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


_TEAM_ROLES = (
    select(team.c.role)
    .select_from(team.join(team_member, team_member.c.team_id == team.c.id))
    .where(
        team.c.organization_id == bindparam("org_id"),
        team_member.c.account_id == bindparam("account_id"),
    )
)


async def team_role(conn: AsyncConnection, org_id: int, account_id: int) -> TeamRole | None:
    """The highest team role ``account_id`` holds in ``org_id``, or None when not a member."""
    rows = (await conn.execute(_TEAM_ROLES, {"org_id": org_id, "account_id": account_id})).scalars()
    order = {"member": 1, "creator": 2, "admin": 3}
    best: TeamRole | None = None
    for role in rows:
        if best is None or order[role] > order[best]:
            best = role
    return best


_ROLE_RANK = case({"admin": 3, "creator": 2, "member": 1}, value=team.c.role, else_=0)
_BEST_ROLE = (
    select(team.c.role)
    .select_from(team.join(team_member, team_member.c.team_id == team.c.id))
    .where(
        team.c.organization_id == account.c.id,
        team_member.c.account_id == bindparam("caller_id"),
    )
    .order_by(_ROLE_RANK.desc())
    .limit(1)
    .correlate(account)
    .scalar_subquery()
)
_BY_NAME_WITH_ROLE = select(account, _BEST_ROLE.label("caller_role")).where(
    account.c.username == bindparam("username"), account.c.enabled.is_(True)
)


async def get_with_role(
    conn: AsyncConnection, username: str, caller_id: int | None
) -> tuple[Account | None, TeamRole | None]:
    """The enabled account ``username`` and the best team role ``caller_id`` holds in it.

    One statement instead of two for the most common question of the REST API ("this org, and
    am I its admin?"). The role is None for users, robots and non-members.
    """
    row = (
        await conn.execute(_BY_NAME_WITH_ROLE, {"username": username, "caller_id": caller_id or -1})
    ).first()
    if row is None:
        return None, None
    found = to_account(row)
    role = row._mapping["caller_role"] if found.is_org else None
    return found, role


async def list_teams(conn: AsyncConnection, org_id: int) -> list[TeamInfo]:
    """The org's teams with member counts, by name."""
    count = (
        select(func.count())
        .where(team_member.c.team_id == team.c.id)
        .correlate(team)
        .scalar_subquery()
    )
    rows = await conn.execute(
        select(team.c.id, team.c.name, team.c.role, team.c.description, count.label("members"))
        .where(team.c.organization_id == org_id)
        .order_by(team.c.name)
    )
    return [TeamInfo(r.id, r.name, r.role, r.description, int(r.members)) for r in rows]


async def get_team(conn: AsyncConnection, org_id: int, name: str) -> TeamInfo | None:
    """The org's team ``name``, or None."""
    for info in await list_teams(conn, org_id):
        if info.name == name:
            return info
    return None


async def organizations_of(
    conn: AsyncConnection, account_id: int
) -> list[tuple[Account, TeamRole]]:
    """The enabled orgs ``account_id`` belongs to, each with its best team role, by name."""
    rows = await conn.execute(
        select(account, team.c.role)
        .select_from(
            account.join(team, team.c.organization_id == account.c.id).join(
                team_member, team_member.c.team_id == team.c.id
            )
        )
        .where(team_member.c.account_id == account_id, account.c.enabled.is_(True))
        .order_by(account.c.username)
    )
    best: dict[int, tuple[Account, TeamRole]] = {}
    order = {"member": 1, "creator": 2, "admin": 3}
    for row in rows:
        org = to_account(row)
        role = row._mapping["role"]
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


_ROBOT = select(account).where(
    account.c.username == bindparam("username"),
    account.c.kind == "robot",
    account.c.organization_id == bindparam("org_id"),
)


async def get_robot(conn: AsyncConnection, org: Account, full_name: str) -> Account | None:
    """The robot ``full_name`` owned by ``org``, or None."""
    row = (await conn.execute(_ROBOT, {"username": full_name, "org_id": org.id})).first()
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
    """Remove an organization and everything it owns (the namespace GC's work)."""
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
    await conn.execute(delete(deleted_namespace).where(deleted_namespace.c.account_id == org_id))
    await conn.execute(delete(account).where(account.c.id == org_id))


async def due_deleted_namespaces(conn: AsyncConnection, marked_before: float) -> list[int]:
    """Account ids of deleted orgs marked before ``marked_before``."""
    rows = await conn.execute(
        select(deleted_namespace.c.account_id).where(deleted_namespace.c.marked <= marked_before)
    )
    return [int(value) for value in rows.scalars()]
