"""Two replicas under kopf peering, and an API server that restarts under a running operator.

Both run against the session's real kube-apiserver, as the operator's ServiceAccount. The peering
object is not in deploy/base: the first replica creates it. After a restart the API server's watch
cache starts afresh; the operator lists again after a failed connection (and after 410 Gone), and
must go on converging.
"""

from __future__ import annotations

import requests

from devstack.operator import Operator
from devstack.waiting import wait_until
from tests.bridge.metrics import metric_total
from tests.realapi.conftest import CLUSTER_ID, Installed


def secret_name(account: str) -> str:
    return f"{account}-quay-{CLUSTER_ID}"


def is_active(operator: Operator) -> bool:
    text = requests.get(operator.metrics_url, timeout=5).text
    return metric_total(text, "quay_bridge_active") == 1.0


def restarts(operator: Operator, **labels: str) -> float:
    text = requests.get(operator.metrics_url, timeout=5).text
    return metric_total(text, "quay_bridge_watch_restarts_total", **labels)


def test_two_replicas_with_peering_one_works_and_the_other_takes_over(
    integrated: Installed, operator_kubeconfig: str
) -> None:
    path = "/apis/kopf.dev/v1/clusterkopfpeerings/quay-bridge"
    replicas = [
        Operator.start(operator_kubeconfig, "--peering", "quay-bridge"),
        Operator.start(operator_kubeconfig, "--peering", "quay-bridge"),
    ]
    try:
        # The first replica made the peering object; both announce themselves in its status.
        wait_until(lambda: len(((integrated.get(path) or {}).get("status")) or {}) == 2, timeout=60)
        active = wait_until(lambda: [r for r in replicas if is_active(r)], timeout=90)
        assert len(active) == 1
        [working] = active
        [waiting] = [r for r in replicas if r is not working]
        integrated.create_namespace("qb-peer-0")
        wait_until(lambda: integrated.linked("qb-peer-0", "default", secret_name("default")), 60)
        working.stop()
        wait_until(lambda: is_active(waiting), timeout=120)
        integrated.create_namespace("qb-peer-1")
        wait_until(lambda: integrated.linked("qb-peer-1", "default", secret_name("default")), 60)
        assert "HTTP 403" not in waiting.log()
    finally:
        for replica in replicas:
            replica.stop()


def test_the_operator_converges_after_the_api_server_restarts(
    integrated: Installed, operator: Operator
) -> None:
    integrated.create_namespace("qb-restart")
    wait_until(lambda: integrated.linked("qb-restart", "default", secret_name("default")), 60)
    before = restarts(operator)
    expired_before = restarts(operator, reason="expired")
    reconnected_before = restarts(operator, reason="reconnected")
    # A write the operator does not watch moves etcd's revision past every watch's last one.
    integrated.create("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "moved-on"}})
    integrated.kube.restart_apiserver(down_seconds=2)
    integrated.create_namespace("qb-during")
    wait_until(lambda: integrated.linked("qb-during", "default", secret_name("default")), 90)
    after = restarts(operator)
    # The watches ended with the server and were started again (listing again after 410 Gone).
    # Right after a restart the server may answer 403 (its RBAC caches still filling) or 429 for
    # a moment; the operator logs that and retries, and the namespace above proves it recovered.
    assert after > before
    # Each follower whose connection failed listed again (a 410 Gone answer to a resumed watch
    # would have made it list too): none resumed from a version the new server may not have.
    relisted = restarts(operator, reason="expired") - expired_before
    relisted += restarts(operator, reason="reconnected") - reconnected_before
    assert relisted > 0
