"""Quay's real cost per API call, for benchmarks and tests (``serve --quay-cost``; off by default).

Real Quay checks a bearer OAuth token by hashing it again on every call (a deliberately slow
password hash), inside a small number of server workers; one worker checks one token at a time.
The registry core answers far faster, so an operator measured against it alone looks better than
it will against Quay. With the cost model on, every ``/api/`` request that carries a bearer token
first does the same kind of work: a PBKDF2-HMAC-SHA256 derivation whose round count is calibrated
at start so that one check takes ``seconds_per_call`` on an idle core, run while holding one of
``workers`` slots (a semaphore). Requests beyond the workers queue, as they do in front of Quay's
workers. The server also closes keep-alive connections idle for ``idle_seconds`` (Quay's server
does so after 2 s), which a client must survive.

The derived key is not what decides access (the registry core's own token check does); the work is
what is modelled. ``GET /quay-cost`` reports the calibration and the time the workers were busy, so
a benchmark can compare an operator's convergence with the time Quay itself needed.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Quay's gunicorn/gevent server closes a keep-alive connection idle this long (seconds).
QUAY_IDLE_SECONDS = 2.0
#: A real Quay worker spends about this long on one bearer-token check (seconds).
QUAY_CALL_SECONDS = 0.25
_SALT = b"quay-registry-cost-model"
_PROBE_ROUNDS = 20_000


@dataclass(frozen=True)
class QuayCost:
    """The cost model's knobs (``serve --quay-cost-seconds/--quay-cost-workers``)."""

    seconds_per_call: float = QUAY_CALL_SECONDS
    workers: int = 1
    idle_seconds: float = QUAY_IDLE_SECONDS


def derive(token: str, rounds: int) -> bytes:
    """One token check's work: PBKDF2-HMAC-SHA256 over the token (releases the GIL)."""
    return hashlib.pbkdf2_hmac("sha256", token.encode(), _SALT, rounds)


def calibrate(seconds_per_call: float) -> int:
    """Rounds of :func:`derive` that take about ``seconds_per_call`` here (best of three)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        derive("calibration", _PROBE_ROUNDS)
        best = min(best, time.perf_counter() - started)
    return max(1, round(_PROBE_ROUNDS * seconds_per_call / max(best, 1e-9)))


class CostModel:
    """The middleware that makes bearer-token API calls cost what they cost on Quay."""

    def __init__(self, cost: QuayCost, rounds: int | None = None) -> None:
        if cost.workers < 1 or cost.seconds_per_call < 0 or cost.idle_seconds <= 0:
            raise ValueError("the Quay cost model needs workers >= 1, seconds >= 0, idle > 0")
        self.cost = cost
        self.rounds = rounds if rounds is not None else calibrate(cost.seconds_per_call)
        self.calls = 0
        self.busy_seconds = 0.0
        self._slots: asyncio.Semaphore | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.cost.workers)
        return self._slots

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Check the bearer token the slow way, in one of the workers, before handling."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if request.path.startswith("/api/") and scheme.lower() == "bearer" and token.strip():
            async with self._semaphore():
                started = time.perf_counter()
                await asyncio.get_running_loop().run_in_executor(
                    None, derive, token.strip(), self.rounds
                )
                self.busy_seconds += time.perf_counter() - started
                self.calls += 1
        return await handler(request)

    async def report(self, _request: web.Request) -> web.Response:
        """``GET /quay-cost``: calibration, calls checked and the workers' busy time."""
        return web.json_response(
            {
                "seconds_per_call": self.cost.seconds_per_call,
                "workers": self.cost.workers,
                "idle_seconds": self.cost.idle_seconds,
                "rounds": self.rounds,
                "calls": self.calls,
                "busy_seconds": round(self.busy_seconds, 3),
                # Time Quay itself needed: the busy time spread over its workers.
                "quay_seconds": round(self.busy_seconds / self.cost.workers, 3),
            }
        )

    def install(self, app: web.Application) -> None:
        """Add the middleware (inside the metrics one, so latencies include it) and the report."""
        app.middlewares.insert(1, self.middleware)
        app.router.add_get("/quay-cost", self.report)
