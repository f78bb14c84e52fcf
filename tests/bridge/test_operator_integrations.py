"""QuayIntegration status: invalid CRs give clear conditions; several integrations; bad names.

Real simulator, registry core and operator processes. The unknown-CA case uses a real TLS server
(pytest-httpserver with a throwaway self-signed certificate) standing in for an HTTPS Quay.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
from pytest_httpserver import HTTPServer

from devstack.ports import free_port
from devstack.registry import RegistryServer
from devstack.waiting import wait_until
from tests.bridge.conftest import Cluster
from tests.bridge.test_quay_client_edges import make_cert


def condition_is(cluster: Cluster, name: str, kind: str, status: str, reason: str) -> bool:
    condition = cluster.condition(name, kind)
    return bool(condition and condition["status"] == status and condition["reason"] == reason)


@pytest.fixture
def https_quay(tmp_path: Path) -> Iterator[str]:
    cert, key, _ = make_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = HTTPServer(host="127.0.0.1", port=free_port(), ssl_context=context)
    server.start()
    server.expect_request("/api/v1/user/").respond_with_json({"username": "x"})
    try:
        yield f"https://127.0.0.1:{server.port}"
    finally:
        server.clear()
        server.stop()


class TestInvalidIntegrations:
    def test_a_missing_credentials_secret_is_reported(
        self, cluster: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        cluster.integration("quay", registry)
        operator_factory()
        wait_until(
            lambda: condition_is(cluster, "quay", "CredentialsValid", "False", "SecretNotFound"),
            timeout=20,
        )
        ready = cluster.condition("quay", "Ready")
        assert ready is not None and ready["status"] == "False"
        assert "openshift-operators/quay-token does not exist" in ready["message"]

    def test_a_wrong_key_is_reported_with_the_keys_present_and_fixed_without_restart(
        self, cluster: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        cluster.secret("openshift-operators", "quay-token", {"access": registry.token})
        cluster.integration("quay", registry)
        operator_factory()
        wait_until(
            lambda: condition_is(cluster, "quay", "CredentialsValid", "False", "KeyNotFound"),
            timeout=20,
        )
        message = cluster.condition("quay", "CredentialsValid")["message"]  # type: ignore[index]
        assert "no key 'token'" in message and "access" in message
        assert registry.token not in message
        cluster.secret("openshift-operators", "quay-token", {"token": registry.token})
        wait_until(lambda: condition_is(cluster, "quay", "Ready", "True", "Ready"), timeout=20)

    def test_an_expired_or_wrong_token_is_reported(
        self, cluster: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        cluster.secret("openshift-operators", "quay-token", {"token": "NOT-A-REAL-TOKEN"})
        cluster.integration("quay", registry)
        operator_factory()
        wait_until(
            lambda: condition_is(cluster, "quay", "CredentialsValid", "False", "TokenRejected"),
            timeout=20,
        )

    def test_an_unreachable_url_is_reported(
        self, cluster: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        cluster.secret("openshift-operators", "quay-token", {"token": registry.token})
        cluster.integration("quay", f"http://127.0.0.1:{free_port()}")
        operator_factory()
        wait_until(
            lambda: condition_is(cluster, "quay", "QuayReachable", "False", "QuayUnavailable"),
            timeout=30,
        )
        message = cluster.condition("quay", "QuayReachable")["message"]  # type: ignore[index]
        assert "refused the connection" in message and "check that Quay is running" in message
        assert "aiohttp" not in message and "Connect call failed" not in message

    def test_a_url_without_scheme_is_an_invalid_spec(
        self, cluster: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        cluster.secret("openshift-operators", "quay-token", {"token": registry.token})
        # Written past the CRD's pattern on purpose: the operator must not trust the schema alone.
        try:
            cluster.integration("quay", "quay.example.com")
        except Exception as exc:  # the simulator enforcing the CRD pattern is fine too
            assert "quayHostname" in str(exc) or "pattern" in str(exc)
            return
        operator_factory()
        wait_until(
            lambda: condition_is(cluster, "quay", "SpecValid", "False", "InvalidSpec"),
            timeout=20,
        )
        assert "spec.quayHostname accepts" in cluster.condition("quay", "Ready")["message"]  # type: ignore[index]
        assert condition_is(cluster, "quay", "CredentialsValid", "Unknown", "SpecInvalid")

    def test_an_unknown_ca_is_a_tls_failure_and_the_ca_bundle_fixes_it(
        self,
        cluster: Cluster,
        registry: RegistryServer,
        operator_factory: Any,
        https_quay: str,
        tmp_path: Path,
    ) -> None:
        cluster.secret("openshift-operators", "quay-token", {"token": registry.token})
        cluster.integration("quay", https_quay)
        operator_factory()
        wait_until(
            lambda: condition_is(cluster, "quay", "QuayReachable", "False", "TLSFailure"),
            timeout=20,
        )
        assert "caBundle" in cluster.condition("quay", "QuayReachable")["message"]  # type: ignore[index]
        pem = (tmp_path / "tls.crt").read_text()
        cluster.secret("openshift-operators", "quay-ca", {"ca.crt": pem})
        cluster.custom.patch_cluster_custom_object(
            "quay.redhat.com",
            "v1",
            "quayintegrations",
            "quay",
            {
                "spec": {
                    "caBundle": {
                        "kind": "Secret",
                        "name": "quay-ca",
                        "namespace": "openshift-operators",
                    }
                }
            },
        )
        wait_until(
            lambda: condition_is(cluster, "quay", "QuayReachable", "True", "Reachable"),
            timeout=20,
        )


class TestSeveralIntegrations:
    def test_disjoint_integrations_each_manage_their_namespaces(
        self, cluster: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        cluster.secret("openshift-operators", "quay-token", {"token": registry.token})
        cluster.integration("a", registry, clusterID="alpha", allowlistNamespaces=["team-a"])
        cluster.integration("b", registry, clusterID="beta", allowlistNamespaces=["team-b"])
        operator_factory()
        cluster.new_project("team-a")
        cluster.new_project("team-b")
        wait_until(lambda: cluster.linked("team-a", "builder", "builder-quay-alpha"), timeout=20)
        wait_until(lambda: cluster.linked("team-b", "builder", "builder-quay-beta"), timeout=20)
        assert registry.get("/api/v1/organization/alpha_team-a").ok
        assert registry.get("/api/v1/organization/beta_team-b").ok
        assert cluster.get_secret("team-a", "builder-quay-beta") is None
        for name in ("a", "b"):
            wait_until(
                lambda n=name: condition_is(cluster, n, "Conflict", "False", "NoOverlap"), 10
            )

    def test_overlapping_integrations_report_a_conflict_and_manage_neither(
        self, cluster: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        cluster.secret("openshift-operators", "quay-token", {"token": registry.token})
        cluster.integration("a", registry, clusterID="alpha")
        cluster.integration("b", registry, clusterID="beta", allowlistNamespaces=["shared"])
        operator_factory()
        cluster.new_project("shared")
        cluster.new_project("only-a")
        wait_until(lambda: cluster.linked("only-a", "builder", "builder-quay-alpha"), timeout=20)
        for name in ("a", "b"):
            wait_until(
                lambda n=name: condition_is(cluster, n, "Conflict", "True", "OverlappingSelection"),
                timeout=20,
            )
        message = cluster.condition("a", "Conflict")["message"]  # type: ignore[index]
        assert "shared" in message and "b" in message
        assert registry.get("/api/v1/organization/alpha_shared").status_code == 404
        assert registry.get("/api/v1/organization/beta_shared").status_code == 404


FINALIZER = "quay.redhat.com/quayintegrations"
MANAGED = "quay-bridge.quay.redhat.com/managed"


def marked(cluster: Cluster, namespace: str) -> tuple[bool, bool]:
    """(our finalizer present, our managed label present) on ``namespace``."""
    meta = (cluster.get_namespace(namespace) or {"metadata": {}})["metadata"]
    return FINALIZER in (meta.get("finalizers") or []), MANAGED in (meta.get("labels") or {})


class TestLeavingTheSelection:
    def test_a_namespace_no_longer_selected_is_released_and_its_quay_data_kept(
        self, cluster: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        cluster.secret("openshift-operators", "quay-token", {"token": registry.token})
        cluster.integration("a", registry, namespaceSelector={"matchLabels": {"quay": "yes"}})
        operator_factory()
        cluster.new_project("leaving")
        cluster.core.patch_namespace("leaving", {"metadata": {"labels": {"quay": "yes"}}})
        wait_until(lambda: cluster.linked("leaving", "builder", "builder-quay-openshift"), 20)
        assert marked(cluster, "leaving") == (True, True)

        cluster.core.patch_namespace("leaving", {"metadata": {"labels": {"quay": None}}})
        wait_until(lambda: marked(cluster, "leaving") == (False, False), timeout=20)
        reasons = wait_until(
            lambda: [
                e for e in cluster.namespace_events("leaving") if e["reason"] == "QuayUnmanaged"
            ],
            10,
        )
        assert "openshift_leaving" in reasons[0]["message"]
        assert registry.get("/api/v1/organization/openshift_leaving").ok, "Quay data is kept"
        assert cluster.get_secret("leaving", "builder-quay-openshift") is not None
        assert cluster.linked("leaving", "builder", "builder-quay-openshift")

        cluster.core.patch_namespace("leaving", {"metadata": {"labels": {"quay": "yes"}}})
        wait_until(lambda: marked(cluster, "leaving") == (True, True), timeout=20)

    def test_deleting_the_integration_releases_its_namespaces_so_they_can_be_deleted(
        self, cluster: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        cluster.secret("openshift-operators", "quay-token", {"token": registry.token})
        cluster.integration("a", registry)
        operator_factory()
        cluster.new_project("orphan")
        wait_until(lambda: cluster.linked("orphan", "builder", "builder-quay-openshift"), 20)
        assert marked(cluster, "orphan") == (True, True)
        cluster.custom.delete_cluster_custom_object(
            "quay.redhat.com", "v1", "quayintegrations", "a"
        )
        wait_until(lambda: marked(cluster, "orphan") == (False, False), timeout=20)
        assert registry.get("/api/v1/organization/openshift_orphan").ok
        cluster.core.delete_namespace("orphan")
        wait_until(lambda: cluster.get_namespace("orphan") is None, timeout=20)

    def test_an_invalid_integration_does_not_release_what_it_may_select(
        self, cluster: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        cluster.secret("openshift-operators", "quay-token", {"token": registry.token})
        cluster.integration("a", registry)
        operator_factory()
        cluster.new_project("held")
        wait_until(lambda: cluster.linked("held", "builder", "builder-quay-openshift"), 20)
        # An invalid spec the operator's own validation sees: the integration then selects
        # nothing it can name. The API server applies the CRD schema, so the spec is stored as one
        # kept from before the schema was tightened: the pattern is lifted, the spec written.
        kubernetes.client.ApiextensionsV1Api(cluster.api).patch_custom_resource_definition(
            "quayintegrations.quay.redhat.com",
            [
                {
                    "op": "remove",
                    "path": "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties"
                    "/quayHostname/pattern",
                }
            ],
        )
        cluster.custom.patch_cluster_custom_object(
            "quay.redhat.com",
            "v1",
            "quayintegrations",
            "a",
            {"spec": {"quayHostname": "no-scheme"}},
        )
        wait_until(lambda: condition_is(cluster, "a", "Ready", "False", "InvalidSpec"), timeout=20)
        cluster.core.patch_namespace("held", {"metadata": {"labels": {"touch": "1"}}})

        # The namespace was reconciled under the invalid spec: it is no longer counted managed.
        def uncounted() -> bool:
            status = cluster.get_integration("a").get("status") or {}
            return status.get("managedNamespaces") == 0

        wait_until(uncounted, timeout=20)
        assert marked(cluster, "held") == (True, True)


class TestInvalidNamespaceNames:
    def test_a_namespace_quay_cannot_name_is_reported_by_event_and_status(
        self, cluster: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        cluster.secret("openshift-operators", "quay-token", {"token": registry.token})
        cluster.integration("quay", registry)
        operator_factory()
        cluster.ensure_namespace("a--b")
        wait_until(
            lambda: any(
                e.get("reason") == "InvalidQuayName" for e in cluster.namespace_events("a--b")
            ),
            timeout=20,
        )
        wait_until(
            lambda: (
                (cluster.get_integration("quay").get("status") or {}).get("failedNamespaces") == 1
            ),
            timeout=10,
        )
        assert "a--b" in cluster.get_integration("quay")["status"]["message"]
        # kubectl describe qi: one Warning naming the namespace and why.
        failed = wait_until(
            lambda: [e for e in cluster.integration_events("quay")
                     if e["reason"] == "NamespacesFailed"],
            timeout=10,
        )  # fmt: skip
        assert failed[0]["type"] == "Warning"
        assert failed[0]["message"].startswith("1 namespace failed: a--b (")

        # The namespace goes: the failure is over, and the integration's Events say so.
        cluster.core.delete_namespace("a--b")
        wait_until(
            lambda: [e for e in cluster.integration_events("quay")
                     if e["reason"] == "NamespacesRecovered"],
            timeout=30,
        )  # fmt: skip
        reasons = [e["reason"] for e in cluster.integration_events("quay")]
        assert reasons.count("NamespacesFailed") == 1 and reasons.count("IntegrationReady") == 1
