"""Which Events to post on a QuayIntegration when its status is written. Pure: no I/O.

``kubectl describe quayintegration`` shows these; they say when the integration became Ready or
not Ready (and why) and which namespaces fail. An Event is posted only when what it tells changed:
a resync that finds the same state posts nothing, and a restarted operator, which starts from the
status already on the CR, does not repeat the last Ready or not-Ready Event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Namespaces named in one NamespacesFailed Event; the rest are counted.
NAMED_AT_MOST = 10
#: The Ready reason while the credentials and Quay are being checked (no Event: no news yet).
CHECKING = "Checking"


@dataclass(frozen=True)
class IntegrationEvent:
    """One Event to post about the QuayIntegration."""

    reason: str
    message: str
    warning: bool


def _ready(status: dict[str, Any] | None) -> tuple[str, str] | None:
    """(status, "reason: message") of the Ready condition of a status body; None without one.

    The reason (``SecretNotFound``, ``TokenRejected``, ...) is the word the docs explain; the
    message says what to do. A not-ready Event carries both.
    """
    for condition in (status or {}).get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == "Ready":
            cause = f"{condition.get('reason')}: {condition.get('message')}"
            return str(condition.get("status")), cause
    return None


def readiness_event(
    before: dict[str, Any] | None, after: dict[str, Any]
) -> IntegrationEvent | None:
    """The Event for the Ready condition going from ``before`` to ``after``, if any.

    Ready → not Ready, and not Ready for a new reason (a fixed Secret, then a wrong token), each
    post a Warning naming the cause; not Ready → Ready posts a Normal Event. A first status that
    says Ready posts one too, so the Events tell the whole story since the CR was created.
    """
    old, new = _ready(before), _ready(after)
    if new is None or new == old:
        return None
    state, cause = new
    if cause.startswith(f"{CHECKING}:"):
        return None  # nothing is known yet: the outcome of the check posts
    if state == "True":
        if old is not None and old[0] == "True":
            return None
        return IntegrationEvent(
            "IntegrationReady", f"ready: {after.get('message') or 'Quay accepted the token'}", False
        )
    if state == "False":
        return IntegrationEvent("IntegrationNotReady", f"not ready, {cause}", True)
    return None


def failures_event(before: tuple[str, ...], failed: dict[str, str]) -> IntegrationEvent | None:
    """The Event for the set of failing namespaces changing from ``before`` to ``failed``.

    ``failed`` maps each failing namespace to its error. Only a changed set posts (the errors'
    wording may vary from one attempt to the next; which namespaces fail is what an admin acts on).
    """
    names = tuple(sorted(failed))
    if names == before:
        return None
    if not names:
        return IntegrationEvent("NamespacesRecovered", "no namespace fails any more", False)
    shown = [f"{name} ({failed[name]})" for name in names[:NAMED_AT_MOST]]
    more = len(names) - NAMED_AT_MOST
    text = "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
    count = f"{len(names)} namespace{'s' if len(names) != 1 else ''} failed"
    return IntegrationEvent("NamespacesFailed", f"{count}: {text}", True)
