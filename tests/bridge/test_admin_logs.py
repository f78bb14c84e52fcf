"""What an admin sees for a working integration and for each usual mistake: log, Events, conditions.

Real simulator, registry core and ``quay-bridge run --log-format json`` processes. Each mistake gets
an integration of its own (restricted to a namespace of its own, so none of them conflicts with
another): no Secret, a wrong key, a wrong token, a Quay that is down, an HTTPS Quay whose CA is not
given and a spec field the API server lets through but the operator cannot use (a port out of
range). For each, the log line, the Event ``kubectl describe qi`` lists and the condition must say
what is wrong and what to do, each once, and never hold a token. A URL without a scheme never
reaches the operator: the API server refuses it with a 422 naming the field, as a real one does.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from pytest_httpserver import HTTPServer

from devstack.operator import Operator
from devstack.ports import free_port
from devstack.registry import RegistryServer
from devstack.waiting import wait_until
from tests.bridge.conftest import Cluster
from tests.bridge.test_operator_integrations import condition_is
from tests.bridge.test_quay_client_edges import make_cert

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


@dataclass(frozen=True)
class Mistake:
    """One mistake and what an admin must see about it."""

    name: str
    #: the failing condition: type, reason, words of its message
    condition: str
    reason: str
    words: tuple[str, ...]
    #: the log line: level and words
    level: str
    logged: tuple[str, ...]


MISTAKES = (
    Mistake(
        "no-secret",
        "CredentialsValid",
        "SecretNotFound",
        ("credentials Secret openshift-operators/missing does not exist",),
        "WARNING",
        ("QuayIntegration no-secret is not ready (SecretNotFound)", "does not exist"),
    ),
    Mistake(
        "wrong-key",
        "CredentialsValid",
        "KeyNotFound",
        ("has no key 'token' (it has: access)", "set credentialsSecret.key"),
        "WARNING",
        ("QuayIntegration wrong-key is not ready (KeyNotFound)", "(it has: access)"),
    ),
    Mistake(
        "wrong-token",
        "CredentialsValid",
        "TokenRejected",
        ("refused the token", "generate a new OAuth token", "credentialsSecret"),
        "ERROR",
        ("refused the token", "generate a new OAuth token"),
    ),
    Mistake(
        "quay-down",
        "QuayReachable",
        "QuayUnavailable",
        ("refused the connection", "check that Quay is running", "quayHostname"),
        "WARNING",
        ("refused the connection", "Quay is running"),
    ),
    Mistake(
        "tls-no-ca",
        "QuayReachable",
        "TLSFailure",
        ("its TLS certificate was not accepted", "set the QuayIntegration's caBundle"),
        "ERROR",
        ("certificate", "caBundle"),
    ),
    Mistake(
        "bad-port",
        "SpecValid",
        "InvalidSpec",
        ("spec.quayHostname accepts a port that is a number from 0 to 65535",),
        "WARNING",
        ("QuayIntegration bad-port is not ready (InvalidSpec)", "spec.quayHostname accepts"),
    ),
)

#: Wording of the HTTP and TLS libraries that must not reach an admin.
INTERNALS = ("aiohttp", "Connect call failed", "[SSL", "_ssl.c", "Value error", "Traceback")


class TestWhatAnAdminSees:
    def test_each_mistake_has_its_log_line_event_and_condition_and_no_token(
        self,
        cluster: Cluster,
        registry: RegistryServer,
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
        integration(cluster, "bad-port", "https://127.0.0.1:99999", "quay-token")
        with pytest.raises(ApiException) as refused:
            integration(cluster, "no-scheme", "quay.example.com", "quay-token")
        assert refused.value.status == 422
        said = json.loads(refused.value.body)["message"]
        assert 'spec.quayHostname: Invalid value: "quay.example.com"' in said
        operator = operator_factory("--log-format", "json")
        cluster.new_project("admin-logs")

        def logged(level: str, *words: str) -> dict[str, Any]:
            return wait_until(lambda: find(operator, level, *words), timeout=30)

        # What the operator changed, one INFO line each, with the names as fields.
        org = logged("INFO", "created Quay organization openshift_admin-logs")
        assert org["logger"] == "bridge.quay.client" and org["org"] == "openshift_admin-logs"
        assert org["time"].endswith("Z")
        robot = logged("INFO", "created Quay robot account openshift_admin-logs+builder")
        assert robot["robot"] == "openshift_admin-logs+builder"
        logged("INFO", "created default permission", "write for openshift_admin-logs+builder")
        secret = logged("INFO", "created Secret admin-logs/builder-quay-openshift")
        assert secret["namespace"] == "admin-logs" and secret["logger"] == "bridge.kube.cluster"
        logged("INFO", "patched ServiceAccount admin-logs/builder", "builder-quay-openshift")
        logged("INFO", "patched Namespace admin-logs", "quay.redhat.com/quayintegrations")

        # The working integration: a Normal Event on it, one on the namespace it provisioned.
        ready = wait_until(
            lambda: [e for e in cluster.integration_events("quay")
                     if e["reason"] == "IntegrationReady"],
            timeout=30,
        )  # fmt: skip
        assert ready[0]["type"] == "Normal" and ready[0]["message"].startswith("ready: ")
        provisioned = wait_until(
            lambda: [e for e in cluster.namespace_events("admin-logs")
                     if e["reason"] == "QuayProvisioned"],
            timeout=30,
        )  # fmt: skip
        assert "organization openshift_admin-logs" in provisioned[0]["message"]
        assert "openshift_admin-logs+builder" in provisioned[0]["message"]

        for mistake in MISTAKES:
            # The condition: its own type and reason, what to do, each said once.
            wait_until(
                lambda m=mistake: condition_is(cluster, m.name, m.condition, "False", m.reason),
                timeout=30,
            )
            failing = cluster.condition(mistake.name, mistake.condition) or {}
            for word in mistake.words:
                assert failing["message"].count(word) == 1, (word, failing)
            assert not [word for word in INTERNALS if word in failing["message"]], failing
            # Ready sums it up with the same reason and message.
            summary = cluster.condition(mistake.name, "Ready") or {}
            assert (summary["status"], summary["reason"]) == ("False", mistake.reason)
            assert summary["message"] == failing["message"]
            # The Event kubectl describe shows: one Warning naming the reason and the message.
            events = wait_until(lambda m=mistake: cluster.integration_events(m.name), timeout=30)
            [event] = events
            assert (event["type"], event["reason"]) == ("Warning", "IntegrationNotReady")
            assert event["message"] == f"not ready, {mistake.reason}: {failing['message']}"
            assert event["involvedObject"].get("namespace") in (None, "")
            # The log line.
            logged(mistake.level, *mistake.logged)

        # What follows from an invalid spec is not checked, and said to be so.
        credentials = cluster.condition("bad-port", "CredentialsValid") or {}
        assert (credentials["status"], credentials["reason"]) == ("Unknown", "SpecInvalid")

        # Each failure is said once, not on every retry; no token anywhere.
        said = [e for e in entries(operator) if e["logger"] == "bridge.quay.client"]
        assert sum("refused the token" in e["message"] for e in said) == 1
        text = operator.log()
        assert registry.token not in text and WRONG_TOKEN not in text
        for event in cluster.events("default"):
            assert registry.token not in event["message"]
            assert WRONG_TOKEN not in event["message"]

    def test_the_text_format_carries_the_same_fields(
        self, ready_integration: Cluster, operator_factory: Any
    ) -> None:
        operator = operator_factory("--log-format", "text", "--log-level", "info")
        ready_integration.new_project("text-logs")
        line = wait_until(
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
        assert " INFO bridge.quay.client: " in line and "org=openshift_text-logs" in line


@pytest.fixture
def slow_collecting_registry() -> Iterator[RegistryServer]:
    """A registry core that keeps a deleted organization's name reserved for a few seconds."""
    server = RegistryServer.start(gc_seconds=8.0)
    try:
        yield server
    finally:
        server.stop()


class TestNamespaceEvents:
    def test_a_failed_provisioning_is_told_once_on_the_namespace_then_its_success(
        self, cluster: Cluster, slow_collecting_registry: RegistryServer, operator_factory: Any
    ) -> None:
        registry = slow_collecting_registry
        cluster.secret("openshift-operators", "quay-token", {"token": registry.token})
        cluster.integration("quay", registry, allowlistNamespaces=["again"])
        operator_factory()
        cluster.new_project("again")

        def about(uid: str, reason: str) -> list[dict[str, Any]]:
            return [
                e
                for e in cluster.namespace_events("again")
                if e["involvedObject"].get("uid") == uid and e["reason"] == reason
            ]

        first = (cluster.get_namespace("again") or {})["metadata"]["uid"]
        wait_until(lambda: about(first, "QuayProvisioned"), timeout=30)

        # Deleted (its organization with it), then made again at once: Quay still reserves the
        # organization's name, so provisioning fails until Quay collects it.
        cluster.core.delete_namespace("again")
        wait_until(lambda: cluster.get_namespace("again") is None, timeout=30)
        cluster.new_project("again")
        second = (cluster.get_namespace("again") or {})["metadata"]["uid"]
        [failed] = wait_until(lambda: about(second, "QuayProvisioningFailed"), timeout=30)
        assert failed["type"] == "Warning"
        assert "still reserved" in failed["message"] and "retries on its own" in failed["message"]
        [provisioned] = wait_until(lambda: about(second, "QuayProvisioned"), timeout=60)
        assert provisioned["type"] == "Normal"
        assert "organization openshift_again" in provisioned["message"]
        # One Warning for the whole run of retries.
        assert len(about(second, "QuayProvisioningFailed")) == 1
