"""Which Events a status change posts on the QuayIntegration (``model.integration_events``)."""

from __future__ import annotations

from typing import Any

from bridge.model.integration_events import (
    NAMED_AT_MOST,
    IntegrationEvent,
    failures_event,
    readiness_event,
)


def status(ready: str, reason: str, message: str) -> dict[str, Any]:
    summary = message if ready != "True" else "2 namespaces managed, 0 failed"
    return {
        "conditions": [
            {"type": "Ready", "status": ready, "reason": reason, "message": message},
            {"type": "SpecValid", "status": "True", "reason": "SpecAccepted", "message": "ok"},
        ],
        "message": summary,
    }


NO_SECRET = status(
    "False", "SecretNotFound", "credentials Secret openshift-operators/quay-token does not exist"
)
READY = status("True", "Ready", "ready")


class TestReadiness:
    def test_a_first_not_ready_status_is_a_warning_naming_reason_and_message(self) -> None:
        assert readiness_event(None, NO_SECRET) == IntegrationEvent(
            "IntegrationNotReady",
            "not ready, SecretNotFound: credentials Secret openshift-operators/quay-token does"
            " not exist",
            True,
        )

    def test_becoming_ready_is_a_normal_event_with_the_counts(self) -> None:
        assert readiness_event(NO_SECRET, READY) == IntegrationEvent(
            "IntegrationReady", "ready: 2 namespaces managed, 0 failed", False
        )

    def test_a_first_ready_status_posts_too(self) -> None:
        event = readiness_event(None, READY)
        assert event is not None and event.reason == "IntegrationReady"

    def test_the_same_state_again_posts_nothing(self) -> None:
        assert readiness_event(NO_SECRET, NO_SECRET) is None
        again = READY | {"message": "3 namespaces managed, 0 failed"}
        assert readiness_event(READY, again) is None

    def test_a_new_cause_while_not_ready_is_a_new_warning(self) -> None:
        token = status("False", "TokenRejected", "Quay at https://q refused the token")
        event = readiness_event(NO_SECRET, token)
        assert event is not None and event.warning
        assert event.message == "not ready, TokenRejected: Quay at https://q refused the token"

    def test_checking_is_no_news(self) -> None:
        checking = status("False", "Checking", "checking the credentials and Quay")
        assert readiness_event(None, checking) is None
        event = readiness_event(checking, NO_SECRET)
        assert event is not None and event.reason == "IntegrationNotReady"

    def test_a_status_without_ready_posts_nothing(self) -> None:
        assert readiness_event(NO_SECRET, {"conditions": []}) is None


class TestFailures:
    def test_a_new_set_of_failing_namespaces_is_a_warning_naming_each(self) -> None:
        event = failures_event((), {"b": "Quay at x is failing (HTTP 500)", "a": "name too long"})
        assert event == IntegrationEvent(
            "NamespacesFailed",
            "2 namespaces failed: a (name too long); b (Quay at x is failing (HTTP 500))",
            True,
        )

    def test_the_same_set_posts_nothing_whatever_the_wording(self) -> None:
        assert failures_event(("a",), {"a": "another wording"}) is None

    def test_no_failure_after_some_is_a_recovery(self) -> None:
        assert failures_event(("a",), {}) == IntegrationEvent(
            "NamespacesRecovered", "no namespace fails any more", False
        )
        assert failures_event((), {}) is None

    def test_many_failures_are_named_up_to_a_bound_and_counted(self) -> None:
        failed = {f"ns-{n:02}": "e" for n in range(NAMED_AT_MOST + 3)}
        event = failures_event((), failed)
        assert event is not None
        assert event.message.startswith(f"{NAMED_AT_MOST + 3} namespaces failed: ns-00 (e)")
        assert event.message.endswith("; and 3 more")
        assert "ns-10" not in event.message
