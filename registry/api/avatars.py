"""Quay-like avatar blocks ``{name, hash, color, kind}`` (quay/quay avatars/avatars.py).

Quay hashes the account's email (or id, or name) and picks a colour from a palette by the hash's
first hex digits. Clients only display these, so the exact palette matters less than the shape and
that the same account always gets the same block.
"""

from __future__ import annotations

import hashlib
import math
from typing import Literal, TypedDict

AvatarKind = Literal["user", "org", "robot", "team"]

_COLORS: tuple[str, ...] = (
    "#969696", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728", "#ff9896",
    "#9467bd", "#c5b0d5", "#8c564b", "#c49c94", "#e377c2", "#f7b6d2", "#7f7f7f", "#c7c7c7",
    "#bcbd22", "#1f77b4", "#17becf", "#9edae5", "#393b79", "#5254a3", "#6b6ecf", "#9c9ede",
    "#637939", "#8ca252", "#b5cf6b", "#cedb9c", "#8c6d31", "#bd9e39", "#e7ba52", "#e7cb94",
    "#843c39", "#ad494a", "#d6616b", "#e7969c", "#7b4173", "#a55194", "#ce6dbd", "#de9ed6",
)  # fmt: skip
_BYTE_COUNT = math.ceil(math.log(len(_COLORS), 16))


class Avatar(TypedDict):
    """The avatar block every Quay view embeds."""

    name: str
    hash: str
    color: str
    kind: str


def avatar(name: str, email_or_id: str | None, kind: AvatarKind) -> Avatar:
    """Build the avatar block for ``name``; the hash is of the email (or id), else of the name."""
    source = (email_or_id or name).strip().lower()
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()
    color = _COLORS[int(digest[:_BYTE_COUNT], 16) % len(_COLORS)]
    return {"name": name, "hash": digest, "color": color, "kind": kind}
