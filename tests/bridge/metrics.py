"""Reading the operator's Prometheus page in the bridge's tests (devstack starts the operator)."""

from __future__ import annotations

import requests

from devstack.operator import Operator


def metric_total(text: str, name: str, **labels: str) -> float:
    """Sum the samples of ``name`` in a Prometheus text page whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{key}="{wanted}"' in head for key, wanted in labels.items()):
            total += float(value)
    return total


def operator_counts(operator: Operator) -> tuple[float, float, float]:
    """Return (Quay calls, Quay writes, Kubernetes writes) the operator made so far."""
    text = requests.get(operator.metrics_url, timeout=5).text
    calls = metric_total(text, "quay_bridge_quay_calls_total")
    reads = metric_total(text, "quay_bridge_quay_calls_total", method="GET")
    kube = metric_total(text, "quay_bridge_kubernetes_writes_total")
    return calls, calls - reads, kube
