"""Quay's REST error shapes and their one writer.

Real Quay answers errors in four shapes on ``/api`` (the fifth, ``{"errors": [...]}``, belongs to
``/v2``), and clients branch on them, so every handler raises one of the exceptions below and only
``error_response`` turns it into bytes (docs/reference/quay.md#error-shapes):

1. ``ApiError``: the ApiException object ``{detail, error_message, error_type, title, type,
   status}``;
2. ``ModelError``: an uncaught DataModelException, ``400 {"message": ...}``;
3. ``AbortError``: ``util.http.abort``, ``{"error": ...}`` sent as text/html (CSRF failures);
4. ``HttpError``: Werkzeug errors inside resources, ``{"message": <description>}`` (415, bad JSON).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

JSON = "application/json"


class QuayError(Exception):
    """Base of every error the REST API answers on purpose."""

    status: int = 500

    def response(self, request: web.Request) -> web.Response:
        """Render this error for ``request``."""
        raise NotImplementedError


class ApiError(QuayError):
    """Quay's ApiException: the six-key object, plus optional extra payload keys."""

    def __init__(
        self, status: int, error_type: str, message: str, payload: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.payload = payload or {}

    def response(self, request: web.Request) -> web.Response:
        """Render the ApiException body; the ``type`` URL follows the request's Host, as Quay's."""
        body: dict[str, Any] = dict(self.payload)
        body.update(
            {
                "detail": self.message,
                "error_message": self.message,
                "error_type": self.error_type,
                "title": self.error_type,
                "type": f"{request.scheme}://{request.host}/api/v1/error/{self.error_type}",
                "status": self.status,
            }
        )
        return web.json_response(body, status=self.status)


def invalid_request(message: str) -> ApiError:
    """400 invalid_request with ``message``."""
    return ApiError(400, "invalid_request", message)


def not_found() -> ApiError:
    """404 not_found, detail "Not Found"."""
    return ApiError(404, "not_found", "Not Found")


def unauthorized(authenticated: bool) -> ApiError:
    """Quay's ``Unauthorized``: 401 invalid_token without a user, else 403 insufficient_scope."""
    if authenticated:
        return ApiError(403, "insufficient_scope", "Unauthorized")
    return ApiError(401, "invalid_token", "Requires authentication")


class ModelError(QuayError):
    """An uncaught DataModelException: ``400 {"message": ...}``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self, request: web.Request) -> web.Response:
        """Render ``{"message": ...}``."""
        return web.json_response({"message": self.message}, status=self.status)


class HttpError(ModelError):
    """A Werkzeug HTTP error raised inside a resource; same body shape as ``ModelError``."""


UNSUPPORTED_MEDIA_TYPE = (
    "Did not attempt to load JSON data because the request Content-Type was not 'application/json'."
)
BAD_REQUEST = "The browser (or proxy) sent a request that this server could not understand."
METHOD_NOT_ALLOWED = "The method is not allowed for the requested URL."


class AbortError(QuayError):
    """``util.http.abort``: ``{"error": ...}`` with Content-Type text/html."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self, request: web.Request) -> web.Response:
        """Render ``{"error": ...}`` as text/html, as Quay's ``make_response(json.dumps(...))``."""
        return web.Response(
            text=json.dumps({"error": self.message}),
            status=self.status,
            content_type="text/html",
            charset="utf-8",
        )


def csrf_failure() -> AbortError:
    """The 403 every write without a validated OAuth token gets."""
    return AbortError(403, "CSRF token was invalid or missing.")


def html_not_found() -> web.Response:
    """The HTML 404 page Quay's UI serves for unknown paths."""
    return web.Response(
        text="<!DOCTYPE html>\n<html><head><title>Quay</title></head>"
        "<body><h1>Not Found</h1></body></html>\n",
        status=404,
        content_type="text/html",
        charset="utf-8",
    )


def redirect_308(request: web.Request, location: str) -> web.Response:
    """Werkzeug's strict-slashes 308, with its HTML body and an absolute Location."""
    url = f"{request.scheme}://{request.host}{location}"
    if request.query_string:
        url += "?" + request.query_string
    body = (
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n"
        "<p>You should be redirected automatically to the target URL: "
        f'<a href="{url}">{url}</a>. If not, click the link.\n'
    )
    return web.Response(
        text=body,
        status=308,
        content_type="text/html",
        charset="utf-8",
        headers={"Location": url},
    )
