"""The bridge's one asynchronous client for the Quay REST API.

Every Quay call the controller makes goes through :class:`QuayClient`: one shared aiohttp session
per integration, an adaptive, prioritised bound on calls in flight (:mod:`bridge.quay.limiting`),
retries with exponential backoff and jitter on 429, 5xx and connection failures (honouring
``Retry-After``; a write that may have reached Quay is checked by reading before it is tried again),
and typed errors from :mod:`bridge.quay.errors`. TLS is verified by default, against an optional CA
bundle; ``insecure=True`` (the CR's ``insecureRegistry``) is the only way to turn verification off.
Paths follow Quay's trailing-slash rules exactly, so no call relies on a 308 redirect. Each finished
call is reported to an optional recorder for ``/metrics``.

Every change the bridge makes in Quay passes through here, so this is where it is logged: one INFO
line per successful write (what and where, with the names as structured fields). The failures an
admin must act on (a refused token, missing rights, Quay unreachable, an untrusted certificate) are
logged here too, once when they start and once when Quay answers normally again, with what to do
(:mod:`bridge.quay.advice`). The bearer token never appears in a message or a log line.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any, Literal, cast
from urllib.parse import quote

import aiohttp

from bridge.model.quay_records import Prototype, Robot
from bridge.quay.advice import advice
from bridge.quay.errors import (
    AlreadyExists,
    Forbidden,
    NotFound,
    QuayError,
    TLSFailure,
    Unavailable,
    error_from_response,
    shorten,
)
from bridge.quay.limiting import AdaptiveLimit, LimitSettings
from certs.tlspolicy import restrict_to_approved

log = logging.getLogger(__name__)

Role = Literal["read", "write", "admin"]

#: Called after every request with (endpoint template, HTTP method, outcome, seconds).
CallRecorder = Callable[[str, str, str, float], None]


def _segment(value: str) -> str:
    return quote(value, safe="")


#: What a read-back found: ``(True, value)`` when the write is in place (``value`` is returned as
#: the write's answer), ``(False, None)`` when it is not.
Found = tuple[bool, Any]
#: Reads Quay to learn whether a write that may have reached it took effect.
Check = Callable[[], Awaitable[Found]]


def read_back(read: Callable[[], Awaitable[Any]], *absent: type[Exception]) -> Check:
    """Return the check of a create whose object one GET (``read``) shows.

    The create is in place unless ``read`` raises one of ``absent``; the GET's answer then stands
    for the create's. Organizations, repositories and robots are checked this way; prototypes,
    which Quay lets exist twice, are looked for in their list instead.
    """

    async def check() -> Found:
        try:
            return True, await read()
        except absent:
            return False, None

    return check


#: Seconds an idle keep-alive connection is kept: under Quay's 2 s, so Quay never closes one the
#: client is about to reuse.
IDLE_CONNECTION_SECONDS = 1.0


class QuayClient:
    """Async Quay API client; create one per integration and ``await close()`` when done.

    Calls are bounded by an adaptive limit (:mod:`bridge.quay.limiting`): they queue on the bridge's
    side, and only the time on the wire counts towards ``timeout_seconds``. A write is never done
    twice: when a try may have reached Quay (a timeout or reset after sending, a 5xx), the write's
    check reads Quay before another try, and an "already exists" answer after such a try counts
    as success once the check has found the object. A connection Quay closed while idle is
    retried at once.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        ca_pem: str | None = None,
        insecure: bool = False,
        concurrency: int = 16,
        attempts: int = 4,
        backoff_seconds: float = 0.2,
        max_backoff_seconds: float = 5.0,
        timeout_seconds: float = 30.0,
        recorder: CallRecorder | None = None,
        fips: bool = False,
        limit: LimitSettings | None = None,
    ) -> None:
        """Prepare a client for ``base_url`` (scheme and host, e.g. ``https://quay.example.com``).

        Args:
            base_url: Quay's URL; a trailing slash is ignored.
            token: OAuth bearer token; replace it later with :meth:`set_token`.
            ca_pem: PEM CA bundle trusted for Quay's certificate, in addition to nothing else.
            insecure: skip TLS verification (only from the CR's ``insecureRegistry``).
            concurrency: most requests in flight at once (the adaptive limit's ceiling).
            attempts: tries per call for retryable failures (429, 5xx, connection errors).
            backoff_seconds: first retry delay; doubles each time, with jitter.
            max_backoff_seconds: cap on one delay, also on a ``Retry-After``.
            timeout_seconds: most time one try may spend on the wire (queueing excluded).
            recorder: called after each try for metrics.
            fips: only FIPS-approved TLS (``certs.tlspolicy``).
            limit: the adaptive limit's other knobs (``bridge.quay.limiting``).
        """
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._insecure = insecure
        self._ssl: ssl.SSLContext | bool = self._ssl_context(ca_pem, insecure, fips)
        settings = limit or LimitSettings()
        ceiling = max(1, concurrency)
        self.limiter = AdaptiveLimit(
            replace(
                settings,
                maximum=ceiling,
                initial=min(settings.initial, ceiling),
                minimum=min(settings.minimum, ceiling),
            )
        )
        self._attempts = max(1, attempts)
        self._backoff = backoff_seconds
        self._max_backoff = max_backoff_seconds
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._recorder = recorder
        self._session: aiohttp.ClientSession | None = None
        #: The kind of failure last logged (see :meth:`_failed`); "" while Quay answers normally.
        self._failing = ""

    @staticmethod
    def _ssl_context(ca_pem: str | None, insecure: bool, fips: bool) -> ssl.SSLContext | bool:
        if insecure:
            return False
        if ca_pem:
            try:
                context = ssl.create_default_context(cadata=ca_pem)
            except (ssl.SSLError, ValueError) as exc:
                raise TLSFailure(f"the CA bundle is not valid PEM: {exc}") from exc
        elif fips:
            context = ssl.create_default_context()
        else:
            return True
        return restrict_to_approved(context) if fips else context

    def set_token(self, token: str) -> None:
        """Use a new bearer token from now on (credentials Secret changed)."""
        self._token = token

    async def close(self) -> None:
        """Close the shared session."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> QuayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                ssl=self._ssl, limit=0, keepalive_timeout=IDLE_CONNECTION_SECONDS
            )
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        return self._session

    def _record(self, endpoint: str, method: str, outcome: str, started: float) -> None:
        if self._recorder is not None:
            self._recorder(endpoint, method, outcome, time.monotonic() - started)

    def _failed(self, error: QuayError) -> QuayError:
        """Log ``error`` with what to do, unless the same kind of failure was already logged."""
        found = advice(error, self.base_url)
        if found is not None and found.kind != self._failing:
            # A 403 concerns one call (an organization owned by someone else), not Quay as a
            # whole: it is logged each time and does not make the next success news.
            if not found.kind.startswith("forbidden"):
                self._failing = found.kind
            log.log(
                found.level,
                "%s: %s",
                found.summary,
                found.action,
                extra={"quay": self.base_url, "endpoint": error.endpoint, "status": error.status},
            )
        return error

    def _answered(self) -> None:
        """Quay answered normally: say so once if a failure had been logged."""
        if self._failing:
            log.info(
                "Quay at %s answers normally again", self.base_url, extra={"quay": self.base_url}
            )
            self._failing = ""

    def _changed(self, message: str, **fields: str) -> None:
        """Log one change made in Quay (an INFO line with the names as structured fields)."""
        log.info(message, extra={"quay": self.base_url, **fields})

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(max(float(retry_after), 0.0), self._max_backoff)
            except ValueError:
                pass
        base = min(self._backoff * (2**attempt), self._max_backoff)
        return float(base / 2 + random.uniform(0, base / 2))

    async def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        json: Any,
        params: Mapping[str, str] | None,
    ) -> tuple[int, str, str | None]:
        """One try, inside the limiter: (status, body, Retry-After)."""
        await self.limiter.acquire()
        started = time.monotonic()
        failed = True
        try:
            session = self._get_session()
            async with session.request(
                method, url, json=json, params=params, headers=headers, allow_redirects=False
            ) as response:
                body = await response.text()
                failed = response.status == 429 or response.status >= 500
                return response.status, body, response.headers.get("Retry-After")
        finally:
            self.limiter.release(time.monotonic() - started, failed=failed)

    async def request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
        check: Check | None = None,
        repeatable: bool | None = None,
    ) -> Any:
        """Send one call with retries; return its decoded JSON (None for an empty body).

        Args:
            method: HTTP method.
            path: path under the base URL, exactly as Quay routes it.
            endpoint: the path's template, for metrics and messages.
            json: the JSON body, if any.
            params: query parameters.
            expect: the success statuses.
            check: for a write, reads whether it is in place; used before trying again after a
                try that may have reached Quay, and to accept "already exists" after one.
            repeatable: whether doing the call twice is harmless (default: GET, HEAD, DELETE
                and PUT without a check are; a write with a check is retried through it).

        Raises:
            QuayError: a subclass per meaningful case, see :mod:`bridge.quay.errors`.
        """
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if json is not None:
            headers["Content-Type"] = "application/json"
        url = self.base_url + path
        if repeatable is None:
            repeatable = method in {"GET", "HEAD", "DELETE"} or (method == "PUT" and check is None)
        retryable = repeatable or check is not None
        last: QuayError | None = None
        maybe_done = False  # an earlier try may have reached Quay
        reconnected = False
        attempt = 0
        while attempt < self._attempts:
            started = time.monotonic()
            retry_after: str | None = None
            if maybe_done and check is not None:
                found, value = await check()
                if found:
                    self._answered()
                    return value
            try:
                status, body, retry_after = await self._send(method, url, headers, json, params)
            except aiohttp.ClientConnectorCertificateError as exc:
                self._record(endpoint, method, "tls_error", started)
                reason = shorten(str(exc.certificate_error))
                raise self._failed(
                    TLSFailure(
                        f"its TLS certificate was not accepted: {reason}",
                        endpoint=endpoint,
                    )
                ) from exc
            except aiohttp.ClientSSLError as exc:
                self._record(endpoint, method, "tls_error", started)
                raise self._failed(
                    TLSFailure(f"TLS failed: {shorten(str(exc))}", endpoint=endpoint)
                ) from exc
            except (TimeoutError, aiohttp.ClientConnectionError) as exc:
                self._record(endpoint, method, "connection_error", started)
                reason = shorten(str(exc)) or type(exc).__name__
                last = Unavailable(
                    f"cannot reach Quay at {self.base_url}: {reason}",
                    endpoint=endpoint,
                )
                sent = not isinstance(exc, aiohttp.ClientConnectorError)
                maybe_done = maybe_done or sent
                if sent and not retryable:
                    raise self._failed(last) from exc
                if isinstance(exc, aiohttp.ServerDisconnectedError) and not reconnected:
                    # Quay closed a kept-alive connection as this try went out on it: try again
                    # at once on a new one (through the check for a write), without using up an
                    # attempt.
                    reconnected = True
                    log.debug("retrying %s %s on a new connection", method, endpoint)
                    continue
            else:
                self._record(endpoint, method, str(status), started)
                if status in expect:
                    self._answered()
                    if not body:
                        return None
                    try:
                        return jsonlib.loads(body)
                    except ValueError:
                        return body
                error = error_from_response(status, body, endpoint=endpoint)
                if maybe_done and check is not None and isinstance(error, AlreadyExists):
                    found, value = await check()
                    if found:
                        self._answered()
                        return value  # our earlier try made it
                if not (status == 429 or (status >= 500 and retryable)):
                    raise self._failed(error)
                maybe_done = maybe_done or status >= 500
                last = error
            attempt += 1
            if attempt < self._attempts:
                delay = self._delay(attempt - 1, retry_after)
                log.debug("retrying %s %s in %.2fs after: %s", method, endpoint, delay, last)
                await asyncio.sleep(delay)
        assert last is not None
        raise self._failed(last)

    # --- user -------------------------------------------------------------------------------

    async def get_user(self) -> dict[str, Any]:
        """``GET /api/v1/user/``: who the token belongs to (checks the credentials)."""
        return cast(dict[str, Any], await self.request("GET", "/api/v1/user/", endpoint="user/"))

    # --- organizations ----------------------------------------------------------------------

    async def get_organization(self, org: str) -> dict[str, Any]:
        """``GET /api/v1/organization/{org}``; raises NotFound when there is none."""
        path = f"/api/v1/organization/{_segment(org)}"
        return cast(dict[str, Any], await self.request("GET", path, endpoint="organization/{org}"))

    async def create_organization(self, org: str, email: str | None = None) -> None:
        """``POST /api/v1/organization/`` (201)."""
        body: dict[str, str] = {"name": org}
        if email:
            body["email"] = email
        await self.request(
            "POST",
            "/api/v1/organization/",
            endpoint="organization/",
            json=body,
            expect=(201,),
            check=read_back(lambda: self.get_organization(org), NotFound),
        )
        self._changed(f"created Quay organization {org}", org=org)

    async def delete_organization(self, org: str) -> None:
        """``DELETE /api/v1/organization/{org}`` (204)."""
        path = f"/api/v1/organization/{_segment(org)}"
        await self.request("DELETE", path, endpoint="organization/{org}", expect=(204,))
        self._changed(f"deleted Quay organization {org}", org=org)

    # --- robots -----------------------------------------------------------------------------

    def _robot_path(self, org: str, short: str) -> str:
        return f"/api/v1/organization/{_segment(org)}/robots/{_segment(short)}"

    async def list_robots(self, org: str, *, with_tokens: bool = True) -> list[Robot]:
        """``GET .../robots?token=true``: the org's robots (with tokens for an org admin)."""
        path = f"/api/v1/organization/{_segment(org)}/robots"
        params = {"token": "true" if with_tokens else "false"}
        data = await self.request("GET", path, endpoint="organization/{org}/robots", params=params)
        return cast(list[Robot], data.get("robots", []))

    async def get_robot(self, org: str, short: str) -> Robot:
        """``GET .../robots/{short}``; raises RobotMissing (Quay's 400) when absent."""
        return cast(
            Robot,
            await self.request(
                "GET", self._robot_path(org, short), endpoint="organization/{org}/robots/{robot}"
            ),
        )

    async def create_robot(self, org: str, short: str, description: str = "") -> Robot:
        """``PUT .../robots/{short}`` (201); the answer carries the token."""
        robot = cast(
            Robot,
            await self.request(
                "PUT",
                self._robot_path(org, short),
                endpoint="organization/{org}/robots/{robot}",
                json={"description": description},
                expect=(201,),
                check=read_back(lambda: self.get_robot(org, short), NotFound),  # RobotMissing too
            ),
        )
        self._changed(f"created Quay robot account {org}+{short}", org=org, robot=f"{org}+{short}")
        return robot

    async def delete_robot(self, org: str, short: str) -> None:
        """``DELETE .../robots/{short}`` (204)."""
        await self.request(
            "DELETE",
            self._robot_path(org, short),
            endpoint="organization/{org}/robots/{robot}",
            expect=(204,),
        )
        self._changed(f"deleted Quay robot account {org}+{short}", org=org, robot=f"{org}+{short}")

    async def regenerate_robot(self, org: str, short: str) -> Robot:
        """``POST .../robots/{short}/regenerate`` (200): a new token; the old one stops working."""
        robot = cast(
            Robot,
            await self.request(
                "POST",
                self._robot_path(org, short) + "/regenerate",
                endpoint="organization/{org}/robots/{robot}/regenerate",
                repeatable=True,  # a second regeneration only replaces the token again
            ),
        )
        self._changed(
            f"regenerated the token of Quay robot account {org}+{short}",
            org=org,
            robot=f"{org}+{short}",
        )
        return robot

    # --- prototypes -------------------------------------------------------------------------

    async def list_prototypes(self, org: str) -> list[Prototype]:
        """``GET .../prototypes``."""
        path = f"/api/v1/organization/{_segment(org)}/prototypes"
        data = await self.request("GET", path, endpoint="organization/{org}/prototypes")
        return cast(list[Prototype], data.get("prototypes", []))

    async def create_prototype(self, org: str, robot_full_name: str, role: Role) -> Prototype:
        """``POST .../prototypes`` (200). Quay stores duplicates: read before you write."""
        path = f"/api/v1/organization/{_segment(org)}/prototypes"
        body = {"role": role, "delegate": {"kind": "user", "name": robot_full_name}}

        async def check() -> Found:
            for prototype in await self.list_prototypes(org):
                delegate = prototype.get("delegate") or {}
                if delegate.get("name") == robot_full_name and prototype.get("role") == role:
                    return True, prototype
            return False, None

        prototype = cast(
            Prototype,
            await self.request(
                "POST", path, endpoint="organization/{org}/prototypes", json=body, check=check
            ),
        )
        self._changed(
            f"created default permission in Quay organization {org}: {role} for {robot_full_name}",
            org=org,
            robot=robot_full_name,
            role=role,
        )
        return prototype

    async def update_prototype(self, org: str, prototype_id: str, role: Role) -> Prototype:
        """``PUT .../prototypes/{id}`` (200)."""
        path = f"/api/v1/organization/{_segment(org)}/prototypes/{_segment(prototype_id)}"
        prototype = cast(
            Prototype,
            await self.request(
                "PUT", path, endpoint="organization/{org}/prototypes/{id}", json={"role": role}
            ),
        )
        self._changed(
            f"changed default permission {prototype_id} in Quay organization {org} to {role}",
            org=org,
            role=role,
        )
        return prototype

    async def delete_prototype(self, org: str, prototype_id: str) -> None:
        """``DELETE .../prototypes/{id}`` (204)."""
        path = f"/api/v1/organization/{_segment(org)}/prototypes/{_segment(prototype_id)}"
        await self.request(
            "DELETE", path, endpoint="organization/{org}/prototypes/{id}", expect=(204,)
        )
        self._changed(
            f"deleted default permission {prototype_id} in Quay organization {org}", org=org
        )

    # --- repositories -----------------------------------------------------------------------

    def _repo_path(self, org: str, repo: str) -> str:
        return f"/api/v1/repository/{_segment(org)}/{_segment(repo)}"

    async def get_repository(self, org: str, repo: str) -> dict[str, Any]:
        """``GET /api/v1/repository/{ns}/{repo}``; NotFound (404) or Forbidden (403) when absent."""
        return cast(
            dict[str, Any],
            await self.request(
                "GET",
                self._repo_path(org, repo),
                endpoint="repository/{ns}/{repo}",
                params={"includeTags": "false"},
            ),
        )

    async def create_repository(self, org: str, repo: str, description: str = "") -> None:
        """``POST /api/v1/repository`` (201), private, kind image."""
        body = {
            "repository": repo,
            "namespace": org,
            "visibility": "private",
            "description": description,
            "repo_kind": "image",
        }
        await self.request(
            "POST",
            "/api/v1/repository",
            endpoint="repository",
            json=body,
            expect=(201,),
            check=read_back(lambda: self.get_repository(org, repo), NotFound, Forbidden),
        )
        self._changed(f"created Quay repository {org}/{repo}", org=org, repository=f"{org}/{repo}")

    async def delete_repository(self, org: str, repo: str) -> None:
        """``DELETE /api/v1/repository/{ns}/{repo}`` (204; also for a missing repo)."""
        await self.request(
            "DELETE", self._repo_path(org, repo), endpoint="repository/{ns}/{repo}", expect=(204,)
        )
        self._changed(f"deleted Quay repository {org}/{repo}", org=org, repository=f"{org}/{repo}")

    async def list_repositories(self, org: str) -> list[str]:
        """``GET /api/v1/repository?namespace=`` following ``next_page``; the repository names."""
        names: list[str] = []
        params = {"namespace": org}
        while True:
            data = await self.request(
                "GET", "/api/v1/repository", endpoint="repository", params=params
            )
            names += [str(item["name"]) for item in data.get("repositories", [])]
            next_page = data.get("next_page")
            if not next_page:
                return names
            params = {"namespace": org, "next_page": str(next_page)}

    async def list_user_permissions(self, org: str, repo: str) -> dict[str, str]:
        """``GET .../permissions/user/``: ``{user or robot: role}`` of a repository."""
        path = f"{self._repo_path(org, repo)}/permissions/user/"
        data = await self.request("GET", path, endpoint="repository/{ns}/{repo}/permissions/user/")
        permissions = data.get("permissions", {}) if isinstance(data, dict) else {}
        return {str(name): str(item.get("role")) for name, item in permissions.items()}

    async def set_user_permission(self, org: str, repo: str, user: str, role: Role) -> None:
        """``PUT .../permissions/user/{user}`` (200): an explicit role, e.g. for a robot."""
        path = f"{self._repo_path(org, repo)}/permissions/user/{_segment(user)}"
        await self.request(
            "PUT",
            path,
            endpoint="repository/{ns}/{repo}/permissions/user/{user}",
            json={"role": role},
        )
        self._changed(
            f"gave {user} {role} on Quay repository {org}/{repo}",
            org=org,
            repository=f"{org}/{repo}",
            robot=user,
            role=role,
        )
