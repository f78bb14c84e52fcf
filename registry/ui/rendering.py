"""Rendering pages: one Jinja2 environment that escapes everything, and the headers every page gets.

Every template is autoescaped (whatever its name), so names, descriptions and application names
reach the browser as text. Each page is sent with a Content-Security-Policy that allows no script
at all and styles only from this server, and with ``Cache-Control: no-store``: pages show private
data (and, once, credentials) that must not stay in a shared cache or the back-button history.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined

from registry.ui import formatting

#: No script, no plugin, no frame; styles and images from this origin; forms post only here.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def path_segment(value: str) -> str:
    """Percent-encode a name for a URL path (``/`` kept: nested repository names)."""
    return quote(value, safe="/")


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("registry.ui", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["seg"] = path_segment
    env.filters["size"] = formatting.human_size
    env.filters["utc"] = formatting.utc_time
    env.filters["short_digest"] = formatting.short_digest
    return env


ENVIRONMENT = _environment()


def render(template: str, context: dict[str, Any], *, status: int = 200) -> web.Response:
    """Render ``template`` with ``context`` into an HTML response with the security headers."""
    body = ENVIRONMENT.get_template(template).render(**context)
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    response.headers.update(SECURITY_HEADERS)
    return response


def redirect(location: str) -> web.Response:
    """A 303 See Other (after a POST the browser GETs the next page), with the headers."""
    response = web.Response(status=303, headers={"Location": location})
    response.headers.update(SECURITY_HEADERS)
    return response
