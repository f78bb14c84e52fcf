"""How the controller reacts to each kind of object its watches report.

Events that need only a small step (a late ServiceAccount, one ImageStream, a deleted pull Secret)
are served from the in-memory state without a full pass and without Quay calls where possible;
the rest ask for a namespace reconcile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

from bridge import naming, planning
from bridge import quay_errors as qe
from bridge.cluster import KubeError
from bridge.integrations import Integration
from bridge.looping import Looping
from bridge.scheduling import (
    meta_of,
)
from bridge.state import NamespaceRecord
from vocabulary import INTEGRATION_LABEL, MANAGED_LABEL, ROTATE_ANNOTATION

log = logging.getLogger(__name__)


class Reacting(Looping):
    """The handlers the informers and kopf call."""

    async def on_namespace(self, event_type: str, body: dict[str, Any]) -> None:
        """A Namespace was listed, added, modified or deleted."""
        name = meta_of(body).get("name")
        if not name:
            return
        if event_type == "DELETED":
            self.namespaces.pop(name, None)
            self.caches.forget_namespace(name)
            self._forget(name)
            return
        self._remember_namespace(body)
        self.kick(name)

    async def on_integration(self, event_type: str, body: dict[str, Any]) -> None:
        """A QuayIntegration was listed, added, modified or deleted."""
        name = meta_of(body).get("name")
        if not name:
            return
        if event_type == "DELETED":
            integration = self.integrations.pop(name, None)
            loop = self._loops.pop(name, None)
            if loop is not None:
                loop.cancel()
            if integration is not None:
                await integration.close()
            self.metrics.forget_integration(name)
            for record in self.state.for_integration(name):
                self.state.records.pop(record.namespace, None)
            self._follow_references()
            self._kick_all()
            return
        integration = self.integrations.get(name)
        fresh = integration is None
        if integration is None:
            integration = Integration(name, self.metrics, fips=self.cluster.connection.fips)
            self.integrations[name] = integration
        old_rotate = integration.annotations.get(ROTATE_ANNOTATION)
        old_spec = integration.spec
        changed = integration.update_body(body)
        self._follow_references()
        if fresh:
            await self._refresh(integration)
            self._restart_loop(integration)
            self._spawn(self._first_pass(integration))
        elif changed:
            self._restart_loop(integration)
            if planning.quay_affected(old_spec, integration.spec):
                # Another Quay, user or set of robots: read Quay again for every namespace.
                self._spawn(self.reread(integration))
            else:
                # Nothing in Quay changes: passes on the cluster side only (their fingerprints
                # hold the spec), and a new client when its connection settings changed.
                if planning.connection_changed(old_spec, integration.spec):
                    await self._refresh(integration)
                self._kick_all()
        elif integration.annotations.get(ROTATE_ANNOTATION) != old_rotate:
            for record in self.state.for_integration(name):
                self.kick(record.namespace)

    async def on_service_account(self, event_type: str, body: dict[str, Any]) -> None:
        """A ServiceAccount changed: link its pull secret if it is one of ours (no Quay call)."""
        meta = meta_of(body)
        namespace, name = meta.get("namespace"), meta.get("name")
        if not namespace or not name:
            return
        if event_type == "DELETED":
            self.caches.accounts.drop(body)
        else:
            self.caches.accounts.put(body)
        record = self.state.records.get(namespace)
        if record is None:
            return
        integration = self.integrations.get(record.integration)
        if integration is None or integration.spec is None:
            return
        if name not in {sa.name for sa in integration.spec.service_accounts}:
            return
        if event_type == "DELETED":
            record.linked.discard(name)
            return
        secret = naming.secret_name(name, integration.spec.cluster_id)
        if not record.quay_ready or secret not in record.secrets:
            self._invalidate(namespace)
            self.kick(namespace)
            return
        if planning.is_linked(body, secret):
            record.linked.add(name)
            return
        if not self.active:
            return
        started = time.monotonic()
        try:
            await self.provisioner.link(record, body, secret, self.caches)
            record.linked.add(name)
            self.metrics.reconciles.labels("serviceaccount", "ok").inc()
        except KubeError as exc:
            self.metrics.reconciles.labels("serviceaccount", "kube_error").inc()
            log.warning("linking %s into %s/%s failed: %s", secret, namespace, name, exc)
            self.kick(namespace)
        finally:
            self.metrics.reconcile_seconds.labels("serviceaccount").observe(
                time.monotonic() - started
            )

    def _follow_references(self) -> None:
        if not self.following:
            return
        wanted: set[tuple[str, str, str]] = set()
        for integration in self.integrations.values():
            wanted |= integration.references()
        self.followers.follow_references(wanted, self._on_reference)

    async def _on_reference(self, kind: str, event_type: str, body: dict[str, Any]) -> None:
        if kind == "Secret":
            await self.on_secret(event_type, body)
        else:
            await self.on_configmap(event_type, body)

    def watches_object(self, kind: str, namespace: str, name: str) -> bool:
        """Return whether a Secret/ConfigMap is some integration's credentials or CA bundle."""
        return any(i.watches_object(kind, namespace, name) for i in self.integrations.values())

    async def on_secret(self, event_type: str, body: dict[str, Any]) -> None:
        """A Secret changed: credentials or CA of an integration, or one of our pull Secrets."""
        meta = meta_of(body)
        namespace, name = meta.get("namespace") or "", meta.get("name") or ""
        for candidate in self.integrations.values():
            if candidate.watches_object("Secret", namespace, name):
                self._spawn(self._refresh(candidate))
        labels = meta.get("labels") or {}
        if labels.get(MANAGED_LABEL) != "true":
            return
        if event_type == "DELETED":
            self.caches.secrets.drop(body)
        else:
            self.caches.secrets.put(body)
        record = self.state.records.get(namespace)
        if record is None or labels.get(INTEGRATION_LABEL) != record.integration:
            return
        if event_type == "DELETED":
            record.secrets.discard(name)
            self._invalidate(namespace)
            self.kick(namespace)
            return
        integration = self.integrations.get(record.integration)
        if integration is None or integration.spec is None:
            return
        spec = integration.spec
        for sa in spec.service_accounts:
            if naming.secret_name(sa.name, spec.cluster_id) != name:
                continue
            robot = naming.robot_full_name(record.organization, naming.robot_short_name(sa.name))
            token = record.tokens.get(sa.name)
            if token and not planning.secret_up_to_date(body, spec.registry_host, robot, token):
                self._invalidate(namespace)
                self.kick(namespace)

    async def on_configmap(self, event_type: str, body: dict[str, Any]) -> None:
        """A ConfigMap changed: reload any integration whose CA bundle it holds."""
        meta = meta_of(body)
        for integration in self.integrations.values():
            if integration.watches_object(
                "ConfigMap", meta.get("namespace") or "", meta.get("name") or ""
            ):
                self._spawn(self._refresh(integration))

    async def on_image_stream(self, event_type: str, body: dict[str, Any]) -> None:
        """An ImageStream changed: create (or delete, by policy) its repository, nothing else."""
        meta = meta_of(body)
        namespace, name = meta.get("namespace"), meta.get("name")
        if not namespace or not name:
            return
        deleted = event_type == "DELETED" or bool(meta.get("deletionTimestamp"))
        if deleted:
            self.caches.streams.drop(body)
        else:
            self.caches.streams.put(body)
        record = self.state.records.get(namespace)
        if record is None or not self.active:
            return
        integration = self.integrations.get(record.integration)
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
        lock = self._locks[namespace]
        if lock.locked():
            # A pass is running and may have read the streams before this one arrived: wait for
            # it, then create what it left (a kick alone could be coalesced into that pass).
            async with lock:
                await self._stream_after_pass(namespace, name)
            return
        if not record.quay_ready or not integration.usable:
            self._invalidate(namespace)
            self.kick(namespace)
            return
        await self._repo_step(
            "create", record, name, self.provisioner.ensure_repository(integration, record, name)
        )

    async def _stream_after_pass(self, namespace: str, name: str) -> None:
        """The ImageStream ``name`` once the namespace's pass has ended (its lock held)."""
        record = self.state.records.get(namespace)
        if record is None or name in record.repositories or not self.active:
            return
        if self.caches.streams.get(namespace, name) is None:
            return  # deleted meanwhile
        integration = self.integrations.get(record.integration)
        if integration is None or integration.spec is None:
            return
        if not record.quay_ready or not integration.usable:
            self._invalidate(namespace)
            self.kick(namespace)  # runs once this lock is released
            return
        await self._repo_step(
            "create", record, name, self.provisioner.ensure_repository(integration, record, name)
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
                self._retry_later(record.namespace)
        finally:
            future.set_result(None)
            self._repo_inflight.pop(key, None)
            self.metrics.reconcile_seconds.labels("imagestream").observe(time.monotonic() - started)
