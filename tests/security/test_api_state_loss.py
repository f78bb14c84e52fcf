"""Case 9 of the threat model: an API server that lost its state is noticed and followed afresh.

Registry core, simulator and ``quay-bridge run`` as processes. The simulator is restarted on the
same port, so every object and resourceVersion the operator knew is gone (on a real cluster: an
etcd restore). The operator's watches ask for versions the new server never issued; it answers
as kube-apiserver does (504 "Too large resource version") and the operator lists everything again:
it stops counting the namespaces that vanished, manages a namespace created afterwards, and takes
a re-created namespace of an old name as the new namespace it is (another UID), which does not
inherit the old organization without adoption (case 3).
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

import requests

from demo.scenario import crd_manifest, wait_for
from tests.security.conftest import CLUSTER_ID, Running, operator_log

QI = "/apis/quay.redhat.com/v1/quayintegrations/quay"
ADOPT = "quay-bridge.quay.redhat.com/adopt-organization"


def status(running: Running) -> dict[str, Any]:
    return dict((running.kube.get(QI) or {}).get("status") or {})


def managed_count(running: Running) -> int:
    return int(status(running).get("managedNamespaces") or 0)


def restart_sim_empty(running: Running) -> None:
    """Stop the simulator and start an empty one at the same address (the kubeconfig's)."""
    port = urlsplit(running.stack.sim_url).port
    running.stack.stop("sim")
    running.stack.start_sim(running.stack.registry_url, port=port)


def reinstall(running: Running) -> None:
    """What an admin restores first: the CRD, the operator's namespace, token and integration."""
    kube = running.kube
    path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    kube.create(path, crd_manifest())
    wait_for(lambda: kube.get("/apis/quay.redhat.com/v1"), 30, "the CRD being served")
    for name in ("openshift-operators", "quay-bridge"):
        if kube.get(f"/api/v1/namespaces/{name}") is not None:
            continue  # a fresh cluster already has OpenShift's own namespaces
        kube.create(
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        )
    kube.create(
        "/api/v1/namespaces/openshift-operators/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "quay-integration"},
            "data": {"token": base64.b64encode(running.token.encode()).decode()},
        },
    )
    kube.create(
        "/apis/quay.redhat.com/v1/quayintegrations",
        {
            "apiVersion": "quay.redhat.com/v1",
            "kind": "QuayIntegration",
            "metadata": {"name": "quay"},
            "spec": {
                "clusterID": CLUSTER_ID,
                "credentialsSecret": {
                    "name": "quay-integration",
                    "namespace": "openshift-operators",
                },
                "quayHostname": running.stack.registry_url,
                "insecureRegistry": True,
            },
        },
    )


def operator_metric(running: Running, name: str) -> float:
    text = requests.get(running.stack.metrics_url + "/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and 'reason="state_lost"' in line
    )


class TestARestartedApiServer:
    def test_is_followed_afresh_vanished_namespaces_dropped_new_ones_managed(
        self, running: Running
    ) -> None:
        for name in ("gone-for-good", "same-name"):
            running.new_project(name)
        wait_for(lambda: managed_count(running) >= 2 or None, 30, "two namespaces managed")
        old_uid = running.kube.get("/api/v1/namespaces/same-name")["metadata"]["uid"]  # type: ignore[index]

        restart_sim_empty(running)
        reinstall(running)

        # A namespace created after the loss is managed: the operator follows the new server.
        running.new_project("after-the-loss")
        wait_for(
            lambda: ((s := status(running)).get("managedNamespaces") == 1 and s) or None,
            60,
            "only the one namespace that exists counted as managed",
        )
        assert "lost its state" in operator_log(running)
        assert operator_metric(running, "quay_bridge_watch_restarts") >= 1

        # The old name again: a new namespace (new UID), seen as such, not as the old one.
        running.kube.create(
            "/apis/project.openshift.io/v1/projectrequests",
            {
                "apiVersion": "project.openshift.io/v1",
                "kind": "ProjectRequest",
                "metadata": {"name": "same-name"},
            },
        )
        new_uid = running.kube.get("/api/v1/namespaces/same-name")["metadata"]["uid"]  # type: ignore[index]
        assert new_uid != old_uid

        def refused() -> dict[str, Any] | None:
            # A cluster-scoped object's Events live in ``default``.
            for event in running.kube.items("/api/v1/namespaces/default/events"):
                involved = event.get("involvedObject") or {}
                if (
                    involved.get("kind") == "Namespace"
                    and involved.get("name") == "same-name"
                    and event.get("reason") == "QuayOrganizationNotOwned"
                ):
                    return event
            return None

        event = wait_for(refused, 60, "the re-created namespace reconciled")
        assert old_uid in event["message"] and new_uid in event["message"]
        running.kube.merge_patch(
            "/api/v1/namespaces/same-name",
            {"metadata": {"annotations": {ADOPT: f"{CLUSTER_ID}_same-name"}}},
        )
        wait_for(
            lambda: running.kube.get("/api/v1/namespaces/same-name/secrets/builder-quay-openshift"),
            60,
            "the adopted namespace provisioned",
        )
        wait_for(lambda: managed_count(running) == 2 or None, 60, "two namespaces managed")
