"""Who is looking at a page, and whether a form really comes from one of our pages.

``viewer(request)`` finds the session from its cookie, re-reads the account and checks that it is
still an enabled user whose password is the one the session was started with; otherwise the
session is ended. The viewer acts through an ``Entity`` without OAuth scopes, as a Quay web
session does, so the API's permission functions decide what it may see and do.

``form(request, viewer)`` reads a POSTed form and refuses it (403) unless it carries the session's
CSRF token and, when the browser says where it comes from (``Origin``), comes from this origin.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from registry.access import Entity
from registry.appkeys import SETTINGS_KEY, STORE_KEY
from registry.store import accounts
from registry.ui.sessions import Session, SessionStore, password_version

SESSIONS_KEY = web.AppKey("ui_sessions", SessionStore)
SESSION_COOKIE = "quay_ui_session"
SIGNIN_COOKIE = "quay_ui_signin"
CSRF_FIELD = "_csrf_token"
#: The shape of a sign-in form token (``secrets.token_urlsafe(32)``).
SIGNIN_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
#: Form bodies are small; anything larger is refused before it is parsed.
MAX_FORM_BYTES = 64 * 1024


class Refused(Exception):
    """A request the UI refuses with a page saying why (``status`` and ``message``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of a request.

    Attributes:
        account: the user's account row, read for this request.
        session: its server-side session (CSRF token included).
        entity: the same user as the API's permission functions take it (no scope cap).
    """

    account: accounts.Account
    session: Session
    entity: Entity


def sessions_of(request: web.Request) -> SessionStore:
    """The app's session store."""
    return request.app[SESSIONS_KEY]


def secure_cookies(request: web.Request) -> bool:
    """Whether cookies get ``Secure``: the registry is served over HTTPS."""
    return request.secure or request.app[SETTINGS_KEY].preferred_url_scheme == "https"


def set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str) -> None:
    """Set an HttpOnly, SameSite=Lax, path-wide session cookie (no Max-Age: a browser session)."""
    response.set_cookie(
        name, value, httponly=True, samesite="Lax", path="/", secure=secure_cookies(request)
    )


async def viewer(request: web.Request) -> Viewer | None:
    """The signed-in user, or None (no cookie, an unknown or expired session, a stale user)."""
    store = sessions_of(request)
    session = store.get(request.cookies.get(SESSION_COOKIE), time.time())
    if session is None:
        return None
    registry = request.app[STORE_KEY]
    async with registry.read() as conn:
        account = await accounts.get_by_id(conn, session.account_id)
    if (
        account is None
        or not account.enabled
        or account.kind != "user"
        or password_version(registry.keyring.hmac_key, account.password_hash)
        != session.password_version
    ):
        store.delete(session.id)
        return None
    entity = Entity(
        account_id=account.id,
        name=account.username,
        kind="user",
        scopes=None,
        token_uuid=None,
        superuser=account.superuser,
    )
    return Viewer(account=account, session=session, entity=entity)


async def require_viewer(request: web.Request) -> Viewer:
    """The signed-in user; otherwise a redirect to the sign-in page that comes back here."""
    found = await viewer(request)
    if found is None:
        target = request.path_qs if request.method == "GET" else "/"
        raise web.HTTPSeeOther(location="/signin?next=" + quote(target, safe=""))
    return found


def same_origin(request: web.Request) -> bool:
    """Whether the browser's ``Origin`` (when it sent one) is this server."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return origin == f"{request.scheme}://{request.host}"


async def read_form(request: web.Request) -> MultiDictProxy[Any]:
    """The POSTed form (empty without a body); 411, 413 or 415 when not a small form."""
    if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
        raise Refused(413, "The form is too large.")
    if not request.body_exists:
        return MultiDictProxy(MultiDict())
    if request.content_length is None:
        raise Refused(411, "A form must say its length.")
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise Refused(415, "Expected a form submitted from this site.")
    return await request.post()


async def form(request: web.Request, signed_in: Viewer) -> MultiDictProxy[Any]:
    """The POSTed form of a signed-in user, after the origin and CSRF checks (else 403)."""
    if not same_origin(request):
        raise Refused(403, "This form was sent from another site.")
    data = await read_form(request)
    sent = data.get(CSRF_FIELD)
    if not signed_in.session.csrf_matches(sent if isinstance(sent, str) else None):
        raise Refused(403, "The form's CSRF token is missing or stale: reload the page and retry.")
    return data


def new_signin_token() -> str:
    """The value of the sign-in form's CSRF cookie and field (no session exists yet)."""
    return secrets.token_urlsafe(32)
