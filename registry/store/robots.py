"""Robots: accounts an organization owns, with a sealed token instead of a password.

A robot's name is ``org+short``; its token is stored sealed (``registry.credentials``) and
regenerating it also rotates the robot's uuid, which ends the registry tokens issued before.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.store import prepared
from registry.store.accounts import Account, insert_account, to_account
from registry.store.prepared import Prepared
from registry.store.schema import account, prototype, repository, repository_permission, team_member


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
    return await insert_account(
        conn,
        username=full_name,
        kind="robot",
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
