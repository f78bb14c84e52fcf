"""kopf stopped because the API server lost its state is started again; other failures end it."""

from __future__ import annotations

from typing import Any

import pytest

import bridge.app.commands
from bridge.app.commands import _run_kopf

TOO_LARGE = (
    "Error in the watch-stream: {'message': 'Timeout: Too large resource version: 119, "
    "current: 92', 'reason': 'Timeout', 'code': 504}"
)


class Operator:
    """Stands in for ``kopf.operator``: fails as told, then returns."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)
        if self.failures:
            raise self.failures.pop(0)


async def test_a_lost_state_restarts_kopf_with_the_same_arguments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bridge.app.commands, "RESTART_DELAY", 0.0)
    operator = Operator(RuntimeError(TOO_LARGE), RuntimeError(TOO_LARGE))
    await _run_kopf(operator, {"clusterwide": True})
    assert operator.calls == [{"clusterwide": True}] * 3


async def test_any_other_failure_ends_the_operator() -> None:
    operator = Operator(RuntimeError("HTTP 403: forbidden"))
    with pytest.raises(RuntimeError, match="403"):
        await _run_kopf(operator, {})
    assert len(operator.calls) == 1
