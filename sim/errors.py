"""Kubernetes API errors and their ``Status`` bodies, written in one place.

Every refusal the simulator gives travels as an :class:`ApiError`; the HTTP layer turns it into the
``Status`` object a real API server sends, with Kubernetes' own ``reason`` values, so clients that
branch on ``reason`` (kopf, the kubernetes client, kubectl) behave as they do against a cluster.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A refused request: HTTP code, Kubernetes reason and message."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details or {}

    def status(self) -> dict[str, Any]:
        """Return the ``Status`` body for this error."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def qualified(plural: str, group: str) -> str:
    """Return ``plural.group`` (or ``plural`` for the core group), as in Kubernetes messages."""
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, group: str, name: str) -> ApiError:
    """Return the 404 of a missing object."""
    return ApiError(
        404,
        "NotFound",
        f'{qualified(plural, group)} "{name}" not found',
        details={"name": name, "group": group, "kind": plural},
    )


def already_exists(plural: str, group: str, name: str) -> ApiError:
    """Return the 409 of a create whose name is taken."""
    return ApiError(
        409,
        "AlreadyExists",
        f'{qualified(plural, group)} "{name}" already exists',
        details={"name": name, "group": group, "kind": plural},
    )


def conflict(plural: str, group: str, name: str, why: str | None = None) -> ApiError:
    """Return the 409 of a write based on a stale resourceVersion."""
    why = (
        why
        or "the object has been modified; please apply your changes to the latest version and "
        "try again"
    )
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": {why}',
        details={"name": name, "group": group, "kind": plural},
    )


def invalid(kind: str, group: str, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """Return the 422 of an object that fails validation; ``causes`` are (field, message) pairs."""
    text = ", ".join(f"{field}: {msg}" for field, msg in causes)
    return ApiError(
        422,
        "Invalid",
        f'{qualified(kind, group)} "{name}" is invalid: {text}',
        details={
            "name": name,
            "group": group,
            "kind": kind,
            "causes": [
                {"reason": "FieldValueInvalid", "message": msg, "field": field}
                for field, msg in causes
            ],
        },
    )


def bad_request(message: str) -> ApiError:
    """Return a 400 BadRequest."""
    return ApiError(400, "BadRequest", message)


def method_not_allowed(
    message: str = "the server does not allow this method on the requested resource",
) -> ApiError:
    """Return a 405 MethodNotAllowed."""
    return ApiError(405, "MethodNotAllowed", message)


def forbidden(plural: str, group: str, name: str, why: str) -> ApiError:
    """Return a 403 Forbidden."""
    return ApiError(
        403,
        "Forbidden",
        f'{qualified(plural, group)} "{name}" is forbidden: {why}',
        details={"name": name, "group": group, "kind": plural},
    )


def too_large_resource_version(requested: int, current: int) -> ApiError:
    """Return kube-apiserver's 504 for a list or watch from a resourceVersion it has not reached.

    The watch cache waits a few seconds for the version to arrive, then answers this Timeout with
    the cause ``ResourceVersionTooLarge`` and a retry-after of one second. A client that sees it
    while holding a version from before a restart (etcd restored, state lost) must list again.
    """
    return ApiError(
        504,
        "Timeout",
        f"Timeout: Too large resource version: {requested}, current: {current}",
        details={
            "causes": [
                {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
            ],
            "retryAfterSeconds": 1,
        },
    )


def gone(message: str) -> ApiError:
    """Return the 410 of a watch whose resourceVersion is older than the kept history."""
    return ApiError(410, "Expired", message)


def internal(message: str) -> ApiError:
    """Return a 500 InternalError."""
    return ApiError(500, "InternalError", f"Internal error occurred: {message}")
