"""JSON bytes of API objects, encoded once per stored version and shared by every reader.

A write's answer, the watch event every watcher of that resource receives, later GETs and every
list that includes the object all carry the same JSON. Stored objects are never mutated in place
(see :mod:`sim.store`), so the bytes of a stored version can be computed on first use and reused
until that version is replaced or removed. Objects that are not stored (dry runs, views such as
Projects, DELETED states) are encoded each time they are asked for.

The encoding is compact (no spaces after separators) and skips the circular-reference check:
objects are JSON trees built from request bodies and the simulator's own literals.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)

#: Returns the JSON bytes of one object.
Encode = Callable[[dict[str, Any]], bytes]


def dumps(value: Any) -> bytes:
    """Return the compact JSON bytes of a value."""
    return _ENCODER.encode(value).encode()


def dumps_list(doc: dict[str, Any], encode: Encode = dumps) -> bytes:
    """Return the JSON bytes of a ``<Kind>List`` whose ``items`` are encoded by ``encode``.

    The other members are encoded as usual; the items are spliced in as a JSON array, so a list of
    stored objects costs one join of their cached bytes instead of a walk over every object.
    """
    head = _ENCODER.encode({k: v for k, v in doc.items() if k != "items"}).encode()
    items = b"[" + b",".join([encode(item) for item in doc.get("items") or ()]) + b"]"
    if head == b"{}":
        return b'{"items":' + items + b"}"
    return head[:-1] + b',"items":' + items + b"}"


class _Held:
    """A stored object and, once asked for, its JSON bytes."""

    __slots__ = ("data", "obj")

    def __init__(self, obj: dict[str, Any]) -> None:
        self.obj = obj
        self.data: bytes | None = None


class EncodingCache:
    """The JSON bytes of the objects currently stored, computed on first use.

    The store says when an object becomes stored (:meth:`hold`) and when it stops being the
    stored version (:meth:`drop`); :meth:`encode` answers from the cache for held objects, by
    identity, and encodes anything else afresh. Holding the object itself keeps its ``id`` from
    being reused while the entry exists.
    """

    def __init__(self) -> None:
        self._held: dict[int, _Held] = {}

    def hold(self, obj: dict[str, Any]) -> None:
        """Start caching the bytes of a newly stored object (encoded lazily)."""
        self._held[id(obj)] = _Held(obj)

    def drop(self, obj: dict[str, Any]) -> None:
        """Forget an object that is no longer the stored version."""
        held = self._held.get(id(obj))
        if held is not None and held.obj is obj:
            del self._held[id(obj)]

    def encode(self, obj: dict[str, Any]) -> bytes:
        """Return the JSON bytes of ``obj``, from the cache when it is a stored object."""
        held = self._held.get(id(obj))
        if held is None or held.obj is not obj:
            return dumps(obj)
        if held.data is None:
            held.data = dumps(obj)
        return held.data

    def __len__(self) -> int:
        return len(self._held)
