"""The ``kubernetes.io/dockerconfigjson`` Secrets that carry robot credentials.

Pure: builds the Secret's data and reads it back, so the controller can tell whether a Secret
already holds the right credentials (then it writes nothing). The auth entry is keyed by the
registry host (``host[:port]``), which is how OpenShift and CRI-O match credentials to image
references.
"""

from __future__ import annotations

import base64
import json
from typing import Any

SECRET_TYPE = "kubernetes.io/dockerconfigjson"
DATA_KEY = ".dockerconfigjson"


def docker_config(registry_host: str, username: str, password: str) -> dict[str, Any]:
    """Return the dockerconfigjson document for one registry login."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {
        "auths": {
            registry_host: {"username": username, "password": password, "email": "", "auth": auth}
        }
    }


def secret_data(registry_host: str, username: str, password: str) -> dict[str, str]:
    """Return the Secret's ``data`` (base64 values) for one registry login."""
    document = json.dumps(docker_config(registry_host, username, password), sort_keys=True)
    return {DATA_KEY: base64.b64encode(document.encode()).decode()}


def read_login(data: dict[str, str] | None, registry_host: str) -> tuple[str, str] | None:
    """Return (username, password) stored for ``registry_host`` in a Secret's data, if any."""
    if not data or DATA_KEY not in data:
        return None
    try:
        document = json.loads(base64.b64decode(data[DATA_KEY]))
        entry = document["auths"][registry_host]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(entry, dict):
        return None
    username, password = entry.get("username"), entry.get("password")
    if isinstance(username, str) and isinstance(password, str):
        return username, password
    auth = entry.get("auth")
    if isinstance(auth, str):
        try:
            user, _, secret = base64.b64decode(auth).decode().partition(":")
        except ValueError:
            return None
        return user, secret
    return None
