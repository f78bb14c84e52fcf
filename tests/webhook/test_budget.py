"""How long an admission may wait for provisioning: the setting, within the API server's timeout."""

from __future__ import annotations

import pytest

from webhook.serving import WebhookSettings, parse_go_duration, wait_budget


class TestGoDurations:
    @pytest.mark.parametrize(
        ("text", "seconds"),
        [
            ("10s", 10.0),
            ("1m30s", 90.0),
            ("500ms", 0.5),
            ("1.5s", 1.5),
            ("1h", 3600.0),
            ("", None),
            ("10", None),
            ("ten seconds", None),
            ("10s junk", None),
            ("-5s", None),
        ],
    )
    def test_the_api_servers_timeout_parameter_is_read_as_go_writes_it(
        self, text: str, seconds: float | None
    ) -> None:
        assert parse_go_duration(text) == seconds


class TestWaitBudget:
    @pytest.mark.parametrize(
        ("setting", "timeout", "budget"),
        [
            (8.0, None, 8.0),
            (8.0, "10s", 8.0),
            (8.0, "5s", 4.0),
            (8.0, "1s", 0.0),
            (8.0, "garbage", 8.0),
            (2.0, "30s", 2.0),
        ],
    )
    def test_the_wait_ends_before_the_api_server_gives_up(
        self, setting: float, timeout: str | None, budget: float
    ) -> None:
        assert wait_budget(WebhookSettings(provision_timeout=setting), timeout) == budget
