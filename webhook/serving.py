"""The admission webhook's HTTPS server: Builds, Namespaces, ``/healthz``, ``/readyz``.

Builds are posted to ``/admissionwebhook``, Namespaces to ``/admissionwebhook/namespaces``. This
is the I/O half of the webhook; the decisions themselves are ``webhook.mutation.decide`` and
``webhook.labelling.decide_namespace`` (pure). Answers come from the state view in memory, so an
admission makes no API-server call, except one read of a Build's namespace that the controller has
not seen yet (``webhook.resolving``). When a managed namespace's builder secret is not there yet
(the first build of a fresh project), the server asks the view to provision it now and waits a
bounded time, shorter than the API server's webhook timeout, before it would deny; the denial
carries HTTP 503 so a BuildConfig's instantiate is retried rather than treated as fatal (a plain
denial is a 400, which the build controller never retries).
The serving certificate is re-read when its files change, because service-ca, OLM and cert-manager
rotate it under a running pod.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import ssl
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from certs.tlspolicy import restrict_to_approved
from webhook.labelling import decide_namespace
from webhook.metrics import AdmissionMetrics, NamespaceOutcome, Outcome
from webhook.mutation import Rewrite, decide, namespaces_to_resolve
from webhook.resolving import Undecided, resolve
from webhook.reviews import MalformedReview, allow, deny, parse_review
from webhook.state_view import StateView

log = logging.getLogger(__name__)

ADMISSION_PATH = "/admissionwebhook"
#: Namespace CREATEs: the managed label for namespaces an integration selects.
NAMESPACE_PATH = "/admissionwebhook/namespaces"
TLS_CERT = "tls.crt"
TLS_KEY = "tls.key"

#: Time kept back from the API server's own timeout (``?timeout=10s``) for answering after a wait.
ANSWER_MARGIN = 1.0

_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
_GO_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}

#: The code of a "not ready yet" denial: 503 is transient to the build controller (400 is fatal).
NOT_READY_CODE = 503
NOT_READY_REASON = "ServiceUnavailable"


@dataclass(frozen=True)
class WebhookSettings:
    """How the webhook server behaves.

    Attributes:
        provision_timeout: seconds an admission waits for just-in-time provisioning of a namespace
            whose builder secret is missing, before denying. Default 8 s: below the
            MutatingWebhookConfiguration's ``timeoutSeconds: 10``, so the API server gets an
            answer (and a clear message) instead of a timeout.
        provision_poll_interval: seconds between readiness checks while waiting, for views whose
            ``ensure_now`` returns before the secret is in place. Default 0.1 s.
        reload_interval: seconds between checks of the certificate files for a change. Default 2 s.
        max_body_bytes: largest accepted request body. Default 4 MiB: a Build is far below the
            API server's 1.5 MiB object limit, whatever its environment and labels.
        fips: serve only FIPS-approved TLS versions, suites and groups (``certs.tlspolicy``).
            Default off.
    """

    provision_timeout: float = 8.0
    provision_poll_interval: float = 0.1
    reload_interval: float = 2.0
    max_body_bytes: int = 4 * 1024 * 1024
    fips: bool = False


def parse_go_duration(text: str) -> float | None:
    """Return the seconds of a Go duration such as ``10s`` or ``1m30s``, else ``None``."""
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return None
    return sum(float(number) * _GO_UNITS[unit] for number, unit in parts)


def wait_budget(settings: WebhookSettings, api_server_timeout: str | None) -> float:
    """Seconds an admission may wait for provisioning.

    The setting, but never so long that the API server (which says its own timeout in the
    ``timeout`` query parameter) gives up before the answer arrives: a MutatingWebhookConfiguration
    with a shorter ``timeoutSeconds`` shortens the wait instead of turning it into a timeout.
    """
    limit = parse_go_duration(api_server_timeout) if api_server_timeout else None
    if limit is None:
        return settings.provision_timeout
    return max(0.0, min(settings.provision_timeout, limit - ANSWER_MARGIN))


class CertificateFiles:
    """The serving certificate and key in a directory, swapped into new handshakes on change.

    Each load goes into a fresh ``SSLContext``; the listening context's SNI callback hands every
    new handshake the latest good one (the callback runs with or without SNI). Loading into the
    live context instead would leave it holding a new certificate with the old key when a load
    fails half-way. Connections already open keep their certificate. A pair that does not load
    (say a new certificate next to the old key, between two renames) leaves the old one in
    service, and the next check tries again.
    """

    def __init__(self, cert_dir: Path, fips: bool = False) -> None:
        self.cert = cert_dir / TLS_CERT
        self.key = cert_dir / TLS_KEY
        self.fips = fips
        self.current = self._load()
        self._loaded = self._fingerprint()
        self.reloads = 0
        self.context = self._load()
        self.context.sni_callback = self._select

    def reload_if_changed(self) -> bool:
        """Load the files again when they changed; return whether a new pair is now in service."""
        try:
            current = self._fingerprint()
        except OSError as exc:
            log.warning("cannot read the webhook certificate files: %s", exc)
            return False
        if current == self._loaded:
            return False
        try:
            self.current = self._load()
        except (ssl.SSLError, OSError) as exc:
            log.warning("webhook certificate files changed but do not load yet: %s", exc)
            return False
        self._loaded = current
        self.reloads += 1
        log.info("webhook serving certificate reloaded from %s", self.cert)
        return True

    def _load(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.fips:
            restrict_to_approved(context)
        context.load_cert_chain(self.cert, self.key)
        return context

    def _select(self, connection: ssl.SSLObject, _name: str | None, _: ssl.SSLContext) -> None:
        connection.context = self.current

    def _fingerprint(self) -> tuple[object, ...]:
        cert, key = self.cert.stat(), self.key.stat()
        return (cert.st_ino, cert.st_mtime_ns, cert.st_size, key.st_ino, key.st_mtime_ns)


class WebhookServer:
    """A running webhook server; ``await stop()`` to shut it down."""

    def __init__(
        self,
        view: StateView,
        cert_dir: Path,
        settings: WebhookSettings,
        metrics: AdmissionMetrics | None = None,
        decision_key: bytes | None = None,
    ) -> None:
        self.view = view
        self.settings = settings
        #: The key the decision records are signed with (``webhook.decisions``). ``quay-bridge
        #: run`` passes the operator's shared key; without one the server makes its own, which
        #: only a verifier in this process could check.
        self.decision_key = decision_key or secrets.token_bytes(32)
        self.metrics = metrics or AdmissionMetrics()
        self.certificates = CertificateFiles(cert_dir, settings.fips)
        self.host = ""
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._provisioning: dict[str, asyncio.Task[None]] = {}
        self._companions: list[asyncio.Task[None]] = []

    @property
    def url(self) -> str:
        """The admission URL, e.g. ``https://127.0.0.1:9443/admissionwebhook``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}{ADMISSION_PATH}"

    def make_app(self) -> web.Application:
        """Return the aiohttp application (routes only; TLS is the site's)."""
        app = web.Application(client_max_size=self.settings.max_body_bytes)
        app.router.add_post(ADMISSION_PATH, self._admit)
        app.router.add_post(NAMESPACE_PATH, self._admit_namespace)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        return app

    async def start(self, host: str | Sequence[str], port: int) -> None:
        """Listen on ``host:port`` (port 0 picks a free one) and start watching the certificate.

        Several hosts (dual-stack) share the port the first one got.
        """
        hosts = [host] if isinstance(host, str) else list(host)
        host = hosts[0]
        self._runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=self.certificates.context)
        await site.start()
        bound = self._runner.addresses[0]
        self.host, self.port = host, int(bound[1])
        for other in hosts[1:]:
            await web.TCPSite(
                self._runner, other, self.port, ssl_context=self.certificates.context
            ).start()
        self._watcher = asyncio.create_task(self._watch_certificates(), name="webhook-cert-watch")
        log.info("admission webhook listening on %s", self.url)

    def run_alongside(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``coroutine`` as a task for as long as the server runs (cancelled by ``stop``)."""
        self._companions.append(asyncio.create_task(coroutine, name=name))

    async def stop(self) -> None:
        """Stop serving, the certificate watch and any provisioning still under way."""
        candidates = [self._watcher, *self._companions, *self._provisioning.values()]
        tasks = [task for task in candidates if task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._provisioning.clear()
        self._companions.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _watch_certificates(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reload_interval)
            self.certificates.reload_if_changed()

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _readyz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _admit(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        body = await request.read()
        try:
            review = parse_review(body)
        except MalformedReview as exc:
            log.warning("refused a malformed admission request from %s: %s", request.remote, exc)
            self.metrics.answered("malformed", time.monotonic() - started)
            return web.json_response({"message": str(exc)}, status=400)
        admission = review.request
        try:
            resolution = await resolve(self.view, namespaces_to_resolve(admission))
        except Undecided as exc:
            log.warning("denied build %s/%s: %s", admission.namespace, admission.name, exc)
            message = f"{exc}; retry the build shortly"
            reply = deny(admission.uid, message, code=NOT_READY_CODE, reason=NOT_READY_REASON)
            return self._answer("denied", started, reply)
        if resolution.read:
            log.info(
                "build %s/%s: read namespace(s) %s, not seen by the controller yet",
                admission.namespace,
                admission.name,
                ", ".join(resolution.read),
            )
        decision = decide(admission, resolution.destination_for, self.decision_key)
        if not isinstance(decision, Rewrite):
            log.debug("admission %s left unchanged: %s", admission.uid, decision.reason)
            if decision.patch:
                log.info(
                    "build %s/%s: removed %d bridge annotation(s) its author set",
                    admission.namespace,
                    admission.name,
                    len(decision.patch),
                )
            return self._answer("unchanged", started, allow(admission.uid, decision.patch))
        namespace = decision.namespace
        if not self.view.builder_ready(namespace):
            if admission.dry_run:
                warning = f"namespace {namespace} has no Quay push secret for builds yet"
                reply = allow(admission.uid, decision.patch, warnings=[warning])
                return self._answer("rewritten", started, reply)
            allowed = wait_budget(self.settings, request.query.get("timeout"))
            budget = allowed - (time.monotonic() - started)
            ready = await self._provision(namespace, budget)
            self.metrics.provisionings.labels("ready" if ready else "timeout").inc()
            if not ready:
                message = (
                    f"namespace {namespace!r} is not ready for builds: the builder service "
                    f"account has no Quay push secret yet and provisioning did not finish within "
                    f"{allowed:g} s; retry the build shortly"
                )
                log.warning("denied build %s/%s: %s", namespace, admission.name, message)
                reply = deny(admission.uid, message, code=NOT_READY_CODE, reason=NOT_READY_REASON)
                return self._answer("denied", started, reply)
        log.info("build %s/%s now pushes to %s", namespace, admission.name, decision.image)
        return self._answer("rewritten", started, allow(admission.uid, decision.patch))

    async def _admit_namespace(self, request: web.Request) -> web.Response:
        """Label a namespace being created when an integration selects it (memory only)."""
        started = time.monotonic()
        body = await request.read()
        try:
            review = parse_review(body)
        except MalformedReview as exc:
            log.warning("refused a malformed admission request from %s: %s", request.remote, exc)
            self.metrics.namespace_answered("malformed", time.monotonic() - started)
            return web.json_response({"message": str(exc)}, status=400)
        admission = review.request
        decision = decide_namespace(
            admission, self.view.destination_by_rules, self.view.rules_known()
        )
        if decision.labelled:
            log.info("namespace %s labelled as managed at its creation", admission.name)
        else:
            log.debug("namespace admission %s left unchanged: %s", admission.uid, decision.reason)
        outcome: NamespaceOutcome = "labelled" if decision.labelled else "unchanged"
        self.metrics.namespace_answered(outcome, time.monotonic() - started)
        reply = allow(admission.uid, decision.patch)
        return web.Response(body=reply, content_type="application/json")

    async def _provision(self, namespace: str, budget: float) -> bool:
        """Ask the view to provision ``namespace`` and wait at most ``budget`` seconds for it.

        Concurrent admissions for one namespace share one ``ensure_now`` call; it keeps running
        after a timeout, so a retried build finds the namespace ready.
        """
        deadline = time.monotonic() + max(budget, 0.0)
        task = self._provisioning.get(namespace)
        if task is None:
            task = asyncio.create_task(self._ensure(namespace), name=f"ensure-{namespace}")
            self._provisioning[namespace] = task
            task.add_done_callback(lambda done: self._forget(namespace, done))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), timeout=max(budget, 0.0))
        while not self.view.builder_ready(namespace):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(self.settings.provision_poll_interval, remaining))
        return True

    async def _ensure(self, namespace: str) -> None:
        try:
            await self.view.ensure_now(namespace)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the view's failure must not fail the admission handler
            log.warning(
                "provisioning %s for a build failed: %s: %.200s", namespace, type(exc).__name__, exc
            )

    def _forget(self, namespace: str, done: asyncio.Task[None]) -> None:
        if self._provisioning.get(namespace) is done:
            del self._provisioning[namespace]

    def _answer(self, outcome: Outcome, started: float, body: bytes) -> web.Response:
        self.metrics.answered(outcome, time.monotonic() - started)
        return web.Response(body=body, content_type="application/json")


async def start_webhook(
    view: StateView,
    host: str | Sequence[str],
    port: int,
    cert_dir: Path,
    settings: WebhookSettings | None = None,
    metrics: AdmissionMetrics | None = None,
    decision_key: bytes | None = None,
) -> WebhookServer:
    """Start the admission webhook over HTTPS and return the running server.

    Args:
        view: the controller's state, answered from memory.
        host: address(es) to listen on (``0.0.0.0`` in a pod, ``127.0.0.1`` in tests; both
            ``0.0.0.0`` and ``::`` for dual-stack).
        port: port to listen on; 0 picks a free one (see ``WebhookServer.port``).
        cert_dir: directory holding ``tls.crt`` and ``tls.key``; watched for rotation.
        settings: timeouts and limits (defaults suit ``timeoutSeconds: 10``).
        metrics: where to count answers (default: a private registry, ``server.metrics``).
        decision_key: the key decision records are signed with (default: one made for this
            server alone, ``server.decision_key``).

    Raises:
        OSError: when the certificate files are missing or the address is in use.
        ssl.SSLError: when the certificate and key do not load.
    """
    server = WebhookServer(view, cert_dir, settings or WebhookSettings(), metrics, decision_key)
    await server.start(host, port)
    return server
