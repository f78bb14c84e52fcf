"""Teams of an organization and their members: roles, lists, writes and memberships.

A team's role applies organization-wide (``admin`` makes its members the org's admins); the role
an account holds in an organization is the best role of the teams it is a member of. Behind
``/api/v1/organization/{org}/team/...`` and every check of an org-wide role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, case, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.scopes import TeamRole, max_team_role
from registry.store import prepared
from registry.store.accounts import Account, to_account
from registry.store.prepared import Prepared
from registry.store.schema import account, prototype, repository_permission, team, team_member


@dataclass(frozen=True)
class TeamInfo:
    """One team of an organization, with its counts."""

    id: int
    name: str
    role: TeamRole
    description: str
    member_count: int


def has_member(account_id: Any) -> Any:
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
        team.c.organization_id == bindparam("org_id"), has_member(bindparam("account_id"))
    )
)


async def team_role(conn: AsyncConnection, org_id: int, account_id: int) -> TeamRole | None:
    """The highest team role ``account_id`` holds in ``org_id``, or None when not a member."""
    rows = await prepared.fetch_all(conn, _TEAM_ROLES, {"org_id": org_id, "account_id": account_id})
    return max_team_role(*(role for (role,) in rows))


ROLE_RANK = case({"admin": 3, "creator": 2, "member": 1}, value=team.c.role, else_=0)
"""A team role as a number that orders like the roles, for ``ORDER BY`` in SQL."""

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


_INSERT_TEAM = prepared.insert_row(team)
_INSERT_TEAM_MEMBER = prepared.insert_row(team_member)


async def create_team(
    conn: AsyncConnection, org_id: int, name: str, role: TeamRole, description: str
) -> TeamInfo:
    """Insert a team (no members yet)."""
    values = {"organization_id": org_id, "name": name, "role": role, "description": description}
    outcome = await prepared.run(conn, _INSERT_TEAM, values)
    assert outcome.lastrowid is not None
    return TeamInfo(outcome.lastrowid, name, role, description, 0)


async def update_team(
    conn: AsyncConnection, found: TeamInfo, role: TeamRole, description: str
) -> TeamInfo:
    """Set a team's org-wide role and description."""
    await conn.execute(
        update(team).where(team.c.id == found.id).values(role=role, description=description)
    )
    return TeamInfo(found.id, found.name, role, description, found.member_count)


async def delete_team(conn: AsyncConnection, found: TeamInfo) -> None:
    """Delete a team with its memberships, repository permissions and prototypes naming it."""
    await conn.execute(delete(team_member).where(team_member.c.team_id == found.id))
    await conn.execute(
        delete(repository_permission).where(repository_permission.c.team_id == found.id)
    )
    await conn.execute(delete(prototype).where(prototype.c.delegate_team_id == found.id))
    await conn.execute(delete(team).where(team.c.id == found.id))


async def members(conn: AsyncConnection, team_id: int) -> list[Account]:
    """The team's users and robots, by name."""
    rows = await conn.execute(
        select(account)
        .select_from(account.join(team_member, team_member.c.account_id == account.c.id))
        .where(team_member.c.team_id == team_id)
        .order_by(account.c.username)
    )
    return [to_account(row) for row in rows]


async def is_member(conn: AsyncConnection, team_id: int, account_id: int) -> bool:
    """Whether ``account_id`` is in the team."""
    row = await conn.execute(
        select(team_member.c.team_id).where(
            team_member.c.team_id == team_id, team_member.c.account_id == account_id
        )
    )
    return row.first() is not None


async def add_member(conn: AsyncConnection, team_id: int, account_id: int) -> None:
    """Put ``account_id`` in the team (the caller checked it is not there yet)."""
    await prepared.run(conn, _INSERT_TEAM_MEMBER, {"team_id": team_id, "account_id": account_id})


async def remove_member(conn: AsyncConnection, team_id: int, account_id: int) -> None:
    """Take ``account_id`` out of the team."""
    await conn.execute(
        delete(team_member).where(
            team_member.c.team_id == team_id, team_member.c.account_id == account_id
        )
    )


async def admin_teams_of(conn: AsyncConnection, org_id: int, account_id: int) -> set[str]:
    """Names of the org's admin teams ``account_id`` belongs to."""
    rows = await conn.execute(
        select(team.c.name)
        .select_from(team.join(team_member, team_member.c.team_id == team.c.id))
        .where(
            team.c.organization_id == org_id,
            team.c.role == "admin",
            team_member.c.account_id == account_id,
        )
    )
    return set(rows.scalars())
