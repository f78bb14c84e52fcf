"""The controller: routes cluster events to per-namespace reconciles and runs the periodic loops.

kopf handlers (``bridge.handlers``) stay thin: they hand every event to :class:`Controller`, which
keeps a cache of namespaces, decides which integration owns each one (reporting overlaps as
``Conflict``), and runs one reconcile at a time per namespace. Requests for a namespace that arrive
while a reconcile runs are coalesced into one more pass, so a storm of events costs little. Events
that need only a small step (a late ServiceAccount, one ImageStream, a deleted pull Secret) are
served directly from the in-memory state without a full pass and without Quay calls where possible.
Periodic loops write status, retry integrations that are not ready, resync (drift repair) and rotate
robot tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import defaultdict
from collections.abc import Coroutine
from typing import Any

from bridge import naming, planning, selection
from bridge import quay_errors as qe
from bridge.caches import Caches
from bridge.cluster import Cluster, KubeError
from bridge.following import Followers
from bridge.integrations import Integration, now_iso, parse_time
from bridge.metrics import Metrics
from bridge.peering import Peering
from bridge.provisioning import Provisioner
from bridge.settings import IntegrationSpec
from bridge.state import BridgeState, NamespaceRecord

log = logging.getLogger(__name__)

ROTATE_ANNOTATION = "quay-bridge.quay.redhat.com/rotate-robot-tokens"
ROTATED_ANNOTATION = "quay-bridge.quay.redhat.com/robot-tokens-rotated"
MCS_ANNOTATION = "openshift.io/sa.scc.mcs"
PROJECT_ANNOTATIONS = ("openshift.io/display-name", "openshift.io/description")

#: Most namespace reconciles running at once.
CONCURRENCY = 64
#: Seconds between status flushes and between retries of integrations that are not ready.
STATUS_INTERVAL = 0.5
HEALTH_INTERVAL = 5.0
#: Seconds to wait at start for the peering object before going on (passive until it is read).
PEERING_WAIT = 10.0
#: Retry delays of a failed namespace reconcile: first, cap (seconds).
RETRY_FIRST, RETRY_CAP = 1.0, 30.0


def _meta(body: dict[str, Any]) -> dict[str, Any]:
    return dict(body.get("metadata") or {})


def is_waiting_project(body: dict[str, Any]) -> bool:
    """True for an OpenShift project whose SCC annotations are not set yet (process it later)."""
    annotations = _meta(body).get("annotations") or {}
    is_project = all(key in annotations for key in PROJECT_ANNOTATIONS)
    return is_project and MCS_ANNOTATION not in annotations


class Controller:
    """All of the operator's run-time state and behaviour, driven by kopf events."""

    def __init__(
        self,
        cluster: Cluster,
        metrics: Metrics,
        state: BridgeState,
        peering: Peering | None = None,
    ) -> None:
        self.cluster = cluster
        self.metrics = metrics
        self.state = state
        #: None when standalone (always active).
        self.peering = peering
        self.provisioner = Provisioner(cluster)
        self.integrations: dict[str, Integration] = {}
        self.namespaces: dict[str, dict[str, Any]] = {}
        self.caches = Caches()
        self.images_available = True
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._wanted: dict[str, int] = defaultdict(int)
        self._done: dict[str, int] = defaultdict(int)
        self._observe: set[str] = set()
        self._relist: set[str] = set()
        self._rotate: set[str] = set()
        self._fingerprints: dict[str, tuple[Any, ...]] = {}
        self._retries: dict[str, int] = {}
        self._retry_handles: dict[str, asyncio.TimerHandle] = {}
        self._reported_invalid: set[str] = set()
        self._repo_inflight: dict[tuple[str, str], asyncio.Future[None]] = {}
        self._semaphore = asyncio.Semaphore(CONCURRENCY)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: dict[str, asyncio.Task[None]] = {}
        self._status_dirty: set[str] = set()
        self.followers = Followers(cluster, metrics)
        self.following = False
        #: True once every QuayIntegration is known: only then may a namespace that none of
        #: them selects be disowned (a failed listing must not look like "no integrations").
        self.integrations_listed = False
        self.started = False
        state.install_ensure(self.ensure_now)

    # --- life cycle -------------------------------------------------------------------------

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
        if self.peering is not None:
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

    @property
    def active(self) -> bool:
        """Whether this replica may write (always, unless another peer is the active one)."""
        return self.peering is None or self.peering.active

    def _on_activity(self, active: bool) -> None:
        if not active:
            return
        # Everything seen while passive was only observed: reconcile it all, reading first.
        self._fingerprints.clear()
        self._status_dirty.update(self.integrations)
        self._kick_all()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- scheduling -------------------------------------------------------------------------

    def kick(self, namespace: str, *, observe: bool = False) -> asyncio.Task[Any]:
        """Ask for a reconcile of ``namespace`` (coalesced with any already waiting)."""
        if observe:
            self._observe.add(namespace)
        return self._spawn(self.run(namespace))

    async def ensure_now(self, namespace: str) -> None:
        """Reconcile ``namespace`` now and return when done (the webhook's ``ensure_now``).

        The webhook may ask before the watches have shown the namespace or its ServiceAccounts,
        so the namespace is read if unknown and the pass lists Secrets and ServiceAccounts afresh.
        """
        if namespace not in self.namespaces:
            try:
                self._remember_namespace(await self.cluster.get_namespace(namespace))
            except KubeError as exc:
                if exc.status == 404:
                    return
                raise
        if not self.state.builder_ready(namespace):
            self._relist.add(namespace)
            self._fingerprints.pop(namespace, None)
        await self.run(namespace)

    async def run(self, namespace: str) -> None:
        """Run one reconcile pass of ``namespace`` unless a pass started after this request."""
        self._wanted[namespace] += 1
        ticket = self._wanted[namespace]
        async with self._locks[namespace]:
            if self._done[namespace] >= ticket:
                return
            target = self._wanted[namespace]
            async with self._semaphore:
                await self._reconcile_safely(namespace)
            self._done[namespace] = target

    def _retry_later(self, namespace: str) -> None:
        attempt = self._retries.get(namespace, 0)
        self._retries[namespace] = attempt + 1
        delay = min(RETRY_FIRST * 2**attempt, RETRY_CAP) * random.uniform(0.8, 1.2)
        self._retry_at(namespace, delay)

    def _retry_at(self, namespace: str, delay: float) -> None:
        old = self._retry_handles.pop(namespace, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._retry_handles[namespace] = loop.call_later(max(delay, 0.0), self.kick, namespace)

    # --- ownership --------------------------------------------------------------------------

    def _specs(self) -> dict[str, IntegrationSpec]:
        return {n: i.spec for n, i in self.integrations.items() if i.spec is not None}

    def owner(self, namespace: str, body: dict[str, Any]) -> Integration | None:
        """Return the one integration managing ``namespace``; record overlaps as conflicts."""
        labels = _meta(body).get("labels") or {}
        names = selection.claimants(self._specs(), namespace, labels)
        for integration in self.integrations.values():
            others = [n for n in names if n != integration.name]
            had = namespace in integration.conflicts
            if integration.name in names and others:
                integration.conflicts[namespace] = others
                self._status_dirty.add(integration.name)
            elif had:
                del integration.conflicts[namespace]
                self._status_dirty.add(integration.name)
        if len(names) != 1:
            return None
        return self.integrations[names[0]]

    # --- the namespace reconcile ------------------------------------------------------------

    async def _reconcile_safely(self, namespace: str) -> None:
        started = time.monotonic()
        outcome = "ok"
        record = self.state.records.get(namespace)
        try:
            await self._reconcile(namespace)
            self._retries.pop(namespace, None)
        except qe.NameReserved as exc:
            outcome = "name_reserved"
            self._fail(namespace, f"organization name still reserved in Quay, retrying: {exc}")
            self._retry_later(namespace)
        except qe.QuayError as exc:
            outcome = "quay_error"
            self._fail(namespace, str(exc))
            integration = self.integrations.get(record.integration) if record else None
            if integration is not None:
                integration.note_quay_error(exc)
            self._retry_later(namespace)
        except KubeError as exc:
            outcome = "kube_error"
            self._fail(namespace, f"Kubernetes API: {exc}")
            self._retry_later(namespace)
        except Exception as exc:
            outcome = "error"
            log.exception("reconcile of namespace %s failed", namespace)
            self._fail(namespace, f"{type(exc).__name__}: {exc}")
            self._retry_later(namespace)
        finally:
            self.metrics.reconciles.labels("namespace", outcome).inc()
            self.metrics.reconcile_seconds.labels("namespace").observe(time.monotonic() - started)

    def _fail(self, namespace: str, message: str) -> None:
        log.warning("namespace %s: %s", namespace, message)
        record = self.state.records.get(namespace)
        if record is not None:
            record.error = message[:500]
            self._status_dirty.add(record.integration)
        self._fingerprints.pop(namespace, None)

    def _fingerprint(self, body: dict[str, Any], integration: Integration) -> tuple[Any, ...]:
        meta = _meta(body)
        annotations = meta.get("annotations") or {}
        return (
            integration.name,
            id(integration.spec),
            tuple(sorted((meta.get("labels") or {}).items())),
            is_waiting_project(body),
            meta.get("deletionTimestamp"),
            planning.FINALIZER in (meta.get("finalizers") or []),
            annotations.get(ROTATE_ANNOTATION),
            annotations.get(ROTATED_ANNOTATION),
            integration.annotations.get(ROTATE_ANNOTATION),
        )

    async def _reconcile(self, namespace: str) -> None:
        body = self.namespaces.get(namespace)
        if body is None:
            self._forget(namespace)
            return
        if not self.active:
            await self._observe_passively(namespace, body)
            return
        if _meta(body).get("deletionTimestamp"):
            await self._finalize(namespace, body)
            return
        integration = self.owner(namespace, body)
        if integration is None or integration.spec is None:
            if self._unclaimed(namespace, body):
                await self._disown(namespace, body)
            self._unmanage(namespace)
            return
        spec = integration.spec
        if is_waiting_project(body):
            return
        try:
            org = naming.organization_name(spec.prefix, namespace)
            for sa in spec.service_accounts:
                naming.robot_full_name(org, naming.robot_short_name(sa.name))
        except naming.InvalidQuayName as exc:
            await self._report_invalid(integration, namespace, body, str(exc))
            return
        integration.invalid_names.pop(namespace, None)
        record = self.state.records.get(namespace)
        if record is None or record.integration != integration.name or record.organization != org:
            record = NamespaceRecord(
                namespace=namespace,
                integration=integration.name,
                organization=org,
                registry_host=spec.registry_host,
                insecure_registry=spec.insecure_registry,
                scheduled_import=spec.scheduled_image_stream_import,
            )
            self.state.records[namespace] = record
            self._status_dirty.add(integration.name)
        if not integration.usable:
            record.error = f"integration {integration.name} is not ready"
            return
        observe = namespace in self._observe
        fingerprint = self._fingerprint(body, integration)
        if (
            not observe
            and namespace not in self._rotate
            and record.quay_ready
            and record.error is None
            and self._fingerprints.get(namespace) == fingerprint
        ):
            return
        self._observe.discard(namespace)
        annotations = _meta(body).get("annotations") or {}
        marker = (
            f"{integration.annotations.get(ROTATE_ANNOTATION, '')}/"
            f"{annotations.get(ROTATE_ANNOTATION, '')}"
        )
        recorded = annotations.get(ROTATED_ANNOTATION)
        created = False
        # A namespace that already carries our finalizer was provisioned before (an operator
        # restart): read Quay and the cluster rather than write, so nothing in place is rewritten.
        provisioned_before = planning.FINALIZER in (_meta(body).get("finalizers") or [])
        if not record.quay_ready and provisioned_before:
            self._relist.add(namespace)
        if not record.quay_ready or observe:
            created = await self.provisioner.ensure_quay(
                integration, record, observe=record.quay_ready or provisioned_before
            )
        rotate_requested = namespace in self._rotate
        self._rotate.discard(namespace)
        if not created and (rotate_requested or (recorded is not None and recorded != marker)):
            await self.provisioner.rotate(integration, record)
            self.metrics.reconciles.labels("rotation", "ok").inc()
        await self._patch_namespace(namespace, body, {ROTATED_ANNOTATION: marker})
        relist = observe or namespace in self._relist
        self._relist.discard(namespace)
        await self.provisioner.ensure_kube(integration, record, self.caches, fresh_listing=relist)
        if self.images_available:
            if relist:
                listed = await self.cluster.list_image_streams(namespace)
                self.caches.streams.replace_namespace(namespace, listed)
            names = [
                name
                for name in self.caches.streams.names(namespace)
                if not _meta(self.caches.streams.get(namespace, name) or {}).get(
                    "deletionTimestamp"
                )
            ]
            if observe or created:
                record.repositories.clear()  # re-check each against Quay's listing
            await self.provisioner.ensure_repositories(integration, record, names, fresh=created)
        record.error = None
        self._status_dirty.add(integration.name)
        current = self.namespaces.get(namespace, body)
        self._fingerprints[namespace] = self._fingerprint(current, integration)

    async def _patch_namespace(
        self, namespace: str, body: dict[str, Any], annotations: dict[str, str]
    ) -> None:
        current = self.namespaces.get(namespace, body)
        for _ in range(5):
            ops = planning.namespace_patch(current, annotations)
            if ops is None:
                return
            try:
                updated = await self.cluster.patch_namespace(namespace, ops)
                self._remember_namespace(updated)
                return
            except KubeError as exc:
                if exc.status not in (409, 422):
                    raise
            current = await self.cluster.get_namespace(namespace)
            self._remember_namespace(current)
        raise KubeError(409, f"namespace {namespace} kept changing")

    def _remember_namespace(self, body: dict[str, Any]) -> None:
        name = _meta(body).get("name")
        if not name:
            return
        known = self.namespaces.get(name)
        if known is None or int(_meta(known).get("resourceVersion") or 0) <= int(
            _meta(body).get("resourceVersion") or 0
        ):
            self.namespaces[name] = body

    async def _observe_passively(self, namespace: str, body: dict[str, Any]) -> None:
        """Keep the webhook's view of ``namespace`` from the watch caches, writing nothing.

        The active replica provisions; this one only learns from the watches which pull Secrets
        exist and which ServiceAccounts are linked, so its webhook can rewrite Builds too.
        """
        integration = self.owner(namespace, body)
        spec = integration.spec if integration is not None else None
        if integration is None or spec is None or _meta(body).get("deletionTimestamp"):
            self._unmanage(namespace)
            return
        if is_waiting_project(body):
            return
        try:
            org = naming.organization_name(spec.prefix, namespace)
        except naming.InvalidQuayName:
            self._unmanage(namespace)
            return
        if namespace in self._relist:
            self._relist.discard(namespace)
            secrets, accounts = await asyncio.gather(
                self.cluster.list_secrets(namespace, planning.MANAGED_LABEL),
                self.cluster.list_service_accounts(namespace),
            )
            self.caches.secrets.replace_namespace(namespace, secrets)
            self.caches.accounts.replace_namespace(namespace, accounts)
        record = self.state.records.get(namespace)
        if record is None or record.integration != integration.name or record.organization != org:
            record = NamespaceRecord(
                namespace=namespace,
                integration=integration.name,
                organization=org,
                registry_host=spec.registry_host,
                insecure_registry=spec.insecure_registry,
                scheduled_import=spec.scheduled_image_stream_import,
            )
            self.state.records[namespace] = record
        record.secrets.clear()
        record.linked.clear()
        for sa in spec.service_accounts:
            secret = naming.secret_name(sa.name, spec.cluster_id)
            observed = self.caches.secrets.get(namespace, secret)
            labels = _meta(observed or {}).get("labels") or {}
            if observed is None or labels.get(planning.INTEGRATION_LABEL) != integration.name:
                continue
            record.secrets.add(secret)
            account = self.caches.accounts.get(namespace, sa.name)
            if account is not None and planning.is_linked(account, secret):
                record.linked.add(sa.name)

    def _unclaimed(self, namespace: str, body: dict[str, Any]) -> bool:
        """True when no integration selects ``namespace``, and that is known for certain.

        Not while an integration's spec is invalid (it may select the namespace once fixed),
        nor before the integrations have been listed, nor for a conflict (several claim it).
        """
        if not self.integrations_listed:
            return False
        if any(i.spec is None for i in self.integrations.values()):
            return False
        labels = _meta(body).get("labels") or {}
        return not selection.claimants(self._specs(), namespace, labels)

    async def _disown(self, namespace: str, body: dict[str, Any]) -> None:
        """Remove our finalizer and managed label from a namespace no integration selects.

        Its Quay organization, robots and pull Secrets stay: leaving a selection is not a
        deletion, and workloads may still pull with those Secrets. An Event says so.
        """
        current = self.namespaces.get(namespace, body)
        if planning.disown_patch(current) is None:
            return
        record = self.state.records.get(namespace)
        for _ in range(5):
            ops = planning.disown_patch(current)
            if ops is None:
                break
            try:
                self._remember_namespace(await self.cluster.patch_namespace(namespace, ops))
                break
            except KubeError as exc:
                if exc.status == 404:
                    return
                if exc.status not in (409, 422):
                    raise
            current = await self.cluster.get_namespace(namespace)
            self._remember_namespace(current)
        else:
            raise KubeError(409, f"namespace {namespace} kept changing")
        org = f"organization {record.organization}" if record else "its Quay organization"
        log.info("namespace %s is no longer selected by any QuayIntegration", namespace)
        await self.cluster.post_event(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(current)},
            "QuayUnmanaged",
            "no QuayIntegration selects this namespace any more: the quay-bridge finalizer and"
            f" managed label were removed; {org}, its robots and the pull Secrets were left in"
            " place (delete them in Quay and here if they are no longer needed)",
        )

    async def _report_invalid(
        self, integration: Integration, namespace: str, body: dict[str, Any], why: str
    ) -> None:
        integration.invalid_names[namespace] = why
        self._status_dirty.add(integration.name)
        self.state.records.pop(namespace, None)
        if namespace not in self._reported_invalid:
            self._reported_invalid.add(namespace)
            log.warning("namespace %s cannot have a Quay organization: %s", namespace, why)
            await self.cluster.post_event(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(body)},
                "InvalidQuayName",
                f"no Quay organization for this namespace: {why}",
                warning=True,
            )

    def _unmanage(self, namespace: str) -> None:
        record = self.state.records.pop(namespace, None)
        if record is not None:
            self._status_dirty.add(record.integration)
        for integration in self.integrations.values():
            if integration.invalid_names.pop(namespace, None) is not None:
                self._status_dirty.add(integration.name)

    def _forget(self, namespace: str) -> None:
        self._unmanage(namespace)
        self._fingerprints.pop(namespace, None)
        self._observe.discard(namespace)
        self._relist.discard(namespace)
        self._rotate.discard(namespace)
        self._reported_invalid.discard(namespace)
        self._retries.pop(namespace, None)
        lock = self._locks.get(namespace)
        if lock is None or not lock.locked():
            self._locks.pop(namespace, None)
            self._wanted.pop(namespace, None)
            self._done.pop(namespace, None)
        handle = self._retry_handles.pop(namespace, None)
        if handle is not None:
            handle.cancel()
        for integration in self.integrations.values():
            if integration.conflicts.pop(namespace, None) is not None:
                self._status_dirty.add(integration.name)

    # --- namespace deletion -----------------------------------------------------------------

    async def _finalize(self, namespace: str, body: dict[str, Any]) -> None:
        meta = _meta(body)
        if planning.FINALIZER not in (meta.get("finalizers") or []):
            self._unmanage(namespace)
            return
        integration = self.owner(namespace, body)
        record = self.state.records.get(namespace)
        if integration is None or integration.spec is None:
            await self._release(namespace, body, "no integration manages it any more", False)
            return
        spec = integration.spec
        org = record.organization if record else None
        if org is None:
            try:
                org = naming.organization_name(spec.prefix, namespace)
            except naming.InvalidQuayName:
                await self._release(namespace, body, "it had no Quay organization", False)
                return
        if spec.organization_deletion_policy == "Retain":
            await self._release(
                namespace, body, f"organization {org} retained in Quay (policy Retain)", False
            )
            return
        deadline = (parse_time(meta.get("deletionTimestamp")) or time.time()) + (
            spec.namespace_deletion_deadline_seconds
        )
        try:
            if integration.client is None:
                raise qe.Unavailable(f"integration {integration.name} is not ready")
            await self.provisioner.delete_organization(integration, org)
        except qe.QuayError as exc:
            integration.note_quay_error(exc)
            remaining = deadline - time.time()
            if remaining <= 0:
                self.metrics.reconciles.labels("deletion", "deadline").inc()
                await self._release(
                    namespace,
                    body,
                    f"deadline of {spec.namespace_deletion_deadline_seconds}s reached; organization"
                    f" {org} and its robots and repositories were left in Quay: {exc}",
                    True,
                )
                return
            self.metrics.reconciles.labels("deletion", "retry").inc()
            attempt = self._retries.get(namespace, 0)
            self._retries[namespace] = attempt + 1
            delay = min(RETRY_FIRST * 2**attempt, RETRY_CAP, remaining)
            log.warning(
                "namespace %s: deleting %s failed (%s); retry in %.1fs", namespace, org, exc, delay
            )
            self._retry_at(namespace, delay)
            return
        self.metrics.reconciles.labels("deletion", "ok").inc()
        await self._release(namespace, body, f"organization {org} deleted from Quay", False)

    async def _release(self, namespace: str, body: dict[str, Any], why: str, warning: bool) -> None:
        current = body
        for _ in range(5):
            ops = planning.release_patch(current)
            if ops is None:
                break
            try:
                await self.cluster.patch_namespace(namespace, ops)
                break
            except KubeError as exc:
                if exc.status == 404:
                    break
                if exc.status not in (409, 422):
                    raise
            current = await self.cluster.get_namespace(namespace)
        await self.cluster.post_event(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(body)},
            "QuayCleanupIncomplete" if warning else "QuayCleanup",
            why,
            warning=warning,
        )
        self._unmanage(namespace)
        self._retries.pop(namespace, None)

    # --- events -----------------------------------------------------------------------------

    async def on_namespace(self, event_type: str, body: dict[str, Any]) -> None:
        """A Namespace was listed, added, modified or deleted."""
        name = _meta(body).get("name")
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
        name = _meta(body).get("name")
        if not name:
            return
        if event_type == "DELETED":
            integration = self.integrations.pop(name, None)
            loop = self._loops.pop(name, None)
            if loop is not None:
                loop.cancel()
            if integration is not None:
                await integration.close()
            for record in self.state.for_integration(name):
                self.state.records.pop(record.namespace, None)
            self._follow_references()
            self._kick_all()
            return
        integration = self.integrations.get(name)
        fresh = integration is None
        if integration is None:
            integration = Integration(name, self.metrics)
            self.integrations[name] = integration
        old_rotate = integration.annotations.get(ROTATE_ANNOTATION)
        changed = integration.update_body(body)
        self._follow_references()
        if fresh:
            await self._refresh(integration)
            self._restart_loop(integration)
            self._spawn(self._first_pass(integration))
        elif changed:
            # A changed spec re-observes everything (drift repair), as a resync does.
            self._restart_loop(integration)
            self._spawn(self.resync(integration))
        elif integration.annotations.get(ROTATE_ANNOTATION) != old_rotate:
            for record in self.state.for_integration(name):
                self.kick(record.namespace)

    async def on_service_account(self, event_type: str, body: dict[str, Any]) -> None:
        """A ServiceAccount changed: link its pull secret if it is one of ours (no Quay call)."""
        meta = _meta(body)
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
            self._fingerprints.pop(namespace, None)
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
        meta = _meta(body)
        namespace, name = meta.get("namespace") or "", meta.get("name") or ""
        for candidate in self.integrations.values():
            if candidate.watches_object("Secret", namespace, name):
                self._spawn(self._refresh(candidate))
        labels = meta.get("labels") or {}
        if labels.get(planning.MANAGED_LABEL) != "true":
            return
        if event_type == "DELETED":
            self.caches.secrets.drop(body)
        else:
            self.caches.secrets.put(body)
        record = self.state.records.get(namespace)
        if record is None or labels.get(planning.INTEGRATION_LABEL) != record.integration:
            return
        if event_type == "DELETED":
            record.secrets.discard(name)
            self._fingerprints.pop(namespace, None)
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
                self._fingerprints.pop(namespace, None)
                self.kick(namespace)

    async def on_configmap(self, event_type: str, body: dict[str, Any]) -> None:
        """A ConfigMap changed: reload any integration whose CA bundle it holds."""
        meta = _meta(body)
        for integration in self.integrations.values():
            if integration.watches_object(
                "ConfigMap", meta.get("namespace") or "", meta.get("name") or ""
            ):
                self._spawn(self._refresh(integration))

    async def on_image_stream(self, event_type: str, body: dict[str, Any]) -> None:
        """An ImageStream changed: create (or delete, by policy) its repository, nothing else."""
        meta = _meta(body)
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
        lock = self._locks.get(namespace)
        busy = lock is not None and lock.locked()  # a pass is running: let the next one do it
        if busy or not record.quay_ready or not integration.usable:
            self._fingerprints.pop(namespace, None)
            self.kick(namespace)
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

    # --- loops ------------------------------------------------------------------------------

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

    def _kick_all(self) -> None:
        for name in list(self.namespaces):
            self.kick(name)

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
        while not integration.synced:
            # Rotation applies to the namespaces the first pass finds: wait for it.
            await asyncio.sleep(STATUS_INTERVAL)
        if rotation > 0:
            wait = integration.rotation_due(rotation) - time.time()
            next_rotation = time.monotonic() + max(0.0, wait)
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
                for record in self.state.for_integration(integration.name):
                    self._rotate.add(record.namespace)
                    self.kick(record.namespace)
            if now >= next_resync:
                next_resync = now + resync
                try:
                    await self.resync(integration)
                except Exception:
                    log.exception("resync of integration %s failed", integration.name)

    async def resync(self, integration: Integration) -> None:
        """Re-observe Quay and the cluster for every namespace of ``integration``; repair drift."""
        await self._refresh(integration)
        names = [n for n in self.namespaces if n not in self.state.records] + [
            r.namespace for r in self.state.for_integration(integration.name)
        ]
        tasks = [self.kick(n, observe=n in self.state.records) for n in names]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        integration.last_sync = now_iso()
        self._status_dirty.add(integration.name)

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(HEALTH_INTERVAL)
            if not self.integrations_listed:
                await self._list_integrations()
            for integration in list(self.integrations.values()):
                if integration.spec is not None and not integration.usable:
                    await self._refresh(integration)

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
        """Patch the CR's status if it differs from what was last written."""
        body = integration.status_body(self.state.for_integration(integration.name))
        if body == integration.written_status:
            return
        try:
            await self.cluster.patch_integration_status(integration.name, body)
            integration.written_status = body
        except KubeError as exc:
            log.warning("status of %s not written: %s", integration.name, exc)
            self._status_dirty.add(integration.name)
