"""How the demo reports: plain lines for logs, JSON lines for machines, a spinner on terminals."""

from __future__ import annotations

import io
import json
import time

import pytest

from demo.reporting import (
    JsonReporter,
    PlainReporter,
    StepRecord,
    TerminalReporter,
    reporter_for,
)

HELD = StepRecord(
    "build",
    "The build runs and pushes to Quay",
    True,
    2.5,
    {"digest": "sha256:" + "a" * 64, "robots": ["o+builder", "o+default"]},
)
BROKE = StepRecord("new-project", "oc new-project x", False, 1.0, error="HTTP 403: forbidden")


class TerminalLike(io.StringIO):
    def isatty(self) -> bool:
        return True


class TestPlainLines:
    def test_each_step_is_one_line_with_its_facts_below(self) -> None:
        out = io.StringIO()
        reporter = PlainReporter(out)
        reporter.started(HELD.name, HELD.title)
        reporter.finished(HELD)
        reporter.finished(BROKE)
        reporter.summary(False, [HELD, BROKE])
        lines = out.getvalue().splitlines()
        assert lines[0] == "... The build runs and pushes to Quay"
        assert lines[1] == "ok  The build runs and pushes to Quay (2.5 s)"
        assert lines[2] == "      digest: sha256:" + "a" * 64
        assert lines[3] == "      robots: o+builder, o+default"
        assert lines[4] == "FAILED oc new-project x (1.0 s)"
        assert lines[5] == "      error: HTTP 403: forbidden"
        assert lines[6] == "demo FAILED: 1/2 steps held in 3.5 s"
        assert "\x1b" not in out.getvalue()


class TestJsonLines:
    def test_every_line_is_a_json_object_and_the_last_is_the_summary(self) -> None:
        out = io.StringIO()
        reporter = JsonReporter(out)
        reporter.started(HELD.name, HELD.title)
        reporter.finished(HELD)
        reporter.note("hello")
        reporter.summary(True, [HELD])
        objects = [json.loads(line) for line in out.getvalue().splitlines()]
        assert [o["event"] for o in objects] == ["step-started", "step", "note", "summary"]
        assert objects[1]["facts"]["digest"] == HELD.facts["digest"]
        assert objects[3] == {
            "event": "summary",
            "ok": True,
            "steps": 1,
            "failed": [],
            "seconds": 2.5,
        }


class TestTheChoice:
    @pytest.mark.parametrize(
        ("stream", "json_output", "kind"),
        [
            (io.StringIO(), True, JsonReporter),
            (TerminalLike(), True, JsonReporter),
            (io.StringIO(), False, PlainReporter),
            (TerminalLike(), False, TerminalReporter),
        ],
    )
    def test_json_when_asked_a_spinner_on_a_terminal_plain_lines_otherwise(
        self, stream: io.StringIO, json_output: bool, kind: type
    ) -> None:
        reporter = reporter_for(stream, json_output=json_output)
        try:
            assert type(reporter) is kind
        finally:
            reporter.close()

    def test_the_terminal_display_redraws_a_spinner_then_prints_the_outcome(self) -> None:
        out = TerminalLike()
        reporter = TerminalReporter(out, interval=0.01)
        reporter.started(HELD.name, HELD.title)
        deadline = time.monotonic() + 5
        while "\r" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        reporter.finished(HELD)
        reporter.close()
        text = out.getvalue()
        assert "\r\x1b[2K" in text
        assert "The build runs and pushes to Quay" in text
        assert "✔" in text
