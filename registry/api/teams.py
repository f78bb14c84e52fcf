"""Teams of an organization and their members, as Quay's team API.

- ``PUT .../team/{team} {"role", "description"?}``: create or update; the team view with
  ``new_team``; an invalid name is Quay's 400 ``{"message": "Invalid team name ..."}``;
- ``DELETE .../team/{team}``: 204; 400 ``{"message"}`` for a missing team, or when it would take
  the caller's last admin team;
- ``GET .../team/{team}/members``: ``{"name", "members", "can_edit"}`` for org members (404 for a
  missing team);
- ``PUT``/``DELETE .../team/{team}/members/{member}``: add (the member view) or remove (204) a
  user or one of the org's robots.

All need an org admin whose token carries ``org:admin`` (403 otherwise), as Quay. Members join
directly: like a Quay without mail (``FEATURE_MAILING`` off), there are no invitations. Unlike
that Quay, a robot of another organization is refused (400), as Quay refuses it when invitations
are on.
"""

from __future__ import annotations

import re

from aiohttp import web

from registry import names
from registry.access import organization_role_in
from registry.api import schemas
from registry.api.avatars import avatar
from registry.api.bodies import Json, account_avatar
from registry.api.errors import ModelError, invalid_request, not_found, unauthorized
from registry.api.organizations import require_org_admin
from registry.api.requests import json_body, no_content, reader, store_of, writer
from registry.store import accounts, teams
from registry.store.accounts import Account
from registry.store.teams import TeamInfo

TEAM_NAME = re.compile(r"^([a-z0-9]+(?:[._-][a-z0-9]+)*)$")
MIN_TEAM_NAME, MAX_TEAM_NAME = 2, 255


def _name_problem(name: str) -> str | None:
    if not TEAM_NAME.match(name):
        return f"Namespace must match expression {TEAM_NAME.pattern}"
    if not MIN_TEAM_NAME <= len(name) <= MAX_TEAM_NAME:
        return f"Team must be between {MIN_TEAM_NAME} and {MAX_TEAM_NAME} characters in length"
    return None


def team_view(info: TeamInfo, *, new_team: bool) -> Json:
    """A team as its PUT answers."""
    return {
        "name": info.name,
        "description": info.description,
        "can_view": True,
        "role": info.role,
        "avatar": avatar(info.name, info.name, "team"),
        "new_team": new_team,
    }


def member_view(member: Account) -> Json:
    """A team member (user or robot)."""
    return {
        "name": member.username,
        "kind": "user",
        "is_robot": member.is_robot,
        "avatar": account_avatar(member),
        "invited": False,
    }


async def put_team(request: web.Request) -> web.Response:
    """Create the team, or set its role and description."""
    entity = await writer(request)
    orgname, name = request.match_info["orgname"], request.match_info["teamname"]
    store = store_of(request)
    async with store.read() as conn:
        await require_org_admin(conn, entity, orgname)
    body = await json_body(request, schemas.TEAM_DESCRIPTION)
    async with store.write() as conn:
        org = await require_org_admin(conn, entity, orgname)
        found = await teams.get_team(conn, org.id, name)
        if found is None:
            problem = _name_problem(name)
            if problem is not None:
                raise ModelError(f"Invalid team name {name}: {problem}")
            info = await teams.create_team(
                conn, org.id, name, body["role"], body.get("description", "")
            )
            return web.json_response(team_view(info, new_team=True))
        role = body["role"]
        if found.role == "admin" and role != "admin":
            mine = await teams.admin_teams_of(conn, org.id, entity.account_id)
            if found.name in mine and len(mine) <= 1:
                raise ModelError(
                    f"Cannot remove admin from team '{name}' because calling user would no "
                    f"longer have admin on org '{orgname}'"
                )
        info = await teams.update_team(
            conn, found, role, body.get("description", found.description)
        )
    return web.json_response(team_view(info, new_team=False))


async def delete_team(request: web.Request) -> web.Response:
    """Delete the team, unless it is the caller's last admin team."""
    entity = await writer(request)
    orgname, name = request.match_info["orgname"], request.match_info["teamname"]
    async with store_of(request).write() as conn:
        org = await require_org_admin(conn, entity, orgname)
        found = await teams.get_team(conn, org.id, name)
        if found is None:
            raise ModelError(f"Team '{name}' is not a team in org '{orgname}'")
        if found.role == "admin":
            mine = await teams.admin_teams_of(conn, org.id, entity.account_id)
            if mine == {name}:
                raise ModelError(
                    f"Deleting team '{name}' would remove admin ability for user "
                    f"'{entity.name}' in organization '{orgname}'"
                )
        await teams.delete_team(conn, found)
    return no_content()


async def list_members(request: web.Request) -> web.Response:
    """The team's members, for any member of the org."""
    entity = await reader(request)
    orgname, name = request.match_info["orgname"], request.match_info["teamname"]
    async with store_of(request).read() as conn:
        role = await organization_role_in(conn, entity, orgname)
        org = await accounts.get_organization(conn, orgname)
        if role is None or org is None:
            raise unauthorized(True)
        found = await teams.get_team(conn, org.id, name)
        if found is None:
            raise not_found()
        people = await teams.members(conn, found.id)
    body = {
        "name": name,
        "members": [member_view(member) for member in people],
        "can_edit": role == "admin",
    }
    return web.json_response(body)


async def put_member(request: web.Request) -> web.Response:
    """Add a user, or one of the org's robots, to the team."""
    entity = await writer(request)
    orgname, name = request.match_info["orgname"], request.match_info["teamname"]
    membername = request.match_info["membername"]
    async with store_of(request).write() as conn:
        org = await require_org_admin(conn, entity, orgname)
        found = await teams.get_team(conn, org.id, name)
        if found is None:
            raise not_found()
        member = await accounts.get_by_name(conn, membername)
        if member is None or member.kind not in ("user", "robot"):
            raise invalid_request("Unknown user")
        robot = names.parse_robot_name(membername)
        if member.is_robot and (robot is None or robot[0] != orgname):
            raise ModelError(
                "Cannot add the specified robot to this team, as it is not a member of the "
                "organization"
            )
        if await teams.is_member(conn, found.id, member.id):
            raise ModelError(f"User {membername} is already a member of team {name}")
        await teams.add_member(conn, found.id, member.id)
    return web.json_response(member_view(member))


async def delete_member(request: web.Request) -> web.Response:
    """Remove a member, unless the caller would leave their last admin team."""
    entity = await writer(request)
    orgname, name = request.match_info["orgname"], request.match_info["teamname"]
    membername = request.match_info["membername"]
    async with store_of(request).write() as conn:
        org = await require_org_admin(conn, entity, orgname)
        found = await teams.get_team(conn, org.id, name)
        if found is None:
            raise not_found()
        member = await accounts.get_by_name(conn, membername)
        if member is None:
            raise not_found()
        if not await teams.is_member(conn, found.id, member.id):
            raise ModelError(f"User {membername} does not belong to team {name}")
        if member.id == entity.account_id:
            mine = await teams.admin_teams_of(conn, org.id, entity.account_id)
            if name in mine and len(mine) <= 1:
                raise ModelError("User cannot remove themselves from their only admin team.")
        await teams.remove_member(conn, found.id, member.id)
    return no_content()
