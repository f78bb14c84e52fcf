"""Organizations: creation with their owners team, membership lists, deletion marks.

Deleting an organization follows Quay: the row is renamed to its uuid and disabled, and a
``deleted_namespace`` marker keeps the old name reserved until the namespace GC (``collection``)
purges both. A deleted user is marked the same way.
"""

from __future__ import annotations

import time
import uuid

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.scopes import TeamRole, max_team_role
from registry.store import prepared, teams
from registry.store.accounts import (
    ACCOUNT_COLUMNS,
    Account,
    insert_account,
    refuse_reserved,
    to_account,
)
from registry.store.prepared import Prepared
from registry.store.schema import account, deleted_namespace, team, team_member


async def create_organization(
    conn: AsyncConnection, name: str, email: str | None, creator_id: int
) -> Account:
    """Insert an organization with an ``owners`` team (role admin) holding ``creator_id``.

    Raises:
        NameTakenError: the name is used by any account.
        NameReservedError: the name is a deleted org's, not yet purged.
    """
    await refuse_reserved(conn, name)
    return await insert_organization(conn, name, email, creator_id)


async def insert_organization(
    conn: AsyncConnection, name: str, email: str | None, creator_id: int
) -> Account:
    """``create_organization`` for a caller that has checked the name is not reserved.

    Raises:
        NameTakenError: the name is used by any account.
    """
    org = await insert_account(conn, username=name, kind="org", email=email or str(uuid.uuid4()))
    owners = await teams.create_team(conn, org.id, "owners", "admin", "")
    await teams.add_member(conn, owners.id, creator_id)
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


_BEST_ROLE = (
    select(team.c.role)
    .where(team.c.organization_id == account.c.id, teams.has_member(bindparam("caller_id")))
    .order_by(teams.ROLE_RANK.desc())
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
    role = row[len(ACCOUNT_COLUMNS)] if found.is_org else None
    return found, role


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
    for row in rows:
        org, role = to_account(row), row[len(ACCOUNT_COLUMNS)]
        held = max_team_role(role, best[org.id][1] if org.id in best else None)
        assert held is not None
        best[org.id] = (org, held)
    return list(best.values())
