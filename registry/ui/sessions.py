"""Server-side web sessions: a random id in an HttpOnly cookie, everything else kept here.

The cookie carries only an unguessable id; the session (user, CSRF token, password version, times)
stays in this process, so signing out, deleting the user or changing its password ends it at once.
A session is bound to a *password version*, an HMAC of the user's stored password hash under the
server key: a new password gives a new hash and a new version, and every page checks the version
against the account row, so no session outlives its password. The store is pure (the clock is
passed in) and bounded: expired sessions are dropped, and past ``max_sessions`` the oldest go.
"""

from __future__ import annotations

import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass

#: A session ends this long after sign-in, whatever happens (seconds).
ABSOLUTE_LIFETIME_SECONDS = 12 * 3600.0
#: A session ends after this long without a request (seconds).
IDLE_LIFETIME_SECONDS = 2 * 3600.0
#: Sessions kept at most; past it the least recently used go first.
MAX_SESSIONS = 10_000


def password_version(hmac_key: bytes, password_hash: str | None) -> str:
    """A keyed fingerprint of the stored password hash (changes whenever the password does)."""
    return hmac.digest(hmac_key, (password_hash or "").encode(), "sha256").hex()


@dataclass
class Session:
    """One signed-in browser.

    Attributes:
        id: the cookie value (256 random bits, URL-safe).
        account_id: the user's ``account`` row.
        username: the user's name when signing in (shown; the row is re-read on every page).
        password_version: :func:`password_version` of the hash when signing in.
        csrf_token: the value every form of this session must send back.
        created: sign-in time (epoch seconds).
        last_seen: time of the last request.
    """

    id: str
    account_id: int
    username: str
    password_version: str
    csrf_token: str
    created: float
    last_seen: float

    def csrf_matches(self, sent: str | None) -> bool:
        """Whether a form's CSRF value is this session's (constant-time)."""
        return sent is not None and hmac.compare_digest(sent.encode(), self.csrf_token.encode())


class SessionStore:
    """The sessions of this process, by id."""

    def __init__(
        self,
        *,
        absolute_lifetime: float = ABSOLUTE_LIFETIME_SECONDS,
        idle_lifetime: float = IDLE_LIFETIME_SECONDS,
        max_sessions: int = MAX_SESSIONS,
    ) -> None:
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self.absolute_lifetime = absolute_lifetime
        self.idle_lifetime = idle_lifetime
        self.max_sessions = max_sessions

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, account_id: int, username: str, version: str, now: float) -> Session:
        """Start a session for a user who just proved its password (always a fresh id)."""
        self._expire(now)
        while len(self._sessions) >= self.max_sessions:
            self._sessions.popitem(last=False)
        session = Session(
            id=secrets.token_urlsafe(32),
            account_id=account_id,
            username=username,
            password_version=version,
            csrf_token=secrets.token_urlsafe(32),
            created=now,
            last_seen=now,
        )
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None, now: float) -> Session | None:
        """The live session with this id (its idle clock restarted), or None."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if self._expired(session, now):
            del self._sessions[session_id]
            return None
        session.last_seen = now
        self._sessions.move_to_end(session_id)
        return session

    def delete(self, session_id: str) -> None:
        """End one session (sign-out, or found stale)."""
        self._sessions.pop(session_id, None)

    def delete_account(self, account_id: int) -> int:
        """End every session of an account; return how many there were."""
        stale = [key for key, s in self._sessions.items() if s.account_id == account_id]
        for key in stale:
            del self._sessions[key]
        return len(stale)

    def _expired(self, session: Session, now: float) -> bool:
        return (
            now - session.created >= self.absolute_lifetime
            or now - session.last_seen >= self.idle_lifetime
        )

    def _expire(self, now: float) -> None:
        # Least recently used first; the rest were seen later. Any left past their absolute
        # lifetime are refused (and dropped) by ``get``.
        for key in list(self._sessions):
            if not self._expired(self._sessions[key], now):
                break
            del self._sessions[key]
