"""How the demo tells what it is doing: a live progress line on a terminal, plain lines, or JSON.

The demo's steps run for seconds each (a build, an organization appearing in Quay), so a person at
a terminal sees a spinner with the step's name and the elapsed time, then one line per finished step
with what was created where. When the output is not a terminal (CI logs, a pipe) the same lines are
written without control characters, and ``--json`` writes one JSON object per line for machines.
Reporters only format; the scenario decides what happened.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TextIO


@dataclass
class StepRecord:
    """One step of the demo as it ended.

    Attributes:
        name: a short identifier (``new-project``, ``build-pushed``, ...).
        title: what the step does, for a person.
        ok: whether it held.
        seconds: how long it took.
        facts: what it created or saw, by name (organization, image reference, digest...).
        error: why it failed, when it did.
    """

    name: str
    title: str
    ok: bool
    seconds: float
    facts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


class Reporter(Protocol):
    """Receives the demo's progress as it happens."""

    def started(self, name: str, title: str) -> None:
        """A step begins."""
        ...

    def finished(self, record: StepRecord) -> None:
        """A step ended (held or failed)."""
        ...

    def note(self, text: str) -> None:
        """Free text for a person (instructions at the end); machines get it as a ``note``."""
        ...

    def summary(self, ok: bool, records: list[StepRecord]) -> None:
        """The demo ended."""
        ...

    def kept(self, fields: dict[str, Any], lines: list[str]) -> None:
        """The stack stays up (``--keep``): how to reach it, as fields and as lines to read."""
        ...

    def close(self) -> None:
        """Stop any live display."""
        ...


def _fact_lines(facts: dict[str, Any]) -> list[str]:
    lines = []
    for key, value in facts.items():
        if isinstance(value, list | tuple):
            value = ", ".join(str(item) for item in value)
        lines.append(f"      {key}: {value}")
    return lines


class PlainReporter:
    """One line per event, no control characters: for logs and pipes."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def started(self, name: str, title: str) -> None:
        """Write the step's title."""
        self._write(f"... {title}")

    def finished(self, record: StepRecord) -> None:
        """Write the outcome and the facts, one per line."""
        mark = "ok " if record.ok else "FAILED"
        self._write(f"{mark} {record.title} ({record.seconds:.1f} s)")
        for line in _fact_lines(record.facts):
            self._write(line)
        if record.error:
            self._write(f"      error: {record.error}")

    def note(self, text: str) -> None:
        """Write the text as is."""
        self._write(text)

    def summary(self, ok: bool, records: list[StepRecord]) -> None:
        """Write one closing line."""
        total = sum(record.seconds for record in records)
        held = sum(record.ok for record in records)
        verdict = "demo passed" if ok else "demo FAILED"
        self._write(f"{verdict}: {held}/{len(records)} steps held in {total:.1f} s")

    def kept(self, fields: dict[str, Any], lines: list[str]) -> None:
        """Write the lines, as notes."""
        for line in lines:
            self.note(line)

    def close(self) -> None:
        """Nothing to stop."""

    def _write(self, line: str) -> None:
        self._out.write(line + "\n")
        self._out.flush()


class TerminalReporter(PlainReporter):
    """A spinner with the running step's name and elapsed time, redrawn in place."""

    FRAMES = "|/-\\"

    def __init__(self, out: TextIO, interval: float = 0.1) -> None:
        super().__init__(out)
        self._interval = interval
        self._lock = threading.Lock()
        self._current: tuple[str, float] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, name="demo-progress", daemon=True)
        self._thread.start()

    def started(self, name: str, title: str) -> None:
        """Start spinning on this step."""
        with self._lock:
            self._current = (title, time.monotonic())

    def finished(self, record: StepRecord) -> None:
        """Replace the spinner by the step's outcome."""
        with self._lock:
            self._current = None
            self._out.write("\r\x1b[2K")
            mark = "\x1b[32m✔\x1b[0m" if record.ok else "\x1b[31m✘\x1b[0m"
            self._out.write(f"{mark} {record.title} \x1b[2m({record.seconds:.1f} s)\x1b[0m\n")
            for line in _fact_lines(record.facts):
                self._out.write(line + "\n")
            if record.error:
                self._out.write(f"      \x1b[31merror:\x1b[0m {record.error}\n")
            self._out.flush()

    def note(self, text: str) -> None:
        """Write the text below any spinner."""
        with self._lock:
            self._out.write("\r\x1b[2K" + text + "\n")
            self._out.flush()

    def close(self) -> None:
        """Stop the spinner thread and clear its line."""
        self._stop.set()
        self._thread.join(timeout=1)
        with self._lock:
            self._out.write("\r\x1b[2K")
            self._out.flush()

    def _spin(self) -> None:
        frame = 0
        while not self._stop.wait(self._interval):
            with self._lock:
                if self._current is None:
                    continue
                title, since = self._current
                spinner = self.FRAMES[frame % len(self.FRAMES)]
                self._out.write(f"\r\x1b[2K{spinner} {title} ({time.monotonic() - since:.0f} s)")
                self._out.flush()
            frame += 1


class JsonReporter:
    """One JSON object per line: ``step-started``, ``step``, ``note``, ``summary``, ``keep``."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def started(self, name: str, title: str) -> None:
        """Emit a ``step-started`` object."""
        self._emit({"event": "step-started", "name": name, "title": title})

    def finished(self, record: StepRecord) -> None:
        """Emit a ``step`` object with the record's fields."""
        self._emit({"event": "step", **asdict(record)})

    def note(self, text: str) -> None:
        """Emit a ``note`` object."""
        self._emit({"event": "note", "text": text})

    def summary(self, ok: bool, records: list[StepRecord]) -> None:
        """Emit the ``summary`` object: overall verdict and the failed steps' names."""
        self._emit(
            {
                "event": "summary",
                "ok": ok,
                "steps": len(records),
                "failed": [record.name for record in records if not record.ok],
                "seconds": round(sum(record.seconds for record in records), 3),
            }
        )

    def kept(self, fields: dict[str, Any], lines: list[str]) -> None:
        """Emit a ``keep`` object: the commands and addresses as fields."""
        self._emit({"event": "keep", **fields})

    def close(self) -> None:
        """Nothing to stop."""

    def _emit(self, obj: dict[str, Any]) -> None:
        self._out.write(json.dumps(obj, default=str) + "\n")
        self._out.flush()


def reporter_for(out: TextIO, *, json_output: bool) -> Reporter:
    """Choose the reporter: JSON when asked, the spinner on a terminal, plain lines otherwise."""
    if json_output:
        return JsonReporter(out)
    if out.isatty():
        return TerminalReporter(out)
    return PlainReporter(out)
