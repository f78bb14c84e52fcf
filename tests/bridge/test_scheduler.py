"""The scheduler alone: coalescing, one pass at a time per namespace, retries, fingerprints.

The pass it runs is the test's own coroutine, which records what ran and waits on events the test
sets, so each property is shown by the order of what happened, not by timing.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from bridge.controller.scheduler import Scheduler
from bridge.model.operator_settings import OperatorSettings

QUICK = OperatorSettings(retry_first=0.001, retry_cap=0.002)


class Passes:
    """A pass that records each run and holds it until the test lets it end."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.running: Counter[str] = Counter()
        self.most_at_once = 0
        self.most_per_namespace = 0
        self.release = asyncio.Event()
        self.entered = asyncio.Event()

    async def __call__(self, namespace: str) -> None:
        self.started.append(namespace)
        self.running[namespace] += 1
        self.most_at_once = max(self.most_at_once, sum(self.running.values()))
        self.most_per_namespace = max(self.most_per_namespace, self.running[namespace])
        self.entered.set()
        try:
            await self.release.wait()
        finally:
            self.running[namespace] -= 1


async def test_requests_during_a_pass_are_coalesced_into_one_more_pass() -> None:
    passes = Passes()
    scheduler = Scheduler(OperatorSettings(), passes)
    first = scheduler.kick("team")
    await passes.entered.wait()
    later = [scheduler.kick("team") for _ in range(5)]
    await asyncio.sleep(0)  # let them queue on the namespace's lock
    passes.release.set()
    await asyncio.gather(first, *later)
    assert passes.started == ["team", "team"]  # the five waiting requests cost one pass
    assert passes.most_per_namespace == 1


async def test_one_pass_at_a_time_per_namespace_while_namespaces_run_side_by_side() -> None:
    passes = Passes()
    scheduler = Scheduler(OperatorSettings(), passes)
    tasks = [scheduler.kick(name) for name in ("a", "b", "a", "c", "b")]
    while len(set(passes.started)) < 3:
        await asyncio.sleep(0)
    assert passes.most_per_namespace == 1
    assert passes.most_at_once == 3  # a, b and c together, never two of one namespace
    passes.release.set()
    await asyncio.gather(*tasks)
    assert Counter(passes.started) == {"a": 2, "b": 2, "c": 1}


async def test_the_concurrency_setting_bounds_the_passes_running_at_once() -> None:
    passes = Passes()
    scheduler = Scheduler(OperatorSettings(concurrency=2), passes)
    tasks = [scheduler.kick(f"ns{i}") for i in range(5)]
    while len(passes.started) < 2:
        await asyncio.sleep(0)
    for _ in range(10):
        await asyncio.sleep(0)
    assert len(passes.started) == 2, "the others wait for a free slot"
    passes.release.set()
    await asyncio.gather(*tasks)
    assert passes.most_at_once == 2 and len(passes.started) == 5


async def test_a_failed_pass_is_run_again_on_its_own_until_it_succeeds() -> None:
    outcomes = [False, False, True]
    ran: list[str] = []
    done = asyncio.Event()

    async def flaky(namespace: str) -> None:
        ran.append(namespace)
        if outcomes.pop(0):
            scheduler.succeeded(namespace)
            done.set()
        else:
            scheduler.retry_later(namespace)

    scheduler = Scheduler(QUICK, flaky)
    await scheduler.kick("team")
    await asyncio.wait_for(done.wait(), 10)
    assert ran == ["team", "team", "team"]


def test_the_backoff_doubles_up_to_the_cap_and_starts_over_after_a_success() -> None:
    scheduler = Scheduler(OperatorSettings(retry_first=1.0, retry_cap=5.0), _never)
    assert [scheduler.backoff("team") for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert scheduler.backoff("other") == 1.0  # each namespace counts its own
    scheduler.succeeded("team")
    assert scheduler.backoff("team") == 1.0


async def test_forgetting_a_namespace_cancels_its_pending_retry() -> None:
    ran: list[str] = []

    async def record(namespace: str) -> None:
        ran.append(namespace)

    scheduler = Scheduler(OperatorSettings(), record)
    scheduler.retry_in("gone", 0.01)
    scheduler.retry_in("kept", 0.01)
    scheduler.forget("gone")
    while not ran:
        await asyncio.sleep(0.005)
    await scheduler.stop()
    assert ran == ["kept"]


def test_invalidation_drops_the_fingerprint_and_outdates_a_pass_in_flight() -> None:
    scheduler = Scheduler(OperatorSettings(), _never)
    fingerprint = ("quay", "labels")
    revision = scheduler.revision("team")
    scheduler.remember("team", fingerprint, revision)
    assert scheduler.unchanged("team", fingerprint)
    assert not scheduler.unchanged("team", ("quay", "other labels"))

    scheduler.invalidate("team")
    assert not scheduler.unchanged("team", fingerprint)

    # A pass that began before an invalidation must not record what it saw.
    began = scheduler.revision("team")
    scheduler.invalidate("team")
    scheduler.remember("team", fingerprint, began)
    assert not scheduler.unchanged("team", fingerprint)
    scheduler.remember("team", fingerprint, scheduler.revision("team"))
    assert scheduler.unchanged("team", fingerprint)

    scheduler.invalidate_all()
    assert not scheduler.unchanged("team", fingerprint)


async def test_invalidate_and_kick_runs_a_full_pass() -> None:
    seen: list[bool] = []
    fingerprint = ("quay",)

    async def check(namespace: str) -> None:
        seen.append(scheduler.unchanged(namespace, fingerprint))
        scheduler.remember(namespace, fingerprint, scheduler.revision(namespace))

    scheduler = Scheduler(OperatorSettings(), check)
    await scheduler.kick("team")
    await scheduler.kick("team")
    await scheduler.invalidate_and_kick("team")
    assert seen == [False, True, False]


async def _never(namespace: str) -> None:
    raise AssertionError(f"no pass expected, got one of {namespace}")
