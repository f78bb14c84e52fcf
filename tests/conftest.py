"""Shows, beside a failed test, the log tail of every process devstack has running for it."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from devstack.processes import running_processes


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for process in running_processes():
            report.sections.append(
                (f"log of {process.name} (pid {process.pid}, {process.log})", process.log_tail(60))
            )
