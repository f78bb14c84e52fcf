"""Which collections the controller follows, and in what order they start.

ServiceAccounts, the bridge's pull Secrets (selected by label on the server, so no other Secret is
ever sent) and ImageStreams are listed first, and namespaces are followed only once those caches
hold their objects: a namespace reconcile then plans from complete caches instead of creating
Secrets that already exist or missing ServiceAccounts that do. The integrations' credentials
Secrets and CA bundles are followed one object each (a field selector on the name), so a changed
token is picked up at once without the operator reading every Secret in the cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bridge.kube.cluster import Cluster
from bridge.kube.watching import Handler, Informer, Source
from bridge.metrics import Metrics
from vocabulary import MANAGED_LABEL

log = logging.getLogger(__name__)

Reference = tuple[str, str, str]  # (kind, namespace, name): "Secret" or "ConfigMap"


class Followers:
    """Starts, tracks and stops the controller's informers."""

    def __init__(self, cluster: Cluster, metrics: Metrics, *, sync_timeout: float) -> None:
        self.cluster = cluster
        self.metrics = metrics
        #: seconds to wait for the first listings before following namespaces anyway
        self.sync_timeout = sync_timeout
        self.informers: dict[str, Informer] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._references: dict[Reference, tuple[Informer, asyncio.Task[None]]] = {}

    def _start(self, source: Source, handler: Handler) -> Informer:
        informer = Informer(self.cluster, source, handler, self.metrics)
        self.informers[source.resource] = informer
        self._tasks[source.resource] = asyncio.get_running_loop().create_task(informer.run())
        return informer

    async def start_objects(
        self,
        *,
        on_service_account: Handler,
        on_secret: Handler,
        on_image_stream: Handler | None,
    ) -> None:
        """Follow ServiceAccounts, pull Secrets and (if served) ImageStreams; await the lists."""
        started = [
            self._start(Source("serviceaccounts", "/api/v1/serviceaccounts"), on_service_account),
            self._start(
                Source("secrets", "/api/v1/secrets", label_selector=f"{MANAGED_LABEL}=true"),
                on_secret,
            ),
        ]
        if on_image_stream is not None:
            started.append(
                self._start(
                    Source("imagestreams", "/apis/image.openshift.io/v1/imagestreams"),
                    on_image_stream,
                )
            )
        try:
            await asyncio.wait_for(
                asyncio.gather(*(i.synced.wait() for i in started)), self.sync_timeout
            )
        except TimeoutError:
            late = [i.source.resource for i in started if not i.synced.is_set()]
            log.warning("not listed after %.0fs: %s; going on", self.sync_timeout, ", ".join(late))

    def start_namespaces(self, on_namespace: Handler) -> None:
        """Follow Namespaces (after :meth:`start_objects`)."""
        self._start(Source("namespaces", "/api/v1/namespaces"), on_namespace)

    def follow_references(
        self, wanted: set[Reference], handler: Callable[[str, str, dict[str, Any]], Awaitable[None]]
    ) -> None:
        """Follow exactly the objects in ``wanted``; ``handler(kind, event_type, body)``."""
        for reference in [r for r in self._references if r not in wanted]:
            _, task = self._references.pop(reference)
            task.cancel()
        for reference in wanted - set(self._references):
            kind, namespace, name = reference
            plural = "secrets" if kind == "Secret" else "configmaps"

            async def handle(event_type: str, body: dict[str, Any], kind: str = kind) -> None:
                await handler(kind, event_type, body)

            source = Source(
                f"{plural}/{namespace}/{name}",
                f"/api/v1/namespaces/{namespace}/{plural}",
                field_selector=f"metadata.name={name}",
            )
            informer = Informer(self.cluster, source, handle, self.metrics)
            task = asyncio.get_running_loop().create_task(informer.run())
            self._references[reference] = (informer, task)

    async def stop(self) -> None:
        """Cancel every informer and the handlers they run."""
        informers = list(self.informers.values()) + [i for i, _ in self._references.values()]
        tasks = list(self._tasks.values()) + [t for _, t in self._references.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        for informer in informers:
            await informer.dispatch.cancel()
        self.informers.clear()
        self._tasks.clear()
        self._references.clear()
