"""What the controller does for each kind of object its watches report.

Events that need only a small step (a late ServiceAccount, one ImageStream, a deleted pull Secret)
are served from the in-memory state without a full pass and without Quay calls where possible;
the rest ask the scheduler for a namespace pass. QuayIntegration events start, restart and stop
the integration's loops (``bridge.controller.integration_loops``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

from bridge.controller.cluster_view import ClusterView, meta_of
from bridge.controller.integration_loops import IntegrationLoops
from bridge.controller.integrations import Integration
from bridge.controller.namespace_reconciler import NamespaceReconciler
from bridge.controller.ports import QuayConnector
from bridge.controller.provisioning import Provisioner
from bridge.controller.scheduler import Scheduler
from bridge.controller.state import NamespaceRecord
from bridge.kube.cluster import KubeError
from bridge.kube.following import Followers
from bridge.metrics import Metrics
from bridge.model import naming, planning
from bridge.quay import errors as qe
from vocabulary import INTEGRATION_LABEL, MANAGED_LABEL, ROTATE_ANNOTATION

log = logging.getLogger(__name__)


class EventRouter:
    """The handlers the informers and kopf call, one per kind of object."""

    def __init__(
        self,
        view: ClusterView,
        scheduler: Scheduler,
        reconciler: NamespaceReconciler,
        loops: IntegrationLoops,
        provisioner: Provisioner,
        metrics: Metrics,
        *,
        fips: bool,
        connect: QuayConnector,
    ) -> None:
        self.view = view
        self.scheduler = scheduler
        self.reconciler = reconciler
        self.loops = loops
        self.provisioner = provisioner
        self.metrics = metrics
        #: only FIPS-approved TLS towards Quay, for the integrations made here
        self.fips = fips
        self.connect = connect
        #: the controller's informers, once they run: each integration's references are followed
        self.followers: Followers | None = None
        self._repo_inflight: dict[tuple[str, str], asyncio.Future[None]] = {}

    def _integration_of(self, record: NamespaceRecord | None) -> Integration | None:
        """The record's integration when it is loaded with a valid spec."""
        integration = self.view.integration_of(record)
        return integration if integration is not None and integration.spec is not None else None

    async def on_namespace(self, event_type: str, body: dict[str, Any]) -> None:
        """A Namespace was listed, added, modified or deleted."""
        name = meta_of(body).get("name")
        if not name:
            return
        if event_type == "DELETED":
            self.view.namespaces.pop(name, None)
            self.view.caches.forget_namespace(name)
            self.reconciler.forget(name)
            return
        self.view.remember_namespace(body)
        self.scheduler.kick(name)

    async def on_integration(self, event_type: str, body: dict[str, Any]) -> None:
        """A QuayIntegration was listed, added, modified or deleted."""
        name = meta_of(body).get("name")
        if not name:
            return
        if event_type == "DELETED":
            integration = self.view.integrations.pop(name, None)
            self.loops.stop(name)
            if integration is not None:
                await integration.close()
            self.metrics.forget_integration(name)
            for record in self.view.state.for_integration(name):
                self.view.state.records.pop(record.namespace, None)
            self.follow_references()
            self.scheduler.kick_all(self.view.namespaces)
            return
        integration = self.view.integrations.get(name)
        fresh = integration is None
        if integration is None:
            integration = Integration(name, self.metrics, fips=self.fips, connect=self.connect)
            self.view.integrations[name] = integration
        old_rotate = integration.annotations.get(ROTATE_ANNOTATION)
        old_spec = integration.spec
        changed = integration.update_body(body)
        self.follow_references()
        if fresh:
            await self.loops.refresh(integration)
            self.loops.restart(integration)
            self.scheduler.spawn(self.loops.first_pass(integration))
        elif changed:
            self.loops.restart(integration)
            if planning.quay_affected(old_spec, integration.spec):
                # Another Quay, user or set of robots: read Quay again for every namespace.
                self.scheduler.spawn(self.loops.reread(integration))
            else:
                # Nothing in Quay changes: passes on the cluster side only (their fingerprints
                # hold the spec), and a new client when its connection settings changed.
                if planning.connection_changed(old_spec, integration.spec):
                    await self.loops.refresh(integration)
                self.scheduler.kick_all(self.view.namespaces)
        elif integration.annotations.get(ROTATE_ANNOTATION) != old_rotate:
            for record in self.view.state.for_integration(name):
                self.scheduler.kick(record.namespace)

    async def on_service_account(self, event_type: str, body: dict[str, Any]) -> None:
        """A ServiceAccount changed: link its pull secret if it is one of ours (no Quay call)."""
        meta = meta_of(body)
        namespace, name = meta.get("namespace"), meta.get("name")
        if not namespace or not name:
            return
        self.view.caches.accounts.update(body, deleted=event_type == "DELETED")
        record = self.view.state.records.get(namespace)
        integration = self._integration_of(record)
        if record is None or integration is None or integration.spec is None:
            return
        if name not in {sa.name for sa in integration.spec.service_accounts}:
            return
        if event_type == "DELETED":
            record.linked.discard(name)
            return
        robot = next((r for r in record.names.robots if r.service_account == name), None)
        if robot is None or not record.quay_ready or robot.secret not in record.secrets:
            # Not ready, or an account the last pass did not know: a full pass handles it.
            self.scheduler.invalidate_and_kick(namespace)
            return
        secret = robot.secret
        if planning.is_linked(body, secret):
            record.linked.add(name)
            return
        if not self.view.active:
            return
        started = time.monotonic()
        try:
            await self.provisioner.link(record, body, secret, self.view.caches)
            record.linked.add(name)
            self.metrics.reconciles.labels("serviceaccount", "ok").inc()
        except KubeError as exc:
            self.metrics.reconciles.labels("serviceaccount", "kube_error").inc()
            log.warning("linking %s into %s/%s failed: %s", secret, namespace, name, exc)
            self.scheduler.kick(namespace)
        finally:
            self.metrics.reconcile_seconds.labels("serviceaccount").observe(
                time.monotonic() - started
            )

    def follow_references_with(self, followers: Followers) -> None:
        """From now on, follow the integrations' credentials and CA bundles with ``followers``."""
        self.followers = followers

    def follow_references(self) -> None:
        """Follow exactly the credentials Secrets and CA bundles the integrations name."""
        if self.followers is None:
            return
        wanted: set[tuple[str, str, str]] = set()
        for integration in self.view.integrations.values():
            wanted |= integration.references()
        self.followers.follow_references(wanted, self._on_reference)

    async def _on_reference(self, kind: str, event_type: str, body: dict[str, Any]) -> None:
        if kind == "Secret":
            await self.on_secret(event_type, body)
        else:
            await self.on_configmap(event_type, body)

    def _refresh_watching(self, kind: str, body: dict[str, Any]) -> None:
        """Refresh every integration whose credentials or CA bundle ``body`` is."""
        meta = meta_of(body)
        namespace, name = meta.get("namespace") or "", meta.get("name") or ""
        for integration in self.view.integrations.values():
            if integration.watches_object(kind, namespace, name):
                self.scheduler.spawn(self.loops.refresh(integration))

    async def on_secret(self, event_type: str, body: dict[str, Any]) -> None:
        """A Secret changed: credentials or CA of an integration, or one of our pull Secrets."""
        meta = meta_of(body)
        namespace, name = meta.get("namespace") or "", meta.get("name") or ""
        self._refresh_watching("Secret", body)
        labels = meta.get("labels") or {}
        if labels.get(MANAGED_LABEL) != "true":
            return
        self.view.caches.secrets.update(body, deleted=event_type == "DELETED")
        record = self.view.state.records.get(namespace)
        if record is None or labels.get(INTEGRATION_LABEL) != record.integration:
            return
        if event_type == "DELETED":
            record.secrets.discard(name)
            self.scheduler.invalidate_and_kick(namespace)
            return
        integration = self._integration_of(record)
        if integration is None or integration.spec is None:
            return
        registry_host = integration.spec.registry_host
        for robot in record.names.robots:
            if robot.secret != name:
                continue
            token = record.tokens.get(robot.service_account)
            if token and not planning.secret_up_to_date(body, registry_host, robot.full, token):
                self.scheduler.invalidate_and_kick(namespace)

    async def on_configmap(self, event_type: str, body: dict[str, Any]) -> None:
        """A ConfigMap changed: reload any integration whose CA bundle it holds."""
        self._refresh_watching("ConfigMap", body)

    async def on_image_stream(self, event_type: str, body: dict[str, Any]) -> None:
        """An ImageStream changed: create (or delete, by policy) its repository, nothing else."""
        meta = meta_of(body)
        namespace, name = meta.get("namespace"), meta.get("name")
        if not namespace or not name:
            return
        deleted = event_type == "DELETED" or bool(meta.get("deletionTimestamp"))
        self.view.caches.streams.update(body, deleted=deleted)
        record = self.view.state.records.get(namespace)
        if record is None or not self.view.active:
            return
        integration = self._integration_of(record)
        if integration is None or integration.spec is None:
            return
        if deleted:
            if (
                integration.spec.repository_deletion_policy == "Delete"
                and integration.usable
                and record.quay_ready
            ):
                await self._repo_step(
                    "delete",
                    record,
                    name,
                    self.provisioner.delete_repository(integration, record, name),
                )
            else:
                record.repositories.discard(name)
            return
        if name in record.repositories:
            return
        lock = self.scheduler.lock(namespace)
        if lock.locked():
            # A pass is running and may have read the streams before this one arrived: wait for
            # it, then create what it left (a kick alone could be coalesced into that pass).
            async with lock:
                await self._stream_after_pass(namespace, name)
            return
        await self._create_repository(record, integration, name)

    async def _stream_after_pass(self, namespace: str, name: str) -> None:
        """The ImageStream ``name`` once the namespace's pass has ended (its lock held)."""
        record = self.view.state.records.get(namespace)
        if record is None or name in record.repositories or not self.view.active:
            return
        if self.view.caches.streams.get(namespace, name) is None:
            return  # deleted meanwhile
        integration = self._integration_of(record)
        if integration is None:
            return
        await self._create_repository(record, integration, name)

    async def _create_repository(
        self, record: NamespaceRecord, integration: Integration, stream: str
    ) -> None:
        """Create the stream's repository, or ask for a full pass while Quay is not ready.

        Called with the namespace's lock held after a pass, the pass asked for runs once the
        lock is released.
        """
        if not record.quay_ready or not integration.usable:
            self.scheduler.invalidate_and_kick(record.namespace)
            return
        await self._repo_step(
            "create",
            record,
            stream,
            self.provisioner.ensure_repository(integration, record, stream),
        )

    async def _repo_step(
        self, what: str, record: NamespaceRecord, stream: str, step: Coroutine[Any, Any, None]
    ) -> None:
        key = (record.namespace, stream)
        inflight = self._repo_inflight.get(key)
        if inflight is not None:
            step.close()
            await asyncio.shield(inflight)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._repo_inflight[key] = future
        started = time.monotonic()
        try:
            await step
            self.metrics.reconciles.labels("imagestream", "ok").inc()
        except (qe.QuayError, naming.InvalidQuayName) as exc:
            self.metrics.reconciles.labels("imagestream", "error").inc()
            log.warning("repository %s/%s (%s) failed: %s", record.organization, stream, what, exc)
            if isinstance(exc, qe.QuayError):
                self.scheduler.retry_later(record.namespace)
        finally:
            future.set_result(None)
            self._repo_inflight.pop(key, None)
            self.metrics.reconcile_seconds.labels("imagestream").observe(time.monotonic() - started)
