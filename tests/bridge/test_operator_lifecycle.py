"""The operator over time: ImageStream deletion, drift repair, token rotation, namespace deletion.

Real simulator, registry core and operator processes; every wait is bounded.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import requests

from devstack.registry import RegistryServer
from devstack.waiting import wait_until
from tests.bridge.conftest import Cluster
from tests.bridge.metrics import operator_counts

SAS = ("builder", "default", "deployer")


def all_linked(cluster: Cluster, namespace: str) -> bool:
    return all(cluster.linked(namespace, sa, f"{sa}-quay-openshift") for sa in SAS)


def configure(cluster: Cluster, registry: RegistryServer, **spec: Any) -> None:
    cluster.secret("openshift-operators", "quay-token", {"token": registry.token})
    cluster.integration("quay", registry, **spec)


def repo_exists(registry: RegistryServer, org: str, repo: str) -> bool:
    return registry.get(f"/api/v1/repository/{org}/{repo}").status_code == 200


def registry_auth(registry: RegistryServer, username: str, password: str) -> int:
    reply = requests.get(
        registry.url + "/v2/auth",
        params={"service": registry.host, "scope": f"repository:{username.split('+')[0]}/app:pull"},
        auth=(username, password),
        timeout=10,
    )
    return reply.status_code


class TestImageStreamDeletion:
    @pytest.mark.parametrize(("policy", "kept"), [("Retain", True), ("Delete", False)])
    def test_the_repository_follows_the_deletion_policy(
        self,
        cluster: Cluster,
        registry: RegistryServer,
        operator_factory: Any,
        policy: str,
        kept: bool,
    ) -> None:
        configure(cluster, registry, repositoryDeletionPolicy=policy)
        operator_factory()
        cluster.new_project("streams")
        cluster.image_stream("streams", "one")
        cluster.image_stream("streams", "two")
        wait_until(lambda: repo_exists(registry, "openshift_streams", "one"), timeout=20)
        wait_until(lambda: repo_exists(registry, "openshift_streams", "two"), timeout=10)
        cluster.custom.delete_namespaced_custom_object(
            "image.openshift.io", "v1", "streams", "imagestreams", "one"
        )
        if kept:
            with pytest.raises(TimeoutError):
                wait_until(lambda: not repo_exists(registry, "openshift_streams", "one"), 2)
        else:
            wait_until(lambda: not repo_exists(registry, "openshift_streams", "one"), timeout=10)
        assert repo_exists(registry, "openshift_streams", "two")


class TestDriftRepair:
    def test_a_robot_deleted_in_quay_is_recreated_when_a_spec_change_rereads_quay(
        self, cluster: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        configure(cluster, registry)
        operator_factory()
        cluster.new_project("drift")
        wait_until(lambda: all_linked(cluster, "drift"), timeout=20)
        old = cluster.robot_login("drift", "builder-quay-openshift", registry.host)
        deleted = requests.delete(
            registry.url + "/api/v1/organization/openshift_drift/robots/builder",
            headers={"Authorization": f"Bearer {registry.token}"},
            timeout=10,
        )
        assert deleted.status_code == 204
        # A spec change that affects Quay (one more robot) reads Quay again for every namespace.
        accounts = [
            {"name": "builder", "role": "write"},
            {"name": "default", "role": "read"},
            {"name": "deployer", "role": "read"},
            {"name": "pipeline", "role": "read"},
        ]
        cluster.custom.patch_cluster_custom_object(
            "quay.redhat.com",
            "v1",
            "quayintegrations",
            "quay",
            {"spec": {"serviceAccounts": accounts}},
        )
        wait_until(
            lambda: registry.get("/api/v1/organization/openshift_drift/robots/builder").ok,
            timeout=20,
        )
        new = wait_until(
            lambda: (
                (login := cluster.robot_login("drift", "builder-quay-openshift", registry.host))
                != old
                and login
            ),
            timeout=10,
        )
        assert new[0] == "openshift_drift+builder"
        assert registry_auth(registry, *new) == 200

    def test_a_spec_change_that_affects_nothing_in_quay_makes_no_quay_call(
        self, cluster: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        configure(cluster, registry)
        operator = operator_factory()
        cluster.new_project("quiet")
        cluster.image_stream("quiet", "app")
        wait_until(lambda: all_linked(cluster, "quiet"), timeout=20)
        wait_until(lambda: repo_exists(registry, "openshift_quiet", "app"), timeout=20)
        time.sleep(1.0)  # let the first passes settle
        before = operator_counts(operator)[0]
        cluster.custom.patch_cluster_custom_object(
            "quay.redhat.com",
            "v1",
            "quayintegrations",
            "quay",
            {"spec": {"repositoryDeletionPolicy": "Delete", "resyncPeriodSeconds": 45}},
        )
        generation = cluster.get_integration("quay")["metadata"]["generation"]
        wait_until(
            lambda: (
                (cluster.get_integration("quay").get("status") or {}).get("observedGeneration")
                == generation
            ),
            timeout=20,
        )
        time.sleep(1.0)  # any pass the change caused has run
        assert operator_counts(operator)[0] == before


class TestTokenRotation:
    @pytest.mark.parametrize("where", ["namespace", "integration"])
    def test_rotation_on_demand_replaces_the_token_and_the_old_one_stops_working(
        self, cluster: Cluster, registry: RegistryServer, operator_factory: Any, where: str
    ) -> None:
        configure(cluster, registry)
        operator_factory()
        cluster.new_project("rotate")
        wait_until(lambda: all_linked(cluster, "rotate"), timeout=20)
        old = cluster.robot_login("rotate", "builder-quay-openshift", registry.host)
        assert old is not None and registry_auth(registry, *old) == 200
        patch = {
            "metadata": {"annotations": {"quay-bridge.quay.redhat.com/rotate-robot-tokens": "1"}}
        }
        if where == "namespace":
            cluster.core.patch_namespace("rotate", patch)
        else:
            cluster.custom.patch_cluster_custom_object(
                "quay.redhat.com", "v1", "quayintegrations", "quay", patch
            )
        new = wait_until(
            lambda: (
                (login := cluster.robot_login("rotate", "builder-quay-openshift", registry.host))
                != old
                and login
            ),
            timeout=15,
        )
        assert registry_auth(registry, *new) == 200
        assert registry_auth(registry, *old) == 401

    def test_periodic_rotation_replaces_tokens_on_its_own(
        self, cluster: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        configure(cluster, registry, robotTokenRotationSeconds=4)
        operator_factory()
        cluster.new_project("periodic")
        wait_until(lambda: all_linked(cluster, "periodic"), timeout=20)
        old = cluster.robot_login("periodic", "default-quay-openshift", registry.host)
        assert old is not None
        new = wait_until(
            lambda: (
                (login := cluster.robot_login("periodic", "default-quay-openshift", registry.host))
                != old
                and login
            ),
            timeout=15,
        )
        assert registry_auth(registry, *new) == 200
        assert registry_auth(registry, *old) == 401

    def test_a_rotation_that_fell_due_while_the_operator_was_down_runs_at_start(
        self, cluster: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        configure(cluster, registry, robotTokenRotationSeconds=3600)
        first = operator_factory()
        cluster.new_project("overdue")
        wait_until(lambda: all_linked(cluster, "overdue"), timeout=20)
        old = cluster.robot_login("overdue", "builder-quay-openshift", registry.host)
        first.stop()
        # The last periodic rotation was two hours ago: with a one-hour period it is overdue.
        status = cluster.get_integration("quay").get("status") or {}
        status["lastRobotTokenRotation"] = "2026-01-01T00:00:00Z"
        cluster.custom.patch_cluster_custom_object_status(
            "quay.redhat.com", "v1", "quayintegrations", "quay", {"status": status}
        )
        operator_factory()
        new = wait_until(
            lambda: (
                (login := cluster.robot_login("overdue", "builder-quay-openshift", registry.host))
                != old
                and login
            ),
            timeout=20,
        )
        assert registry_auth(registry, *new) == 200
        stamp = wait_until(
            lambda: (
                (cluster.get_integration("quay").get("status") or {}).get("lastRobotTokenRotation")
                != "2026-01-01T00:00:00Z"
                and cluster.get_integration("quay")["status"]["lastRobotTokenRotation"]
            ),
            timeout=10,
        )
        assert str(stamp) > "2026-01-01T00:00:00Z"


class TestNamespaceDeletion:
    @pytest.mark.parametrize(("policy", "org_kept"), [("Delete", False), ("Retain", True)])
    def test_deleting_the_namespace_follows_the_organization_policy(
        self,
        cluster: Cluster,
        registry: RegistryServer,
        operator_factory: Any,
        policy: str,
        org_kept: bool,
    ) -> None:
        configure(cluster, registry, organizationDeletionPolicy=policy)
        operator_factory()
        cluster.new_project("gone")
        wait_until(lambda: all_linked(cluster, "gone"), timeout=20)
        cluster.core.delete_namespace("gone")
        wait_until(lambda: cluster.get_namespace("gone") is None, timeout=20)
        org = registry.get("/api/v1/organization/openshift_gone").status_code
        assert (org == 200) is org_kept

    def test_with_quay_down_the_finalizer_is_released_at_the_deadline(
        self, cluster: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        configure(cluster, registry, namespaceDeletionDeadlineSeconds=4)
        operator_factory()
        cluster.new_project("stuck")
        wait_until(lambda: all_linked(cluster, "stuck"), timeout=20)
        registry.stop()
        started = time.monotonic()
        cluster.core.delete_namespace("stuck")

        def released() -> bool:
            body = cluster.get_namespace("stuck")
            return body is None or "quay.redhat.com/quayintegrations" not in (
                body["metadata"].get("finalizers") or []
            )

        wait_until(released, timeout=25)
        # deletionTimestamp has one-second resolution, so the deadline may fall up to 1 s early.
        assert time.monotonic() - started >= 2.9, "released before the deadline"
        # Events about a Namespace live in `default`, so they outlive the namespace.
        events_seen = wait_until(lambda: cluster.namespace_events("stuck"), timeout=10)
        reasons = [e.get("reason") for e in events_seen]
        messages = " ".join(e.get("message", "") for e in events_seen)
        assert "QuayCleanupIncomplete" in reasons
        assert "openshift_stuck" in messages


class TestReservedNames:
    def test_a_recreated_namespace_waits_for_quay_to_free_the_org_name(
        self, cluster: Cluster, operator_factory: Any
    ) -> None:
        from devstack.registry import RegistryServer

        slow_gc = RegistryServer.start(gc_seconds=4)
        try:
            configure(cluster, slow_gc)
            operator_factory()
            cluster.new_project("again")
            wait_until(lambda: all_linked(cluster, "again"), timeout=20)
            cluster.core.delete_namespace("again")
            wait_until(lambda: cluster.get_namespace("again") is None, timeout=20)
            cluster.new_project("again")
            wait_until(lambda: slow_gc.get("/api/v1/organization/openshift_again").ok, timeout=30)
            wait_until(lambda: all_linked(cluster, "again"), timeout=20)
            login = cluster.robot_login("again", "builder-quay-openshift", slow_gc.host)
            assert login is not None and registry_auth(slow_gc, *login) == 200
        finally:
            slow_gc.stop()


class TestTheQuayCallBudget:
    def test_a_new_namespace_with_one_image_stream_costs_eight_quay_calls_each_write_once(
        self, cluster: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        configure(cluster, registry)
        operator = operator_factory()
        wait_until(lambda: cluster.condition("quay", "Ready"), timeout=20)
        time.sleep(1.0)  # the integration's own start-up calls are done

        def namespace_calls() -> dict[tuple[str, ...], float]:
            """The operator's Quay calls by (method, endpoint, outcome), the token check aside."""
            calls: dict[tuple[str, ...], float] = {}
            for line in requests.get(operator.metrics_url, timeout=5).text.splitlines():
                if not line.startswith("quay_bridge_quay_calls_total{"):
                    continue
                head, _, value = line.rpartition(" ")
                labels = dict(re.findall(r'(\w+)="([^"]*)"', head))
                key = (labels["method"], labels["endpoint"], labels["outcome"])
                if labels["endpoint"] != "user/":
                    calls[key] = calls.get(key, 0.0) + float(value)
            return calls

        before = namespace_calls()
        cluster.new_project("budget")
        cluster.image_stream("budget", "app")
        wait_until(lambda: all_linked(cluster, "budget"), timeout=20)
        wait_until(lambda: repo_exists(registry, "openshift_budget", "app"), timeout=20)
        time.sleep(1.0)  # anything else the new namespace caused has run
        after = namespace_calls()
        made = {
            key: after[key] - before.get(key, 0.0) for key in after if after[key] != before.get(key)
        }
        assert made == {
            ("POST", "organization/", "201"): 1,
            ("PUT", "organization/{org}/robots/{robot}", "201"): 3,
            ("POST", "organization/{org}/prototypes", "200"): 3,
            ("POST", "repository", "201"): 1,
        }
        # The owner marker rode on the robots: no robot of its own.
        robots = registry.get("/api/v1/organization/openshift_budget/robots").json()["robots"]
        assert sorted(r["name"] for r in robots) == [f"openshift_budget+{sa}" for sa in SAS]
