"""Prometheus metrics of the operator, served on ``/metrics``.

One registry per process (not prometheus_client's global one, so tests can start several operators
in one interpreter without clashes). The Quay client reports each call through
:meth:`Metrics.quay_call`, the controller each reconcile and each Kubernetes write.
"""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """The operator's counters, gauges and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reconciles = Counter(
            "quay_bridge_reconciles_total",
            "Reconciles by kind (namespace, serviceaccount, imagestream, deletion, rotation)"
            " and outcome.",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.reconcile_seconds = Histogram(
            "quay_bridge_reconcile_duration_seconds",
            "Time spent in one reconcile, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.quay_calls = Counter(
            "quay_bridge_quay_calls_total",
            "Quay API calls by endpoint template, method and outcome (HTTP status or error kind).",
            ["endpoint", "method", "outcome"],
            registry=self.registry,
        )
        self.quay_seconds = Histogram(
            "quay_bridge_quay_call_duration_seconds",
            "Duration of Quay API calls, by endpoint template.",
            ["endpoint"],
            registry=self.registry,
        )
        self.kube_writes = Counter(
            "quay_bridge_kubernetes_writes_total",
            "Kubernetes writes by resource and verb.",
            ["resource", "verb"],
            registry=self.registry,
        )
        self.managed_namespaces = Gauge(
            "quay_bridge_managed_namespaces",
            "Namespaces with a Quay organization, by integration.",
            ["integration"],
            registry=self.registry,
        )
        self.failed_namespaces = Gauge(
            "quay_bridge_failed_namespaces",
            "Managed namespaces whose last reconcile failed, by integration.",
            ["integration"],
            registry=self.registry,
        )
        self.integration_ready = Gauge(
            "quay_bridge_integration_ready",
            "1 while the integration's Ready condition is True, 0 otherwise, by integration"
            " (set where its status is written, on the active replica).",
            ["integration"],
            registry=self.registry,
        )
        self.active = Gauge(
            "quay_bridge_active",
            "1 while this replica is the active one under peering (always 1 when standalone).",
            registry=self.registry,
        )
        self.active.set(1)
        self.watch_events = Counter(
            "quay_bridge_watch_events_total",
            "Watch events received, by resource and type (ADDED, MODIFIED, DELETED, BOOKMARK).",
            ["resource", "type"],
            registry=self.registry,
        )
        self.watch_restarts = Counter(
            "quay_bridge_watch_restarts_total",
            "Watches started again, by resource and reason"
            " (expired, state_lost, reconnected: listed again first; error: resumed).",
            ["resource", "reason"],
            registry=self.registry,
        )

    def quay_call(self, endpoint: str, method: str, outcome: str, seconds: float) -> None:
        """Record one Quay call (the Quay client's recorder)."""
        self.quay_calls.labels(endpoint, method, outcome).inc()
        self.quay_seconds.labels(endpoint).observe(seconds)

    def forget_integration(self, name: str) -> None:
        """Drop a deleted integration's gauges, so no alert fires for what no longer exists."""
        for gauge in (self.managed_namespaces, self.failed_namespaces, self.integration_ready):
            with contextlib.suppress(KeyError):
                gauge.remove(name)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
