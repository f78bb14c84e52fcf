"""Docker credential secrets: reading ``.dockercfg``/``.dockerconfigjson`` and matching by registry.

Pure functions shared by ImageStreamImport (which credentials reach a registry) and the build
controller (which push secret fits an output image); the matching follows the kubelet keyring
rules OpenShift uses: same host (globs allowed) and port, key path a prefix of the image path.
"""

from __future__ import annotations

import base64
import fnmatch
import json
from typing import Any

DOCKER_TYPES = ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson")


def is_docker_secret(secret: dict[str, Any]) -> bool:
    """Return whether a Secret holds docker credentials."""
    return secret.get("type") in DOCKER_TYPES


def entries(secret: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return registry key -> {username, password} from a docker Secret (empty if unreadable)."""
    data = secret.get("data") or {}
    try:
        if secret.get("type") == "kubernetes.io/dockerconfigjson":
            doc = json.loads(base64.b64decode(data.get(".dockerconfigjson", "")) or b"{}")
            auths = doc.get("auths") or {}
        else:
            auths = json.loads(base64.b64decode(data.get(".dockercfg", "")) or b"{}")
    except (ValueError, TypeError):
        return {}
    out: dict[str, dict[str, Any]] = {}
    if not isinstance(auths, dict):
        return out
    for key, value in auths.items():
        if not isinstance(value, dict):
            continue
        user, password = value.get("username"), value.get("password")
        if (not user or password is None) and value.get("auth"):
            try:
                user, _, password = base64.b64decode(value["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                continue
        out[key] = {"username": user or "", "password": password or ""}
    return out


def _split_key(key: str) -> tuple[str, str]:
    for prefix in ("https://", "http://"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    host, _, path = key.partition("/")
    return host, path.rstrip("/")


def key_matches(key: str, host: str, repository: str) -> bool:
    """Return whether a keyring key (``host[:port][/path]``) applies to ``host``/``repository``."""
    key_host, key_path = _split_key(key)
    if key_host in ("index.docker.io", "docker.io") and host in (
        "docker.io",
        "registry-1.docker.io",
    ):
        key_host = host
    kh, _, kport = key_host.partition(":")
    ih, _, iport = host.partition(":")
    if kport != iport or not fnmatch.fnmatchcase(ih, kh):
        return False
    return not key_path or repository == key_path or repository.startswith(key_path + "/")


def credentials_for(secret: dict[str, Any], host: str, repository: str) -> tuple[str, str] | None:
    """Return (username, password) from a docker Secret for an image, or None if no key matches."""
    for key, value in entries(secret).items():
        if key_matches(key, host, repository):
            return value["username"], value["password"]
    return None


def dockercfg_data(auths: dict[str, tuple[str, str]]) -> str:
    """Return base64 ``.dockercfg`` content for registry -> (username, password)."""
    doc = {
        host: {
            "username": user,
            "password": password,
            "auth": base64.b64encode(f"{user}:{password}".encode()).decode(),
            "email": "serviceaccount@example.org",
        }
        for host, (user, password) in auths.items()
    }
    return base64.b64encode(json.dumps(doc).encode()).decode()
