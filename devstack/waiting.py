"""Bounded polling: wait until a condition holds, and say what was waited for when it does not.

Every wait of the tests, the benchmarks and the demo goes through :func:`wait_until` (or, where
running out of time is a result rather than an error, :func:`poll_until`). A timeout names what
was awaited and the last state observed, so a failed run tells why without a rerun.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import Callable
from typing import TypeVar

import requests

T = TypeVar("T")

#: What a server that is not up (or not reachable) yet raises: "not yet", not a failure.
NOT_YET: tuple[type[BaseException], ...] = (requests.RequestException, OSError)

#: How much of the last observed value a timeout message shows.
_SHOWN = 600


class WaitTimeout(TimeoutError):
    """A condition did not hold in time; the message names it and the last observed state."""

    def __init__(self, what: str, timeout: float, last: str) -> None:
        super().__init__(f"waited {timeout:g} s for {what}; last observed: {last}")
        self.what = what
        self.last = last


def describe(check: Callable[..., object]) -> str:
    """Name a condition for a timeout message: a lambda's source, else the function's name."""
    name = getattr(check, "__qualname__", None) or repr(check)
    if getattr(check, "__name__", "") == "<lambda>":
        try:
            source = inspect.getsource(check).strip()
        except (OSError, TypeError):
            return name
        start = source.find("lambda")
        text = " ".join(source[start:].split()) if start >= 0 else source
        return text[:200]
    return name


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def _observe(
    check: Callable[[], T | None], tolerate: tuple[type[BaseException], ...]
) -> tuple[T | None, str]:
    try:
        value = check()
    except tolerate as error:
        return None, f"{type(error).__name__}: {error}"
    return value, _shown(value)


def wait_until(
    check: Callable[[], T | None],
    timeout: float = 20.0,
    what: str | None = None,
    *,
    interval: float = 0.05,
    tolerate: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``check`` every ``interval`` seconds until it returns something truthy; return that.

    Args:
        check: the condition; its truthy result is returned.
        timeout: seconds to wait at most.
        what: what is awaited, for the timeout message (default: ``check``'s source or name).
        interval: seconds between two calls.
        tolerate: exceptions of ``check`` that count as "not yet" (for example a server that
            is not listening yet); any other exception propagates at once.

    Raises:
        WaitTimeout: ``check`` stayed falsy for ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value, last = _observe(check, tolerate)
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(what or describe(check), timeout, last)
        time.sleep(interval)


def poll_until(
    check: Callable[[], T | None],
    timeout: float,
    *,
    interval: float = 0.05,
    tolerate: tuple[type[BaseException], ...] = (),
) -> T | None:
    """Like :func:`wait_until`, but return ``None`` when time runs out (a measured outcome)."""
    try:
        return wait_until(check, timeout, "", interval=interval, tolerate=tolerate)
    except WaitTimeout:
        return None


async def wait_until_async(
    check: Callable[[], T | None],
    timeout: float = 20.0,
    what: str | None = None,
    *,
    interval: float = 0.05,
    tolerate: tuple[type[BaseException], ...] = (),
) -> T:
    """:func:`wait_until` for a test on an event loop: ``check`` (blocking) runs in a thread."""
    deadline = time.monotonic() + timeout
    while True:
        value, last = await asyncio.to_thread(functools.partial(_observe, check, tolerate))
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(what or describe(check), timeout, last)
        await asyncio.sleep(interval)


def wait_until_steady(
    measure: Callable[[], T],
    quiet: float,
    timeout: float,
    what: str,
    *,
    interval: float = 0.1,
) -> T:
    """Wait until ``measure`` has returned the same value for ``quiet`` seconds in a row; return it.

    For "the operator settled": ``measure`` counts its requests so far, and the wait ends once
    no new one came for ``quiet`` seconds.

    Raises:
        WaitTimeout: the value still changed after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    seen, since = measure(), time.monotonic()
    while time.monotonic() - since < quiet:
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"{what} to stay unchanged for {quiet:g} s", timeout, _shown(seen))
        time.sleep(interval)
        now = measure()
        if now != seen:
            seen, since = now, time.monotonic()
    return seen
