"""One QuayIntegration at run time: its parsed spec, its Quay client, its health and its status.

The controller keeps one :class:`Integration` per CR. ``refresh`` re-reads the credentials Secret
and the CA bundle (so a changed token is picked up without a restart), rebuilds the Quay client when
they changed, and probes Quay once, which turns every way a CR can be wrong (missing Secret, wrong
key, bad URL, unknown CA, expired token, Quay down) into a condition a human can act on.
``status_body`` renders the status subresource; transition times are kept while a condition's status
stays the same.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from bridge.controller.ports import ClusterApi, QuayApi, QuayConnector
from bridge.controller.state import NamespaceRecord
from bridge.kube.cluster import KubeError, NotFound
from bridge.metrics import Metrics
from bridge.model.integration_events import CHECKING
from bridge.model.selection import SYSTEM_RULE, ignored_in_allowlist
from bridge.model.spec import IntegrationSpec, parse_spec
from bridge.quay import errors as qe
from bridge.quay.advice import condition_message
from bridge.quay.client import QuayClient

log = logging.getLogger(__name__)


def token_problem(token: str) -> str | None:
    """Why ``token`` cannot be sent as a bearer token, or None when it can.

    A token goes into an HTTP header: only visible ASCII characters are possible there. A CR or LF
    inside (two tokens pasted together, a header injection) or any other control character is
    refused here with a clear reason rather than failing deep in the HTTP client.
    """
    for index, char in enumerate(token):
        if not "\x21" <= char <= "\x7e":
            what = {"\r": "a carriage return", "\n": "a line feed"}.get(char)
            return f"character {index + 1} is {what or f'U+{ord(char):04X}'} (only visible ASCII)"
    return None


def parse_time(value: str | None) -> float | None:
    """Seconds since the epoch of an RFC 3339 time; None when absent or malformed."""
    if not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def now_iso() -> str:
    """The current UTC time as RFC 3339 with seconds."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Check:
    """The outcome of one health check, ready to become a condition."""

    ok: bool | None
    reason: str
    message: str


UNKNOWN = Check(None, "Pending", "not checked yet")
#: Credentials and reachability are not checked while the spec is invalid.
NOT_CHECKED = Check(None, "SpecInvalid", "not checked while the spec is invalid (see SpecValid)")
SPEC_OK = Check(True, "SpecAccepted", "the spec is valid")


class Integration:
    """The run-time state of one QuayIntegration."""

    def __init__(
        self,
        name: str,
        metrics: Metrics,
        fips: bool = False,
        connect: QuayConnector = QuayClient,
    ) -> None:
        self.name = name
        self.metrics = metrics
        #: only FIPS-approved TLS towards Quay (``quay-bridge run --fips``)
        self.fips = fips
        #: how the Quay client is made once credentials and CA are read
        self.connect = connect
        self.body: dict[str, Any] = {}
        self.generation = 0
        self.spec: IntegrationSpec | None = None
        self.spec_error: str | None = None
        self.client: QuayApi | None = None
        self._client_key = ""
        self.credentials = UNKNOWN
        self.reachable = UNKNOWN
        #: the failed namespaces last told in an Event (see ``bridge.model.integration_events``)
        self.reported_failures: tuple[str, ...] = ()
        self.conflicts: dict[str, list[str]] = {}
        self.invalid_names: dict[str, str] = {}
        self.last_sync: str | None = None
        #: When robot tokens were last rotated by the periodic rotation (RFC 3339), kept in the
        #: status so that an operator restart does not push the next rotation back.
        self.last_rotation: str | None = None
        self._transitions: dict[str, tuple[str, str]] = {}
        self.written_status: dict[str, Any] | None = None
        #: the first pass over all namespaces finished (status is held back until then)
        self.synced = False

    # --- spec -------------------------------------------------------------------------------

    def update_body(self, body: dict[str, Any]) -> bool:
        """Take a new CR body; return whether the spec changed."""
        self.body = body
        if self.written_status is None:
            self._adopt_status(body.get("status"))
        rotated = (body.get("status") or {}).get("lastRobotTokenRotation")
        if isinstance(rotated, str) and rotated > (self.last_rotation or ""):
            self.last_rotation = rotated  # another replica rotated (RFC 3339 sorts by time)
        generation = int((body.get("metadata") or {}).get("generation") or 0)
        try:
            spec = parse_spec(body.get("spec"))
        except ValueError as exc:
            changed = self.spec is not None or self.spec_error != str(exc)
            self.spec, self.spec_error = None, str(exc)
            self.generation = generation
            return changed
        changed = spec != self.spec
        self.spec, self.spec_error, self.generation = spec, None, generation
        ignored = ignored_in_allowlist(spec)
        if changed and ignored:
            log.warning(
                "QuayIntegration %s: allowlistNamespaces names %s, which quay-bridge never manages"
                " (%s); remove them from the list",
                self.name,
                ", ".join(ignored),
                SYSTEM_RULE,
                extra={"integration": self.name},
            )
        return changed

    def _adopt_status(self, status: Any) -> None:
        """Start from the status already on the CR (after an operator restart).

        An unchanged state is then not written again, and transition times survive the restart.
        """
        if not isinstance(status, dict):
            return
        self.written_status = status
        self.last_sync = status.get("lastSync") or self.last_sync
        self.last_rotation = status.get("lastRobotTokenRotation") or self.last_rotation
        for condition in status.get("conditions") or []:
            if isinstance(condition, dict) and condition.get("type"):
                self._transitions[str(condition["type"])] = (
                    str(condition.get("status")),
                    str(condition.get("lastTransitionTime") or now_iso()),
                )

    @property
    def annotations(self) -> dict[str, str]:
        """The CR's annotations."""
        return dict((self.body.get("metadata") or {}).get("annotations") or {})

    @property
    def usable(self) -> bool:
        """True when the spec is valid and Quay accepted the credentials."""
        return (
            self.spec is not None
            and self.client is not None
            and self.credentials.ok is True
            and self.reachable.ok is True
        )

    def references(self) -> set[tuple[str, str, str]]:
        """(kind, namespace, name) of the credentials Secret and the CA bundle object, if any."""
        spec = self.spec
        if spec is None:
            return set()
        ref = spec.credentials_secret
        found = {("Secret", ref.namespace, ref.name)}
        if spec.ca_bundle is not None:
            ca = spec.ca_bundle
            found.add((ca.kind, ca.namespace, ca.name))
        return found

    def watches_object(self, kind: str, namespace: str, name: str) -> bool:
        """Return whether a Secret/ConfigMap is this integration's credentials or CA bundle."""
        spec = self.spec
        if spec is None:
            return False
        ref = spec.credentials_secret
        if kind == "Secret" and (ref.namespace, ref.name) == (namespace, name):
            return True
        ca = spec.ca_bundle
        return ca is not None and (ca.kind, ca.namespace, ca.name) == (kind, namespace, name)

    # --- credentials, CA bundle, probe -----------------------------------------------------

    async def _read_token(self, cluster: ClusterApi, spec: IntegrationSpec) -> str | None:
        ref = spec.credentials_secret
        try:
            token = await cluster.read_secret_key(ref.namespace, ref.name, ref.key)
        except KubeError as exc:
            if isinstance(exc, NotFound):
                self.credentials = Check(
                    False,
                    "SecretNotFound",
                    f"credentials Secret {ref.namespace}/{ref.name} does not exist",
                )
            else:
                self.credentials = Check(
                    False,
                    "SecretUnreadable",
                    f"cannot read Secret {ref.namespace}/{ref.name}: {exc}",
                )
            return None
        except ValueError as exc:
            self.credentials = Check(
                False, "InvalidToken", f"{exc}: put the Quay OAuth token there as plain text"
            )
            return None
        if token is None or not token.strip():
            keys = await cluster.secret_keys(ref.namespace, ref.name)
            self.credentials = Check(
                False,
                "KeyNotFound",
                f"Secret {ref.namespace}/{ref.name} has no key {ref.key!r}"
                f" (it has: {', '.join(keys) or 'no keys'}); set credentialsSecret.key",
            )
            return None
        problem = token_problem(token.strip())
        if problem is not None:
            self.credentials = Check(
                False,
                "InvalidToken",
                f"key {ref.key!r} of Secret {ref.namespace}/{ref.name} is not a usable token: "
                f"{problem}; put the Quay OAuth token there alone, as plain text",
            )
            return None
        return token.strip()

    async def _read_ca(self, cluster: ClusterApi, spec: IntegrationSpec) -> tuple[bool, str | None]:
        ca = spec.ca_bundle
        if ca is None:
            return True, None
        where = f"{ca.kind} {ca.namespace}/{ca.name}"
        try:
            if ca.kind == "Secret":
                pem = await cluster.read_secret_key(ca.namespace, ca.name, ca.key)
            else:
                pem = await cluster.read_configmap_key(ca.namespace, ca.name, ca.key)
        except KubeError as exc:
            reason = "does not exist" if isinstance(exc, NotFound) else f"cannot be read: {exc}"
            self.reachable = Check(False, "CABundleNotFound", f"CA bundle {where} {reason}")
            return False, None
        except ValueError as exc:
            self.reachable = Check(False, "CABundleInvalid", f"CA bundle {where}: {exc}")
            return False, None
        if not pem:
            self.reachable = Check(False, "CABundleNotFound", f"{where} has no key {ca.key!r}")
            return False, None
        return True, pem

    async def refresh(self, cluster: ClusterApi) -> None:
        """Re-read credentials and CA bundle, rebuild the client if needed, and probe Quay."""
        spec = self.spec
        if spec is None:
            self.credentials = NOT_CHECKED
            self.reachable = NOT_CHECKED
            await self.close()
            return
        token = await self._read_token(cluster, spec)
        if token is None:
            self.reachable = UNKNOWN
            await self.close()
            return
        ok, pem = await self._read_ca(cluster, spec)
        if not ok:
            self.credentials = UNKNOWN
            await self.close()
            return
        key = hashlib.sha256(
            f"{spec.base_url}\0{spec.insecure_registry}\0{pem or ''}\0{spec.quay_client!r}".encode()
        ).hexdigest()
        if self.client is None or key != self._client_key:
            await self.close()
            try:
                self.client = self.connect(
                    spec.base_url,
                    token,
                    ca_pem=pem,
                    insecure=spec.insecure_registry,
                    concurrency=spec.quay_client.max_concurrency,
                    timeout_seconds=spec.quay_client.timeout_seconds,
                    attempts=spec.quay_client.attempts,
                    recorder=self.metrics.quay_call,
                    fips=self.fips,
                )
            except qe.TLSFailure as exc:
                self.reachable = Check(False, "CABundleInvalid", str(exc))
                self.credentials = UNKNOWN
                return
            self._client_key = key
        else:
            self.client.set_token(token)
        await self.probe()

    async def probe(self) -> None:
        """Call ``GET /api/v1/user/`` and set the credentials and reachability checks."""
        if self.client is None:
            return
        try:
            user = await self.client.get_user()
        except qe.Unauthenticated as exc:
            self.reachable = Check(True, "Reachable", "Quay answered")
            self.note_quay_error(exc)
        except qe.Forbidden as exc:
            self.reachable = Check(True, "Reachable", "Quay answered")
            self.credentials = Check(False, "InsufficientScope", self._said(exc))
        except qe.QuayError as exc:
            self.note_quay_error(exc)
            if self.reachable.ok is not False:
                self.reachable = Check(False, "QuayUnavailable", self._said(exc))
            self.credentials = UNKNOWN
        else:
            name = user.get("username", "?") if isinstance(user, dict) else "?"
            self.reachable = Check(True, "Reachable", "Quay answered")
            self.credentials = Check(True, "TokenAccepted", f"the token acts as Quay user {name}")

    def _said(self, exc: qe.QuayError) -> str:
        base_url = self.spec.base_url if self.spec is not None else "?"
        return condition_message(exc, base_url)

    def note_quay_error(self, exc: qe.QuayError) -> None:
        """Fold an error seen while probing or reconciling into the health checks.

        The message is the same advice the log line gives (``bridge.quay.advice``): what happened
        and what to do, each said once, without the HTTP or TLS library's wording.
        """
        if isinstance(exc, qe.Unauthenticated):
            self.credentials = Check(False, "TokenRejected", self._said(exc))
        elif isinstance(exc, qe.TLSFailure):
            self.reachable = Check(False, "TLSFailure", self._said(exc))
        elif isinstance(exc, qe.Unavailable):
            self.reachable = Check(False, "QuayUnavailable", self._said(exc))

    async def close(self) -> None:
        """Close the Quay client."""
        if self.client is not None:
            await self.client.close()
        self.client = None
        self._client_key = ""

    # --- status -----------------------------------------------------------------------------

    def _condition(self, kind: str, ok: bool | None, reason: str, message: str) -> dict[str, Any]:
        status = "Unknown" if ok is None else ("True" if ok else "False")
        previous = self._transitions.get(kind)
        when = previous[1] if previous and previous[0] == status else now_iso()
        self._transitions[kind] = (status, when)
        return {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": when,
            "observedGeneration": self.generation,
        }

    def status_body(self, records: list[NamespaceRecord]) -> dict[str, Any]:
        """Render the status subresource from the checks and the namespace records."""
        managed = sum(1 for r in records if r.quay_ready)
        failed = sum(1 for r in records if r.error) + len(self.invalid_names)
        self.metrics.managed_namespaces.labels(self.name).set(managed)
        self.metrics.failed_namespaces.labels(self.name).set(failed)
        if self.conflicts:
            shown = sorted(self.conflicts.items())[:10]
            text = "; ".join(f"{ns} (also {', '.join(others)})" for ns, others in shown)
            conflict = (
                True,
                "OverlappingSelection",
                f"namespaces selected by several integrations are managed by none: {text}",
            )
        else:
            conflict = (False, "NoOverlap", "no namespace is selected by another integration")
        ready = self.usable
        self.metrics.integration_ready.labels(self.name).set(1 if ready else 0)
        spec_check = (
            SPEC_OK
            if self.spec is not None
            else Check(False, "InvalidSpec", self.spec_error or "the spec is invalid")
        )
        cause = next(
            (c for c in (spec_check, self.credentials, self.reachable) if c.ok is False), None
        )
        if cause is not None:
            message, why = cause.message, cause.reason
        elif not ready:
            message, why = "checking the credentials and Quay", CHECKING
        else:
            why = "Ready"
            message = f"{managed} namespaces managed, {failed} failed"
            errors = [f"{r.namespace}: {r.error}" for r in records if r.error][:3]
            errors += [f"{ns}: {text}" for ns, text in sorted(self.invalid_names.items())][:3]
            if errors:
                message += "; " + "; ".join(errors)
        conditions = [
            # Ready sums up the others: when False, its reason and message are the first failing
            # condition's (spec, then credentials, then reachability), so one line says it all.
            self._condition("Ready", ready, why, message if not ready else "ready"),
            self._condition("SpecValid", spec_check.ok, spec_check.reason, spec_check.message),
            self._condition(
                "CredentialsValid",
                self.credentials.ok,
                self.credentials.reason,
                self.credentials.message,
            ),
            self._condition(
                "QuayReachable", self.reachable.ok, self.reachable.reason, self.reachable.message
            ),
            self._condition("Conflict", *conflict),
        ]
        body: dict[str, Any] = {
            "conditions": conditions,
            "managedNamespaces": managed,
            "failedNamespaces": failed,
            "observedGeneration": self.generation,
            "message": message[:2000],
        }
        if self.last_sync:
            body["lastSync"] = self.last_sync
        if self.last_rotation:
            body["lastRobotTokenRotation"] = self.last_rotation
        return body

    def rotation_due(self, period: float) -> float:
        """Wall-clock time the next periodic rotation is due: ``period`` after the last one.

        Before any rotation, ``period`` after the CR was created; without a known time, one
        period from now.
        """
        created = (self.body.get("metadata") or {}).get("creationTimestamp")
        for value in (self.last_rotation, created):
            parsed = parse_time(value)
            if parsed is not None:
                return parsed + period
        return time.time() + period
