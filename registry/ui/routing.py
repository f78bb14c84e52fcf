"""The web UI's routes, mounted on the registry core's application by ``add_routes``.

Paths follow Quay's UI where a user would look (``/organization/{org}?tab=robots``,
``/repository/{ns}/{repo}``); they live beside ``/api/v1``, ``/v2`` and the health routes and
never overlap them. Every handler is wrapped so that a refusal, whether the UI's own or one of the
API's permission errors (``QuayError``), becomes an HTML page with the same status, never JSON.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

from registry.api.errors import QuayError
from registry.ui import applications, guards, organizations, repositories, robots, signin
from registry.ui.rendering import redirect, render
from registry.ui.sessions import SessionStore
from registry.ui.static import stylesheet
from registry.ui.throttle import SignInThrottle

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ORG = "/organization/{orgname}"
APP = ORG + "/application/{client_id}"

_TITLES = {400: "Bad request", 401: "Sign in required", 403: "Forbidden", 404: "Not found"}


def _error_page(status: int, message: str) -> web.Response:
    return render(
        "error.html",
        {
            "viewer": None,
            "status": status,
            "title": _TITLES.get(status, "Error"),
            "message": message,
        },
        status=status,
    )


def guarded(handler: Handler) -> Handler:
    """Turn the UI's and the API's refusals into HTML error pages with their status."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except guards.Refused as refusal:
            return _error_page(refusal.status, refusal.message)
        except QuayError as error:
            status = error.status
            message = (
                "You do not have permission to see this page."
                if status == 403
                else getattr(error, "message", "") or "The request failed."
            )
            return _error_page(status, message)

    return wrapper


async def home(request: web.Request) -> web.Response:
    """``GET /``: the user's organizations, or the sign-in page."""
    if await guards.viewer(request) is None:
        return redirect("/signin")
    return redirect("/organizations/")


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/", home),
    ("GET", "/signin", signin.signin_form),
    ("POST", "/signin", signin.signin),
    ("POST", "/signout", signin.signout),
    ("GET", "/organizations/", organizations.organization_list),
    ("GET", "/organizations/new", organizations.new_organization_form),
    ("POST", "/organizations/new", organizations.create_organization),
    ("GET", ORG, organizations.organization),
    ("GET", ORG + "/robot/{shortname}", robots.robot),
    ("POST", ORG + "/robot/{shortname}/credentials", robots.robot_credentials),
    ("GET", ORG + "/applications/new", applications.new_application_form),
    ("POST", ORG + "/applications/new", applications.create_application),
    ("GET", APP, applications.application),
    ("GET", APP + "/generate-token", applications.generate_token_form),
    ("POST", APP + "/generate-token", applications.generate_token),
    ("GET", "/repository/{namespace}/{repository:.+}", repositories.repository),
    ("GET", "/static/ui/quay-ui.css", stylesheet),
]


def add_routes(app: web.Application) -> None:
    """Register the UI on ``app`` with empty session and sign-in stores (kept in this process)."""
    app[guards.SESSIONS_KEY] = SessionStore()
    app[signin.THROTTLE_KEY] = SignInThrottle()
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, guarded(handler))
    app.router.add_get("/organizations", _to_organizations)


async def _to_organizations(request: web.Request) -> web.Response:
    return redirect("/organizations/")
