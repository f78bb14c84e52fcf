"""Namespace writes that survive concurrent changes: JSON Patches planned again after a conflict."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge.controller.cluster_view import ClusterView
from bridge.controller.ports import ClusterApi
from bridge.kube.cluster import Conflict, Invalid, KubeError, NotFound
from bridge.model import planning

Plan = Callable[[dict[str, Any]], list[dict[str, Any]] | None]


class NamespacePatcher:
    """Applies the bridge's namespace patches and keeps the view's namespace bodies current."""

    def __init__(self, cluster: ClusterApi, view: ClusterView, *, attempts: int) -> None:
        self.cluster = cluster
        self.view = view
        self.attempts = attempts

    async def patch_with(self, namespace: str, current: dict[str, Any], plan: Plan) -> bool:
        """Apply the JSON Patch ``plan`` makes of the namespace, planning again after a conflict.

        Every namespace patch of the bridge is guarded by a ``test`` on resourceVersion; when the
        namespace changed meanwhile it is read again and the patch planned again, at most
        ``attempts`` times. Returns False when the namespace is gone; raises KubeError when it
        kept changing.
        """
        for _ in range(self.attempts):
            ops = plan(current)
            if ops is None:
                return True
            try:
                self.view.remember_namespace(await self.cluster.patch_namespace(namespace, ops))
                return True
            except KubeError as exc:
                if isinstance(exc, NotFound):
                    return False
                if not isinstance(exc, (Conflict, Invalid)):
                    raise
            try:
                current = await self.cluster.get_namespace(namespace)
            except NotFound:
                return False
            self.view.remember_namespace(current)
        raise KubeError(409, f"namespace {namespace} kept changing")

    async def annotate(
        self, namespace: str, body: dict[str, Any], annotations: dict[str, str]
    ) -> None:
        """Set the bridge's label, finalizer and ``annotations``; raises when it is gone."""
        current = self.view.namespaces.get(namespace, body)
        if not await self.patch_with(
            namespace, current, lambda ns: planning.namespace_patch(ns, annotations)
        ):
            raise KubeError(404, f"namespace {namespace} is gone")
