"""Fixtures of the end-to-end suite: a whole stack per test, started as processes on loopback.

Every test here runs the real registry core, the real simulator and the real operator (with its
webhook) through ``devstack.stack``, exactly as ``quay-bridge demo`` does, and plays the seed's
procedure through ``demo.scenario``; the assertions are the tests' own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.reporting import StepRecord
from devstack.stack import Stack


class RecordingReporter:
    """Keeps the demo's step records for assertions (and prints them: pytest shows on failure)."""

    def __init__(self) -> None:
        self.records: list[StepRecord] = []

    def started(self, name: str, title: str) -> None:
        print(f"... {title}")

    def finished(self, record: StepRecord) -> None:
        self.records.append(record)
        print(f"{'ok' if record.ok else 'FAILED'} {record.title}: {record.facts or record.error}")

    def note(self, text: str) -> None:
        print(text)

    def summary(self, ok: bool, records: list[StepRecord]) -> None:
        print("passed" if ok else "FAILED")

    def close(self) -> None:
        pass


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """A stack in a fresh work directory; stopped (and its logs printed on failure) afterwards."""
    running = Stack(tmp_path)
    try:
        yield running
    finally:
        for component in running.components.values():
            print(f"--- {component.name} log tail ---\n{component.log_tail(40)}")
        running.close()


_SAMPLE = re.compile(
    r'^(?P<name>[a-zA-Z_:][\w:]*)\{(?P<labels>(?:[^"}]|"(?:[^"\\]|\\.)*")*)\}\s+(?P<value>\S+)$'
)
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
WRITE_METHODS = {"POST", "PUT", "DELETE", "PATCH"}


def quay_writes(metrics: str) -> dict[tuple[str, str, str], float]:
    """Return the registry core's successful Quay API writes by (method, route, status).

    Reads the request counter of ``/metrics`` (by route template, method and status, as the
    registry core documents), keeps ``/api/v1`` writes answered below 400, and leaves out the
    bootstrap (``user/initialize``), which the test itself makes.
    """
    counts: dict[tuple[str, str, str], float] = {}
    for line in metrics.splitlines():
        match = _SAMPLE.match(line.strip())
        if match is None or not match["name"].endswith("_total"):
            continue
        labels = dict(_LABEL.findall(match["labels"]))
        method = labels.get("method", "").upper()
        route = next((v for v in labels.values() if v.startswith("/api/v1")), "")
        status = labels.get("status") or labels.get("code") or labels.get("status_code") or ""
        if method not in WRITE_METHODS or not route or "initialize" in route:
            continue
        if not status.isdigit() or int(status) >= 400:
            continue
        key = (method, route, status)
        counts[key] = counts.get(key, 0.0) + float(match["value"])
    return counts
