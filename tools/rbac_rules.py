"""Checking a ClusterRole against the API calls an operator really makes: sufficient and minimal.

Least privilege is only believable when it is measured: the simulator logs every request it serves
(verb, API group, resource, subresource), the RBAC test drives the operator through a scenario, and
these pure functions compare the calls with the ClusterRole's rules in both directions. A
:data:`Permission` is ``(verb, group, resource)`` with subresources spelled as RBAC spells them,
``quayintegrations/status``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

Permission = tuple[str, str, str]


def permission_of(entry: Mapping[str, Any]) -> Permission:
    """Return the permission one request-log entry needed."""
    resource = str(entry["resource"])
    if entry.get("subresource"):
        resource = f"{resource}/{entry['subresource']}"
    return str(entry["verb"]), str(entry.get("group") or ""), resource


def read_request_log(text: str) -> list[dict[str, Any]]:
    """Parse the simulator's JSON-lines request log (blank lines ignored)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _matches(allowed: Iterable[str], value: str) -> bool:
    return any(item in ("*", value) for item in allowed)


def allows(rules: Iterable[Mapping[str, Any]], permission: Permission) -> bool:
    """Tell whether any of ``rules`` grants ``permission`` (``*`` honoured, as RBAC does)."""
    verb, group, resource = permission
    return any(
        _matches(rule.get("verbs", []), verb)
        and _matches(rule.get("apiGroups", []), group)
        and _matches(rule.get("resources", []), resource)
        and not rule.get("resourceNames")
        for rule in rules
    )


def granted(rules: Iterable[Mapping[str, Any]]) -> set[Permission]:
    """Every permission the rules spell out.

    Raises:
        ValueError: a rule uses a wildcard, which cannot be listed (nor be least privilege).
    """
    out: set[Permission] = set()
    for rule in rules:
        fields = (rule.get("verbs", []), rule.get("apiGroups", []), rule.get("resources", []))
        if any("*" in field for field in fields):
            raise ValueError(f"wildcard in rule {dict(rule)}: list the verbs and resources")
        out |= {(v, g, r) for v in fields[0] for g in fields[1] for r in fields[2]}
    return out


def missing(rules: Iterable[Mapping[str, Any]], used: Iterable[Permission]) -> list[Permission]:
    """The permissions used but not granted: the role is insufficient when this is not empty."""
    listed = list(rules)
    return sorted({p for p in used if not allows(listed, p)})


def unused(
    rules: Iterable[Mapping[str, Any]],
    used: Iterable[Permission],
    justified: Mapping[Permission, str],
) -> list[Permission]:
    """The permissions granted, never used, and not justified: the role is too wide if any."""
    return sorted(granted(rules) - set(used) - set(justified))
