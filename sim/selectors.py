"""Label and field selectors: parsed once per request, matched per object without I/O.

Syntax as in Kubernetes: labels ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a``,
``!a``; fields ``path=value`` / ``path!=value`` on dotted paths such as ``metadata.name``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sim.errors import bad_request

Matcher = Callable[[dict[str, Any]], bool]

_SET_TERM = re.compile(r"^\s*(?P<key>[^\s!=]+)\s+(?P<op>in|notin)\s*\((?P<values>[^)]*)\)\s*$")
_KEY = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?)$")


def _split_terms(text: str) -> list[str]:
    terms: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(ch)
    if depth != 0:
        raise bad_request(f"unable to parse requirement: unbalanced parentheses in {text!r}")
    terms.append("".join(current))
    return [t.strip() for t in terms if t.strip()]


def _label_term(term: str) -> Callable[[dict[str, str]], bool]:
    m = _SET_TERM.match(term)
    if m:
        key = m["key"]
        values = {v.strip() for v in m["values"].split(",") if v.strip()}
        if m["op"] == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    for op in ("!=", "==", "="):
        if op in term:
            key, _, value = term.partition(op)
            key, value = key.strip(), value.strip()
            if not _KEY.match(key):
                break
            if op == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    else:
        if term.startswith("!") and _KEY.match(term[1:].strip()):
            key = term[1:].strip()
            return lambda labels: key not in labels
        if _KEY.match(term):
            return lambda labels: term in labels
    raise bad_request(f"unable to parse requirement: invalid label selector term {term!r}")


def label_matcher(text: str | None) -> Matcher | None:
    """Return a matcher for a label selector, or ``None`` when the selector is empty."""
    if not text:
        return None
    checks = [_label_term(t) for t in _split_terms(text)]
    if len(checks) == 1:
        (check,) = checks

        def match_one(obj: dict[str, Any]) -> bool:
            return check((obj.get("metadata") or {}).get("labels") or {})

        return match_one

    def match(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(check(labels) for check in checks)

    return match


def _field_value(obj: dict[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict):
            return ""
        node = node.get(part)
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def field_matcher(text: str | None) -> Matcher | None:
    """Return a matcher for a field selector, or ``None`` when the selector is empty."""
    if not text:
        return None
    checks: list[tuple[str, bool, str]] = []
    for term in _split_terms(text):
        for op in ("!=", "==", "="):
            if op in term:
                path, _, value = term.partition(op)
                checks.append((path.strip(), op != "!=", value.strip()))
                break
        else:
            raise bad_request(f"invalid field selector term {term!r}")

    def match(obj: dict[str, Any]) -> bool:
        return all((_field_value(obj, p) == v) == eq for p, eq, v in checks)

    return match


def all_of(*matchers: Matcher | None) -> Matcher | None:
    """Return one matcher for all the given ones (``None`` ones ignored), or ``None`` if none."""
    present = [m for m in matchers if m is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    return lambda obj: all(m(obj) for m in present)


def label_selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Return whether a ``LabelSelector`` (matchLabels/matchExpressions) matches labels."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True
