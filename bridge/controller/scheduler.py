"""When namespace passes run: one at a time per namespace, coalesced, bounded, retried.

:class:`Scheduler` runs the pass it is given (the namespace reconciler's) for a namespace on
request. Requests that arrive while a pass of that namespace runs are coalesced into one more
pass, so a storm of events costs little; at most ``OperatorSettings.concurrency`` passes run at
once; a failed pass is retried with exponential backoff. It also keeps each namespace's
fingerprint (the inputs of its last successful pass, so an unchanged namespace is skipped), and
:meth:`Scheduler.invalidate` is the one way to drop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

from bridge.model.operator_settings import OperatorSettings

Fingerprint = tuple[Any, ...]


class Scheduler:
    """Per-namespace locks, coalescing, the concurrency bound, retries and fingerprints."""

    def __init__(
        self, settings: OperatorSettings, run_pass: Callable[[str], Awaitable[None]]
    ) -> None:
        self.settings = settings
        self._run_pass = run_pass
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._wanted: dict[str, int] = defaultdict(int)
        self._done: dict[str, int] = defaultdict(int)
        self._fingerprints: dict[str, Fingerprint] = {}
        #: Bumped whenever something asks for a full pass of a namespace (``invalidate``).
        self._changes: dict[str, int] = defaultdict(int)
        self._retries: dict[str, int] = {}
        self._retry_handles: dict[str, asyncio.TimerHandle] = {}
        self._semaphore = asyncio.Semaphore(settings.concurrency)
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- running passes ---------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` in the background; :meth:`stop` cancels it."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def kick(self, namespace: str) -> asyncio.Task[Any]:
        """Ask for a pass of ``namespace`` (coalesced with any already waiting)."""
        return self.spawn(self.run(namespace))

    def kick_all(self, namespaces: Iterable[str]) -> None:
        """Ask for a pass of each namespace."""
        for name in list(namespaces):
            self.kick(name)

    async def run(self, namespace: str) -> None:
        """Run one pass of ``namespace`` unless a pass started after this request."""
        self._wanted[namespace] += 1
        ticket = self._wanted[namespace]
        async with self._locks[namespace]:
            if self._done[namespace] >= ticket:
                return
            target = self._wanted[namespace]
            async with self._semaphore:
                await self._run_pass(namespace)
            self._done[namespace] = target

    def lock(self, namespace: str) -> asyncio.Lock:
        """The lock a pass of ``namespace`` holds while it runs."""
        return self._locks[namespace]

    # --- fingerprints -----------------------------------------------------------------------

    def invalidate(self, namespace: str) -> None:
        """Make the next pass of ``namespace`` a full one, even if a pass running now ends well.

        A pass records its fingerprint only when nothing invalidated the namespace while it ran:
        otherwise a change it may not have seen (an ImageStream that arrived after it read the
        streams) would be skipped by the very pass that was asked for it.
        """
        self._fingerprints.pop(namespace, None)
        self._changes[namespace] += 1

    def invalidate_and_kick(self, namespace: str) -> asyncio.Task[Any]:
        """Ask for a full pass of ``namespace``."""
        self.invalidate(namespace)
        return self.kick(namespace)

    def invalidate_all(self) -> None:
        """Make the next pass of every namespace a full one (this replica became active)."""
        self._fingerprints.clear()

    def revision(self, namespace: str) -> int:
        """A token that changes whenever ``namespace`` is invalidated (see :meth:`remember`)."""
        return self._changes[namespace]

    def unchanged(self, namespace: str, fingerprint: Fingerprint) -> bool:
        """Whether the last successful pass of ``namespace`` saw the same inputs."""
        return self._fingerprints.get(namespace) == fingerprint

    def remember(self, namespace: str, fingerprint: Fingerprint, revision: int) -> None:
        """Record a successful pass's inputs, unless invalidated since ``revision`` was taken.

        A pass invalidated while it ran may have missed what the invalidation was for.
        """
        if self._changes[namespace] == revision:
            self._fingerprints[namespace] = fingerprint

    # --- retries ----------------------------------------------------------------------------

    def backoff(self, namespace: str) -> float:
        """The next retry delay of ``namespace`` before jitter; counts the attempt."""
        attempt = self._retries.get(namespace, 0)
        self._retries[namespace] = attempt + 1
        return float(min(self.settings.retry_first * 2**attempt, self.settings.retry_cap))

    def retry_later(self, namespace: str) -> None:
        """Run ``namespace`` again after its backoff, with jitter so failures do not align."""
        self.retry_in(namespace, self.backoff(namespace) * random.uniform(0.8, 1.2))

    def retry_in(self, namespace: str, delay: float) -> None:
        """Run ``namespace`` again in ``delay`` seconds (replacing any retry already set)."""
        old = self._retry_handles.pop(namespace, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._retry_handles[namespace] = loop.call_later(max(delay, 0.0), self.kick, namespace)

    def succeeded(self, namespace: str) -> None:
        """Start the next failure's backoff from the first delay again."""
        self._retries.pop(namespace, None)

    # --- life cycle -------------------------------------------------------------------------

    def forget(self, namespace: str) -> None:
        """Drop what is kept about a namespace that is gone (a running pass keeps its lock)."""
        self.invalidate(namespace)
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

    async def idle(self) -> None:
        """Wait until every task spawned so far, and those they spawned, has ended."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self, also: Iterable[asyncio.Task[Any]] = ()) -> None:
        """Cancel every background task (and ``also``) and wait for them to end."""
        tasks = list(self._tasks) + list(also)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
