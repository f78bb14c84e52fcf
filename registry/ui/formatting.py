"""What the pages show, as pure functions: scope labels, sizes, times, login lines, Secret YAML.

Kept apart from the handlers so each rule can be tested as a table. The scope labels are the ones
Quay's Generate Token page shows (the product documentation's procedure names them).
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime

import yaml

#: Quay's labels of the OAuth scopes (``registry.scopes.ALL_SCOPES``), in its page's order.
SCOPE_LABELS: dict[str, str] = {
    "org:admin": "Administer Organization",
    "repo:admin": "Administer Repositories",
    "repo:create": "Create Repositories",
    "repo:read": "View all visible repositories",
    "repo:write": "Read/Write to any accessible repositories",
    "super:user": "Super User Access",
    "user:admin": "Administer User",
    "user:read": "Read User Information",
}

#: What each scope lets the token do, shown under its checkbox.
SCOPE_HELP: dict[str, str] = {
    "org:admin": "administer organizations: robots, teams, default permissions, applications",
    "repo:admin": "administer every repository the user can access",
    "repo:create": "create repositories in any namespace the user can create in",
    "repo:read": "view and pull every repository the user can see",
    "repo:write": "view, push and pull every repository the user can write",
    "super:user": "registry superuser operations (only for superusers)",
    "user:admin": "administer the user's account, including creating organizations",
    "user:read": "read the user's information",
}

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")
_SECRET_NAME_INVALID = re.compile(r"[^a-z0-9-]+")


def human_size(size: int | None) -> str:
    """Bytes as Quay shows them: ``0 B``, ``812 B``, ``1.5 KiB``, ``23.4 MiB``."""
    if size is None:
        return "unknown"
    value = float(size)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def utc_time(timestamp: float | None) -> str:
    """An epoch time as ``2026-12-07 05:54:35 UTC``; ``never`` for None."""
    if timestamp is None:
        return "never"
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def short_digest(digest: str) -> str:
    """``sha256:`` and the first 12 hex digits, as Quay's tag list shows a manifest."""
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}:{hexpart[:12]}" if hexpart else digest


def docker_login(engine: str, username: str, token: str, host: str) -> str:
    """The ``docker login`` / ``podman login`` line Quay's robot credentials dialog shows."""
    return f"{engine} login -u='{username}' -p='{token}' {host}"


def secret_name(robot: str) -> str:
    """The Kubernetes Secret name Quay suggests for a robot: ``<org>-<short>-pull-secret``."""
    cleaned = _SECRET_NAME_INVALID.sub("-", robot.lower().replace("+", "-")).strip("-")
    return f"{cleaned[:240]}-pull-secret"


def dockerconfigjson(username: str, token: str, host: str) -> str:
    """The ``.dockerconfigjson`` document for one registry login."""
    auth = base64.b64encode(f"{username}:{token}".encode()).decode()
    return json.dumps({"auths": {host: {"auth": auth, "email": ""}}}, separators=(",", ":"))


def kubernetes_secret(username: str, token: str, host: str) -> str:
    """A ``kubernetes.io/dockerconfigjson`` Secret for the robot, as YAML to copy."""
    document = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret_name(username)},
        "data": {
            ".dockerconfigjson": base64.b64encode(
                dockerconfigjson(username, token, host).encode()
            ).decode()
        },
        "type": "kubernetes.io/dockerconfigjson",
    }
    return yaml.safe_dump(document, sort_keys=False)
