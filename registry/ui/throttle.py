"""Backing off password guessing on the sign-in form, per username.

After ``free_failures`` failed sign-ins in a row for one username, each further attempt must wait
``first_delay * 2 ** (failures - free_failures)`` seconds after the last failure (10 s, 20 s, 40 s,
... capped at ``max_delay``); a successful sign-in clears the count. Like Quay's exponential backoff
on ``invalid_login_attempts``, kept in memory (pure: the clock is passed in). Attempts during the
wait are answered 429 without checking the password, so guessing costs the attacker time and the
server no scrypt work.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

FREE_FAILURES = 5
FIRST_DELAY_SECONDS = 10.0
MAX_DELAY_SECONDS = 300.0
MAX_TRACKED = 10_000


@dataclass
class _Failures:
    count: int
    last: float


class SignInThrottle:
    """Failed sign-ins by username."""

    def __init__(
        self,
        *,
        free_failures: int = FREE_FAILURES,
        first_delay: float = FIRST_DELAY_SECONDS,
        max_delay: float = MAX_DELAY_SECONDS,
        max_tracked: int = MAX_TRACKED,
    ) -> None:
        self._failures: OrderedDict[str, _Failures] = OrderedDict()
        self.free_failures = free_failures
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.max_tracked = max_tracked

    def wait_seconds(self, username: str, now: float) -> float:
        """How long ``username`` must wait before its password is checked again (0: go ahead)."""
        entry = self._failures.get(username.lower())
        if entry is None or entry.count < self.free_failures:
            return 0.0
        delay = min(self.max_delay, self.first_delay * 2.0 ** (entry.count - self.free_failures))
        return max(0.0, entry.last + delay - now)

    def failed(self, username: str, now: float) -> None:
        """Count a failed sign-in."""
        key = username.lower()
        entry = self._failures.pop(key, None) or _Failures(0, now)
        entry.count += 1
        entry.last = now
        self._failures[key] = entry
        while len(self._failures) > self.max_tracked:
            self._failures.popitem(last=False)

    def succeeded(self, username: str) -> None:
        """Forget the failures of a user who signed in."""
        self._failures.pop(username.lower(), None)
