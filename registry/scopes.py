"""OAuth scopes and how they cap roles, as pure functions (docs/reference/quay.md#oauth-scopes).

Quay does not enforce scopes up front: ``require_scope`` is metadata only. A token's scopes instead
cap the roles its user holds: the team role in an org, the role on a repository and the user role.
Keeping that arithmetic here, away from the database, lets it be tested as a table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Literal, TypeVar

RepoRole = Literal["read", "write", "admin"]
TeamRole = Literal["member", "creator", "admin"]
_Role = TypeVar("_Role", bound=str)

ALL_SCOPES: tuple[str, ...] = (
    "org:admin",
    "repo:admin",
    "repo:create",
    "repo:read",
    "repo:write",
    "super:user",
    "user:admin",
    "user:read",
)
_REPO_ORDER: dict[str, int] = {"read": 1, "write": 2, "admin": 3}
_TEAM_ORDER: dict[str, int] = {"member": 1, "creator": 2, "admin": 3}
_SPLIT = re.compile(r"[\s,]+")


class InvalidScopeError(ValueError):
    """A scope string naming an unknown scope: one unknown scope invalidates the whole set."""


def parse_scopes(text: str) -> frozenset[str]:
    """Parse a space- or comma-separated scope string.

    Raises:
        InvalidScopeError: a scope is unknown or the string holds none.
    """
    parts = [part for part in _SPLIT.split(text.strip()) if part]
    if not parts:
        raise InvalidScopeError("Invalid scope: ")
    for part in parts:
        if part not in ALL_SCOPES:
            raise InvalidScopeError(f"Invalid scope: {text}")
    return frozenset(parts)


def format_scopes(scopes: frozenset[str]) -> str:
    """Render scopes as Quay stores them: space-separated, in a stable order."""
    return " ".join(scope for scope in ALL_SCOPES if scope in scopes)


def repo_role_cap(scopes: frozenset[str] | None) -> RepoRole | None:
    """The highest repository role a token's scopes allow; None = scopes give no repository access.

    ``scopes`` None means an unrestricted credential (a robot token or a password).
    """
    if scopes is None or "repo:admin" in scopes:
        return "admin"
    if "repo:write" in scopes:
        return "write"
    if "repo:read" in scopes:
        return "read"
    return None


def team_role_cap(scopes: frozenset[str] | None) -> TeamRole | None:
    """The highest org team role the scopes allow (org:admin: admin, repo:create: creator)."""
    if scopes is None or "org:admin" in scopes:
        return "admin"
    if "repo:create" in scopes:
        return "creator"
    return None


def user_role_cap(scopes: frozenset[str] | None) -> Literal["read", "admin"] | None:
    """The highest role over one's own user account (user:read → read, user:admin → admin)."""
    if scopes is None or "user:admin" in scopes:
        return "admin"
    if "user:read" in scopes:
        return "read"
    return None


def cap_repo_role(role: RepoRole | None, cap: RepoRole | None) -> RepoRole | None:
    """The lower of a held repository role and a cap."""
    if role is None or cap is None:
        return None
    return role if _REPO_ORDER[role] <= _REPO_ORDER[cap] else cap


def cap_team_role(role: TeamRole | None, cap: TeamRole | None) -> TeamRole | None:
    """The lower of a held team role and a cap."""
    if role is None or cap is None:
        return None
    return role if _TEAM_ORDER[role] <= _TEAM_ORDER[cap] else cap


def _highest(order: Mapping[str, int], roles: Iterable[_Role | None]) -> _Role | None:
    held = [role for role in roles if role is not None]
    return max(held, key=order.__getitem__) if held else None


def max_repo_role(*roles: RepoRole | None) -> RepoRole | None:
    """The highest of several repository roles (None when none is held)."""
    return _highest(_REPO_ORDER, roles)


def max_team_role(*roles: TeamRole | None) -> TeamRole | None:
    """The highest of several team roles (None when none is held)."""
    return _highest(_TEAM_ORDER, roles)


def team_role_at_least(role: TeamRole | None, wanted: TeamRole) -> bool:
    """Whether ``role`` is ``wanted`` or higher."""
    return role is not None and _TEAM_ORDER[role] >= _TEAM_ORDER[wanted]


def repo_role_at_least(role: RepoRole | None, wanted: RepoRole) -> bool:
    """Whether ``role`` is ``wanted`` or higher."""
    return role is not None and _REPO_ORDER[role] >= _REPO_ORDER[wanted]


def is_subset(wanted: frozenset[str], held: frozenset[str] | None) -> bool:
    """Whether a token with ``held`` scopes may mint one with ``wanted`` (None = unrestricted)."""
    return held is None or wanted <= held
