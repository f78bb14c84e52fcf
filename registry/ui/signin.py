"""Signing in with a username and password, and signing out.

The password is checked by ``registry.access.authenticate_basic``, the same function ``/v2/auth``
uses; only users sign in here (a robot or an OAuth token is refused). Before a session exists the
sign-in form is protected by a double-submit token (an HttpOnly cookie and a hidden field that must
match), so another site cannot sign a browser into an account of its choosing. Signing in always
starts a new session id; signing out ends the session on the server and clears the cookie. Repeated
failures for one username back off (``throttle``): 429 with ``Retry-After``.
"""

from __future__ import annotations

import hmac
import math
import time

from aiohttp import web

from registry.access import authenticate_basic
from registry.appkeys import STORE_KEY
from registry.store import accounts
from registry.ui import guards
from registry.ui.rendering import redirect, render
from registry.ui.sessions import password_version
from registry.ui.throttle import SignInThrottle

THROTTLE_KEY = web.AppKey("ui_signin_throttle", SignInThrottle)

FAILED = "Invalid username or password."


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (never ``//host`` or a URL)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/organizations/"
    return target


def _signin_page(
    request: web.Request, *, error: str = "", username: str = "", status: int = 200
) -> web.Response:
    # One token per browser until it signs in: a second tab or a re-render keeps the first valid.
    token = request.cookies.get(guards.SIGNIN_COOKIE, "")
    if not guards.SIGNIN_TOKEN.fullmatch(token):
        token = guards.new_signin_token()
    response = render(
        "signin.html",
        {
            "viewer": None,
            "csrf": token,
            "csrf_field": guards.CSRF_FIELD,
            "error": error,
            "username": username,
            "next": safe_next(request.query.get("next")),
        },
        status=status,
    )
    guards.set_cookie(response, request, guards.SIGNIN_COOKIE, token)
    return response


async def signin_form(request: web.Request) -> web.Response:
    """``GET /signin``: the form (straight to the organizations when already signed in)."""
    if await guards.viewer(request) is not None:
        return redirect(safe_next(request.query.get("next")))
    return _signin_page(request)


async def signin(request: web.Request) -> web.Response:
    """``POST /signin``: check the password, start a session, go where the user was going."""
    if not guards.same_origin(request):
        raise guards.Refused(403, "This form was sent from another site.")
    data = await guards.read_form(request)
    sent = data.get(guards.CSRF_FIELD)
    expected = request.cookies.get(guards.SIGNIN_COOKIE, "")
    if not (
        isinstance(sent, str) and expected and hmac.compare_digest(sent.encode(), expected.encode())
    ):
        return _signin_page(
            request, error="The sign-in form expired: please try again.", status=403
        )
    username = data.get("username")
    password = data.get("password")
    username = username.strip() if isinstance(username, str) else ""
    password = password if isinstance(password, str) else ""
    store = request.app[STORE_KEY]
    throttle = request.app[THROTTLE_KEY]
    wait = throttle.wait_seconds(username, time.time())
    if wait > 0:
        seconds = math.ceil(wait)
        response = _signin_page(
            request,
            error=f"Too many failed sign-ins for this user: try again in {seconds} s.",
            username=username,
            status=429,
        )
        response.headers["Retry-After"] = str(seconds)
        return response
    entity = None
    if username and password and username != "$oauthtoken" and "+" not in username:
        entity = await authenticate_basic(store, username, password)
    if entity is None or entity.kind != "user" or entity.scopes is not None:
        if username:
            throttle.failed(username, time.time())
        return _signin_page(request, error=FAILED, username=username, status=401)
    throttle.succeeded(username)
    async with store.read() as conn:
        account = await accounts.get_by_id(conn, entity.account_id)
    if account is None:
        return _signin_page(request, error=FAILED, username=username, status=401)
    old = request.cookies.get(guards.SESSION_COOKIE)
    if old:
        guards.sessions_of(request).delete(old)
    session = guards.sessions_of(request).create(
        account.id,
        account.username,
        password_version(store.keyring.hmac_key, account.password_hash),
        time.time(),
    )
    target = request.query.get("next")
    posted_next = data.get("next")
    response = redirect(safe_next(posted_next if isinstance(posted_next, str) else target))
    guards.set_cookie(response, request, guards.SESSION_COOKIE, session.id)
    response.del_cookie(guards.SIGNIN_COOKIE, path="/")
    return response


async def signout(request: web.Request) -> web.Response:
    """``POST /signout``: end the session (CSRF-checked) and go back to the sign-in page."""
    signed_in = await guards.viewer(request)
    if signed_in is not None:
        await guards.form(request, signed_in)
        guards.sessions_of(request).delete(signed_in.session.id)
    response = redirect("/signin")
    response.del_cookie(guards.SESSION_COOKIE, path="/")
    return response
