"""The controller's composition root: builds its parts, wires them, runs their life cycle.

kopf handlers (``bridge.app.handlers``) and the controller's informers (``bridge.kube.following``)
hand every event to :class:`Controller`, which passes it to the event router. The parts, each given
its collaborators here and nothing else:

- ``cluster_view.ClusterView``: what is known (integrations, namespaces, caches, records);
- ``scheduler.Scheduler``: one coalesced pass at a time per namespace, retries, fingerprints;
- ``namespace_reconciler.NamespaceReconciler``: the pass, with ``namespace_release`` (deletion,
  disowning), ``namespace_patching`` and ``provisioning`` (the Quay and Kubernetes steps);
- ``integration_loops.IntegrationLoops``: first pass, refresh, resync, rotation, status writes;
- ``event_router.EventRouter``: what each watched object's event asks for.

This module adds the life cycle (start, stop, peering), the webhook's ``ensure_now`` and the
selection rules it asks (``state.NamespaceRules``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bridge.controller.cluster_view import ClusterView, meta_of
from bridge.controller.event_router import EventRouter
from bridge.controller.integration_loops import IntegrationLoops
from bridge.controller.integrations import Integration
from bridge.controller.namespace_patching import NamespacePatcher
from bridge.controller.namespace_reconciler import NamespaceReconciler
from bridge.controller.namespace_release import NamespaceReleaser
from bridge.controller.ports import ClusterApi, QuayConnector
from bridge.controller.provisioning import Provisioner
from bridge.controller.scheduler import Scheduler
from bridge.controller.state import BridgeState
from bridge.kube.cluster import Cluster, KubeError, NotFound
from bridge.kube.following import Followers
from bridge.kube.home import own_namespace
from bridge.kube.peering import Peering
from bridge.metrics import Metrics
from bridge.model import naming, selection
from bridge.model.operator_settings import OperatorSettings
from bridge.quay.client import QuayClient
from webhook.state_view import Destination

log = logging.getLogger(__name__)

__all__ = ["Controller", "ControllerParts", "compose"]


@dataclass(frozen=True)
class ControllerParts:
    """The controller's parts, wired to each other (see :func:`compose`)."""

    view: ClusterView
    scheduler: Scheduler
    provisioner: Provisioner
    reconciler: NamespaceReconciler
    loops: IntegrationLoops
    router: EventRouter


def compose(
    cluster: ClusterApi,
    metrics: Metrics,
    state: BridgeState,
    settings: OperatorSettings,
    *,
    is_active: Callable[[], bool],
    fips: bool = False,
    connect: QuayConnector = QuayClient,
) -> ControllerParts:
    """Build the parts on ``cluster`` and give each its collaborators.

    The scheduler runs the reconciler's pass, and the reconciler asks the scheduler for retries:
    ``run_pass`` looks the reconciler up when it first runs, by which time both exist.
    """
    view = ClusterView(state, never_managed=frozenset({own_namespace()}), is_active=is_active)

    async def run_pass(namespace: str) -> None:
        await reconciler.reconcile_safely(namespace)

    scheduler = Scheduler(settings, run_pass)
    provisioner = Provisioner(cluster, settings)
    patcher = NamespacePatcher(cluster, view, attempts=settings.patch_attempts)
    releaser = NamespaceReleaser(cluster, view, scheduler, provisioner, patcher, metrics)
    reconciler = NamespaceReconciler(
        cluster, view, scheduler, provisioner, releaser, patcher, metrics
    )
    loops = IntegrationLoops(cluster, view, scheduler, reconciler, settings)
    router = EventRouter(
        view, scheduler, reconciler, loops, provisioner, metrics, fips=fips, connect=connect
    )
    return ControllerParts(view, scheduler, provisioner, reconciler, loops, router)


class Controller:
    """The operator's controller: its parts, wired, and the entry points its callers use."""

    def __init__(
        self,
        cluster: Cluster,
        metrics: Metrics,
        state: BridgeState,
        peering: Peering | None = None,
        settings: OperatorSettings | None = None,
    ) -> None:
        self.cluster = cluster
        self.metrics = metrics
        self.state = state
        #: None when standalone (always active).
        self.peering = peering
        self.settings = settings or OperatorSettings()
        self.parts = compose(
            cluster,
            metrics,
            state,
            self.settings,
            is_active=lambda: self.active,
            fips=cluster.connection.fips,
        )
        self.view = self.parts.view
        self.scheduler = self.parts.scheduler
        self.reconciler = self.parts.reconciler
        self.loops = self.parts.loops
        self.router = self.parts.router
        self.followers = Followers(cluster, metrics, sync_timeout=self.settings.follow_sync_timeout)
        self.started = False
        state.install_ensure(self.ensure_now)
        state.install_rules(self)

    @property
    def active(self) -> bool:
        """Whether this replica may write (always, unless another peer is the active one)."""
        return self.peering is None or self.peering.active

    @property
    def integrations(self) -> dict[str, Integration]:
        """The loaded QuayIntegrations by name."""
        return self.view.integrations

    @property
    def integrations_listed(self) -> bool:
        """Whether every QuayIntegration has been loaded."""
        return self.view.integrations_listed

    async def on_integration(self, event_type: str, body: dict[str, Any]) -> None:
        """A QuayIntegration changed (kopf's handler, ``bridge.app.handlers``)."""
        await self.router.on_integration(event_type, body)

    async def start(self, *, follow: bool = False) -> None:
        """Load the integrations that exist and start the loops (kopf's startup hook).

        With ``follow`` the controller also lists and watches the objects it reacts to
        (:mod:`bridge.kube.following`): ServiceAccounts, pull Secrets and ImageStreams first, so
        their caches are complete before the first namespace reconcile; then Namespaces and each
        integration's credentials and CA bundle.
        """
        try:
            groups = await self.cluster.api_groups()
        except KubeError as exc:
            log.warning("API discovery failed (%s); assuming OpenShift's APIs are served", exc)
            groups = {"image.openshift.io", "build.openshift.io"}
        self.view.images_available = "image.openshift.io" in groups
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
            self.scheduler.spawn(self.peering.run())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self.peering.informer.synced.wait(), self.settings.peering_wait
                )
        router = self.router
        if follow:
            router.follow_references_with(self.followers)
            await self.followers.start_objects(
                on_service_account=router.on_service_account,
                on_secret=router.on_secret,
                on_image_stream=router.on_image_stream if self.view.images_available else None,
            )
        await self._list_integrations()
        if follow:
            self.followers.start_namespaces(router.on_namespace)
        self.scheduler.spawn(self.loops.status_loop())
        self.scheduler.spawn(self._health_loop())
        self.started = True

    async def _list_integrations(self) -> None:
        """Load every QuayIntegration; until that has succeeded no namespace is disowned."""
        try:
            existing = await self.cluster.list_integrations()
        except KubeError as exc:
            log.warning(
                "could not list QuayIntegrations (retrying every %.0fs): %s",
                self.settings.health_interval,
                exc,
            )
            return
        listed = {str((body.get("metadata") or {}).get("name")) for body in existing}
        for name in [n for n in self.view.integrations if n not in listed]:
            # Known before (a start after the API server lost its state): gone now.
            await self.router.on_integration("DELETED", {"metadata": {"name": name}})
        for body in existing:
            await self.router.on_integration("ADDED", body)
        self.view.integrations_listed = True

    async def stop(self) -> None:
        """Stop following, cancel the loops and close the Quay clients."""
        await self.followers.stop()
        await self.scheduler.stop(also=self.loops.cancel_all())
        for integration in self.view.integrations.values():
            await integration.close()

    def _on_activity(self, active: bool) -> None:
        if not active:
            return
        # Everything seen while passive was only observed: reconcile it all, reading first.
        self.scheduler.invalidate_all()
        self.view.status_dirty.update(self.view.integrations)
        self.scheduler.kick_all(self.view.namespaces)

    async def ensure_now(self, namespace: str) -> None:
        """Reconcile ``namespace`` now and return when done (the webhook's ``ensure_now``).

        The webhook may ask before the watches have shown the namespace or its ServiceAccounts,
        so the namespace is read if unknown and the pass lists Secrets and ServiceAccounts afresh.
        """
        if namespace not in self.view.namespaces:
            try:
                self.view.remember_namespace(await self.cluster.get_namespace(namespace))
            except NotFound:
                return
        if not self.state.builder_ready(namespace):
            self.reconciler.request_relist(namespace)
            self.scheduler.invalidate(namespace)
        await self.scheduler.run(namespace)

    def rules_known(self) -> bool:
        """Whether every QuayIntegration is loaded (the webhook's selection needs them all)."""
        return self.view.integrations_listed

    def labels_seen(self, namespace: str) -> Mapping[str, str] | None:
        """The labels of a namespace in the controller's cache; ``None`` when it has not seen it."""
        body = self.view.namespaces.get(namespace)
        if body is None:
            return None
        return dict(meta_of(body).get("labels") or {})

    def destination_by_rules(self, namespace: str, labels: Mapping[str, str]) -> Destination | None:
        """Where ``namespace``'s Builds push when exactly one integration selects it (no I/O).

        The same rules as the reconcile (``selection.claimants``, the operator's own namespace
        never, a conflict managed by none, an organization name Quay accepts), without recording
        conflicts: the webhook asks, the reconcile reports.
        """
        names = selection.claimants(self.view.specs(), namespace, labels, self.view.never_managed)
        if len(names) != 1:
            return None
        spec = self.view.integrations[names[0]].spec
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
        self.view.remember_namespace(body)
        return dict(meta_of(body).get("labels") or {})

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.health_interval)
            if not self.view.integrations_listed:
                await self._list_integrations()
            for integration in list(self.view.integrations.values()):
                if integration.spec is not None and not integration.usable:
                    await self.loops.refresh(integration)
