"""OAuth applications: Create New Application, an application's page, and Generate Token.

The product documentation's procedure (create an application in the organization, open it, choose
Generate Token, tick the scopes, Authorize Application, confirm) is done here with plain forms:
Generate Access Token shows what the application will be allowed to do, Authorize Application asks
for a confirmation, and the confirmation mints the token and shows it once, on a page that is never
cached and whose URL holds no token. Every step re-checks the CSRF token and that the user
administers the organization (``require_org_admin``); the token is minted by the API's own
``registry.api.applications.mint_token`` (known scopes only, never more than the caller holds, the
API's default lifetime).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from registry import validation
from registry.api import schemas
from registry.api.applications import mint_token
from registry.api.organizations import require_org_admin
from registry.appkeys import STORE_KEY
from registry.scopes import ALL_SCOPES, format_scopes
from registry.store import oauth
from registry.ui import formatting, guards
from registry.ui.rendering import path_segment, redirect, render

#: The form's fields of a new application, by the API body's keys.
APPLICATION_FIELDS = ("name", "description", "application_uri", "redirect_uri")
#: The Generate Token steps: the scopes reviewed, the confirmation asked, the token minted.
STEPS = ("review", "confirm", "mint")
_NEXT = {"review": "confirm", "confirm": "mint"}


def _text(data: MultiDictProxy[Any], key: str) -> str:
    value = data.get(key)
    return value.strip() if isinstance(value, str) else ""


def scope_choices(selected: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The checkboxes of the Generate Token page, in Quay's order."""
    return [
        {
            "scope": scope,
            "label": formatting.SCOPE_LABELS[scope],
            "help": formatting.SCOPE_HELP[scope],
            "checked": scope in selected,
        }
        for scope in ALL_SCOPES
    ]


async def new_application_form(request: web.Request) -> web.Response:
    """``GET /organization/{orgname}/applications/new``."""
    signed_in = await guards.require_viewer(request)
    orgname = request.match_info["orgname"]
    async with request.app[STORE_KEY].read() as conn:
        await require_org_admin(conn, signed_in.entity, orgname)
    return render(
        "application_new.html",
        {"viewer": signed_in, "orgname": orgname, "values": {}, "error": ""},
    )


async def create_application(request: web.Request) -> web.Response:
    """``POST /organization/{orgname}/applications/new``: create it, then open its page."""
    signed_in = await guards.require_viewer(request)
    data = await guards.form(request, signed_in)
    orgname = request.match_info["orgname"]
    values = {key: _text(data, key) for key in APPLICATION_FIELDS}
    problem = validation.validate(schemas.NEW_APPLICATION, values)
    error = str(problem) if problem is not None else ""
    if not values["name"]:
        error = "The application needs a name."
    store = request.app[STORE_KEY]
    if error:
        async with store.read() as conn:
            await require_org_admin(conn, signed_in.entity, orgname)
        return render(
            "application_new.html",
            {"viewer": signed_in, "orgname": orgname, "values": values, "error": error},
            status=400,
        )
    async with store.write() as conn:
        org = await require_org_admin(conn, signed_in.entity, orgname)
        app = await oauth.create_application(
            conn,
            store.keyring,
            org.id,
            values["name"],
            description=values["description"],
            application_uri=values["application_uri"],
            redirect_uri=values["redirect_uri"],
            avatar_email=None,
        )
    return redirect(f"/organization/{path_segment(orgname)}/application/{app.client_id}")


async def _application(request: web.Request, signed_in: guards.Viewer) -> oauth.Application:
    orgname, client_id = request.match_info["orgname"], request.match_info["client_id"]
    async with request.app[STORE_KEY].read() as conn:
        org = await require_org_admin(conn, signed_in.entity, orgname)
        app = await oauth.get_application(conn, org.id, client_id)
    if app is None:
        raise guards.Refused(404, f"There is no application {client_id} in {orgname}.")
    return app


async def application(request: web.Request) -> web.Response:
    """``GET /organization/{orgname}/application/{client_id}``: settings and OAuth information."""
    signed_in = await guards.require_viewer(request)
    app = await _application(request, signed_in)
    async with request.app[STORE_KEY].read() as conn:
        tokens = await oauth.list_tokens(conn, app)
    return render(
        "application.html",
        {
            "viewer": signed_in,
            "orgname": request.match_info["orgname"],
            "app": app,
            "tokens": tokens,
        },
    )


async def generate_token_form(request: web.Request) -> web.Response:
    """``GET .../application/{client_id}/generate-token``: the scope checkboxes."""
    signed_in = await guards.require_viewer(request)
    app = await _application(request, signed_in)
    return render(
        "token_scopes.html",
        {
            "viewer": signed_in,
            "orgname": request.match_info["orgname"],
            "app": app,
            "choices": scope_choices(),
            "error": "",
        },
    )


async def generate_token(request: web.Request) -> web.Response:
    """``POST .../generate-token``: review, confirm, then mint and show the token once."""
    signed_in = await guards.require_viewer(request)
    data = await guards.form(request, signed_in)
    app = await _application(request, signed_in)
    orgname = request.match_info["orgname"]
    wanted = frozenset(str(value) for value in data.getall("scope", []))
    step = _text(data, "step")
    context: dict[str, Any] = {"viewer": signed_in, "orgname": orgname, "app": app}
    unknown = sorted(wanted - set(ALL_SCOPES))
    if unknown or not wanted or step not in STEPS:
        error = (
            f"Unknown scope: {', '.join(unknown)}."
            if unknown
            else "Choose at least one scope."
            if not wanted
            else "Unknown step: start again."
        )
        context.update(choices=scope_choices(wanted & set(ALL_SCOPES)), error=error)
        return render("token_scopes.html", context, status=400)
    chosen = [choice for choice in scope_choices(wanted) if choice["checked"]]
    if _text(data, "action") == "back":
        # Back from the authorize or confirm page: the checkboxes again, as ticked.
        context.update(choices=scope_choices(wanted), error="")
        return render("token_scopes.html", context)
    if step != "mint":
        context.update(chosen=chosen, confirming=step == "confirm", next_step=_NEXT[step])
        return render("token_authorize.html", context)
    token, secret = await mint_token(
        request.app[STORE_KEY],
        app,
        signed_in.entity,
        format_scopes(wanted),
        app.name[:255] or app.client_id,
    )
    context.update(chosen=chosen, token=token, secret=secret)
    return render("token_created.html", context)
