"""Deep copies of JSON trees, several times cheaper than ``copy.deepcopy``.

Every write copies the object it starts from (a patch applies to a private copy of the stored
version; stored versions are never mutated in place). The objects are JSON trees — dicts, lists and
scalars — so a copy needs none of ``copy.deepcopy``'s memo, dispatch table or reduce protocol.
Anything that is not a plain JSON value (a tuple, a dict subclass) falls back to ``copy.deepcopy``,
so the result is always a copy that shares nothing mutable with the original.
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar

T = TypeVar("T")
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _clone(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {k: v if type(v) in _SCALARS else _clone(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _SCALARS else _clone(v) for v in value]
    if kind in _SCALARS:
        return value
    return copy.deepcopy(value)


def clone(value: T) -> T:
    """Return a deep copy of a JSON value that shares no mutable part with it."""
    result: T = _clone(value)
    return result
