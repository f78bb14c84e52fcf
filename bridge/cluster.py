"""Kubernetes reads and writes the controller makes, through the official ``kubernetes`` client.

The client is blocking, so every call runs in a thread pool off the event loop. Answers are read raw
(``_preload_content=False``) and returned as plain dicts, the same shape kopf hands to handlers, so
planning code works on one representation. Every write is counted for ``/metrics``. Errors come back
as :class:`KubeError` with the HTTP status, so callers can tell a conflict (409), a failed JSON
Patch ``test`` (422 or 409) and a missing object (404) apart.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import kubernetes
from kubernetes.client.exceptions import ApiException

from bridge.metrics import Metrics

log = logging.getLogger(__name__)

T = TypeVar("T")

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
QI_GROUP, QI_VERSION, QI_PLURAL = "quay.redhat.com", "v1", "quayintegrations"


class KubeError(Exception):
    """A failed Kubernetes API call; ``status`` is the HTTP status (0 for no answer)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


def _reason(exc: ApiException) -> str:
    body = getattr(exc, "body", None)
    if body:
        try:
            return str(json.loads(body).get("message", ""))[:300]
        except (ValueError, AttributeError):
            return str(body)[:300]
    return str(exc.reason or "")[:300]


def load_client_config(kubeconfig: str | None) -> kubernetes.client.ApiClient:
    """Return an ApiClient for ``kubeconfig`` (or in-cluster, or the default kubeconfig)."""
    configuration = kubernetes.client.Configuration()
    if kubeconfig:
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, client_configuration=configuration
        )
    else:
        try:
            kubernetes.config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
        except kubernetes.config.ConfigException:
            kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
    configuration.connection_pool_maxsize = 32
    return kubernetes.client.ApiClient(configuration)


class Cluster:
    """The controller's view of the API server: a few typed reads and counted writes."""

    def __init__(self, api_client: kubernetes.client.ApiClient, metrics: Metrics) -> None:
        self.api_client = api_client
        self.core = kubernetes.client.CoreV1Api(api_client)
        self.custom = kubernetes.client.CustomObjectsApi(api_client)
        self.metrics = metrics
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="kube")

    def close(self) -> None:
        """Stop the thread pool and close connections."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.api_client.close()  # type: ignore[no-untyped-call]

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        def run() -> Any:
            try:
                response = fn(*args, _preload_content=False, **kwargs)
            except ApiException as exc:
                raise KubeError(int(exc.status or 0), _reason(exc)) from None
            except Exception as exc:  # connection failures surface as urllib3 errors
                raise KubeError(0, f"{type(exc).__name__}: {exc}"[:300]) from None
            data = response.data
            return json.loads(data) if data else None

        return await asyncio.get_running_loop().run_in_executor(self._pool, run)

    def _count(self, resource: str, verb: str) -> None:
        self.metrics.kube_writes.labels(resource, verb).inc()

    # --- discovery --------------------------------------------------------------------------

    async def api_groups(self) -> set[str]:
        """Return the API groups the server serves (e.g. ``image.openshift.io``)."""
        apis = kubernetes.client.ApisApi(self.api_client)
        data = await self._call(apis.get_api_versions)
        return {str(g.get("name")) for g in (data or {}).get("groups", [])}

    # --- reads ------------------------------------------------------------------------------

    async def get_namespace(self, name: str) -> dict[str, Any]:
        """Read a Namespace."""
        return dict(await self._call(self.core.read_namespace, name))

    async def list_namespaces(self) -> list[dict[str, Any]]:
        """List every Namespace."""
        data = await self._call(self.core.list_namespace)
        return list((data or {}).get("items") or [])

    async def get_service_account(self, namespace: str, name: str) -> dict[str, Any]:
        """Read a ServiceAccount."""
        return dict(await self._call(self.core.read_namespaced_service_account, name, namespace))

    async def list_service_accounts(self, namespace: str) -> list[dict[str, Any]]:
        """List the ServiceAccounts of a namespace."""
        data = await self._call(self.core.list_namespaced_service_account, namespace)
        return list(data.get("items") or [])

    async def list_secrets(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        """List the Secrets of a namespace matching a label selector."""
        data = await self._call(
            self.core.list_namespaced_secret, namespace, label_selector=label_selector
        )
        return list(data.get("items") or [])

    async def read_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """Read a Secret; None when it does not exist."""
        try:
            return dict(await self._call(self.core.read_namespaced_secret, name, namespace))
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    async def list_integrations(self) -> list[dict[str, Any]]:
        """List the QuayIntegrations."""
        data = await self._call(
            self.custom.list_cluster_custom_object, QI_GROUP, QI_VERSION, QI_PLURAL
        )
        return list((data or {}).get("items") or [])

    async def create_peering(self, name: str) -> bool:
        """Create the ``ClusterKopfPeering`` ``name``; False when it already exists."""
        body = {
            "apiVersion": "kopf.dev/v1",
            "kind": "ClusterKopfPeering",
            "metadata": {"name": name},
        }
        try:
            await self._call(
                self.custom.create_cluster_custom_object,
                "kopf.dev",
                "v1",
                "clusterkopfpeerings",
                body,
            )
        except KubeError as exc:
            if exc.status == 409:
                return False
            raise
        self._count("clusterkopfpeerings", "create")
        return True

    async def read_secret_key(self, namespace: str, name: str, key: str) -> str | None:
        """Return one decoded key of a Secret (None if absent); KubeError 404 if no Secret."""
        secret = await self._call(self.core.read_namespaced_secret, name, namespace)
        data = (secret or {}).get("data") or {}
        if key in data:
            return base64.b64decode(data[key]).decode()
        string_data = (secret or {}).get("stringData") or {}
        value = string_data.get(key)
        return str(value) if value is not None else None

    async def secret_keys(self, namespace: str, name: str) -> list[str]:
        """Return the keys a Secret holds (for error messages; never the values)."""
        secret = await self._call(self.core.read_namespaced_secret, name, namespace)
        return sorted(((secret or {}).get("data") or {}).keys())

    async def read_configmap_key(self, namespace: str, name: str, key: str) -> str | None:
        """Return one key of a ConfigMap; None if absent. KubeError 404 if no ConfigMap."""
        configmap = await self._call(self.core.read_namespaced_config_map, name, namespace)
        value = ((configmap or {}).get("data") or {}).get(key)
        return str(value) if value is not None else None

    async def list_image_streams(self, namespace: str) -> list[dict[str, Any]]:
        """List the ImageStreams of a namespace."""
        data = await self._call(
            self.custom.list_namespaced_custom_object,
            "image.openshift.io",
            "v1",
            namespace,
            "imagestreams",
        )
        return list(data.get("items") or [])

    # --- writes -----------------------------------------------------------------------------

    async def create_secret(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a Secret."""
        self._count("secrets", "create")
        return dict(await self._call(self.core.create_namespaced_secret, namespace, body))

    async def replace_secret(self, namespace: str, name: str, body: dict[str, Any]) -> None:
        """Replace a Secret (used when a robot token changed)."""
        self._count("secrets", "update")
        await self._call(self.core.replace_namespaced_secret, name, namespace, body)

    async def patch_service_account(
        self, namespace: str, name: str, operations: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Apply a JSON Patch to a ServiceAccount."""
        self._count("serviceaccounts", "patch")
        return dict(
            await self._call(
                self.core.patch_namespaced_service_account,
                name,
                namespace,
                operations,
                _content_type=JSON_PATCH,
            )
        )

    async def patch_namespace(self, name: str, operations: list[dict[str, Any]]) -> dict[str, Any]:
        """Apply a JSON Patch to a Namespace."""
        self._count("namespaces", "patch")
        return dict(
            await self._call(self.core.patch_namespace, name, operations, _content_type=JSON_PATCH)
        )

    async def patch_integration_status(self, name: str, status: dict[str, Any]) -> None:
        """Merge-patch a QuayIntegration's status subresource."""
        self._count("quayintegrations/status", "patch")
        await self._call(
            self.custom.patch_cluster_custom_object_status,
            QI_GROUP,
            QI_VERSION,
            QI_PLURAL,
            name,
            {"status": status},
            _content_type=MERGE_PATCH,
        )

    async def post_event(
        self,
        involved: dict[str, Any],
        reason: str,
        message: str,
        *,
        warning: bool = False,
    ) -> None:
        """Post a core/v1 Event about ``involved`` (a kopf-style body); failures are only logged."""
        metadata = involved.get("metadata") or {}
        namespace = metadata.get("namespace") or (
            metadata.get("name") if involved.get("kind") == "Namespace" else "default"
        )
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"quay-bridge.{uuid.uuid4().hex[:16]}", "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion"),
                "kind": involved.get("kind"),
                "name": metadata.get("name"),
                "namespace": metadata.get("namespace"),
                "uid": metadata.get("uid"),
            },
            "reason": reason,
            "message": message[:1000],
            "type": "Warning" if warning else "Normal",
            "source": {"component": "quay-bridge"},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        self._count("events", "create")
        try:
            await self._call(self.core.create_namespaced_event, namespace, body)
        except KubeError as exc:
            log.warning("could not post event %s for %s: %s", reason, metadata.get("name"), exc)
