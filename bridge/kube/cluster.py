"""Kubernetes reads and writes the controller makes: plain REST calls on the event loop.

The connection settings (server, CA, client certificate, token) come from ``bridge.kube.connection``
(``--kubeconfig`` or in-cluster) and the calls go through one aiohttp session on the operator's
event loop: the official client is blocking and needed a thread pool, whose per-call
serialisation and contention for the interpreter lock cost CPU on every call, and importing it
costs memory (figures: docs/architecture.md#decisions-that-differ-from-the-first-design and
docs/bridge.md#memory). Answers are plain dicts, the same shape kopf hands
to handlers, so planning code works on one representation. Every write is counted for
``/metrics`` and, once it succeeded, logged as one INFO line saying what changed where (names and
JSON Patch paths, never a Secret's data). Errors come back as :class:`KubeError` with the HTTP
status, so callers can tell a conflict (409), a failed JSON Patch ``test`` (422 or 409) and a
missing object (404) apart.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import logging
import ssl
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp

from bridge.kube.connection import Connection
from bridge.metrics import Metrics
from bridge.model.events import event_body, object_reference

log = logging.getLogger(__name__)

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
QI_GROUP, QI_VERSION, QI_PLURAL = "quay.redhat.com", "v1", "quayintegrations"
#: Failure kinds of :meth:`Cluster._failed` that one successful call ends.
_TRANSIENT = frozenset({"401", "unreachable"})
#: Items per page when listing a collection for a watch.
LIST_PAGE = 500
_WEBHOOKS = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"


class KubeError(Exception):
    """A failed Kubernetes API call; ``status`` is the HTTP status (0 for no answer).

    ``KubeError(status, message)`` makes the subclass that names the status (as ``OSError`` picks
    ``FileNotFoundError`` from its errno), so callers write ``except NotFound`` rather than compare
    numbers, and every place that builds a ``KubeError`` gets the typed error without knowing the
    subclasses. ``status`` stays for messages and for statuses without a subclass.

    ``unreachable`` says the connection itself failed (refused, reset, closed): the server may
    have restarted, which is when a follower must list again rather than resume.
    """

    def __new__(cls, status: int, message: str, *, unreachable: bool = False) -> KubeError:
        """Make the subclass that names ``status`` when called as ``KubeError`` itself."""
        if cls is KubeError:
            cls = _BY_STATUS.get(status, KubeError)
        return super().__new__(cls, status, message)

    def __init__(self, status: int, message: str, *, unreachable: bool = False) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.unreachable = unreachable


class BadRequest(KubeError):
    """400: the request itself is malformed; sending it again fails again."""


class Unauthorized(KubeError):
    """401: the API server does not accept the operator's credentials."""


class Forbidden(KubeError):
    """403: RBAC refuses the operation (or the namespace is terminating, see below)."""


class NotFound(KubeError):
    """404: the object (or its namespace, or the API itself) does not exist."""


class Conflict(KubeError):
    """409: the object exists already, or changed since it was read (a stale resourceVersion)."""


class Gone(KubeError):
    """410: a watch's resourceVersion is too old; list again and watch from the new version."""


class Invalid(KubeError):
    """422: the API server's validation refused the object or the patch."""


_BY_STATUS: dict[int, type[KubeError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Invalid,
}


def terminating_namespace(error: KubeError) -> bool:
    """True for the API server's refusal to create anything in a namespace being deleted."""
    return isinstance(error, Forbidden) and "because it is being terminated" in error.message


def _reason(status: int, reason: str, body: bytes) -> str:
    if body:
        try:
            return str(json.loads(body).get("message", ""))[:300]
        except (ValueError, AttributeError):
            return body.decode(errors="replace")[:300]
    return (reason or f"HTTP {status}")[:300]


def describe_patch(operations: list[dict[str, Any]]) -> str:
    """Summarise a JSON Patch for a log line: each change's op, path and a name it adds.

    Only a string value or the ``name`` of an object value is shown (a finalizer, an annotation,
    the name of a linked Secret): the operator never patches Secret data, and nothing longer
    than a name belongs in a log line. ``test`` operations are guards, not changes.
    """
    parts: list[str] = []
    for operation in operations:
        op = str(operation.get("op", ""))
        if op == "test":
            continue
        value = operation.get("value")
        items = value if isinstance(value, list) else [value]
        names = [
            i if isinstance(i, str) else i.get("name") if isinstance(i, dict) else None
            for i in items
        ]
        shown = ", ".join(n for n in names if isinstance(n, str)) if value is not None else ""
        text = f"{op} {operation.get('path', '')}"
        parts.append(f"{text} {shown[:120]}" if shown else text)
    return "; ".join(parts) or "no change"


def resource_of(path: str) -> str:
    """Return ``[group/]resource[/subresource]`` of an API path, for log lines."""
    parts = [part for part in path.split("?", 1)[0].split("/") if part]
    group = ""
    if parts[:1] == ["apis"] and len(parts) >= 3:
        group, parts = parts[1], parts[3:]
    elif parts[:1] == ["api"]:
        parts = parts[2:]
    if len(parts) >= 2 and parts[0] == "namespaces" and len(parts) != 2:
        parts = parts[2:]
    resource = parts[0] if parts else "?"
    if len(parts) >= 3:
        resource += "/" + parts[2]
    return f"{group}/{resource}" if group else resource


def _q(part: str) -> str:
    return quote(part, safe="")


def _ns_path(namespace: str, plural: str, name: str = "", *, group: str = "") -> str:
    """The REST path of a namespaced collection or object (core group unless ``group``)."""
    prefix = f"/apis/{group}/v1" if group else "/api/v1"
    path = f"{prefix}/namespaces/{_q(namespace)}/{plural}"
    return f"{path}/{_q(name)}" if name else path


class Cluster:
    """The controller's view of the API server: a few typed reads and counted writes."""

    def __init__(self, connection: Connection, metrics: Metrics) -> None:
        self.connection = connection
        self.metrics = metrics
        self._base = connection.server.rstrip("/")
        context = connection.ssl_context()
        self._ssl: ssl.SSLContext | bool = context if context is not None else False
        self._session: aiohttp.ClientSession | None = None
        self._watch_session: aiohttp.ClientSession | None = None
        #: Failures already logged (see :meth:`_failed`); the transient ones until a success.
        self._failing: set[str] = set()

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "quay-bridge"}
        authorization = self.connection.authorization()  # a token file is re-read now and then
        if authorization:
            headers["Authorization"] = authorization
        return headers

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._ssl, limit=32),
                timeout=aiohttp.ClientTimeout(total=60),
            )
        return self._session

    def _get_watch_session(self) -> aiohttp.ClientSession:
        # Watches hold their connections for minutes: a session of their own keeps them from
        # taking the request session's connections, with no total timeout, only a read timeout.
        if self._watch_session is None or self._watch_session.closed:
            self._watch_session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._ssl, limit=0),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=None),
            )
        return self._watch_session

    async def aclose(self) -> None:
        """Close the HTTP sessions."""
        for session in (self._session, self._watch_session):
            if session is not None:
                await session.close()
        self._session = self._watch_session = None

    async def _request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, str] | None = None,
        content_type: str = "application/json",
        timeout: float | None = None,
    ) -> Any:
        headers = self._headers()
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        extra: dict[str, Any] = {}
        if timeout is not None:
            extra["timeout"] = aiohttp.ClientTimeout(total=timeout)
        try:
            async with self._get_session().request(
                method, self._base + path, params=params, data=data, headers=headers, **extra
            ) as response:
                payload = await response.read()
                if response.status >= 400:
                    raise KubeError(
                        response.status, _reason(response.status, response.reason or "", payload)
                    )
        except KubeError as exc:
            self._failed(method, path, exc)
            raise
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            error = KubeError(
                0,
                f"{type(exc).__name__}: {exc}"[:300],
                unreachable=isinstance(exc, aiohttp.ClientConnectionError | OSError),
            )
            self._failed(method, path, error)
            raise error from None
        if self._failing & _TRANSIENT:
            # A missing permission (403) stays logged once for the process: it does not heal
            # until the ClusterRole is changed, and other calls succeeding says nothing about it.
            log.info("the API server at %s answers again", self._base)
            self._failing -= _TRANSIENT
        return json.loads(payload) if payload else None

    def _failed(self, method: str, path: str, error: KubeError) -> None:
        """Log, once per kind, the API failures an admin must act on (what to do included)."""
        resource = resource_of(path)
        if terminating_namespace(error):
            return  # not a permission: the namespace is going away, and the caller knows it
        if isinstance(error, Forbidden):
            kind, level = f"403 {method} {resource}", logging.ERROR
            text = (
                f"the API server forbids {method} on {resource} ({error.message}): the"
                " operator's ClusterRole lacks it; apply this version's deploy/base (or bundle)"
            )
        elif isinstance(error, Unauthorized):
            kind, level = "401", logging.ERROR
            text = (
                f"the API server at {self._base} refused the operator's credentials: check"
                " --kubeconfig, or the pod's service account token"
            )
        elif error.status == 0:
            kind, level = "unreachable", logging.WARNING
            text = (
                f"cannot reach the API server at {self._base} ({error.message}); the operator"
                " retries on its own"
            )
        else:
            return
        if kind not in self._failing:
            self._failing.add(kind)
            log.log(level, text, extra={"resource": resource, "status": error.status})

    def _count(self, resource: str, verb: str) -> None:
        self.metrics.kube_writes.labels(resource, verb).inc()

    @staticmethod
    def _changed(message: str, **fields: str) -> None:
        """Log one change made in the cluster, with the object's names as structured fields."""
        log.info(message, extra=fields)

    # --- discovery --------------------------------------------------------------------------

    async def api_groups(self) -> set[str]:
        """Return the API groups the server serves (e.g. ``image.openshift.io``)."""
        data = await self._request("GET", "/apis")
        return {str(g.get("name")) for g in (data or {}).get("groups", [])}

    # --- list and watch (for bridge.kube.watching) ----------------------------------------------

    async def list_collection(
        self, path: str, params: dict[str, str]
    ) -> tuple[list[dict[str, Any]], str]:
        """List a collection page by page; return the items and the list's resourceVersion."""
        items: list[dict[str, Any]] = []
        query = {**params, "limit": str(LIST_PAGE)}
        while True:
            data = await self._request("GET", path, params=query) or {}
            items.extend(data.get("items") or [])
            meta = data.get("metadata") or {}
            if not meta.get("continue"):
                return items, str(meta.get("resourceVersion") or "")
            query["continue"] = str(meta["continue"])

    async def watch(
        self, path: str, params: dict[str, str], *, timeout: float
    ) -> AsyncIterator[dict[str, Any]]:
        """Stream the events of a watch of ``path`` (one JSON object per line) until it ends.

        ``timeout`` is the server-side ``timeoutSeconds``; a connection silent for 30 s longer
        than that is treated as lost. Raises :class:`KubeError` for an error status or a broken
        connection; an expired resourceVersion comes either as a 410 status or as an ``ERROR``
        event carrying a Status with code 410, and is left to the caller.
        """
        query = {**params, "watch": "true", "timeoutSeconds": str(int(timeout))}
        client_timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=timeout + 30)
        try:
            async with self._get_watch_session().get(
                self._base + path, params=query, headers=self._headers(), timeout=client_timeout
            ) as response:
                if response.status >= 400:
                    payload = await response.read()
                    raise KubeError(
                        response.status, _reason(response.status, response.reason or "", payload)
                    )
                buffer = b""
                async for chunk in response.content.iter_any():
                    buffer += chunk
                    if b"\n" not in buffer:
                        continue
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        if line.strip():
                            yield json.loads(line)
        except KubeError:
            raise
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            raise KubeError(
                0,
                f"watch of {path}: {type(exc).__name__}: {exc}"[:300],
                unreachable=isinstance(exc, aiohttp.ClientConnectionError | OSError),
            ) from None

    # --- reads ------------------------------------------------------------------------------

    async def get_namespace(self, name: str) -> dict[str, Any]:
        """Read a Namespace."""
        return dict(await self._request("GET", f"/api/v1/namespaces/{_q(name)}"))

    async def list_namespaces(self) -> list[dict[str, Any]]:
        """List every Namespace."""
        data = await self._request("GET", "/api/v1/namespaces")
        return list((data or {}).get("items") or [])

    async def get_service_account(self, namespace: str, name: str) -> dict[str, Any]:
        """Read a ServiceAccount."""
        return dict(await self._request("GET", _ns_path(namespace, "serviceaccounts", name)))

    async def list_service_accounts(self, namespace: str) -> list[dict[str, Any]]:
        """List the ServiceAccounts of a namespace."""
        data = await self._request("GET", _ns_path(namespace, "serviceaccounts"))
        return list(data.get("items") or [])

    async def list_secrets(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        """List the Secrets of a namespace matching a label selector."""
        data = await self._request(
            "GET", _ns_path(namespace, "secrets"), params={"labelSelector": label_selector}
        )
        return list(data.get("items") or [])

    async def read_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """Read a Secret; None when it does not exist."""
        try:
            return dict(await self._request("GET", _ns_path(namespace, "secrets", name)))
        except NotFound:
            return None

    async def list_integrations(self) -> list[dict[str, Any]]:
        """List the QuayIntegrations."""
        data = await self._request("GET", f"/apis/{QI_GROUP}/{QI_VERSION}/{QI_PLURAL}")
        return list((data or {}).get("items") or [])

    async def create_peering(self, name: str) -> bool:
        """Create the ``ClusterKopfPeering`` ``name``; False when it already exists."""
        body = {
            "apiVersion": "kopf.dev/v1",
            "kind": "ClusterKopfPeering",
            "metadata": {"name": name},
        }
        try:
            await self._request("POST", "/apis/kopf.dev/v1/clusterkopfpeerings", body)
        except Conflict:
            return False
        self._count("clusterkopfpeerings", "create")
        self._changed(f"created ClusterKopfPeering {name}", peering=name)
        return True

    async def read_secret_bytes(self, namespace: str, name: str, key: str) -> bytes | None:
        """Return one key of a Secret as bytes (None if absent); KubeError 404 if no Secret.

        Raises:
            ValueError: the key's value is not base64 (a Secret the API server would refuse).
        """
        secret = await self._request("GET", _ns_path(namespace, "secrets", name))
        data = (secret or {}).get("data") or {}
        if key in data:
            try:
                return base64.b64decode(str(data[key]), validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(
                    f"key {key!r} of Secret {namespace}/{name} is not base64"
                ) from None
        string_data = (secret or {}).get("stringData") or {}
        value = string_data.get(key)
        return str(value).encode() if value is not None else None

    async def read_secret_key(self, namespace: str, name: str, key: str) -> str | None:
        """Return one key of a Secret as text (None if absent); KubeError 404 if no Secret.

        Raises:
            ValueError: the value is not UTF-8 text (the message names the Secret and key).
        """
        raw = await self.read_secret_bytes(namespace, name, key)
        if raw is None:
            return None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(
                f"key {key!r} of Secret {namespace}/{name} is not UTF-8 text"
            ) from None

    async def secret_keys(self, namespace: str, name: str) -> list[str]:
        """Return the keys a Secret holds (for error messages; never the values)."""
        secret = await self._request("GET", _ns_path(namespace, "secrets", name))
        return sorted(((secret or {}).get("data") or {}).keys())

    async def read_configmap_key(self, namespace: str, name: str, key: str) -> str | None:
        """Return one key of a ConfigMap; None if absent. KubeError 404 if no ConfigMap."""
        configmap = await self._request("GET", _ns_path(namespace, "configmaps", name))
        value = ((configmap or {}).get("data") or {}).get(key)
        return str(value) if value is not None else None

    async def list_image_streams(self, namespace: str) -> list[dict[str, Any]]:
        """List the ImageStreams of a namespace."""
        data = await self._request(
            "GET", _ns_path(namespace, "imagestreams", group="image.openshift.io")
        )
        return list(data.get("items") or [])

    async def read_build(
        self, namespace: str, name: str, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Read an OpenShift Build (KubeError 404 when it is gone)."""
        path = _ns_path(namespace, "builds", name, group="build.openshift.io")
        return dict(await self._request("GET", path, timeout=timeout))

    async def read_image_stream(
        self, namespace: str, name: str, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Read an ImageStream (KubeError 404 when there is none)."""
        path = _ns_path(namespace, "imagestreams", name, group="image.openshift.io")
        return dict(await self._request("GET", path, timeout=timeout))

    async def read_mutating_webhook_configuration(self, name: str) -> dict[str, Any]:
        """Read a MutatingWebhookConfiguration (for the webhook's self-managed caBundle)."""
        return dict(await self._request("GET", f"{_WEBHOOKS}/{_q(name)}"))

    # --- writes -----------------------------------------------------------------------------

    async def create_subject_access_review(
        self, body: dict[str, Any], *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Ask the API server whether a user may do something (nothing is stored; no count)."""
        path = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
        return dict(await self._request("POST", path, body, timeout=timeout))

    async def create_secret(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a Secret."""
        self._count("secrets", "create")
        created = dict(await self._request("POST", _ns_path(namespace, "secrets"), body))
        name = str((body.get("metadata") or {}).get("name") or "")
        self._changed(
            f"created Secret {namespace}/{name} ({body.get('type') or 'Opaque'})",
            namespace=namespace,
            secret=name,
        )
        return created

    async def replace_secret(self, namespace: str, name: str, body: dict[str, Any]) -> None:
        """Replace a Secret (used when a robot token changed)."""
        self._count("secrets", "update")
        await self._request("PUT", _ns_path(namespace, "secrets", name), body)
        self._changed(f"updated Secret {namespace}/{name}", namespace=namespace, secret=name)

    async def patch_service_account(
        self, namespace: str, name: str, operations: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Apply a JSON Patch to a ServiceAccount."""
        self._count("serviceaccounts", "patch")
        patched = dict(
            await self._request(
                "PATCH",
                _ns_path(namespace, "serviceaccounts", name),
                operations,
                content_type=JSON_PATCH,
            )
        )
        self._changed(
            f"patched ServiceAccount {namespace}/{name}: {describe_patch(operations)}",
            namespace=namespace,
            serviceaccount=name,
        )
        return patched

    async def patch_namespace(self, name: str, operations: list[dict[str, Any]]) -> dict[str, Any]:
        """Apply a JSON Patch to a Namespace."""
        self._count("namespaces", "patch")
        patched = dict(
            await self._request(
                "PATCH", f"/api/v1/namespaces/{_q(name)}", operations, content_type=JSON_PATCH
            )
        )
        self._changed(f"patched Namespace {name}: {describe_patch(operations)}", namespace=name)
        return patched

    async def patch_integration_status(self, name: str, status: dict[str, Any]) -> None:
        """Merge-patch a QuayIntegration's status subresource."""
        self._count("quayintegrations/status", "patch")
        await self._request(
            "PATCH",
            f"/apis/{QI_GROUP}/{QI_VERSION}/{QI_PLURAL}/{_q(name)}/status",
            {"status": status},
            content_type=MERGE_PATCH,
        )
        ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
        fields = {"integration": name}
        if ready is not None and ready.get("status") != "True":
            # The status message already says what is wrong and what to do (credentials,
            # reachability, spec); an admin watching the log sees it without kubectl.
            log.warning(
                "QuayIntegration %s is not ready (%s): %s",
                name,
                ready.get("reason"),
                status.get("message", ""),
                extra=fields,
            )
        else:
            self._changed(
                f"updated status of QuayIntegration {name}: {status.get('message', '')}", **fields
            )

    async def patch_mutating_webhook_configuration(
        self, name: str, operations: list[dict[str, Any]]
    ) -> None:
        """Apply a JSON Patch to a MutatingWebhookConfiguration."""
        self._count("mutatingwebhookconfigurations", "patch")
        await self._request("PATCH", f"{_WEBHOOKS}/{_q(name)}", operations, content_type=JSON_PATCH)
        self._changed(
            f"patched MutatingWebhookConfiguration {name}: {describe_patch(operations)}",
            webhookconfiguration=name,
        )

    async def create_image_stream_import(
        self, namespace: str, body: dict[str, Any], *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Create an ImageStreamImport; the reply carries the per-image outcome."""
        self._count("imagestreamimports", "create")
        path = _ns_path(namespace, "imagestreamimports", group="image.openshift.io")
        answer = dict(await self._request("POST", path, body, timeout=timeout))
        stream = str((body.get("metadata") or {}).get("name") or "")
        images = (body.get("spec") or {}).get("images") or []
        sources = ", ".join(str((i.get("from") or {}).get("name")) for i in images)
        self._changed(
            f"imported {sources or 'images'} into ImageStream {namespace}/{stream}",
            namespace=namespace,
            imagestream=stream,
        )
        return answer

    async def merge_patch_build(
        self, namespace: str, name: str, patch: dict[str, Any], *, timeout: float | None = None
    ) -> None:
        """Merge-patch an OpenShift Build (its metadata: the bridge never changes a spec)."""
        self._count("builds", "patch")
        path = _ns_path(namespace, "builds", name, group="build.openshift.io")
        await self._request("PATCH", path, patch, content_type=MERGE_PATCH, timeout=timeout)
        keys = sorted(((patch.get("metadata") or {}).get("annotations") or {}).keys())
        self._changed(
            f"annotated Build {namespace}/{name}: {', '.join(keys) or 'metadata'}",
            namespace=namespace,
            build=name,
        )

    async def create_event(
        self, namespace: str, body: dict[str, Any], *, timeout: float | None = None
    ) -> None:
        """Create a core/v1 Event as given; errors are raised (see :meth:`post_event`)."""
        self._count("events", "create")
        await self._request("POST", _ns_path(namespace, "events"), body, timeout=timeout)

    async def post_event(
        self,
        involved: dict[str, Any],
        reason: str,
        message: str,
        *,
        warning: bool = False,
    ) -> None:
        """Post a core/v1 Event about ``involved`` (a kopf-style body); failures are only logged.

        An Event about a cluster-scoped object goes into ``default`` (``bridge.model.events``). An
        Event refused because its namespace is being deleted (403) is expected then, and logged at
        debug level only.
        """
        metadata = involved.get("metadata") or {}
        body = event_body(
            object_reference(involved),
            reason,
            message[:1000],
            type_="Warning" if warning else "Normal",
            now=datetime.datetime.now(datetime.UTC),
            name=f"quay-bridge.{uuid.uuid4().hex[:16]}",
        )
        namespace = body["metadata"]["namespace"]
        self._count("events", "create")
        try:
            await self._request("POST", _ns_path(str(namespace), "events"), body)
        except KubeError as exc:
            if terminating_namespace(exc):
                log.debug("event %s for %s not posted: %s", reason, metadata.get("name"), exc)
                return
            log.warning("could not post event %s for %s: %s", reason, metadata.get("name"), exc)
