"""List-and-watch loops that feed the controller the objects it follows, without kopf.

Namespaces, ServiceAccounts, the bridge's pull Secrets and ImageStreams come in thousands: about
5,300 watch events for 200 new projects. Through kopf each event went through its per-object
memories, cause detection, loggers and handler machinery, which cost the operator more CPU than all
of its own work. These loops do what a client-go informer does and no more: list (in pages), then
watch from the list's resourceVersion with bookmarks, list again when the version has expired
(410) or the connection failed, back off on errors, and hand every change to a handler.

A handler sees the events of one object one at a time and in order, while different objects run
concurrently; events that arrive for an object while its handler runs are coalesced to the latest
(never across a deletion, so a re-created object is seen as deleted, then added). An object that
vanished while the watch was down is reported ``DELETED`` after the next list, with the metadata
last seen, so no deletion is lost. kopf still runs the QuayIntegration and Build handlers, the
operator's start-up and clean-up, and peering.

An API server can lose its state (etcd restored from a backup, the simulator restarted): its
resourceVersions then start again below the ones the informer holds. It notices either way the
server can show it: a watch or list refused with 504 "Too large resource version" (cause
``ResourceVersionTooLarge``, what kube-apiserver answers for a version it has not reached), or a
list whose resourceVersion is older than one already seen. It then starts over: every object it
knew is reported ``DELETED`` (with the metadata last seen) and every object listed now ``ADDED``,
so the controller drops what no longer exists and takes a re-created object of the same name as
new, whatever its resourceVersion.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bridge.kube.caches import slim_meta
from bridge.kube.cluster import Cluster, Forbidden, Gone, KubeError, NotFound, Unauthorized
from bridge.metrics import Metrics

log = logging.getLogger(__name__)

Handler = Callable[[str, dict[str, Any]], Awaitable[None]]
Key = tuple[str, str]

#: Server-side watch timeout (seconds); the watch is then resumed from the last version seen.
WATCH_TIMEOUT = 300.0
#: Delays after a failed list or watch: first, cap (seconds).
BACKOFF_FIRST, BACKOFF_CAP = 0.2, 30.0
#: A watch that ends normally sooner than this (seconds) is resumed only after as long a pause.
QUICK_END = 1.0


@dataclass(frozen=True)
class Source:
    """A collection to follow: its REST path, optional selectors, and a name for logs."""

    resource: str
    path: str
    label_selector: str | None = None
    field_selector: str | None = None

    def params(self) -> dict[str, str]:
        """The selector query parameters of both the list and the watch."""
        params = {}
        if self.label_selector:
            params["labelSelector"] = self.label_selector
        if self.field_selector:
            params["fieldSelector"] = self.field_selector
        return params


class Expired(Exception):
    """The watch's resourceVersion is older than the server keeps: list again."""


class StateLost(Exception):
    """The server never issued the resourceVersion the informer holds: start over."""


def is_too_large(status: dict[str, Any]) -> bool:
    """Whether a Status is kube-apiserver's "Too large resource version" (504, Timeout)."""
    details = status.get("details") if isinstance(status.get("details"), dict) else {}
    causes = details.get("causes") if isinstance(details, dict) else None
    if isinstance(causes, list) and any(
        isinstance(c, dict) and c.get("reason") == "ResourceVersionTooLarge" for c in causes
    ):
        return True
    return "Too large resource version" in str(status.get("message") or "")


def _number(version: object) -> int | None:
    try:
        return int(str(version))
    except ValueError:
        return None


def object_key(body: dict[str, Any]) -> Key:
    """(namespace, name) of an object; namespace is empty for cluster-scoped kinds."""
    meta = body.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


class KeyedDispatch:
    """Runs a handler per event: one object's events in order, different objects concurrently."""

    def __init__(self, resource: str, handler: Handler) -> None:
        self.resource = resource
        self.handler = handler
        self._pending: dict[Key, list[tuple[str, dict[str, Any]]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    def submit(self, key: Key, event_type: str, body: dict[str, Any]) -> None:
        """Queue an event; start the object's runner unless one is running."""
        queue = self._pending.get(key)
        if queue is not None:
            if queue and queue[-1][0] != "DELETED" and event_type != "DELETED":
                queue[-1] = (event_type, body)  # only the latest state matters
            else:
                queue.append((event_type, body))
            return
        self._pending[key] = []
        self._idle.clear()
        task = asyncio.get_running_loop().create_task(self._run(key, event_type, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, key: Key, event_type: str, body: dict[str, Any]) -> None:
        try:
            while True:
                try:
                    await self.handler(event_type, body)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("%s %s/%s: handler failed", self.resource, *key)
                queue = self._pending[key]
                if not queue:
                    return
                event_type, body = queue.pop(0)
        finally:
            del self._pending[key]
            if not self._pending:
                self._idle.set()

    async def idle(self) -> None:
        """Return once no event is queued or being handled."""
        await self._idle.wait()

    async def cancel(self) -> None:
        """Cancel the running handlers and wait for them."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class Informer:
    """Keeps one collection followed: list, watch, list again when needed, forever."""

    def __init__(
        self,
        cluster: Cluster,
        source: Source,
        handler: Handler,
        metrics: Metrics,
        *,
        timeout: float = WATCH_TIMEOUT,
    ) -> None:
        self.cluster = cluster
        self.source = source
        self.metrics = metrics
        self.timeout = timeout
        self.dispatch = KeyedDispatch(source.resource, handler)
        #: Set once the first listing has been handed out (the caches hold every object).
        self.synced = asyncio.Event()
        #: Metadata last seen of every object present, to report deletions missed meanwhile.
        self._known: dict[Key, dict[str, Any]] = {}
        #: The resourceVersion to watch from; None: list first.
        self._version: str | None = None
        #: The highest resourceVersion seen; a server answering below it has lost its state.
        self._highest = 0
        #: The next list starts over (the server lost its state).
        self._reset = False
        self._last_error = ""

    async def run(self) -> None:
        """Follow the collection until cancelled; errors are logged and retried with backoff."""
        failures = 0
        loop = asyncio.get_running_loop()
        while True:
            try:
                if self._version is None:
                    self._version = await self._relist()
                began = loop.time()
                await self._watch()
                failures = 0
                if loop.time() - began < QUICK_END:
                    # A server that ends watches at once must not be asked again in a tight loop.
                    await asyncio.sleep(QUICK_END * random.uniform(0.8, 1.2))
            except Expired:
                self.metrics.watch_restarts.labels(self.source.resource, "expired").inc()
                self._version = None
            except StateLost as exc:
                self.metrics.watch_restarts.labels(self.source.resource, "state_lost").inc()
                log.warning(
                    "following %s: the API server lost its state (%s); listing everything again",
                    self.source.resource,
                    exc,
                )
                self._version, self._reset = None, True
            except KubeError as exc:
                reason = "reconnected" if exc.unreachable else "error"
                self.metrics.watch_restarts.labels(self.source.resource, reason).inc()
                if isinstance(exc, Gone):
                    self._version = None
                    continue
                if exc.status == 504 and "Too large resource version" in exc.message:
                    self._version, self._reset = None, True
                    continue
                self._report(exc)
                if exc.unreachable:
                    # The connection failed: the server may have restarted with its state lost
                    # and its resourceVersions grown past ours again. Only a list shows what
                    # vanished meanwhile; it costs one request per reconnect.
                    self._version = None
                failures += 1
                delay = min(BACKOFF_FIRST * 2 ** (failures - 1), BACKOFF_CAP)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))

    def _report(self, exc: KubeError) -> None:
        message = str(exc)
        if message == self._last_error:
            log.debug("%s: %s (again)", self.source.resource, message)
            return
        self._last_error = message
        hint = ""
        if isinstance(exc, (Unauthorized, Forbidden)):
            hint = " (check the operator's credentials and RBAC)"
        elif isinstance(exc, NotFound):
            hint = " (is the API served by this cluster?)"
        log.warning("following %s: %s%s; retrying", self.source.resource, message, hint)

    def _seen(self, version: object) -> None:
        number = _number(version)
        if number is not None and number > self._highest:
            self._highest = number

    async def _relist(self) -> str:
        items, version = await self.cluster.list_collection(self.source.path, self.source.params())
        listed = _number(version)
        if listed is not None and listed < self._highest:
            log.warning(
                "following %s: the list is at resourceVersion %s, older than %d already seen: "
                "the API server lost its state; starting over",
                self.source.resource,
                version,
                self._highest,
            )
            self.metrics.watch_restarts.labels(self.source.resource, "state_lost").inc()
            self._reset = True
        if self._reset:
            # Every version known is meaningless now: report all as gone, then all as new.
            for key, meta in list(self._known.items()):
                self.dispatch.submit(key, "DELETED", {"metadata": meta})
            self._known.clear()
            self._highest = 0
            self._reset = False
        self._seen(version)
        present: set[Key] = set()
        for item in items:
            key = object_key(item)
            present.add(key)
            meta = item.get("metadata") or {}
            known = self._known.get(key)
            if known is not None and known.get("resourceVersion") == meta.get("resourceVersion"):
                continue
            self._known[key] = slim_meta(meta)
            self.dispatch.submit(key, "ADDED", item)
        for key in [k for k in self._known if k not in present]:
            meta = self._known.pop(key)
            self.dispatch.submit(key, "DELETED", {"metadata": meta})
        self._last_error = ""
        self.synced.set()
        return version

    async def _watch(self) -> None:
        params = {
            **self.source.params(),
            "resourceVersion": str(self._version),
            "allowWatchBookmarks": "true",
        }
        counted: dict[str, Any] = {}
        async for event in self.cluster.watch(self.source.path, params, timeout=self.timeout):
            event_type = str(event.get("type") or "")
            body = event.get("object") or {}
            counter = counted.get(event_type)
            if counter is None:
                counter = counted[event_type] = self.metrics.watch_events.labels(
                    self.source.resource, event_type
                )
            counter.inc()
            if event_type == "ERROR":
                code = int(body.get("code") or 0)
                if code == 410:
                    raise Expired(str(body.get("message") or "expired"))
                if code == 504 and is_too_large(body):
                    raise StateLost(str(body.get("message") or "too large resource version"))
                raise KubeError(code, str(body.get("message") or "watch error"))
            meta = body.get("metadata") or {}
            self._version = str(meta.get("resourceVersion") or self._version)
            self._seen(self._version)
            if event_type == "BOOKMARK":
                continue
            key = object_key(body)
            if event_type == "DELETED":
                self._known.pop(key, None)
            else:
                self._known[key] = slim_meta(meta)
            self.dispatch.submit(key, event_type, body)
