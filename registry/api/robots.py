"""Robot accounts of an organization: create, get, list, regenerate, delete.

Quay's quirks are kept: a missing robot is ``400 {"message": ...}`` (an uncaught
DataModelException), the token is returned on every GET to org admins, ``unstructured_metadata`` is
null in the PUT answer when not given, ``{}`` on GET and absent from regenerate and lists. Tokens
are sealed at rest.
"""

from __future__ import annotations

from aiohttp import web

from registry import credentials, names
from registry.access import organization_role_in
from registry.api import schemas
from registry.api.bodies import robot_list_item, robot_view
from registry.api.errors import ModelError, invalid_request, unauthorized
from registry.api.organizations import require_org_admin
from registry.api.requests import json_body, no_content, reader, store_of, truthy, writer
from registry.store import accounts, robots

ROBOT_MISSING = "Could not find robot with specified username"


def _full_name(request: web.Request) -> str:
    return names.robot_full_name(request.match_info["orgname"], request.match_info["shortname"])


async def list_robots(request: web.Request) -> web.Response:
    """``GET .../robots[?permissions=&token=&limit=]``: any org member; only admins see tokens."""
    entity = await reader(request)
    orgname = request.match_info["orgname"]
    with_permissions = truthy(request.query.get("permissions"), False)
    want_token = truthy(request.query.get("token"), True)
    store = store_of(request)
    async with store.read() as conn:
        role = await organization_role_in(conn, entity, orgname)
        org = await accounts.get_organization(conn, orgname)
        if role is None or org is None:
            raise unauthorized(True)
        owned = await robots.list_robots(conn, org)
        limit = request.query.get("limit")
        if limit is not None and limit.isdigit():
            owned = owned[: int(limit)]
        items = []
        for robot in owned:
            token = None
            if want_token and role == "admin" and robot.robot_token_sealed:
                token = store.keyring.unseal(robot.robot_token_sealed)
            repos = (
                [name for name, _ in await robots.robot_repository_roles(conn, robot)]
                if with_permissions
                else []
            )
            items.append(
                robot_list_item(
                    robot, token, with_permissions=with_permissions, teams=[], repositories=repos
                )
            )
    return web.json_response({"robots": items})


async def get_robot(request: web.Request) -> web.Response:
    """``GET .../robots/{shortname}``: 400 when missing, as Quay."""
    entity = await reader(request)
    store = store_of(request)
    async with store.read() as conn:
        org = await require_org_admin(conn, entity, request.match_info["orgname"])
        robot = await robots.get_robot(conn, org, _full_name(request))
    if robot is None:
        raise ModelError(ROBOT_MISSING)
    token = store.keyring.unseal(robot.robot_token_sealed) if robot.robot_token_sealed else None
    return web.json_response(robot_view(robot, token))


async def create_robot(request: web.Request) -> web.Response:
    """``PUT .../robots/{shortname}``: 201; the body is optional and may be anything."""
    entity = await writer(request)
    body = await json_body(request, schemas.CREATE_ROBOT, optional=True)
    shortname = request.match_info["shortname"]
    full_name = _full_name(request)
    store = store_of(request)
    token = credentials.random_token(credentials.ROBOT_TOKEN_LENGTH)
    try:
        async with store.write() as conn:
            org = await require_org_admin(conn, entity, request.match_info["orgname"])
            problem = names.robot_error(shortname)
            if problem is not None:
                raise invalid_request(problem)
            if len(full_name) > names.MAX_NAME_LENGTH:
                raise ModelError(f"Robot name too long: {full_name}")
            robot = await robots.create_robot(
                conn,
                org,
                full_name,
                body.get("description", ""),
                body.get("unstructured_metadata"),
                store.keyring.seal(token),
            )
    except accounts.NameTakenError as error:
        raise invalid_request(f"Existing robot with name: {full_name}") from error
    metadata = body.get("unstructured_metadata")
    view = robot_view(robot, token, metadata="echo-none" if metadata is None else "stored")
    return web.json_response(view, status=201)


async def regenerate_robot(request: web.Request) -> web.Response:
    """``POST .../robots/{shortname}/regenerate``: a new token (and uuid), 200."""
    entity = await writer(request)
    store = store_of(request)
    token = credentials.random_token(credentials.ROBOT_TOKEN_LENGTH)
    async with store.write() as conn:
        org = await require_org_admin(conn, entity, request.match_info["orgname"])
        robot = await robots.get_robot(conn, org, _full_name(request))
        if robot is None:
            raise ModelError(ROBOT_MISSING)
        await robots.set_robot_token(conn, robot, store.keyring.seal(token))
    return web.json_response(robot_view(robot, token, metadata="omit"))


async def delete_robot(request: web.Request) -> web.Response:
    """``DELETE .../robots/{shortname}``: 204; 400 when missing."""
    entity = await writer(request)
    store = store_of(request)
    async with store.write() as conn:
        org = await require_org_admin(conn, entity, request.match_info["orgname"])
        robot = await robots.get_robot(conn, org, _full_name(request))
        if robot is None:
            raise ModelError(ROBOT_MISSING)
        await robots.delete_robot(conn, robot)
    return no_content()
