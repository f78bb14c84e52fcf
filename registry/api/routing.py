"""The REST route table: one list, the source of truth for paths, methods and handlers.

Trailing slashes are significant as in Quay (docs/reference/quay.md#surprises): routes defined with
a slash answer their slash-less form with a 308 to the slash form; a slash added to a slash-less
route is an HTML 404. Order matters for repository paths, whose names may be nested (``ns/a/b``):
the specific suffixes (``/tag/``, ``/permissions/user/...``) come before the bare repository route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from registry.api import (
    applications,
    discovery,
    health,
    organizations,
    prototypes,
    repositories,
    robots,
    superuser,
    teams,
    users,
)
from registry.api.errors import redirect_308

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ORG = "/api/v1/organization/{orgname}"
REPO = "/api/v1/repository/{namespace}/{repository:.+}"

ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/api/v1/discovery", discovery.discovery),
    ("POST", "/api/v1/user/initialize", users.initialize),
    ("GET", "/api/v1/user/", users.get_user),
    ("GET", "/api/v1/superuser/users/", superuser.list_users),
    ("POST", "/api/v1/superuser/users/", superuser.create_user),
    ("DELETE", "/api/v1/superuser/users/{username}", superuser.delete_user),
    ("POST", "/api/v1/organization/", organizations.create_organization),
    ("GET", ORG, organizations.get_organization),
    ("DELETE", ORG, organizations.delete_organization),
    ("GET", ORG + "/robots", robots.list_robots),
    ("GET", ORG + "/robots/{shortname}", robots.get_robot),
    ("PUT", ORG + "/robots/{shortname}", robots.create_robot),
    ("DELETE", ORG + "/robots/{shortname}", robots.delete_robot),
    ("POST", ORG + "/robots/{shortname}/regenerate", robots.regenerate_robot),
    ("GET", ORG + "/prototypes", prototypes.list_prototypes),
    ("POST", ORG + "/prototypes", prototypes.create_prototype),
    ("PUT", ORG + "/prototypes/{prototypeid}", prototypes.update_prototype),
    ("DELETE", ORG + "/prototypes/{prototypeid}", prototypes.delete_prototype),
    ("GET", ORG + "/applications", applications.list_applications),
    ("POST", ORG + "/applications", applications.create_application),
    ("GET", ORG + "/applications/{client_id}", applications.get_application),
    ("PUT", ORG + "/applications/{client_id}", applications.update_application),
    ("DELETE", ORG + "/applications/{client_id}", applications.delete_application),
    ("GET", ORG + "/applications/{client_id}/tokens", applications.list_tokens),
    ("POST", ORG + "/applications/{client_id}/tokens", applications.create_token),
    ("DELETE", ORG + "/applications/{client_id}/tokens/{token_uuid}", applications.delete_token),
    # Beyond the bridge's calls: after its routes, which the router tries first.
    ("PUT", ORG + "/team/{teamname}", teams.put_team),
    ("DELETE", ORG + "/team/{teamname}", teams.delete_team),
    ("GET", ORG + "/team/{teamname}/members", teams.list_members),
    ("PUT", ORG + "/team/{teamname}/members/{membername}", teams.put_member),
    ("DELETE", ORG + "/team/{teamname}/members/{membername}", teams.delete_member),
    ("GET", "/api/v1/repository", repositories.list_repositories),
    ("POST", "/api/v1/repository", repositories.create_repository),
    ("GET", REPO + "/tag/", repositories.list_tags),
    ("GET", REPO + "/permissions/user/", repositories.list_user_permissions),
    ("GET", REPO + "/permissions/user/{username}", repositories.get_user_permission),
    ("PUT", REPO + "/permissions/user/{username}", repositories.set_user_permission),
    ("DELETE", REPO + "/permissions/user/{username}", repositories.delete_user_permission),
    ("POST", REPO + "/changevisibility", repositories.change_visibility),
    ("GET", REPO, repositories.get_repository),
    ("DELETE", REPO, repositories.delete_repository),
    ("GET", "/health/instance", health.instance),
    ("GET", "/health", health.instance),
    ("GET", "/health/endtoend", health.endtoend),
    ("GET", "/status", health.endtoend),
]

#: slash-less paths answered with a 308 to the slash form (Werkzeug strict_slashes).
REDIRECTS: list[str] = [
    "/api/v1/user",
    "/api/v1/organization",
    "/api/v1/superuser/users",
    REPO + "/permissions/user",
]


def _redirect(request: web.Request) -> web.Response:
    return redirect_308(request, request.path + "/")


async def _redirect_handler(request: web.Request) -> web.Response:
    return _redirect(request)


def add_routes(app: web.Application) -> None:
    """Register the REST API, health checks and redirects on ``app``."""
    app[discovery.ROUTES_KEY] = ROUTES
    redirects = set(REDIRECTS)
    for method, path, handler in ROUTES:
        if path.rstrip("/") in redirects and path.endswith("/"):
            redirects.discard(path.rstrip("/"))
            app.router.add_route("*", path.rstrip("/"), _redirect_handler)
        app.router.add_route(method, path, handler)
    for path in redirects:
        app.router.add_route("*", path, _redirect_handler)
