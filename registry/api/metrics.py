"""Prometheus ``/metrics``: requests counted by route template, method and status.

Benchmarks count an operator's Quay calls with ``quay_registry_requests_total``, so every request is
counted, ``/v2`` included, under its route template (``/api/v1/organization/{orgname}``) rather than
its path, which keeps the label set small. Requests that match no route count as ``unmatched``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RequestMetrics:
    """The app's own Prometheus registry (one per app, so in-process tests do not collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "quay_registry_requests",
            "HTTP requests served, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "quay_registry_request_seconds",
            "Time to answer a request, by route template and method.",
            ["route", "method"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
        )
        # Labelled children by label values: ``labels()`` validates and locks on every call.
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._timers: dict[tuple[str, str], Any] = {}

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Count and time every request."""
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as error:
            status = error.status
            raise
        finally:
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else "unmatched"
            method = request.method
            counter = self._counters.get((route, method, status))
            if counter is None:
                counter = self._counters[route, method, status] = self.requests.labels(
                    route, method, str(status)
                )
            counter.inc()
            timer = self._timers.get((route, method))
            if timer is None:
                timer = self._timers[route, method] = self.latency.labels(route, method)
            timer.observe(time.perf_counter() - started)

    async def serve(self, _request: web.Request) -> web.Response:
        """``GET /metrics`` in the Prometheus text format."""
        response = web.Response(body=generate_latest(self.registry))
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        response.charset = "utf-8"
        return response
