"""What the watches have shown: ServiceAccounts, the bridge's pull Secrets and ImageStreams.

The informers stream every change of these objects to the controller anyway; keeping the latest
state of each lets a reconcile plan without listing them again, so a namespace costs writes only
(and nothing when it is in place). Only the fields the bridge reads are kept (:func:`slim`): a real
API server sends ``managedFields`` and annotations of several kilobytes with every object, and a
cluster has many more ServiceAccounts than the bridge links. The cache may lag behind the API server
for an instant: every write it leads to is guarded (JSON Patch ``test`` on resourceVersion, create
answering 409), and the periodic resync lists for real.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from vocabulary import MANAGED_LABEL

#: Metadata fields the bridge reads from cached objects (and informers keep for deletions).
META_FIELDS = ("name", "namespace", "uid", "resourceVersion", "labels", "deletionTimestamp")
#: Top-level fields kept per kind: links of a ServiceAccount, the login of a pull Secret.
ACCOUNT_FIELDS = ("secrets", "imagePullSecrets")
SECRET_FIELDS = ("type", "data")


def slim_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """The metadata fields in :data:`META_FIELDS` that are present."""
    return {key: meta[key] for key in META_FIELDS if key in meta}


def slim(body: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """``body`` with its slim metadata and only the top-level ``fields`` that are present."""
    kept = {key: body[key] for key in fields if key in body}
    kept["metadata"] = slim_meta(body.get("metadata") or {})
    return kept


def _version(body: dict[str, Any]) -> int:
    try:
        return int((body.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


class ObjectCache:
    """Latest (slimmed) bodies of one namespaced kind, by namespace and name."""

    def __init__(self, fields: tuple[str, ...] = ()) -> None:
        self._objects: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self._fields = fields

    def put(self, body: dict[str, Any]) -> None:
        """Remember ``body`` unless a newer version of the object is already known."""
        meta = body.get("metadata") or {}
        namespace, name = meta.get("namespace"), meta.get("name")
        if not namespace or not name:
            return
        known = self._objects[namespace].get(name)
        if known is None or _version(known) <= _version(body):
            self._objects[namespace][name] = slim(body, self._fields)

    def drop(self, body: dict[str, Any]) -> None:
        """Forget the object of ``body``."""
        meta = body.get("metadata") or {}
        self._objects.get(meta.get("namespace") or "", {}).pop(meta.get("name") or "", None)

    def update(self, body: dict[str, Any], *, deleted: bool) -> None:
        """Follow one watch event: forget the object when ``deleted``, else remember ``body``."""
        if deleted:
            self.drop(body)
        else:
            self.put(body)

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
        self._objects[namespace] = {b["metadata"]["name"]: slim(b, self._fields) for b in bodies}


class Caches:
    """The three caches the controller keeps."""

    def __init__(self) -> None:
        self.accounts = ObjectCache(ACCOUNT_FIELDS)
        self.secrets = ObjectCache(SECRET_FIELDS)
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
