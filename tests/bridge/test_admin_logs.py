"""What an admin reads in the operator's log, for a working integration and for each usual mistake.

Real simulator, registry core and ``quay-bridge run --log-format json`` processes. Each mistake gets
an integration of its own (restricted to a namespace of its own, so none of them conflicts with
another): no Secret, a wrong key, a URL without a scheme, a wrong token, a Quay that is down and an
HTTPS Quay whose CA is not given. The log must say each, with what to do, and never hold a token.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from tests.bridge.conftest import Cluster
from tests.bridge.servers import Operator, Registry, wait_for
from tests.bridge.test_quay_client_edges import make_cert
from tests.support.ports import free_port

WRONG_TOKEN = "WrongToken0123456789abcdefWrongToken"


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


def entries(operator: Operator) -> list[dict[str, Any]]:
    """Every log line, parsed: each must be one JSON object."""
    return [json.loads(line) for line in operator.log().splitlines() if line.strip()]


def find(operator: Operator, level: str, *words: str) -> dict[str, Any] | None:
    for entry in entries(operator):
        if entry["level"] == level and all(word in entry["message"] for word in words):
            return entry
    return None


def integration(cluster: Cluster, name: str, url: str, secret: str, **spec: Any) -> None:
    cluster.integration(
        name,
        url,
        credentialsSecret={"name": secret, "namespace": "openshift-operators", **spec},
        allowlistNamespaces=[f"only-{name}"],
    )


class TestTheLogAnAdminReads:
    def test_changes_and_mistakes_are_logged_with_what_to_do_and_no_token(
        self,
        cluster: Cluster,
        registry: Registry,
        operator_factory: Any,
        https_quay: str,
    ) -> None:
        cluster.secret("openshift-operators", "quay-token", {"token": registry.token})
        cluster.secret("openshift-operators", "other-key", {"access": registry.token})
        cluster.secret("openshift-operators", "wrong-token", {"token": WRONG_TOKEN})
        cluster.integration("quay", registry, allowlistNamespaces=["admin-logs"])
        integration(cluster, "no-secret", registry.url, "missing")
        integration(cluster, "wrong-key", registry.url, "other-key")
        integration(cluster, "wrong-token", registry.url, "wrong-token")
        integration(cluster, "quay-down", f"http://127.0.0.1:{free_port()}", "quay-token")
        integration(cluster, "tls-no-ca", https_quay, "quay-token")
        try:
            integration(cluster, "no-scheme", "quay.example.com", "quay-token")
            schemeless_accepted = True
        except (
            Exception
        ) as exc:  # the API server enforcing the CRD's pattern is what a real one does
            assert "quayHostname" in str(exc)
            schemeless_accepted = False
        operator = operator_factory("--log-format", "json")
        cluster.new_project("admin-logs")

        def logged(level: str, *words: str) -> dict[str, Any]:
            return wait_for(lambda: find(operator, level, *words), timeout=30)

        # What the operator changed, one INFO line each, with the names as fields.
        org = logged("INFO", "created Quay organization openshift_admin-logs")
        assert org["logger"] == "bridge.quay_client" and org["org"] == "openshift_admin-logs"
        assert org["time"].endswith("Z")
        robot = logged("INFO", "created Quay robot account openshift_admin-logs+builder")
        assert robot["robot"] == "openshift_admin-logs+builder"
        logged("INFO", "created default permission", "write for openshift_admin-logs+builder")
        secret = logged("INFO", "created Secret admin-logs/builder-quay-openshift")
        assert secret["namespace"] == "admin-logs" and secret["logger"] == "bridge.cluster"
        logged("INFO", "patched ServiceAccount admin-logs/builder", "builder-quay-openshift")
        logged("INFO", "patched Namespace admin-logs", "quay.redhat.com/quayintegrations")

        # The mistakes, each with what to do.
        logged("WARNING", "QuayIntegration no-secret is not ready", "does not exist")
        wrong_key = logged("WARNING", "QuayIntegration wrong-key is not ready", "'token'")
        assert "access" in wrong_key["message"]
        token = logged("ERROR", "refused the token")
        assert "generate a new OAuth token" in token["message"]
        assert "credentialsSecret" in token["message"]
        down = logged("WARNING", "refused the connection")
        assert "quayHostname" in down["message"] and "Quay is running" in down["message"]
        tls = logged("ERROR", https_quay, "certificate")
        assert "caBundle" in tls["message"]
        if schemeless_accepted:
            logged("WARNING", "QuayIntegration no-scheme is not ready", "quayHostname")

        # Each failure is said once, not on every retry; no token anywhere.
        said = [e for e in entries(operator) if e["logger"] == "bridge.quay_client"]
        assert sum("refused the token" in e["message"] for e in said) == 1
        text = operator.log()
        assert registry.token not in text and WRONG_TOKEN not in text

    def test_the_text_format_carries_the_same_fields(
        self, ready_integration: Cluster, operator_factory: Any
    ) -> None:
        operator = operator_factory("--log-format", "text", "--log-level", "info")
        ready_integration.new_project("text-logs")
        line = wait_for(
            lambda: next(
                (
                    line
                    for line in operator.log().splitlines()
                    if "created Quay organization openshift_text-logs" in line
                ),
                None,
            ),
            timeout=30,
        )
        assert " INFO bridge.quay_client: " in line and "org=openshift_text-logs" in line
