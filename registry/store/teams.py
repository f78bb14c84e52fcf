"""Teams of an organization and their members: create, update, delete, add and remove members.

Reads of teams (with member counts) live in ``accounts`` beside the role lookups that use them;
these are the writes and the member list behind ``/api/v1/organization/{org}/team/...``.
"""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.scopes import TeamRole
from registry.store.accounts import Account, TeamInfo, to_account
from registry.store.schema import account, prototype, repository_permission, team, team_member


async def create_team(
    conn: AsyncConnection, org_id: int, name: str, role: TeamRole, description: str
) -> TeamInfo:
    """Insert a team (no members yet)."""
    result = await conn.execute(
        insert(team).values(organization_id=org_id, name=name, role=role, description=description)
    )
    key = result.inserted_primary_key
    assert key is not None
    return TeamInfo(int(key[0]), name, role, description, 0)


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
    await conn.execute(insert(team_member).values(team_id=team_id, account_id=account_id))


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
