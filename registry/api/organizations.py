"""Organizations: create, view (anonymous view included) and delete (name reserved until GC).

Creating an org needs ``user:admin`` (not org:admin); the creator lands in an ``owners`` team with
role admin. Deleting needs org admin and succeeds on non-empty orgs; the name answers "Username is
not available" until the namespace GC pass purges it.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from registry import names
from registry.access import Entity
from registry.api import schemas
from registry.api.bodies import TAG_EXPIRATION_S, Json, org_avatar, team_view
from registry.api.errors import invalid_request, not_found, unauthorized
from registry.api.requests import caller, json_body, no_content, store_of, writer
from registry.api.users import EMAIL_RE
from registry.scopes import cap_team_role, team_role_cap
from registry.store import accounts, organizations, teams
from registry.store.database import Store


async def require_org_admin(
    conn: AsyncConnection, entity: Entity | None, orgname: str
) -> accounts.Account:
    """The org ``orgname`` if the caller administers it (org:admin capped); else 401/403.

    A missing org is a 403 too: Quay's permission check runs before the lookup.
    """
    if entity is None:
        raise unauthorized(False)
    org, held = await organizations.get_with_role(conn, orgname, entity.account_id)
    if (
        org is None
        or not org.is_org
        or cap_team_role(held, team_role_cap(entity.scopes)) != "admin"
    ):
        raise unauthorized(True)
    return org


async def create_organization(request: web.Request) -> web.Response:
    """``POST /api/v1/organization/``: 201 ``"Created"``."""
    entity = await writer(request)
    if entity.is_robot or not entity.has_scope("user:admin"):
        raise unauthorized(True)
    body = await json_body(request, schemas.NEW_ORG)
    await new_organization(store_of(request), entity, body["name"], body.get("email"))
    return web.json_response("Created", status=201)


async def new_organization(store: Store, entity: Entity, name: str, email: str | None) -> None:
    """Create an org owned by ``entity`` with Quay's checks, in Quay's order (also the web UI's).

    Raises:
        ApiError: 403 without ``user:admin`` (or for a robot); 400 for a taken, reserved or invalid
            name, or an invalid or used email.
    """
    if entity.is_robot or not entity.has_scope("user:admin"):
        raise unauthorized(True)
    try:
        async with store.write() as conn:
            # One statement answers the three questions; they are asked in Quay's order.
            check = await accounts.check_new_name(conn, name, email)
            if check.taken:
                raise invalid_request("A user or organization with this name already exists")
            problem = names.namespace_error(name)
            if problem is not None:
                raise invalid_request(problem)
            if email is not None and not EMAIL_RE.match(email):
                raise invalid_request("Invalid email address")
            if check.reserved:
                raise accounts.NameReservedError(name)
            if check.email_used:
                raise invalid_request(f"Email has already been used: {email}")
            await organizations.insert_organization(conn, name, email, entity.account_id)
    except accounts.NameReservedError as error:
        raise invalid_request("Username is not available") from error
    except accounts.NameTakenError as error:
        raise invalid_request("A user or organization with this name already exists") from error


async def get_organization(request: web.Request) -> web.Response:
    """``GET /api/v1/organization/{orgname}``: 404 unless an org; anonymous callers see a view."""
    orgname = request.match_info["orgname"]
    entity = await caller(request)
    store = store_of(request)
    async with store.read() as conn:
        org, held = await organizations.get_with_role(
            conn, orgname, entity.account_id if entity is not None else None
        )
        if org is None or not org.is_org:
            raise not_found()
        member = held is not None
        org_teams = await teams.list_teams(conn, org.id) if member else []
    is_admin = entity is not None and cap_team_role(held, team_role_cap(entity.scopes)) == "admin"
    view: Json = {
        "name": org.username,
        "email": organizations.org_email_visible(org) if is_admin else "",
        "avatar": org_avatar(org),
        "is_admin": is_admin,
        "is_member": member,
    }
    if member:
        view["teams"] = {info.name: team_view(info) for info in org_teams}
        view["ordered_teams"] = [info.name for info in org_teams]
    if is_admin:
        view.update(
            {
                "invoice_email": False,
                "invoice_email_address": None,
                "tag_expiration_s": TAG_EXPIRATION_S,
                "is_free_account": True,
            }
        )
    return web.json_response(view)


async def delete_organization(request: web.Request) -> web.Response:
    """``DELETE /api/v1/organization/{orgname}``: 204, even when the org holds repos and robots."""
    entity = await writer(request)
    store = store_of(request)
    async with store.write() as conn:
        org = await require_org_admin(conn, entity, request.match_info["orgname"])
        await organizations.mark_organization_deleted(conn, org)
        store.token_cache.clear()
    return no_content()
