"""What the watches have shown: ServiceAccounts, the bridge's pull Secrets and ImageStreams.

kopf streams every change of these objects to the controller anyway; keeping the latest body of each
lets a reconcile plan without listing them again, so a namespace costs writes only (and nothing when
it is in place). The cache may lag behind the API server for an instant: every write it leads to is
guarded (JSON Patch ``test`` on resourceVersion, create answering 409), and the periodic resync
lists for real.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bridge.planning import MANAGED_LABEL


def _version(body: dict[str, Any]) -> int:
    try:
        return int((body.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


class ObjectCache:
    """Latest bodies of one namespaced kind, by namespace and name."""

    def __init__(self) -> None:
        self._objects: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)

    def put(self, body: dict[str, Any]) -> None:
        """Remember ``body`` unless a newer version of the object is already known."""
        meta = body.get("metadata") or {}
        namespace, name = meta.get("namespace"), meta.get("name")
        if not namespace or not name:
            return
        known = self._objects[namespace].get(name)
        if known is None or _version(known) <= _version(body):
            self._objects[namespace][name] = body

    def drop(self, body: dict[str, Any]) -> None:
        """Forget the object of ``body``."""
        meta = body.get("metadata") or {}
        self._objects.get(meta.get("namespace") or "", {}).pop(meta.get("name") or "", None)

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The latest body, or None."""
        return self._objects.get(namespace, {}).get(name)

    def names(self, namespace: str) -> list[str]:
        """Names of the objects known in ``namespace``."""
        return sorted(self._objects.get(namespace, {}))

    def forget_namespace(self, namespace: str) -> None:
        """Drop everything of a deleted namespace."""
        self._objects.pop(namespace, None)

    def replace_namespace(self, namespace: str, bodies: list[dict[str, Any]]) -> None:
        """Replace a namespace's objects with a fresh listing (resync)."""
        self._objects[namespace] = {b["metadata"]["name"]: b for b in bodies}


class Caches:
    """The three caches the controller keeps."""

    def __init__(self) -> None:
        self.accounts = ObjectCache()
        self.secrets = ObjectCache()
        self.streams = ObjectCache()

    @staticmethod
    def is_pull_secret(body: dict[str, Any]) -> bool:
        """True for a Secret the bridge manages (by its label)."""
        labels = (body.get("metadata") or {}).get("labels") or {}
        return labels.get(MANAGED_LABEL) == "true"

    def forget_namespace(self, namespace: str) -> None:
        """Drop everything cached for a deleted namespace."""
        for cache in (self.accounts, self.secrets, self.streams):
            cache.forget_namespace(namespace)
