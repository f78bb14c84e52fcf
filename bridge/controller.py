"""The controller: routes cluster events to per-namespace reconciles and runs the periodic loops.

kopf handlers (``bridge.handlers``) and the controller's informers (``bridge.following``) hand
every event to :class:`Controller`. Its behaviour is split by topic, each class building on the
previous one: ``scheduling`` (state, one coalesced reconcile at a time per namespace, ownership),
``finalizing`` (namespace deletion, disowning), ``reconciling`` (the namespace reconcile),
``looping`` (status, resync, rotation) and ``reacting`` (the event handlers). This module adds the
life cycle: start, stop, the webhook's ``ensure_now`` and selection rules, and peering.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from bridge import naming, selection
from bridge.cluster import Cluster, KubeError, NotFound
from bridge.metrics import Metrics
from bridge.peering import Peering
from bridge.reacting import Reacting
from bridge.scheduling import (
    HEALTH_INTERVAL,
    PEERING_WAIT,
    is_waiting_project,
    meta_of,
)
from bridge.state import BridgeState
from webhook.views import Destination

log = logging.getLogger(__name__)

__all__ = ["Controller", "is_waiting_project"]


class Controller(Reacting):
    """All of the operator's run-time state and behaviour."""

    def __init__(
        self,
        cluster: Cluster,
        metrics: Metrics,
        state: BridgeState,
        peering: Peering | None = None,
    ) -> None:
        super().__init__(cluster, metrics, state, peering)
        state.install_ensure(self.ensure_now)
        state.install_rules(self)

    async def start(self, *, follow: bool = False) -> None:
        """Load the integrations that exist and start the loops (kopf's startup hook).

        With ``follow`` the controller also lists and watches the objects it reacts to
        (:mod:`bridge.following`): ServiceAccounts, pull Secrets and ImageStreams first, so their
        caches are complete before the first namespace reconcile; then Namespaces and each
        integration's credentials and CA bundle.
        """
        try:
            groups = await self.cluster.api_groups()
        except KubeError as exc:
            log.warning("API discovery failed (%s); assuming OpenShift's APIs are served", exc)
            groups = {"image.openshift.io", "build.openshift.io"}
        self.images_available = "image.openshift.io" in groups
        skipped = [
            what
            for group, what in (
                ("image.openshift.io", "repositories per ImageStream"),
                ("build.openshift.io", "imports after Builds"),
            )
            if group not in groups
        ]
        if skipped:
            log.info("not an OpenShift API server: skipping %s", " and ".join(skipped))
        if self.peering is not None and self._on_activity not in self.peering.listeners:
            self.peering.listeners.append(self._on_activity)
            self._spawn(self.peering.run())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.peering.informer.synced.wait(), PEERING_WAIT)
        if follow:
            self.following = True
            await self.followers.start_objects(
                on_service_account=self.on_service_account,
                on_secret=self.on_secret,
                on_image_stream=self.on_image_stream if self.images_available else None,
            )
        await self._list_integrations()
        if follow:
            self.followers.start_namespaces(self.on_namespace)
        self._spawn(self._status_loop())
        self._spawn(self._health_loop())
        self.started = True

    async def _list_integrations(self) -> None:
        """Load every QuayIntegration; until that has succeeded no namespace is disowned."""
        try:
            existing = await self.cluster.list_integrations()
        except KubeError as exc:
            log.warning(
                "could not list QuayIntegrations (retrying every %.0fs): %s", HEALTH_INTERVAL, exc
            )
            return
        listed = {str((body.get("metadata") or {}).get("name")) for body in existing}
        for name in [n for n in self.integrations if n not in listed]:
            # Known before (a start after the API server lost its state): gone now.
            await self.on_integration("DELETED", {"metadata": {"name": name}})
        for body in existing:
            await self.on_integration("ADDED", body)
        self.integrations_listed = True

    async def stop(self) -> None:
        """Stop following, cancel the loops and close the Quay clients."""
        await self.followers.stop()
        for task in list(self._tasks) + list(self._loops.values()):
            task.cancel()
        for task in list(self._tasks) + list(self._loops.values()):
            with contextlib.suppress(BaseException):
                await task
        for integration in self.integrations.values():
            await integration.close()

    def _on_activity(self, active: bool) -> None:
        if not active:
            return
        # Everything seen while passive was only observed: reconcile it all, reading first.
        self._fingerprints.clear()
        self._status_dirty.update(self.integrations)
        self._kick_all()

    async def ensure_now(self, namespace: str) -> None:
        """Reconcile ``namespace`` now and return when done (the webhook's ``ensure_now``).

        The webhook may ask before the watches have shown the namespace or its ServiceAccounts,
        so the namespace is read if unknown and the pass lists Secrets and ServiceAccounts afresh.
        """
        if namespace not in self.namespaces:
            try:
                self._remember_namespace(await self.cluster.get_namespace(namespace))
            except NotFound:
                return
        if not self.state.builder_ready(namespace):
            self._relist.add(namespace)
            self._invalidate(namespace)
        await self.run(namespace)

    def rules_known(self) -> bool:
        """Whether every QuayIntegration is loaded (the webhook's selection needs them all)."""
        return self.integrations_listed

    def labels_seen(self, namespace: str) -> Mapping[str, str] | None:
        """The labels of a namespace in the controller's cache; ``None`` when it has not seen it."""
        body = self.namespaces.get(namespace)
        if body is None:
            return None
        return dict(meta_of(body).get("labels") or {})

    def destination_by_rules(self, namespace: str, labels: Mapping[str, str]) -> Destination | None:
        """Where ``namespace``'s Builds push when exactly one integration selects it (no I/O).

        The same rules as the reconcile (``selection.claimants``, the operator's own namespace
        never, a conflict managed by none, an organization name Quay accepts), without recording
        conflicts: the webhook asks, the reconcile reports.
        """
        names = selection.claimants(self._specs(), namespace, labels, self.never_managed)
        if len(names) != 1:
            return None
        spec = self.integrations[names[0]].spec
        if spec is None:
            return None
        try:
            organization = naming.organization_name(spec.prefix, namespace)
        except naming.InvalidQuayName:
            return None
        return Destination(
            registry_host=spec.registry_host,
            organization=organization,
            insecure_registry=spec.insecure_registry,
            scheduled_import=spec.scheduled_image_stream_import,
        )

    async def read_namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        """Read a namespace the watch has not shown yet, and remember it for ``ensure_now``."""
        try:
            body = await self.cluster.get_namespace(namespace)
        except NotFound:
            return None
        self._remember_namespace(body)
        return dict(meta_of(body).get("labels") or {})

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(HEALTH_INTERVAL)
            if not self.integrations_listed:
                await self._list_integrations()
            for integration in list(self.integrations.values()):
                if integration.spec is not None and not integration.usable:
                    await self._refresh(integration)
