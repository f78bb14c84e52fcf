"""The key the webhook signs its Build decisions with, kept in a Secret of the operator's namespace.

Every replica's webhook signs and every replica's Build completion verifies
(``webhook.decisions``), across restarts and under ``--peering``, so the key must be shared and
durable: it lives in the Secret :data:`SECRET_NAME` (key :data:`SECRET_KEY`) of the operator's own
namespace, which only the operator (and cluster admins) can read. The first replica to start creates
it with 32 random bytes; a replica that loses the creation race reads the winner's. Deleting the
Secret rotates the key at the next operator start; Builds rewritten before then and completing after
are refused (Warning Event) and can be re-run.

When the Secret cannot be read or created (the namespace does not exist, the API server refuses),
the operator keeps a key of its own process and says so: one replica still works, but its Builds
completing after a restart are refused.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import secrets
from typing import Any, Final

from bridge.kube.cluster import Cluster, Conflict, KubeError
from webhook.decisions import MINIMUM_KEY_BYTES

log = logging.getLogger(__name__)

SECRET_NAME: Final = "quay-bridge-build-decisions"
SECRET_KEY: Final = "key"
#: Tries before falling back to a process-local key (connection errors and 5xx only).
ATTEMPTS: Final = 5


def _decode(secret: dict[str, Any]) -> bytes | None:
    """Return the key held by ``secret``, or None when it holds none usable."""
    value = (secret.get("data") or {}).get(SECRET_KEY)
    if not isinstance(value, str):
        return None
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if len(key) >= MINIMUM_KEY_BYTES else None


def _body(key: bytes) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": SECRET_NAME,
            "labels": {"app.kubernetes.io/name": "quay-bridge"},
        },
        "type": "Opaque",
        "data": {SECRET_KEY: base64.b64encode(key).decode()},
    }


async def ensure_decision_key(cluster: Cluster, namespace: str, delay: float = 1.0) -> bytes:
    """Return the shared decision key, creating its Secret in ``namespace`` when absent.

    A Secret holding no usable key (edited by hand) is replaced. Never raises for API errors:
    after :data:`ATTEMPTS` failed tries (or a refusal) it returns a process-local key and logs
    a warning naming the Secret.
    """
    problem = ""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            existing = await cluster.read_secret(namespace, SECRET_NAME)
            if existing is not None:
                key = _decode(existing)
                if key is not None:
                    return key
                log.warning(
                    "Secret %s/%s holds no usable %r (%d+ random bytes, base64): replacing it",
                    namespace,
                    SECRET_NAME,
                    SECRET_KEY,
                    MINIMUM_KEY_BYTES,
                )
                key = secrets.token_bytes(32)
                body = _body(key)
                body["metadata"]["resourceVersion"] = existing["metadata"].get("resourceVersion")
                await cluster.replace_secret(namespace, SECRET_NAME, body)
                return key
            key = secrets.token_bytes(32)
            await cluster.create_secret(namespace, _body(key))
            log.info("created the Build decision key in Secret %s/%s", namespace, SECRET_NAME)
            return key
        except KubeError as exc:
            if isinstance(exc, Conflict):
                continue  # another replica created or replaced it: read theirs
            problem = f"HTTP {exc.status}: {exc.message[:200]}" if exc.status else exc.message
            if exc.status and exc.status < 500:
                break
        if attempt < ATTEMPTS:
            await asyncio.sleep(delay * attempt)
    log.warning(
        "cannot keep the Build decision key in Secret %s/%s (%s): using a key of this process "
        "only, so Builds rewritten by another replica or before a restart will not be imported",
        namespace,
        SECRET_NAME,
        problem or "it kept changing",
    )
    return secrets.token_bytes(32)
