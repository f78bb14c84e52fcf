"""The per-integration work: first pass, status writes, resync (drift repair), token rotation.

Each integration has one loop for resync and periodic rotation (its schedule kept in the status,
so a restart neither skips nor delays it); one loop writes changed statuses every
``OperatorSettings.status_interval``. Resync and rotation are background work
(``bridge.quay.limiting.background``): their Quay calls wait behind any caused by an event. A resync
spreads its namespaces over most of its period, each at a random moment, so Quay sees a trickle
rather than a burst; it repairs the cluster side of every namespace without a Quay call, and reads
one part of a namespace's Quay side only when that namespace's last Quay read is
``quayResyncPeriodSeconds`` old.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

from bridge.controller.cluster_view import ClusterView
from bridge.controller.integrations import Integration, now_iso
from bridge.controller.namespace_reconciler import NamespaceReconciler
from bridge.controller.ports import ClusterApi
from bridge.controller.scheduler import Scheduler
from bridge.kube.cluster import QI_GROUP, QI_VERSION, KubeError
from bridge.model.integration_events import IntegrationEvent, failures_event, readiness_event
from bridge.model.operator_settings import OperatorSettings
from bridge.quay.limiting import background

log = logging.getLogger(__name__)


class IntegrationLoops:
    """Keeps each integration's client healthy, its namespaces in repair, its status written."""

    def __init__(
        self,
        cluster: ClusterApi,
        view: ClusterView,
        scheduler: Scheduler,
        reconciler: NamespaceReconciler,
        settings: OperatorSettings,
    ) -> None:
        self.cluster = cluster
        self.view = view
        self.scheduler = scheduler
        self.reconciler = reconciler
        self.settings = settings
        self._loops: dict[str, asyncio.Task[None]] = {}

    # --- integration life cycle -------------------------------------------------------------

    async def first_pass(self, integration: Integration) -> None:
        """Reconcile every namespace once, then let the integration's status be written.

        Namespaces are listed here rather than awaited from the watch, which may not have started.
        """
        try:
            for body in await self.cluster.list_namespaces():
                self.view.remember_namespace(body)
        except KubeError as exc:
            log.warning("could not list namespaces: %s", exc)
        tasks = [self.scheduler.kick(name) for name in list(self.view.namespaces)]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        integration.synced = True
        self.view.status_dirty.add(integration.name)

    async def refresh(self, integration: Integration) -> None:
        """Read the integration's credentials and CA again and probe Quay.

        When that makes it usable, every namespace is passed again (they waited for it).
        """
        was_usable = integration.usable
        try:
            await integration.refresh(self.cluster)
        except KubeError as exc:
            log.warning("integration %s: refresh failed: %s", integration.name, exc)
        except Exception:
            log.exception("integration %s: refresh failed", integration.name)
        self.view.status_dirty.add(integration.name)
        if integration.usable and not was_usable:
            self.scheduler.kick_all(self.view.namespaces)

    def restart(self, integration: Integration) -> None:
        """(Re)start the integration's resync and rotation loop, on its current spec."""
        self.stop(integration.name)
        self._loops[integration.name] = asyncio.get_running_loop().create_task(
            self._periodic(integration)
        )

    def stop(self, name: str) -> None:
        """Stop the loop of integration ``name`` (deleted, or about to be restarted)."""
        old = self._loops.pop(name, None)
        if old is not None:
            old.cancel()

    def cancel_all(self) -> list[asyncio.Task[None]]:
        """Cancel every integration's loop; returns them, to be awaited."""
        loops = list(self._loops.values())
        for task in loops:
            task.cancel()
        return loops

    # --- resync and rotation ----------------------------------------------------------------

    async def _periodic(self, integration: Integration) -> None:
        """Resync (drift repair) and periodic token rotation for one integration."""
        spec = integration.spec
        if spec is None:
            return
        interval = self.settings.status_interval
        resync = float(spec.resync_period_seconds)
        rotation = float(spec.robot_token_rotation_seconds)
        next_resync = time.monotonic() + resync
        next_rotation = float("inf")
        resyncing: asyncio.Task[None] | None = None
        while not integration.synced:
            # Rotation applies to the namespaces the first pass finds: wait for it.
            await asyncio.sleep(interval)
        if rotation > 0:
            wait = integration.rotation_due(rotation) - time.time()
            next_rotation = time.monotonic() + max(0.0, wait)
        try:
            while True:
                await asyncio.sleep(max(0.0, min(next_resync, next_rotation) - time.monotonic()))
                now = time.monotonic()
                if now >= next_rotation and not self.view.active:
                    # The active replica rotates; follow its schedule (it writes it to the status).
                    wait = integration.rotation_due(rotation) - time.time()
                    next_rotation = now + max(wait, interval)
                elif now >= next_rotation:
                    next_rotation = now + rotation
                    integration.last_rotation = now_iso()
                    self.view.status_dirty.add(integration.name)
                    with background():
                        for record in self.view.state.for_integration(integration.name):
                            self.reconciler.request_rotation(record.namespace)
                            self.scheduler.kick(record.namespace)
                if now >= next_resync:
                    next_resync = now + resync
                    if resyncing is None or resyncing.done():
                        spread = resync * self.settings.resync_spread
                        with background():
                            resyncing = self.scheduler.spawn(
                                self._resync_logged(integration, spread=spread)
                            )
        finally:
            if resyncing is not None:
                resyncing.cancel()

    async def _resync_logged(self, integration: Integration, *, spread: float) -> None:
        try:
            await self.resync(integration, spread=spread)
        except Exception:
            log.exception("resync of integration %s failed", integration.name)

    def _namespaces_of(self, integration: Integration) -> list[str]:
        """The namespaces without a record (any integration may take them) and ``integration``'s."""
        return [n for n in self.view.namespaces if n not in self.view.state.records] + [
            r.namespace for r in self.view.state.for_integration(integration.name)
        ]

    async def resync(self, integration: Integration, *, spread: float = 0.0) -> None:
        """Repair drift of every namespace of ``integration``, spread over ``spread`` seconds.

        The cluster side is listed afresh and repaired; the Quay side of a namespace is read (one
        part in turn) only when its last Quay read is ``quayResyncPeriodSeconds`` old, give or
        take half a resync period.
        """
        await self.refresh(integration)
        spec = integration.spec
        if spec is None:
            return
        due_after = spec.quay_resync_period_seconds - spec.resync_period_seconds / 2

        async def one(namespace: str, delay: float) -> None:
            await asyncio.sleep(delay)
            self.reconciler.plan_resync(namespace, due_after)
            await self.scheduler.kick(namespace)

        tasks = [
            self.scheduler.spawn(one(n, random.uniform(0.0, spread)))
            for n in self._namespaces_of(integration)
        ]
        await self._synced(integration, tasks)

    async def reread(self, integration: Integration) -> None:
        """Read Quay in full for every namespace of ``integration`` (a spec change affecting it)."""
        await self.refresh(integration)
        tasks = []
        for name in self._namespaces_of(integration):
            if name in self.view.state.records:
                self.reconciler.request_observe(name)
            tasks.append(self.scheduler.kick(name))
        await self._synced(integration, tasks)

    async def _synced(self, integration: Integration, tasks: list[asyncio.Task[Any]]) -> None:
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        integration.last_sync = now_iso()
        self.view.status_dirty.add(integration.name)

    # --- status -----------------------------------------------------------------------------

    async def status_loop(self) -> None:
        """Write the changed statuses every ``status_interval`` (the active replica only)."""
        while True:
            await asyncio.sleep(self.settings.status_interval)
            if not self.view.active:
                continue  # the active replica writes the status
            for name in self.view.take_dirty():
                found = self.view.integrations.get(name)
                if found is None:
                    continue
                if found.usable and not found.synced:
                    self.view.status_dirty.add(name)  # hold intermediate counts back
                    continue
                try:
                    await self.write_status(found)
                except Exception:
                    log.exception("status of integration %s not written", name)

    async def write_status(self, integration: Integration) -> None:
        """Patch the CR's status if it differs from what was last written; post its Events."""
        records = self.view.state.for_integration(integration.name)
        body = integration.status_body(records)
        if body == integration.written_status:
            return
        before = integration.written_status
        try:
            await self.cluster.patch_integration_status(integration.name, body)
            integration.written_status = body
        except KubeError as exc:
            log.warning("status of %s not written: %s", integration.name, exc)
            self.view.status_dirty.add(integration.name)
            return
        events = [readiness_event(before, body)]
        if integration.usable:
            # While the integration is not ready every namespace waits for it: that is one
            # IntegrationNotReady Event, not a failure of each namespace.
            failed = {r.namespace: r.error for r in records if r.error}
            failed.update(integration.invalid_names)
            events.append(failures_event(integration.reported_failures, failed))
            integration.reported_failures = tuple(sorted(failed))
        for event in events:
            if event is not None:
                await self._post_integration_event(integration, event)

    async def _post_integration_event(
        self, integration: Integration, event: IntegrationEvent
    ) -> None:
        """Post ``event`` about the QuayIntegration (cluster-scoped: it goes into ``default``)."""
        metadata = integration.body.get("metadata") or {}
        involved = {
            "apiVersion": f"{QI_GROUP}/{QI_VERSION}",
            "kind": "QuayIntegration",
            "metadata": {"name": integration.name, "uid": metadata.get("uid")},
        }
        await self.cluster.post_event(involved, event.reason, event.message, warning=event.warning)
