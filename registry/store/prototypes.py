"""Default permissions (prototypes) of an organization.

Quay keeps no duplicate check: posting the same prototype twice stores it twice, and the REST API
shows both. Delegates are a user/robot account or a team; an optional activating user narrows when
the prototype applies (see ``repositories.create_repository``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.store import prepared
from registry.store.prepared import Prepared
from registry.store.schema import prototype


@dataclass(frozen=True)
class Prototype:
    """One prototype row."""

    id: int
    uuid: str
    organization_id: int
    activating_account_id: int | None
    delegate_account_id: int | None
    delegate_team_id: int | None
    role: str


_INSERT = prepared.insert_row(prototype)


async def create_prototype(
    conn: AsyncConnection,
    org_id: int,
    role: str,
    *,
    delegate_account_id: int | None = None,
    delegate_team_id: int | None = None,
    activating_account_id: int | None = None,
) -> Prototype:
    """Insert a prototype (no duplicate check, as Quay)."""
    new_uuid = str(uuid.uuid4())
    outcome = await prepared.run(
        conn,
        _INSERT,
        {
            "uuid": new_uuid,
            "organization_id": org_id,
            "activating_account_id": activating_account_id,
            "delegate_account_id": delegate_account_id,
            "delegate_team_id": delegate_team_id,
            "role": role,
            "created": time.time(),
        },
    )
    assert outcome.lastrowid is not None
    return Prototype(
        id=outcome.lastrowid,
        uuid=new_uuid,
        organization_id=org_id,
        activating_account_id=activating_account_id,
        delegate_account_id=delegate_account_id,
        delegate_team_id=delegate_team_id,
        role=role,
    )


_BY_ORGANIZATION = Prepared(
    select(prototype)
    .where(prototype.c.organization_id == bindparam("org_id"))
    .order_by(prototype.c.id)
)
_BY_UUID = Prepared(
    select(prototype).where(
        prototype.c.organization_id == bindparam("org_id"), prototype.c.uuid == bindparam("uuid")
    )
)


async def list_prototypes(conn: AsyncConnection, org_id: int) -> list[Prototype]:
    """The org's prototypes in creation order."""
    rows = await prepared.fetch_all(conn, _BY_ORGANIZATION, {"org_id": org_id})
    return [_to_prototype(row) for row in rows]


async def get_prototype(
    conn: AsyncConnection, org_id: int, prototype_uuid: str
) -> Prototype | None:
    """The org's prototype with ``prototype_uuid``, or None."""
    row = await prepared.fetch_one(conn, _BY_UUID, {"org_id": org_id, "uuid": prototype_uuid})
    return _to_prototype(row) if row else None


async def set_role(conn: AsyncConnection, proto: Prototype, role: str) -> None:
    """Change a prototype's role."""
    await conn.execute(update(prototype).where(prototype.c.id == proto.id).values(role=role))


async def delete_prototype(conn: AsyncConnection, proto: Prototype) -> None:
    """Delete a prototype; permissions it granted stay (Quay never back-fills or revokes)."""
    await conn.execute(delete(prototype).where(prototype.c.id == proto.id))


def _to_prototype(row: Sequence[Any]) -> Prototype:
    """A ``prototype`` row (all columns, in table order) as a ``Prototype``."""
    return Prototype(*row[: len(_FIELDS)])


_FIELDS = tuple(field.name for field in fields(Prototype))
assert tuple(prototype.columns.keys())[: len(_FIELDS)] == _FIELDS, (
    "_to_prototype reads prototype rows by position"
)
