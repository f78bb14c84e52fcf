"""The log's formats and the advice for Quay failures, as pure functions (no servers)."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from pytest_httpserver import HTTPServer

from bridge.app.logs import JSONFormatter, TextFormatter
from bridge.kube.cluster import Cluster, KubeError, describe_patch, resource_of
from bridge.kube.connection import Connection
from bridge.metrics import Metrics
from bridge.quay import errors as qe
from bridge.quay.advice import advice, condition_message
from devstack.ports import free_port

URL = "https://quay.example.com"


def record(message: str, level: int = logging.INFO, **fields: object) -> logging.LogRecord:
    logger = logging.getLogger("bridge.test")
    made = logger.makeRecord("bridge.test", level, __file__, 1, message, (), None, extra=fields)
    return made


class TestFormats:
    def test_json_is_one_object_with_time_level_logger_message_and_fields(self) -> None:
        line = JSONFormatter().format(record("created org", org="openshift_a", count=3))
        assert "\n" not in line
        entry = json.loads(line)
        assert entry["level"] == "INFO" and entry["logger"] == "bridge.test"
        assert entry["message"] == "created org" and entry["org"] == "openshift_a"
        assert entry["count"] == 3 and entry["time"].endswith("Z")

    def test_json_keeps_a_traceback_inside_the_one_line(self) -> None:
        try:
            raise ValueError("boom")
        except ValueError:
            made = record("failed", logging.ERROR)
            made.exc_info = sys.exc_info()
        entry = json.loads(JSONFormatter().format(made))
        assert "ValueError: boom" in entry["exception"]

    def test_text_appends_the_fields_as_key_value(self) -> None:
        line = TextFormatter().format(record("created org", org="openshift_a"))
        assert line.endswith(" INFO bridge.test: created org org=openshift_a")


class TestAdvice:
    @pytest.mark.parametrize(
        ("error", "level", "words"),
        [
            (qe.Unauthenticated("x", status=401), logging.ERROR, "generate a new OAuth token"),
            (qe.Forbidden("x", status=403, endpoint="organization/"), logging.ERROR, "scopes"),
            (qe.TLSFailure("certificate verify failed"), logging.ERROR, "caBundle"),
            (
                qe.Unavailable("cannot reach Quay: Connect call failed ('127.0.0.1', 1)"),
                logging.WARNING,
                "Quay is running",
            ),
            (qe.Unavailable("cannot reach Quay: timeout"), logging.WARNING, "DNS"),
            (qe.Unavailable("Quay is unavailable", status=503), logging.WARNING, "health"),
        ],
    )
    def test_failures_an_admin_acts_on_say_what_to_do(
        self, error: qe.QuayError, level: int, words: str
    ) -> None:
        found = advice(error, URL)
        assert found is not None and found.level == level
        assert words in found.action and URL in found.summary

    @pytest.mark.parametrize(
        "error",
        [qe.NotFound("x", status=404), qe.RobotMissing("x", status=400), qe.AlreadyExists("x")],
    )
    def test_answers_the_controller_handles_are_not_advice(self, error: qe.QuayError) -> None:
        assert advice(error, URL) is None


class TestConditionMessages:
    @pytest.mark.parametrize(
        ("error", "expected"),
        [
            (
                qe.TLSFailure(
                    "its TLS certificate was not accepted: [SSL: CERTIFICATE_VERIFY_FAILED]"
                    " certificate verify failed: self-signed certificate (_ssl.c:1000)"
                ),
                f"Quay at {URL}: its TLS certificate was not accepted: certificate verify failed:"
                " self-signed certificate; set the QuayIntegration's caBundle to the CA that"
                " signed Quay's certificate (insecureRegistry: true turns verification off, for"
                " tests only)",
            ),
            (
                qe.Unavailable(
                    f"cannot reach Quay at {URL}: ClientConnectorDNSError: Cannot connect to host"
                    " quay.example.com:443 ssl:default [Name or service not known]"
                ),
                f"Quay at {URL} cannot be reached: its host name does not resolve; check"
                " quayHostname, DNS and the network policy's egress to Quay; the bridge retries"
                " on its own",
            ),
            (
                qe.Unavailable(f"cannot reach Quay at {URL}: ServerTimeoutError: timed out"),
                f"Quay at {URL} cannot be reached: it did not answer in time; check quayHostname,"
                " DNS and the network policy's egress to Quay; the bridge retries on its own",
            ),
        ],
    )
    def test_the_library_wording_is_replaced_by_words(
        self, error: qe.QuayError, expected: str
    ) -> None:
        assert condition_message(error, URL) == expected

    def test_a_refused_token_is_said_once_with_what_to_do(self) -> None:
        message = condition_message(qe.Unauthenticated("Unauthorized", status=401), URL)
        assert message.count("refused the token") == 1
        assert message.startswith(f"Quay at {URL} refused the token (HTTP 401")
        assert "generate a new OAuth token" in message


class TestPatchSummaries:
    def test_a_patch_is_summarised_by_op_path_and_name_without_test_guards(self) -> None:
        text = describe_patch(
            [
                {"op": "test", "path": "/metadata/resourceVersion", "value": "12"},
                {"op": "add", "path": "/secrets/-", "value": {"name": "builder-quay-openshift"}},
                {"op": "add", "path": "/metadata/finalizers", "value": ["a.b/c"]},
                {"op": "remove", "path": "/metadata/finalizers/0"},
            ]
        )
        assert text == (
            "add /secrets/- builder-quay-openshift; add /metadata/finalizers a.b/c;"
            " remove /metadata/finalizers/0"
        )


class TestAPIServerFailures:
    @pytest.mark.parametrize(
        ("path", "resource"),
        [
            ("/api/v1/namespaces", "namespaces"),
            ("/api/v1/namespaces/a", "namespaces"),
            ("/api/v1/namespaces/a/secrets/b", "secrets"),
            (
                "/apis/quay.redhat.com/v1/quayintegrations/q/status",
                "quay.redhat.com/quayintegrations/status",
            ),
            (
                "/apis/image.openshift.io/v1/namespaces/a/imagestreams",
                "image.openshift.io/imagestreams",
            ),
        ],
    )
    def test_a_path_is_named_by_its_resource(self, path: str, resource: str) -> None:
        assert resource_of(path) == resource

    async def test_a_forbidden_call_is_logged_once_with_what_to_do(
        self, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
    ) -> None:
        httpserver.expect_request("/api/v1/namespaces").respond_with_json(
            {"kind": "Status", "message": 'namespaces is forbidden: User "x" cannot list'},
            status=403,
        )
        cluster = Cluster(Connection(server=httpserver.url_for("/").rstrip("/")), Metrics())
        try:
            with caplog.at_level(logging.INFO, logger="bridge.kube.cluster"):
                for _ in range(3):
                    with pytest.raises(KubeError):
                        await cluster.list_namespaces()
        finally:
            await cluster.aclose()
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1
        assert "forbids GET on namespaces" in errors[0].getMessage()
        assert "ClusterRole" in errors[0].getMessage()

    async def test_an_unreachable_api_server_is_a_warning(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        cluster = Cluster(Connection(server=f"http://127.0.0.1:{free_port()}"), Metrics())
        try:
            with (
                caplog.at_level(logging.INFO, logger="bridge.kube.cluster"),
                pytest.raises(KubeError),
            ):
                await cluster.list_namespaces()
        finally:
            await cluster.aclose()
        (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert "cannot reach the API server" in warning.getMessage()
