"""A robot account's page, and its credentials revealed on request.

The page shows the robot's repository permissions to members of its organization. Its token is
revealed only by a POST (CSRF-checked) from an organization administrator (``require_org_admin``,
as the API's robot GET), on a page that is never cached; it then shows the ``docker login`` and
``podman login`` lines and a Kubernetes pull Secret, as Quay's credentials dialog does.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from registry import names
from registry.access import organization_role_in
from registry.api.errors import unauthorized
from registry.api.organizations import require_org_admin
from registry.appkeys import SETTINGS_KEY, STORE_KEY
from registry.store import accounts, robots
from registry.ui import formatting, guards
from registry.ui.rendering import render


def registry_host(request: web.Request) -> str:
    """The ``host:port`` clients log in to (SERVER_HOSTNAME, else the request's Host)."""
    return request.app[SETTINGS_KEY].server_hostname or request.host


async def _load(
    request: web.Request, signed_in: guards.Viewer, *, admin: bool
) -> tuple[str, accounts.Account, accounts.Account]:
    orgname, short = request.match_info["orgname"], request.match_info["shortname"]
    async with request.app[STORE_KEY].read() as conn:
        if admin:
            org = await require_org_admin(conn, signed_in.entity, orgname)
        else:
            if await organization_role_in(conn, signed_in.entity, orgname) is None:
                raise unauthorized(True)
            found = await accounts.get_organization(conn, orgname)
            if found is None:
                raise unauthorized(True)
            org = found
        robot = await robots.get_robot(conn, org, names.robot_full_name(orgname, short))
    if robot is None:
        raise guards.Refused(404, f"There is no robot account {orgname}+{short}.")
    return orgname, org, robot


async def robot(request: web.Request) -> web.Response:
    """``GET /organization/{orgname}/robot/{shortname}``: the robot and its permissions."""
    signed_in = await guards.require_viewer(request)
    orgname, _, found = await _load(request, signed_in, admin=False)
    async with request.app[STORE_KEY].read() as conn:
        permissions = await robots.robot_repository_roles(conn, found)
        role = await organization_role_in(conn, signed_in.entity, orgname)
    context: dict[str, Any] = {
        "viewer": signed_in,
        "orgname": orgname,
        "robot": found,
        "short": request.match_info["shortname"],
        "permissions": permissions,
        "is_admin": role == "admin",
    }
    return render("robot.html", context)


async def robot_credentials(request: web.Request) -> web.Response:
    """``POST /organization/{orgname}/robot/{shortname}/credentials``: the token, once asked."""
    signed_in = await guards.require_viewer(request)
    await guards.form(request, signed_in)
    orgname, _, found = await _load(request, signed_in, admin=True)
    store = request.app[STORE_KEY]
    if found.robot_token_sealed is None:
        raise guards.Refused(409, f"The robot {found.username} has no token.")
    token = store.keyring.unseal(found.robot_token_sealed)
    host = registry_host(request)
    context: dict[str, Any] = {
        "viewer": signed_in,
        "orgname": orgname,
        "robot": found,
        "short": request.match_info["shortname"],
        "token": token,
        "host": host,
        "docker_login": formatting.docker_login("docker", found.username, token, host),
        "podman_login": formatting.docker_login("podman", found.username, token, host),
        "secret_name": formatting.secret_name(found.username),
        "kubernetes_secret": formatting.kubernetes_secret(found.username, token, host),
    }
    return render("robot_credentials.html", context)
