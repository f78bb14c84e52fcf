"""The controller's loops: first pass, status writes, resync (drift repair), token rotation.

Each integration has one loop for resync and periodic rotation (its schedule kept in the status,
so a restart neither skips nor delays it); one loop writes changed statuses every half second.
Resync and rotation are background work (``bridge.limiting.background``): their Quay calls wait
behind any caused by an event. A resync spreads its namespaces over most of its period, each at a
random moment, so Quay sees a trickle rather than a burst; it repairs the cluster side of every
namespace without a Quay call, and reads one part of a namespace's Quay side only when that
namespace's last Quay read is ``quayResyncPeriodSeconds`` old.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from bridge.cluster import QI_GROUP, QI_VERSION, KubeError
from bridge.integration_events import IntegrationEvent, failures_event, readiness_event
from bridge.integrations import Integration, now_iso
from bridge.limiting import background
from bridge.provisioning import CHECK_PARTS
from bridge.reconciling import Reconciling
from bridge.scheduling import (
    STATUS_INTERVAL,
)

log = logging.getLogger(__name__)

#: Share of the resync period a resync spreads its namespaces over.
RESYNC_SPREAD = 0.9


class Looping(Reconciling):
    """The periodic work of the controller."""

    async def _first_pass(self, integration: Integration) -> None:
        """Reconcile every namespace once, then let the integration's status be written.

        Namespaces are listed here rather than awaited from the watch, which may not have started.
        """
        try:
            for body in await self.cluster.list_namespaces():
                self._remember_namespace(body)
        except KubeError as exc:
            log.warning("could not list namespaces: %s", exc)
        tasks = [self.kick(name) for name in list(self.namespaces)]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        integration.synced = True
        self._status_dirty.add(integration.name)

    async def _refresh(self, integration: Integration) -> None:
        was_usable = integration.usable
        try:
            await integration.refresh(self.cluster)
        except KubeError as exc:
            log.warning("integration %s: refresh failed: %s", integration.name, exc)
        except Exception:
            log.exception("integration %s: refresh failed", integration.name)
        self._status_dirty.add(integration.name)
        if integration.usable and not was_usable:
            self._kick_all()

    def _restart_loop(self, integration: Integration) -> None:
        old = self._loops.pop(integration.name, None)
        if old is not None:
            old.cancel()
        self._loops[integration.name] = asyncio.get_running_loop().create_task(
            self._periodic(integration)
        )

    async def _periodic(self, integration: Integration) -> None:
        """Resync (drift repair) and periodic token rotation for one integration."""
        spec = integration.spec
        if spec is None:
            return
        resync = float(spec.resync_period_seconds)
        rotation = float(spec.robot_token_rotation_seconds)
        next_resync = time.monotonic() + resync
        next_rotation = float("inf")
        resyncing: asyncio.Task[None] | None = None
        while not integration.synced:
            # Rotation applies to the namespaces the first pass finds: wait for it.
            await asyncio.sleep(STATUS_INTERVAL)
        if rotation > 0:
            wait = integration.rotation_due(rotation) - time.time()
            next_rotation = time.monotonic() + max(0.0, wait)
        try:
            while True:
                await asyncio.sleep(max(0.0, min(next_resync, next_rotation) - time.monotonic()))
                now = time.monotonic()
                if now >= next_rotation and not self.active:
                    # The active replica rotates; follow its schedule (it writes it to the status).
                    wait = integration.rotation_due(rotation) - time.time()
                    next_rotation = now + max(wait, STATUS_INTERVAL)
                elif now >= next_rotation:
                    next_rotation = now + rotation
                    integration.last_rotation = now_iso()
                    self._status_dirty.add(integration.name)
                    with background():
                        for record in self.state.for_integration(integration.name):
                            self._rotate.add(record.namespace)
                            self.kick(record.namespace)
                if now >= next_resync:
                    next_resync = now + resync
                    if resyncing is None or resyncing.done():
                        with background():
                            resyncing = self._spawn(
                                self._resync_logged(integration, spread=resync * RESYNC_SPREAD)
                            )
        finally:
            if resyncing is not None:
                resyncing.cancel()

    async def _resync_logged(self, integration: Integration, *, spread: float) -> None:
        try:
            await self.resync(integration, spread=spread)
        except Exception:
            log.exception("resync of integration %s failed", integration.name)

    async def resync(self, integration: Integration, *, spread: float = 0.0) -> None:
        """Repair drift of every namespace of ``integration``, spread over ``spread`` seconds.

        The cluster side is listed afresh and repaired; the Quay side of a namespace is read (one
        part, ``CHECK_PARTS`` in turn) only when its last Quay read is ``quayResyncPeriodSeconds``
        old, give or take half a resync period.
        """
        await self._refresh(integration)
        spec = integration.spec
        if spec is None:
            return
        names = [n for n in self.namespaces if n not in self.state.records] + [
            r.namespace for r in self.state.for_integration(integration.name)
        ]
        due_after = spec.quay_resync_period_seconds - spec.resync_period_seconds / 2

        async def one(namespace: str, delay: float) -> None:
            await asyncio.sleep(delay)
            checked = self._quay_checked.get(namespace)
            record = self.state.records.get(namespace)
            if record is not None and record.quay_ready:
                if checked is None or time.monotonic() - checked >= due_after:
                    turn = self._check_turn[namespace]
                    self._check_turn[namespace] = turn + 1
                    self._check[namespace] = CHECK_PARTS[turn % len(CHECK_PARTS)]
                self._relist.add(namespace)
            await self.kick(namespace)

        tasks = [self._spawn(one(n, random.uniform(0.0, spread))) for n in names]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        integration.last_sync = now_iso()
        self._status_dirty.add(integration.name)

    async def reread(self, integration: Integration) -> None:
        """Read Quay in full for every namespace of ``integration`` (a spec change affecting it)."""
        await self._refresh(integration)
        names = [n for n in self.namespaces if n not in self.state.records] + [
            r.namespace for r in self.state.for_integration(integration.name)
        ]
        tasks = [self.kick(n, observe=n in self.state.records) for n in names]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        integration.last_sync = now_iso()
        self._status_dirty.add(integration.name)

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(STATUS_INTERVAL)
            if not self.active:
                continue  # the active replica writes the status
            dirty, self._status_dirty = self._status_dirty, set()
            for name in dirty:
                found = self.integrations.get(name)
                if found is None:
                    continue
                if found.usable and not found.synced:
                    self._status_dirty.add(name)  # hold intermediate counts back
                    continue
                try:
                    await self.write_status(found)
                except Exception:
                    log.exception("status of integration %s not written", name)

    async def write_status(self, integration: Integration) -> None:
        """Patch the CR's status if it differs from what was last written; post its Events."""
        records = self.state.for_integration(integration.name)
        body = integration.status_body(records)
        if body == integration.written_status:
            return
        before = integration.written_status
        try:
            await self.cluster.patch_integration_status(integration.name, body)
            integration.written_status = body
        except KubeError as exc:
            log.warning("status of %s not written: %s", integration.name, exc)
            self._status_dirty.add(integration.name)
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
