"""The operator against the simulator and the registry core: what a new namespace gets.

Real servers: ``quay-bridge sim``, ``quay-registry serve`` and ``quay-bridge run --no-webhook`` as
subprocesses; every wait is bounded by polling with a timeout.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from devstack.registry import RegistryServer
from devstack.waiting import wait_until
from tests.bridge.conftest import Cluster
from tests.bridge.metrics import metric_total, operator_counts

SAS = ("builder", "default", "deployer")


def all_linked(cluster: Cluster, namespace: str, sas: tuple[str, ...] = SAS) -> bool:
    return all(cluster.linked(namespace, sa, f"{sa}-quay-openshift") for sa in sas)


def robot_can_login(registry: RegistryServer, robot: str, token: str, repo: str) -> int:
    reply = requests.get(
        registry.url + "/v2/auth",
        params={"service": registry.host, "scope": f"repository:{repo}:pull"},
        auth=(robot, token),
        timeout=10,
    )
    return reply.status_code


class TestSeedProcedure:
    def test_a_new_namespace_gets_org_robots_prototypes_and_linked_pull_secrets(
        self, ready_integration: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        cluster = ready_integration
        operator_factory()
        cluster.new_project("e2e-demo")
        wait_until(lambda: all_linked(cluster, "e2e-demo"), timeout=20)

        org = registry.get("/api/v1/organization/openshift_e2e-demo")
        assert org.status_code == 200
        robots = registry.get("/api/v1/organization/openshift_e2e-demo/robots").json()["robots"]
        assert sorted(r["name"] for r in robots) == [
            "openshift_e2e-demo+builder",
            "openshift_e2e-demo+default",
            "openshift_e2e-demo+deployer",
        ]
        # Each robot carries the owner marker (bridge/model/ownership.py): no robot of its own.
        namespace_uid = (cluster.get_namespace("e2e-demo") or {})["metadata"]["uid"]
        assert {r["description"] for r in robots} == {
            f"quay-bridge: pull secret for namespace e2e-demo (uid {namespace_uid}) "
            f"of service account {sa}"
            for sa in ("builder", "default", "deployer")
        }
        prototypes = registry.get("/api/v1/organization/openshift_e2e-demo/prototypes").json()
        roles = sorted((p["delegate"]["name"], p["role"]) for p in prototypes["prototypes"])
        assert roles == [
            ("openshift_e2e-demo+builder", "write"),
            ("openshift_e2e-demo+default", "read"),
            ("openshift_e2e-demo+deployer", "read"),
        ]
        tokens = {r["name"]: r["token"] for r in robots}
        for sa in SAS:
            secret = cluster.get_secret("e2e-demo", f"{sa}-quay-openshift")
            assert secret is not None and secret["type"] == "kubernetes.io/dockerconfigjson"
            login = cluster.robot_login("e2e-demo", f"{sa}-quay-openshift", registry.host)
            assert login == (f"openshift_e2e-demo+{sa}", tokens[f"openshift_e2e-demo+{sa}"])
            body = cluster.get_sa("e2e-demo", sa)
            assert body is not None
            for field in ("secrets", "imagePullSecrets"):
                names = [e["name"] for e in body[field]]
                assert any(n.startswith(f"{sa}-dockercfg-") for n in names), (
                    "OpenShift's entry kept"
                )
                assert names.count(f"{sa}-quay-openshift") == 1
        namespace = cluster.get_namespace("e2e-demo")
        assert namespace is not None
        assert "quay.redhat.com/quayintegrations" in namespace["metadata"]["finalizers"]
        assert namespace["metadata"]["labels"]["quay-bridge.quay.redhat.com/managed"] == "true"

    def test_a_namespace_in_place_costs_no_quay_write_and_no_kubernetes_write(
        self, ready_integration: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        cluster = ready_integration
        operator = operator_factory()
        cluster.new_project("calm")
        cluster.image_stream("calm", "web")
        wait_until(lambda: all_linked(cluster, "calm"), timeout=20)
        wait_until(lambda: registry.get("/api/v1/repository/openshift_calm/web").ok, timeout=10)
        time.sleep(1.0)
        _, quay_writes, kube_writes = operator_counts(operator)
        # An unrelated change to the namespace and to each ImageStream and ServiceAccount.
        cluster.core.patch_namespace("calm", {"metadata": {"labels": {"team": "a"}}})
        cluster.custom.patch_namespaced_custom_object(
            "image.openshift.io",
            "v1",
            "calm",
            "imagestreams",
            "web",
            {"metadata": {"labels": {"touched": "yes"}}},
        )
        for sa in SAS:
            cluster.core.patch_namespaced_service_account(
                sa, "calm", {"metadata": {"labels": {"touched": "yes"}}}
            )
        time.sleep(1.5)
        _, quay_after, kube_after = operator_counts(operator)
        assert quay_after == quay_writes
        assert kube_after - kube_writes <= 1  # at most the integration's status (managed count)

    def test_an_imagestream_gets_a_repository_with_robot_rights(
        self, ready_integration: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        cluster = ready_integration
        operator_factory()
        cluster.ensure_namespace("apps")
        cluster.image_stream("apps", "httpd-example")
        wait_until(lambda: registry.get("/api/v1/repository/openshift_apps/httpd-example").ok, 20)
        permissions = registry.get(
            "/api/v1/repository/openshift_apps/httpd-example/permissions/user/"
        ).json()["permissions"]
        assert permissions["openshift_apps+builder"]["role"] == "write"
        assert permissions["openshift_apps+default"]["role"] == "read"


class TestLateServiceAccounts:
    def test_a_service_account_created_later_is_linked_without_quay_calls(
        self, cluster: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        cluster.secret("openshift-operators", "quay-token", {"token": registry.token})
        cluster.integration(
            "quay",
            registry,
            serviceAccounts=[
                {"name": "builder", "role": "write"},
                {"name": "pipeline", "role": "write"},
            ],
        )
        operator = operator_factory()
        cluster.new_project("late")
        wait_until(lambda: all_linked(cluster, "late", ("builder",)), timeout=20)
        wait_until(lambda: cluster.get_secret("late", "pipeline-quay-openshift"), timeout=10)
        calls_before, _, _ = operator_counts(operator)
        started = time.monotonic()
        cluster.core.create_namespaced_service_account(
            "late",
            {"metadata": {"name": "pipeline"}, "secrets": [{"name": "pipeline-dockercfg-q"}]},
        )
        wait_until(lambda: all_linked(cluster, "late", ("pipeline",)), timeout=10, interval=0.02)
        delay = time.monotonic() - started
        calls_after, _, _ = operator_counts(operator)
        assert calls_after == calls_before
        assert delay < 2.0
        body = cluster.get_sa("late", "pipeline")
        assert body is not None
        names = [e["name"] for e in body["secrets"]]
        assert "pipeline-dockercfg-q" in names and "pipeline-quay-openshift" in names

    def test_a_deleted_pull_secret_is_recreated(
        self, ready_integration: Cluster, operator_factory: Any
    ) -> None:
        cluster = ready_integration
        operator_factory()
        cluster.new_project("oops")
        wait_until(lambda: all_linked(cluster, "oops"), timeout=20)
        cluster.core.delete_namespaced_secret("deployer-quay-openshift", "oops")
        wait_until(lambda: cluster.get_secret("oops", "deployer-quay-openshift"), timeout=10)


class TestProjectTiming:
    @pytest.mark.parametrize(
        ("sim", "scc_late"),
        [
            (("--delay", "scc=3", "--delay", "service-accounts=0"), True),
            (("--delay", "scc=0", "--delay", "service-accounts=2"), False),
        ],
        ids=["service-accounts-before-scc", "scc-before-service-accounts"],
        indirect=["sim"],
    )
    def test_a_project_is_provisioned_only_once_its_scc_annotations_are_set(
        self,
        ready_integration: Cluster,
        registry: RegistryServer,
        operator_factory: Any,
        scc_late: bool,
    ) -> None:
        cluster = ready_integration
        operator_factory()
        cluster.new_project("timed")

        def annotations() -> dict[str, str]:
            body = cluster.get_namespace("timed") or {"metadata": {}}
            return dict(body["metadata"].get("annotations") or {})

        if scc_late:
            time.sleep(1.5)
            assert "openshift.io/sa.scc.mcs" not in annotations()
            assert cluster.get_sa("timed", "builder") is not None
            assert registry.get("/api/v1/organization/openshift_timed").status_code == 404
            namespace = cluster.get_namespace("timed")
            assert namespace is not None
            assert "quay.redhat.com/quayintegrations" not in (
                namespace["metadata"].get("finalizers") or []
            )
        wait_until(lambda: all_linked(cluster, "timed"), timeout=30)
        assert registry.get("/api/v1/organization/openshift_timed").status_code == 200
        assert "openshift.io/sa.scc.mcs" in annotations()


class TestRestart:
    def test_a_restarted_operator_finds_everything_in_place_and_writes_nothing(
        self, ready_integration: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        cluster = ready_integration
        first = operator_factory()
        cluster.new_project("steady")
        cluster.image_stream("steady", "web")
        wait_until(lambda: all_linked(cluster, "steady"), timeout=20)
        wait_until(lambda: registry.get("/api/v1/repository/openshift_steady/web").ok, timeout=10)
        time.sleep(1.0)
        first.stop()
        second = operator_factory()

        def managed() -> bool:
            text = requests.get(second.metrics_url, timeout=5).text
            return metric_total(text, "quay_bridge_managed_namespaces", integration="quay") >= 1

        wait_until(managed, timeout=20)
        time.sleep(1.5)
        text = requests.get(second.metrics_url, timeout=5).text
        calls = metric_total(text, "quay_bridge_quay_calls_total")
        reads = metric_total(text, "quay_bridge_quay_calls_total", method="GET")
        assert calls > 0 and calls == reads, "only reads on a restart"
        assert metric_total(text, "quay_bridge_kubernetes_writes_total") == 0
