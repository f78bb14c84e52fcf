"""Typed errors for the Quay REST API, mapped in one place.

Quay answers failures in five different shapes (ApiException JSON, a bare ``{"message"}``, the
CSRF-style ``{"error"}`` sent as text/html, Werkzeug's ``{"message"}`` and the registry's
``{"errors": [...]}``), and the same HTTP status means different things on different endpoints (a
missing robot is 400, a bad token on a write is a 403 CSRF failure). Handlers should not parse
bodies: they catch one class per meaningful case, raised by :func:`error_from_response`. Bodies are
cut short before they reach a message or a log.
"""

from __future__ import annotations

import json
from typing import Any

#: Longest piece of a response body kept in an error message.
BODY_LIMIT = 300


def shorten(text: str, limit: int = BODY_LIMIT) -> str:
    """Return ``text`` cut to ``limit`` characters, marking the cut."""
    text = text.replace("\n", " ").strip()
    return text if len(text) <= limit else text[:limit] + "…"


class QuayError(Exception):
    """Any failure talking to Quay; ``status`` is the HTTP status (0 when there was no answer)."""

    def __init__(self, message: str, *, status: int = 0, endpoint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.endpoint = endpoint

    def __str__(self) -> str:
        where = f" ({self.endpoint}, HTTP {self.status})" if self.endpoint else ""
        return f"{self.message}{where}"


class NotFound(QuayError):
    """The object does not exist (HTTP 404)."""


class RobotMissing(NotFound):
    """Quay's 400 "Could not find robot with specified username"."""


class InvalidRequest(QuayError):
    """Quay refused the request's content (HTTP 400); ``message`` is Quay's own text."""


class AlreadyExists(InvalidRequest):
    """The org, robot or repository already exists (Quay answers 400 for these)."""


class NameReserved(InvalidRequest):
    """The org name is held by a deleted, not yet collected org ("Username is not available")."""


class InvalidName(InvalidRequest):
    """Quay rejected a namespace, robot or repository name."""


class Unauthenticated(QuayError):
    """The token is missing, invalid or expired (401, or the CSRF 403 Quay gives writes)."""


class Forbidden(QuayError):
    """The token is valid but lacks the scope or role for this call (403 insufficient_scope)."""


class Unavailable(QuayError):
    """Quay did not answer usefully: 5xx, 429 after retries, or a connection failure."""


class TLSFailure(QuayError):
    """Quay's certificate could not be verified (unknown CA, wrong host name)."""


def _parse(body: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def quay_message(body: str) -> str:
    """Return the human message of any of Quay's five error shapes, or the cut body."""
    data = _parse(body)
    for key in ("error_message", "detail", "message", "error"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return shorten(value)
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return shorten(str(errors[0].get("message") or errors[0].get("code") or ""))
    return shorten(body) or "no response body"


_EXISTS = (
    "already exists",
    "Existing robot with name",
)
_INVALID_NAME = (
    "must match expression",
    "Invalid repository name",
    "is invalid",
    "Invalid namespace",
)


def error_from_response(status: int, body: str, *, endpoint: str = "") -> QuayError:
    """Map one failed Quay answer to its error class. Pure: no I/O."""
    data = _parse(body)
    message = quay_message(body)
    error_type = data.get("error_type") if isinstance(data.get("error_type"), str) else ""
    kwargs: dict[str, Any] = {"status": status, "endpoint": endpoint}
    if status == 404:
        return NotFound(message, **kwargs)
    if status == 401:
        return Unauthenticated(f"Quay refused the token: {message}", **kwargs)
    if status == 403:
        if "CSRF" in message or error_type in {"invalid_token", "expired_token"}:
            return Unauthenticated(
                f"Quay refused the token (invalid or expired): {message}", **kwargs
            )
        return Forbidden(f"the token lacks the rights for this call: {message}", **kwargs)
    if status == 400:
        if "Could not find robot" in message:
            return RobotMissing(message, **kwargs)
        if "Username is not available" in message:
            return NameReserved(message, **kwargs)
        if any(marker in message for marker in _EXISTS):
            return AlreadyExists(message, **kwargs)
        if any(marker in message for marker in _INVALID_NAME):
            return InvalidName(message, **kwargs)
        return InvalidRequest(message, **kwargs)
    if status == 429 or status >= 500:
        return Unavailable(f"Quay is unavailable: {message}", **kwargs)
    return QuayError(f"unexpected answer from Quay: {message}", **kwargs)
