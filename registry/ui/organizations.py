"""The organizations pages: the user's organizations, a new one, and one organization's tabs.

Create New Organization runs the API's own ``new_organization`` (its checks, order and messages).

An organization page answers like Quay's: the Repositories tab for any member (each repository the
user may read), Robot Accounts for members, Default Permissions and OAuth Applications for
administrators only (``require_org_admin``, the API's check). Tabs the user may not open are not
shown; opening one by URL gives the API's 403.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.access import namespace_team_role, repository_role_for
from registry.api.errors import ApiError, unauthorized
from registry.api.organizations import new_organization, require_org_admin
from registry.api.prototypes import prototype_views
from registry.appkeys import STORE_KEY
from registry.scopes import TeamRole
from registry.store import accounts, oauth, organizations, prototypes, repositories, robots
from registry.ui import guards
from registry.ui.rendering import path_segment, redirect, render

TABS: tuple[tuple[str, str, bool], ...] = (
    # (tab, title, admins only)
    ("repos", "Repositories", False),
    ("robots", "Robot Accounts", False),
    ("defaultpermissions", "Default Permissions", True),
    ("applications", "OAuth Applications", True),
)
#: Repositories listed on one organization page at most.
REPOSITORY_PAGE = 500


async def organization_list(request: web.Request) -> web.Response:
    """``GET /organizations/``: the organizations the user is a member of, with its role."""
    signed_in = await guards.require_viewer(request)
    async with request.app[STORE_KEY].read() as conn:
        found = await organizations.organizations_of(conn, signed_in.account.id)
    return render(
        "organizations.html",
        {
            "viewer": signed_in,
            "organizations": [{"name": org.username, "role": role} for org, role in found],
        },
    )


async def new_organization_form(request: web.Request) -> web.Response:
    """``GET /organizations/new``: Create New Organization."""
    signed_in = await guards.require_viewer(request)
    return render("organization_new.html", {"viewer": signed_in, "values": {}, "error": ""})


async def create_organization(request: web.Request) -> web.Response:
    """``POST /organizations/new``: the API's checks and messages, then the new organization."""
    signed_in = await guards.require_viewer(request)
    data = await guards.form(request, signed_in)
    values = {key: str(data.get(key, "")).strip() for key in ("name", "email")}
    try:
        await new_organization(
            request.app[STORE_KEY], signed_in.entity, values["name"], values["email"] or None
        )
    except ApiError as error:
        if error.status != 400:
            raise
        context = {"viewer": signed_in, "values": values, "error": error.message}
        return render("organization_new.html", context, status=400)
    return redirect(f"/organization/{path_segment(values['name'])}")


async def organization(request: web.Request) -> web.Response:
    """``GET /organization/{orgname}[?tab=...]``."""
    signed_in = await guards.require_viewer(request)
    orgname = request.match_info["orgname"]
    tab = request.query.get("tab", "repos")
    if tab not in {name for name, _, _ in TABS}:
        raise guards.Refused(404, f"There is no tab {tab!r} on an organization page.")
    store = request.app[STORE_KEY]
    context: dict[str, Any] = {"viewer": signed_in, "orgname": orgname, "tab": tab}
    async with store.read() as conn:
        org, held = await organizations.get_with_role(conn, orgname, signed_in.account.id)
        if org is None or not org.is_org:
            raise guards.Refused(404, f"There is no organization named {orgname}.")
        role = namespace_team_role(signed_in.entity, org, held)
        if role is None:
            raise unauthorized(True)
        is_admin = role == "admin"
        context.update(
            role=role,
            tabs=[(name, title) for name, title, admin in TABS if is_admin or not admin],
        )
        if tab == "repos":
            context["repositories"] = await _repositories(conn, signed_in, org, held)
        elif tab == "robots":
            context["robots"] = await _robots(conn, org)
        elif tab == "defaultpermissions":
            org = await require_org_admin(conn, signed_in.entity, orgname)
            found = await prototypes.list_prototypes(conn, org.id)
            context["prototypes"] = await prototype_views(conn, org, found)
        else:
            org = await require_org_admin(conn, signed_in.entity, orgname)
            context["applications"] = await oauth.list_applications(conn, org.id)
    return render(f"org_{tab}.html", context)


async def _repositories(
    conn: AsyncConnection,
    signed_in: guards.Viewer,
    org: accounts.Account,
    held: TeamRole | None,
) -> list[dict[str, Any]]:
    batch = await repositories.list_repositories(conn, org.id, 0, REPOSITORY_PAGE)
    visible = []
    for repo in batch:
        role = await repository_role_for(conn, signed_in.entity, org, repo, held)
        if role is None:
            continue
        tags = await repositories.list_tags(conn, repo.id, only_active=True, limit=REPOSITORY_PAGE)
        visible.append(
            {
                "name": repo.name,
                "description": repo.description,
                "is_public": repo.is_public,
                "role": role,
                "tag_count": len(tags),
                "last_modified": max((tag.start_ts for tag in tags), default=None),
            }
        )
    return visible


async def _robots(conn: AsyncConnection, org: accounts.Account) -> list[dict[str, Any]]:
    found = []
    for robot in await robots.list_robots(conn, org):
        found.append(
            {
                "name": robot.username,
                "short": robot.username.partition("+")[2],
                "description": robot.description,
                "created": robot.created,
                "last_accessed": robot.last_accessed,
                "permissions": await robots.robot_repository_roles(conn, robot),
            }
        )
    return found
