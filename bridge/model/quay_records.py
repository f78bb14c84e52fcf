"""Robot accounts and default permissions as Quay's REST API returns them.

The planner compares these with the spec and the Quay client returns them; they live here,
apart from the client, so the pure planning code needs nothing of the client to name them.
"""

from __future__ import annotations

from typing import Any, TypedDict


class Robot(TypedDict, total=False):
    """A robot account as Quay returns it (``token`` only for org admins)."""

    name: str
    token: str
    description: str


class PrototypeDelegate(TypedDict, total=False):
    """The user, robot or team a prototype grants its role to."""

    name: str
    kind: str
    is_robot: bool


class Prototype(TypedDict, total=False):
    """A default permission of an organization."""

    id: str
    role: str
    delegate: PrototypeDelegate
    activating_user: dict[str, Any] | None
