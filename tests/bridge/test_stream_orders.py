"""Every ImageStream gets its repository, whatever order its namespace and accounts appear in.

A new project's ServiceAccounts and SCC annotations come asynchronously (the simulator's delays),
and an ImageStream can arrive before, between or after them, or while the namespace's first pass
is running. Real servers: the simulator, the registry core and the operator as processes; the
registry core charges a (small) Quay cost per call, so passes last long enough for ImageStreams to
arrive in the middle of them, as they do against a real Quay.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from devstack.registry import RegistryServer
from devstack.waiting import wait_until
from tests.bridge.conftest import Cluster

SAS = ("builder", "default", "deployer")
PROJECTS = 12
LATER_STREAMS = 6
COST = ("--quay-cost", "--quay-cost-seconds", "0.02", "--quay-cost-workers", "1")


@pytest.fixture
def registry() -> Iterator[RegistryServer]:
    server = RegistryServer.start(gc_seconds=1.0, extra_args=COST)
    try:
        yield server
    finally:
        server.stop()


def _stream_when_possible(cluster: Cluster, namespace: str, name: str) -> None:
    """Create the ImageStream as soon as the API server accepts it (namespace may not exist)."""

    def created() -> bool:
        try:
            cluster.image_stream(namespace, name)
        except ApiException as exc:
            if exc.status != 404:
                raise
            return False
        return True

    wait_until(
        created, 20, f"the API server accepting ImageStream {namespace}/{name}", interval=0.005
    )


def _play(cluster: Cluster, namespace: str, order: str, later: float) -> None:
    if order == "stream-first":
        # The stream is sent alongside the project request and lands as soon as it can.
        racer = threading.Thread(target=_stream_when_possible, args=(cluster, namespace, "racing"))
        racer.start()
        cluster.new_project(namespace)
        racer.join()
    elif order == "stream-right-after":
        cluster.new_project(namespace)
        cluster.image_stream(namespace, "racing")
    else:  # after the ServiceAccounts exist
        cluster.new_project(namespace)
        wait_until(lambda: all(cluster.get_sa(namespace, sa) for sa in SAS), timeout=20)
        cluster.image_stream(namespace, "racing")
    # More streams over the next seconds: some land while the namespace's pass is creating the
    # repositories of the streams it has read.
    time.sleep(later)
    for k in range(LATER_STREAMS):
        cluster.image_stream(namespace, f"later-{k}")
        time.sleep(0.3)


@pytest.mark.parametrize(
    "sim",
    [
        ("--immediate",),  # everything at once
        # ServiceAccounts and SCC annotations late, in both relative orders
        ("--immediate", "--delay", "service-accounts=0.4", "--delay", "scc=0.1"),
        ("--immediate", "--delay", "service-accounts=0.1", "--delay", "scc=0.4"),
    ],
    indirect=True,
    ids=["at-once", "accounts-late", "annotations-late"],
)
def test_every_image_stream_gets_its_repository_in_every_order(
    ready_integration: Cluster, registry: RegistryServer, operator_factory: Any
) -> None:
    cluster = ready_integration
    operator_factory()
    orders = ("stream-first", "stream-right-after", "stream-after-accounts")
    plays = [(f"order-{i:02d}", orders[i % len(orders)], 0.05 * i) for i in range(PROJECTS)]
    threads = [threading.Thread(target=_play, args=(cluster, *play)) for play in plays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    def missing() -> list[str]:
        return [
            f"{ns}/{stream}"
            for ns, _, _ in plays
            for stream in ("racing", *(f"later-{k}" for k in range(LATER_STREAMS)))
            if registry.get(f"/api/v1/repository/openshift_{ns}/{stream}").status_code != 200
        ]

    # No later event touches these namespaces: each repository must come from the first events.
    with contextlib.suppress(TimeoutError):
        wait_until(lambda: not missing(), timeout=30)
    assert missing() == []
    for ns, _, _ in plays:
        for sa in SAS:
            wait_until(lambda ns=ns, sa=sa: cluster.linked(ns, sa, f"{sa}-quay-openshift"))
