"""The in-memory object store: indexed objects, one resourceVersion counter, bounded watch history.

Objects live in ``objects[(group, plural)][namespace][name]`` (cluster-scoped objects under
namespace ``""``), so a get is a dictionary lookup and a namespaced list reads one namespace only.
Every write takes the next value of one global counter as its resourceVersion and appends an event
to that resource's history; a watch from resourceVersion N replays the history after N and then
receives live events, with no await in between, so nothing falls into a gap. When N is older than
the kept history the watch is refused with 410 Gone, as etcd compaction does.

Stored objects are never mutated in place: writers pass a fresh dict, readers may share it. That is
what lets the JSON bytes of a stored version be computed once (:class:`EncodingCache`) and shared by
the write's answer, every watcher's event, GETs and lists. A watcher collects the events that pass
its filters until its stream takes them all at once, so a burst of changes costs one socket write
per watcher rather than one per event.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sim.encoding import Encode, EncodingCache, dumps
from sim.errors import gone
from sim.selectors import Matcher, all_of

Key = tuple[str, str]


@dataclass
class Event:
    """One change: ADDED, MODIFIED or DELETED, with the object as it is after the change."""

    type: str
    rv: int
    obj: dict[str, Any]
    old: dict[str, Any] | None = None
    _line: bytes | None = None

    def line(self, encode: Encode = dumps) -> bytes:
        """Return the watch-stream line for this event (built once, shared by watchers).

        ``encode`` gives the object's JSON bytes; the store's cache passes the ones already
        computed for the write's answer or for another event of the same stored version.
        """
        if self._line is None:
            self._line = (
                b'{"type":"' + self.type.encode() + b'","object":' + encode(self.obj) + b"}\n"
            )
        return self._line


@dataclass(eq=False)
class Watcher:
    """A live subscription: events that pass its filters wait in ``pending`` for the stream.

    The stream takes every pending event at once (:meth:`take`), so events that arrive while it
    is busy or not yet scheduled leave in one write. :meth:`end` (server shutdown) and
    :meth:`expire` (the watch's ``timeoutSeconds``) wake it too.
    """

    namespace: str | None
    matchers: list[Matcher]
    pending: deque[Event] = field(default_factory=deque)
    ended: bool = False
    expired: bool = False
    _waiter: asyncio.Future[None] | None = None
    _match: Matcher | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._match = all_of(*self.matchers)

    def push(self, event: Event) -> None:
        """Add an event for the stream and wake it."""
        self.pending.append(event)
        self._wake()

    def end(self) -> None:
        """End the stream after the pending events (the server is shutting down)."""
        self.ended = True
        self._wake()

    def expire(self) -> None:
        """End the stream because its time is up."""
        self.expired = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def take(self) -> list[Event]:
        """Wait until an event is pending or the watch ends; return the pending events (or [])."""
        while not self.pending and not self.ended and not self.expired:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        events = list(self.pending)
        self.pending.clear()
        return events

    def wants(self, obj: dict[str, Any]) -> bool:
        """Return whether an object passes this watcher's namespace and selectors."""
        if (
            self.namespace is not None
            and (obj.get("metadata") or {}).get("namespace", "") != self.namespace
        ):
            return False
        return self._match is None or self._match(obj)

    def view(self, event: Event) -> Event | None:
        """Return the event as this watcher sees it, or None.

        With selectors, a change that brings an object into the selection is seen as ADDED and one
        that takes it out as DELETED (carrying the new state), as the API server reports them.
        """
        now_in = self.wants(event.obj)
        if event.type != "MODIFIED" or not self.matchers:
            return event if now_in else None
        was_in = event.old is not None and self.wants(event.old)
        if now_in and was_in:
            return event
        if now_in:
            return Event("ADDED", event.rv, event.obj, event.old)
        if was_in:
            return Event("DELETED", event.rv, event.obj, event.old)
        return None


Listener = Callable[[Key, Event], None]


class Store:
    """Objects, the resourceVersion counter, per-resource history and watchers."""

    def __init__(self, history_limit: int = 10_000) -> None:
        self.rv = 0
        self.history_limit = history_limit
        self._objects: dict[Key, dict[str, dict[str, dict[str, Any]]]] = {}
        self._history: dict[Key, deque[Event]] = {}
        self._floor: dict[Key, int] = {}
        self._watchers: dict[Key, set[Watcher]] = {}
        self.listeners: list[Listener] = []
        self.encodings = EncodingCache()

    def encode(self, obj: dict[str, Any]) -> bytes:
        """Return the JSON bytes of an object (cached while it is the stored version)."""
        return self.encodings.encode(obj)

    def next_rv(self) -> int:
        """Take the next resourceVersion."""
        self.rv += 1
        return self.rv

    def get(self, key: Key, namespace: str, name: str) -> dict[str, Any] | None:
        """Return the stored object (do not modify it), or None."""
        return self._objects.get(key, {}).get(namespace, {}).get(name)

    def iter(self, key: Key, namespace: str | None) -> Iterator[dict[str, Any]]:
        """Yield stored objects of a resource, in one namespace or (None) in all."""
        by_ns = self._objects.get(key, {})
        if namespace is not None:
            yield from list(by_ns.get(namespace, {}).values())
            return
        for objs in list(by_ns.values()):
            yield from list(objs.values())

    def sorted_objects(self, key: Key, namespace: str | None) -> list[dict[str, Any]]:
        """Return stored objects of a resource ordered by (namespace, name), as lists are.

        Sorting the namespace and name keys (plain strings) is several times cheaper than
        sorting the objects by a key function.
        """
        by_ns = self._objects.get(key, {})
        namespaces = [namespace] if namespace is not None else sorted(by_ns)
        result: list[dict[str, Any]] = []
        for ns in namespaces:
            objs = by_ns.get(ns)
            if objs:
                result.extend([objs[name] for name in sorted(objs)])
        return result

    def count(self, key: Key) -> int:
        """Return how many objects of a resource are stored."""
        return sum(len(v) for v in self._objects.get(key, {}).values())

    def keys_in_namespace(self, namespace: str) -> list[Key]:
        """Return the resources that have objects in a namespace."""
        return [k for k, by_ns in self._objects.items() if by_ns.get(namespace)]

    def put(self, key: Key, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        """Store ``obj`` with a new resourceVersion (ADDED if ``old`` is None); emit the event."""
        rv = self.next_rv()
        obj["metadata"]["resourceVersion"] = str(rv)
        meta = obj["metadata"]
        bucket = self._objects.setdefault(key, {}).setdefault(meta.get("namespace", ""), {})
        replaced = bucket.get(meta["name"])
        if replaced is not None:
            self.encodings.drop(replaced)
        bucket[meta["name"]] = obj
        self.encodings.hold(obj)
        self._emit(key, Event("ADDED" if old is None else "MODIFIED", rv, obj, old))
        return obj

    def remove(
        self, key: Key, namespace: str, name: str, final: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Remove an object, emit DELETED with a new resourceVersion and return its last state.

        ``final`` is the state the object leaves with when the write that releases it also
        changed it (its last finalizer removed): one DELETED event, as the API server sends.
        """
        by_ns = self._objects.get(key, {})
        old = by_ns.get(namespace, {}).pop(name, None)
        if old is None:
            return None
        self.encodings.drop(old)
        if not by_ns[namespace]:
            del by_ns[namespace]
        rv = self.next_rv()
        base = final if final is not None else old
        last = {**base, "metadata": {**base["metadata"], "resourceVersion": str(rv)}}
        self._emit(key, Event("DELETED", rv, last, old))
        return last

    def _emit(self, key: Key, event: Event) -> None:
        history = self._history.get(key)
        if history is None:
            history = self._history[key] = deque()
        history.append(event)
        while len(history) > self.history_limit:
            self._floor[key] = history.popleft().rv
        for watcher in self._watchers.get(key, ()):
            seen = watcher.view(event)
            if seen is not None:
                watcher.push(seen)
        for listener in list(self.listeners):
            listener(key, event)

    def watch(
        self, key: Key, namespace: str | None, since: int | None, matchers: list[Matcher]
    ) -> tuple[Watcher, list[Event]]:
        """Subscribe to a resource and return the watcher with the events to send first.

        ``since`` None means "from now, starting with the current objects as ADDED"; otherwise the
        history after ``since`` is replayed, or 410 Gone raised when it is no longer kept.
        """
        watcher = Watcher(namespace, matchers)
        if since is None:
            first = [
                Event("ADDED", int(o["metadata"]["resourceVersion"]), o)
                for o in self.iter(key, namespace)
                if watcher.wants(o)
            ]
        else:
            if since < self._floor.get(key, 0):
                raise gone(f"too old resource version: {since} ({self._floor[key]})")
            views = (watcher.view(e) for e in self._events_after(key, since))
            first = [e for e in views if e is not None]
        self._watchers.setdefault(key, set()).add(watcher)
        return watcher, first

    def _events_after(self, key: Key, since: int) -> list[Event]:
        """Return the kept events of a resource after ``since``, oldest first.

        The history is in resourceVersion order and watches usually start from a recent list,
        so it is read from the newest end and only as far back as needed.
        """
        newer: list[Event] = []
        for event in reversed(self._history.get(key, ())):
            if event.rv <= since:
                break
            newer.append(event)
        newer.reverse()
        return newer

    def unwatch(self, key: Key, watcher: Watcher) -> None:
        """End a subscription."""
        self._watchers.get(key, set()).discard(watcher)

    def close_all(self) -> None:
        """End every watch (on shutdown)."""
        for watchers in self._watchers.values():
            for w in watchers:
                w.end()
        self._watchers.clear()
