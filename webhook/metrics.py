"""Prometheus metrics of the admission webhook: answers by outcome, latency, provisioning waits.

Build and Namespace admissions are counted apart (``quay_bridge_admissions_total`` is Builds).

The operator serves them on its ``/metrics`` when it passes its registry to the webhook (one
registry per process, not prometheus_client's global one, so several servers can run in one
interpreter). Without one, the metrics still count into a private registry that tests can read.
"""

from __future__ import annotations

from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Histogram

Outcome = Literal["rewritten", "unchanged", "denied", "malformed"]
NamespaceOutcome = Literal["labelled", "unchanged", "malformed"]

#: Buckets around the 10 ms goal and up to the API server's 10 s timeout.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class AdmissionMetrics:
    """The webhook's counters and histogram, registered in ``registry``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.admissions = Counter(
            "quay_bridge_admissions_total",
            "Admission requests answered, by outcome (rewritten, unchanged, denied, malformed).",
            ["outcome"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "quay_bridge_admission_duration_seconds",
            "Time from receiving an admission request to answering it (waits included).",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.provisionings = Counter(
            "quay_bridge_admission_provisioning_waits_total",
            "Admissions that waited for a namespace's builder secret, by result (ready, timeout).",
            ["result"],
            registry=self.registry,
        )

        self.namespaces = Counter(
            "quay_bridge_namespace_admissions_total",
            "Namespace CREATE admissions answered, by outcome (labelled, unchanged, malformed).",
            ["outcome"],
            registry=self.registry,
        )
        self.namespace_seconds = Histogram(
            "quay_bridge_namespace_admission_duration_seconds",
            "Time from receiving a Namespace admission request to answering it.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def namespace_answered(self, outcome: NamespaceOutcome, seconds: float) -> None:
        """Count one Namespace admission answer and its latency."""
        self.namespaces.labels(outcome).inc()
        self.namespace_seconds.observe(seconds)

    def answered(self, outcome: Outcome, seconds: float) -> None:
        """Count one answer and its latency."""
        self.admissions.labels(outcome).inc()
        self.seconds.observe(seconds)

    def count(self, outcome: Outcome) -> float:
        """Return how many answers had ``outcome`` so far (for tests and diagnostics)."""
        value = self.registry.get_sample_value("quay_bridge_admissions_total", {"outcome": outcome})
        return value or 0.0
