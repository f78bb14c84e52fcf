"""How many Quay calls the bridge keeps in flight: an adaptive limit, and who goes first.

Real Quay spends a fixed, large time on every call (it hashes the bearer token again each time)
in a few workers, so calls beyond its workers only wait inside Quay, where they run into client
timeouts and hide how busy it is. :class:`AdaptiveLimit` keeps the queue on the bridge's side
instead (AIMD, as TCP does): the limit grows by one per limit's worth of calls answered quickly,
and shrinks by a factor when calls take much longer than the fastest seen (Quay is queueing) or
fail (timeouts, resets, 429, 5xx), at most once per round trip. Latency under a fixed slack never
counts as queueing, so a fast Quay keeps the full limit.

Calls wait in priority order: work caused by an event (a new namespace, a ServiceAccount, an
ImageStream, a Build) before background work (resync, rotation), which runs inside
:func:`background`; within one priority, first come first served.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

#: 0 for event-driven work, 1 for background work (set by :func:`background`).
PRIORITY: contextvars.ContextVar[int] = contextvars.ContextVar("quay_call_priority", default=0)


@contextmanager
def background() -> Iterator[None]:
    """Run the block's Quay calls (and the tasks it starts) after any event-driven call."""
    token = PRIORITY.set(1)
    try:
        yield
    finally:
        PRIORITY.reset(token)


@dataclass(frozen=True)
class LimitSettings:
    """The limiter's knobs (the QuayIntegration's ``quayClient`` settings)."""

    maximum: int = 16
    #: start at the ceiling: a fast Quay never waits for the limit to grow, a slow one is backed
    #: off from within a few round trips
    initial: int = 16
    minimum: int = 1
    #: a call slower than ``tolerance`` x the fastest recent one, plus ``slack``, means queueing;
    #: the slack keeps the bridge's own event-loop delays from counting as Quay's
    tolerance: float = 1.5
    slack_seconds: float = 0.25
    backoff: float = 0.7


class AdaptiveLimit:
    """An AIMD limit on concurrent calls, with a priority queue of waiters."""

    def __init__(self, settings: LimitSettings | None = None) -> None:
        self.settings = settings or LimitSettings()
        s = self.settings
        self.limit = float(min(max(s.initial, s.minimum), s.maximum))
        self.in_flight = 0
        self._recent: deque[float] = deque(maxlen=64)
        self._last_decrease = 0.0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @property
    def waiting(self) -> int:
        """Calls queued on the bridge's side."""
        return len(self._waiters)

    async def acquire(self) -> None:
        """Wait for a slot (by priority, then arrival)."""
        if self.in_flight < int(self.limit) and not self._waiters:
            self.in_flight += 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (PRIORITY.get(), next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.in_flight -= 1  # granted and cancelled at once: give the slot back
            else:
                self._forget(future)
            self._wake()
            raise

    def _forget(self, future: asyncio.Future[None]) -> None:
        """Drop a cancelled waiter, so it neither counts as waiting nor holds later calls back."""
        self._waiters = [entry for entry in self._waiters if entry[2] is not future]
        heapq.heapify(self._waiters)

    def release(self, seconds: float, *, failed: bool) -> None:
        """Give a slot back and adapt the limit to what the call showed."""
        self.in_flight -= 1
        self._adapt(seconds, failed)
        self._wake()

    def _adapt(self, seconds: float, failed: bool) -> None:
        s = self.settings
        fastest = min(self._recent) if self._recent else seconds
        if not failed:
            self._recent.append(seconds)
        congested = failed or seconds > fastest * s.tolerance + s.slack_seconds
        now = time.monotonic()
        if congested:
            if now - self._last_decrease >= max(seconds, s.slack_seconds):
                self.limit = max(float(s.minimum), self.limit * s.backoff)
                self._last_decrease = now
        else:
            self.limit = min(float(s.maximum), self.limit + 1.0 / self.limit)

    def _wake(self) -> None:
        while self._waiters and self.in_flight < int(self.limit):
            _, _, future = heapq.heappop(self._waiters)
            if future.done():
                continue
            self.in_flight += 1
            future.set_result(None)
