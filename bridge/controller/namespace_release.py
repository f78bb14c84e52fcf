"""Namespace deletion and disowning: what happens when a managed namespace goes or leaves.

A namespace being deleted has its organization deleted (or retained, by policy) before the
finalizer is released, never later than the integration's deadline. A namespace that no
integration selects any more loses the finalizer and the managed label, and keeps its Quay data.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from bridge.controller.cluster_view import ClusterView, meta_of, namespace_ref
from bridge.controller.integrations import parse_time
from bridge.controller.namespace_patching import NamespacePatcher
from bridge.controller.ports import ClusterApi
from bridge.controller.provisioning import Provisioner
from bridge.controller.scheduler import Scheduler
from bridge.metrics import Metrics
from bridge.model import naming, planning
from bridge.model.ownership import claim_of
from bridge.quay import errors as qe
from vocabulary import FINALIZER

log = logging.getLogger(__name__)


class NamespaceReleaser:
    """Releases namespaces: once their organization is deleted, or when nothing selects them."""

    def __init__(
        self,
        cluster: ClusterApi,
        view: ClusterView,
        scheduler: Scheduler,
        provisioner: Provisioner,
        patcher: NamespacePatcher,
        metrics: Metrics,
    ) -> None:
        self.cluster = cluster
        self.view = view
        self.scheduler = scheduler
        self.provisioner = provisioner
        self.patcher = patcher
        self.metrics = metrics

    async def finalize(self, namespace: str, body: dict[str, Any]) -> None:
        """A namespace being deleted: delete (or retain) its organization, then release it."""
        meta = meta_of(body)
        if FINALIZER not in (meta.get("finalizers") or []):
            self.view.unmanage(namespace)
            return
        integration = self.view.owner(namespace, body)
        record = self.view.state.records.get(namespace)
        if integration is None or integration.spec is None:
            await self.release(namespace, body, "no integration manages it any more", False)
            return
        spec = integration.spec
        org = record.organization if record else None
        if org is None:
            try:
                org = naming.organization_name(spec.prefix, namespace)
            except naming.InvalidQuayName:
                await self.release(namespace, body, "it had no Quay organization", False)
                return
        if spec.organization_deletion_policy == "Retain":
            await self.release(
                namespace, body, f"organization {org} retained in Quay (policy Retain)", False
            )
            return
        deadline = (parse_time(meta.get("deletionTimestamp")) or time.time()) + (
            spec.namespace_deletion_deadline_seconds
        )
        try:
            if integration.client is None:
                raise qe.Unavailable(f"integration {integration.name} is not ready")
            ownership = await self.provisioner.owns(integration, org, claim_of(body, FINALIZER))
            if ownership is None:
                self.metrics.reconciles.labels("deletion", "ok").inc()
                await self.release(namespace, body, f"organization {org} was already gone", False)
                return
            if not ownership.usable:
                self.metrics.reconciles.labels("deletion", "not_owned").inc()
                await self.release(
                    namespace, body, f"organization {org} not deleted: {ownership.reason}", True
                )
                return
            await self.provisioner.delete_organization(integration, org)
        except qe.QuayError as exc:
            integration.note_quay_error(exc)
            remaining = deadline - time.time()
            if remaining <= 0:
                self.metrics.reconciles.labels("deletion", "deadline").inc()
                await self.release(
                    namespace,
                    body,
                    f"deadline of {spec.namespace_deletion_deadline_seconds}s reached; organization"
                    f" {org} and its robots and repositories were left in Quay: {exc}",
                    True,
                )
                return
            self.metrics.reconciles.labels("deletion", "retry").inc()
            delay = min(self.scheduler.backoff(namespace), remaining)
            log.warning(
                "namespace %s: deleting %s failed (%s); retry in %.1fs", namespace, org, exc, delay
            )
            self.scheduler.retry_in(namespace, delay)
            return
        self.metrics.reconciles.labels("deletion", "ok").inc()
        await self.release(namespace, body, f"organization {org} deleted from Quay", False)

    async def release(self, namespace: str, body: dict[str, Any], why: str, warning: bool) -> None:
        """Remove the finalizer and label, say ``why`` in an Event, and forget the record."""
        await self.patcher.patch_with(namespace, body, planning.release_patch)
        await self.cluster.post_event(
            namespace_ref(body),
            "QuayCleanupIncomplete" if warning else "QuayCleanup",
            why,
            warning=warning,
        )
        self.view.unmanage(namespace)
        self.scheduler.succeeded(namespace)

    async def disown(self, namespace: str, body: dict[str, Any]) -> None:
        """Remove our finalizer and managed label from a namespace no integration selects.

        Its Quay organization, robots and pull Secrets stay: leaving a selection is not a
        deletion, and workloads may still pull with those Secrets. An Event says so.
        """
        current = self.view.namespaces.get(namespace, body)
        if planning.disown_patch(current) is None:
            return
        record = self.view.state.records.get(namespace)
        if not await self.patcher.patch_with(namespace, current, planning.disown_patch):
            return
        current = self.view.namespaces.get(namespace, current)
        org = f"organization {record.organization}" if record else "its Quay organization"
        log.info("namespace %s is no longer selected by any QuayIntegration", namespace)
        await self.cluster.post_event(
            namespace_ref(current),
            "QuayUnmanaged",
            "no QuayIntegration selects this namespace any more: the quay-bridge finalizer and"
            f" managed label were removed; {org}, its robots and the pull Secrets were left in"
            " place (delete them in Quay and here if they are no longer needed)",
        )
