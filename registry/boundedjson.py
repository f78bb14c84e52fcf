"""JSON parsing with a nesting limit, for every JSON document a client sends.

`json.loads` raises `RecursionError` (not `ValueError`) on a document nested about a thousand
levels deep, and a document just under that depth can still exhaust the stack in whatever walks it
next (schema validation, error messages). No document this registry accepts (request bodies,
manifests, image configs, token segments) needs more than a few levels, so anything deeper than
`MAX_DEPTH` is refused as invalid input: `JsonTooDeep` is a `ValueError`, so callers that already
turn bad JSON into a 400 do the same for it.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 100


class JsonTooDeep(ValueError):
    """The document nests arrays or objects deeper than allowed."""


def depth_error(max_depth: int = MAX_DEPTH) -> JsonTooDeep:
    """The error for a document nested deeper than `max_depth` (one wording everywhere)."""
    return JsonTooDeep(f"JSON nested deeper than {max_depth} levels")


def _too_deep(value: Any, max_depth: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def loads(data: str | bytes | bytearray, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads`, refusing documents nested deeper than `max_depth`.

    Raises:
        ValueError: not JSON (`json.JSONDecodeError`), not UTF-8 (`UnicodeDecodeError`), or
            nested too deeply (`JsonTooDeep`).
    """
    try:
        value = json.loads(data)
    except RecursionError as exc:
        raise depth_error(max_depth) from exc
    if isinstance(value, dict | list) and _too_deep(value, max_depth):
        raise depth_error(max_depth)
    return value
