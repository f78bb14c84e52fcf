"""Default permissions (prototypes) of an organization: list, create, change role, delete.

POST answers 200 (not 201) and never checks for duplicates; extra fields the Go bridge sends
(``id``, ``is_robot``, ``is_org_member``) are ignored. A team delegate that does not exist answers
Quay's unformatted-tuple message (a Quay bug kept on purpose,
docs/reference/quay.md#prototypes).
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.api import schemas
from registry.api.bodies import Json, delegate_team_view, delegate_user_view
from registry.api.errors import ModelError, invalid_request, not_found
from registry.api.organizations import require_org_admin
from registry.api.requests import json_body, no_content, reader, store_of, writer
from registry.store import accounts, prototypes, teams
from registry.store.schema import team


async def prototype_views(
    conn: AsyncConnection,
    org: accounts.Account,
    found: list[prototypes.Prototype],
    known: dict[int, accounts.Account] | None = None,
) -> list[Json]:
    """Prototypes as Quay's ``prototype_view`` renders them, loading their accounts in one go."""
    people = dict(known or {})
    wanted = {
        account_id
        for proto in found
        for account_id in (proto.activating_account_id, proto.delegate_account_id)
        if account_id is not None and account_id not in people
    }
    people.update(await accounts.get_many(conn, wanted))
    members: dict[int, bool] = {}

    async def user_view(account_id: int | None) -> Json | None:
        entry = people.get(account_id) if account_id is not None else None
        if entry is None:
            return None
        if entry.id not in members:
            members[entry.id] = (
                entry.is_robot or await teams.team_role(conn, org.id, entry.id) is not None
            )
        return delegate_user_view(entry, members[entry.id])

    views: list[Json] = []
    for proto in found:
        delegate: Json | None = None
        if proto.delegate_account_id is not None:
            delegate = await user_view(proto.delegate_account_id)
        elif proto.delegate_team_id is not None:
            name = (
                await conn.execute(select(team.c.name).where(team.c.id == proto.delegate_team_id))
            ).scalar_one_or_none()
            delegate = delegate_team_view(name or "")
        views.append(
            {
                "activating_user": await user_view(proto.activating_account_id),
                "delegate": delegate,
                "role": proto.role,
                "id": proto.uuid,
            }
        )
    return views


async def list_prototypes(request: web.Request) -> web.Response:
    """``GET .../prototypes``: org admins only (a missing org is 403)."""
    entity = await reader(request)
    store = store_of(request)
    async with store.read() as conn:
        org = await require_org_admin(conn, entity, request.match_info["orgname"])
        found = await prototypes.list_prototypes(conn, org.id)
        views = await prototype_views(conn, org, found)
    return web.json_response({"prototypes": views})


async def create_prototype(request: web.Request) -> web.Response:
    """``POST .../prototypes``: 200 with the new prototype."""
    entity = await writer(request)
    body = await json_body(request, schemas.NEW_PROTOTYPE)
    orgname = request.match_info["orgname"]
    store = store_of(request)
    async with store.write() as conn:
        org = await require_org_admin(conn, entity, orgname)
        activating_id: int | None = None
        known: dict[int, accounts.Account] = {}
        if body.get("activating_user"):
            activating = await accounts.get_by_name(conn, body["activating_user"]["name"])
            if activating is None or activating.is_org:
                raise invalid_request("Unknown activating user")
            activating_id = activating.id
            known[activating.id] = activating
        delegate = body["delegate"]
        if delegate["kind"] == "user":
            user = await accounts.get_by_name(conn, delegate["name"])
            foreign_robot = user is not None and user.is_robot and user.organization_id != org.id
            if user is None or user.is_org or foreign_robot:
                raise invalid_request("Missing delegate user or team")
            known[user.id] = user
            proto = await prototypes.create_prototype(
                conn,
                org.id,
                body["role"],
                delegate_account_id=user.id,
                activating_account_id=activating_id,
            )
        else:
            found_team = await teams.get_team(conn, org.id, delegate["name"])
            if found_team is None:
                raise ModelError(
                    f"('Team does not exist: %s/%s', {orgname!r}, {delegate['name']!r})"
                )
            proto = await prototypes.create_prototype(
                conn,
                org.id,
                body["role"],
                delegate_team_id=found_team.id,
                activating_account_id=activating_id,
            )
        (view,) = await prototype_views(conn, org, [proto], known)
    return web.json_response(view)


async def update_prototype(request: web.Request) -> web.Response:
    """``PUT .../prototypes/{prototypeid}`` ``{role}``: 200; 404 for an unknown id."""
    entity = await writer(request)
    body = await json_body(request, schemas.PROTOTYPE_UPDATE)
    store = store_of(request)
    async with store.write() as conn:
        org = await require_org_admin(conn, entity, request.match_info["orgname"])
        proto = await prototypes.get_prototype(conn, org.id, request.match_info["prototypeid"])
        if proto is None:
            raise not_found()
        await prototypes.set_role(conn, proto, body["role"])
        updated = await prototypes.get_prototype(conn, org.id, proto.uuid)
        assert updated is not None
        (view,) = await prototype_views(conn, org, [updated])
    return web.json_response(view)


async def delete_prototype(request: web.Request) -> web.Response:
    """``DELETE .../prototypes/{prototypeid}``: 204; 404 for an unknown id."""
    entity = await writer(request)
    store = store_of(request)
    async with store.write() as conn:
        org = await require_org_admin(conn, entity, request.match_info["orgname"])
        proto = await prototypes.get_prototype(conn, org.id, request.match_info["prototypeid"])
        if proto is None:
            raise not_found()
        await prototypes.delete_prototype(conn, proto)
    return no_content()
