"""The controller's state and how reconciles are scheduled: one at a time per namespace.

:class:`Scheduling` holds everything the controller knows (integrations, namespaces, watch caches,
per-namespace locks and retry timers) and runs one reconcile at a time per namespace: requests that
arrive while a reconcile runs are coalesced into one more pass, so a storm of events costs little,
and a failed pass is retried with exponential backoff. It also decides which integration owns a
namespace (reporting overlaps as ``Conflict``). The reconcile itself comes from the subclasses
(``bridge.reconciling``); the classes build on each other in this order: scheduling, finalizing,
reconciling, looping, reacting, controller.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import Callable, Coroutine
from typing import Any

from bridge import selection
from bridge.caches import Caches
from bridge.cluster import Cluster, Conflict, Invalid, KubeError, NotFound
from bridge.following import Followers
from bridge.home import own_namespace
from bridge.integrations import Integration
from bridge.metrics import Metrics
from bridge.peering import Peering
from bridge.provisioning import Provisioner
from bridge.settings import IntegrationSpec
from bridge.state import BridgeState, NamespaceRecord

log = logging.getLogger(__name__)

MCS_ANNOTATION = "openshift.io/sa.scc.mcs"
PROJECT_ANNOTATIONS = ("openshift.io/display-name", "openshift.io/description")

#: Most namespace reconciles running at once.
CONCURRENCY = 64
#: Seconds between status flushes and between retries of integrations that are not ready.
STATUS_INTERVAL = 0.5
HEALTH_INTERVAL = 5.0
#: Seconds to wait at start for the peering object before going on (passive until it is read).
PEERING_WAIT = 10.0
#: Most attempts at a namespace patch that keeps meeting concurrent changes.
PATCH_ATTEMPTS = 5
#: Retry delays of a failed namespace reconcile: first, cap (seconds).
RETRY_FIRST, RETRY_CAP = 1.0, 30.0


def meta_of(body: dict[str, Any]) -> dict[str, Any]:
    """The metadata of a body (a copy of the top level; empty when absent)."""
    return dict(body.get("metadata") or {})


def is_waiting_project(body: dict[str, Any]) -> bool:
    """True for an OpenShift project whose SCC annotations are not set yet (process it later)."""
    annotations = meta_of(body).get("annotations") or {}
    is_project = all(key in annotations for key in PROJECT_ANNOTATIONS)
    return is_project and MCS_ANNOTATION not in annotations


class Scheduling:
    """The controller's state, reconcile scheduling and namespace ownership."""

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
        #: Never managed, whatever an integration selects: the operator's own namespace.
        self.never_managed = frozenset({own_namespace()})
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
        #: Bumped whenever something asks for a full pass of a namespace (``_invalidate``).
        self._changes: dict[str, int] = defaultdict(int)
        #: Namespace -> the part of its Quay side the next pass checks (``Provisioner.check_part``).
        self._check: dict[str, str] = {}
        #: Namespace -> how many periodic Quay checks it had, and when Quay was last read for it.
        self._check_turn: dict[str, int] = defaultdict(int)
        self._quay_checked: dict[str, float] = {}
        self._retries: dict[str, int] = {}
        self._retry_handles: dict[str, asyncio.TimerHandle] = {}
        self._reported_invalid: set[str] = set()
        #: namespaces whose last reconcile failure was told in a QuayProvisioningFailed Event
        self._reported_failing: set[str] = set()
        self._reported_not_owned: set[tuple[str, str, str]] = set()
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

    @property
    def active(self) -> bool:
        """Whether this replica may write (always, unless another peer is the active one)."""
        return self.peering is None or self.peering.active

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _invalidate(self, namespace: str) -> None:
        """Make the next pass of ``namespace`` a full one, even if a pass running now ends well.

        A pass records its fingerprint only when nothing invalidated the namespace while it ran:
        otherwise a change it may not have seen (an ImageStream that arrived after it read the
        streams) would be skipped by the very pass that was asked for it.
        """
        self._fingerprints.pop(namespace, None)
        self._changes[namespace] += 1

    def kick(self, namespace: str, *, observe: bool = False) -> asyncio.Task[Any]:
        """Ask for a reconcile of ``namespace`` (coalesced with any already waiting)."""
        if observe:
            self._observe.add(namespace)
        return self._spawn(self.run(namespace))

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

    def _kick_all(self) -> None:
        for name in list(self.namespaces):
            self.kick(name)

    def _specs(self) -> dict[str, IntegrationSpec]:
        return {n: i.spec for n, i in self.integrations.items() if i.spec is not None}

    def owner(self, namespace: str, body: dict[str, Any]) -> Integration | None:
        """Return the one integration managing ``namespace``; record overlaps as conflicts."""
        labels = meta_of(body).get("labels") or {}
        names = selection.claimants(self._specs(), namespace, labels, self.never_managed)
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

    def _remember_namespace(self, body: dict[str, Any]) -> None:
        name = meta_of(body).get("name")
        if not name:
            return
        known = self.namespaces.get(name)
        if known is None or int(meta_of(known).get("resourceVersion") or 0) <= int(
            meta_of(body).get("resourceVersion") or 0
        ):
            self.namespaces[name] = body

    async def _patch_namespace_with(
        self,
        namespace: str,
        current: dict[str, Any],
        plan: Callable[[dict[str, Any]], list[dict[str, Any]] | None],
    ) -> bool:
        """Apply the JSON Patch ``plan`` makes of the namespace, planning again after a conflict.

        Every namespace patch of the bridge is guarded by a ``test`` on resourceVersion; when the
        namespace changed meanwhile it is read again and the patch planned again, at most five
        times. Returns False when the namespace is gone; raises KubeError when it kept changing.
        """
        for _ in range(PATCH_ATTEMPTS):
            ops = plan(current)
            if ops is None:
                return True
            try:
                self._remember_namespace(await self.cluster.patch_namespace(namespace, ops))
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
            self._remember_namespace(current)
        raise KubeError(409, f"namespace {namespace} kept changing")

    def _record_for(
        self, namespace: str, integration: Integration, spec: IntegrationSpec, organization: str
    ) -> NamespaceRecord:
        """The namespace's record, new when its integration or organization changed."""
        record = self.state.records.get(namespace)
        if (
            record is None
            or record.integration != integration.name
            or record.organization != organization
        ):
            record = NamespaceRecord(
                namespace=namespace,
                integration=integration.name,
                organization=organization,
                registry_host=spec.registry_host,
                insecure_registry=spec.insecure_registry,
                scheduled_import=spec.scheduled_image_stream_import,
            )
            self.state.records[namespace] = record
            self._status_dirty.add(integration.name)
        return record

    def _unmanage(self, namespace: str) -> None:
        record = self.state.records.pop(namespace, None)
        if record is not None:
            self._status_dirty.add(record.integration)
        for integration in self.integrations.values():
            if integration.invalid_names.pop(namespace, None) is not None:
                self._status_dirty.add(integration.name)

    def _forget(self, namespace: str) -> None:
        self._unmanage(namespace)
        self._invalidate(namespace)
        self._observe.discard(namespace)
        self._relist.discard(namespace)
        self._rotate.discard(namespace)
        self._check.pop(namespace, None)
        self._check_turn.pop(namespace, None)
        self._quay_checked.pop(namespace, None)
        self._reported_invalid.discard(namespace)
        self._reported_failing.discard(namespace)
        self._reported_not_owned = {k for k in self._reported_not_owned if k[0] != namespace}
        self._retries.pop(namespace, None)
        lock = self._locks.get(namespace)
        if lock is None or not lock.locked():
            self._locks.pop(namespace, None)
            self._wanted.pop(namespace, None)
            self._changes.pop(namespace, None)
            self._done.pop(namespace, None)
        handle = self._retry_handles.pop(namespace, None)
        if handle is not None:
            handle.cancel()
        for integration in self.integrations.values():
            if integration.conflicts.pop(namespace, None) is not None:
                self._status_dirty.add(integration.name)

    async def _reconcile_safely(self, namespace: str) -> None:
        """One reconcile pass of ``namespace`` that never raises (``bridge.reconciling``)."""
        raise NotImplementedError
