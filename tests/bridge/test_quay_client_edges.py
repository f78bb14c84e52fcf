"""The Quay client's edge cases against a real HTTP server (pytest-httpserver) on loopback.

The registry core covers the normal paths; here the server answers exactly the awkward things a real
Quay answers (each of the five error shapes, 429 with Retry-After, 5xx, refused connections, a
certificate from an unknown CA) so the typed errors and retries can be shown.
"""

from __future__ import annotations

import datetime
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bridge.quay import errors as qe
from bridge.quay.client import QuayClient
from devstack.ports import free_port

TOKEN = "SECRET-TOKEN-VALUE-1234"


def client_for(server: HTTPServer, **kwargs: object) -> QuayClient:
    return QuayClient(server.url_for("/"), TOKEN, backoff_seconds=0.01, **kwargs)  # type: ignore[arg-type]


class TestErrorShapes:
    @pytest.mark.parametrize(
        ("status", "body", "content_type", "error", "text"),
        [
            (
                404,
                {"detail": "Not Found", "error_type": "not_found", "status": 404},
                "json",
                qe.NotFound,
                "Not Found",
            ),
            (
                400,
                {"message": "Could not find robot with specified username"},
                "json",
                qe.RobotMissing,
                "Could not find robot",
            ),
            (
                403,
                {"error": "CSRF token was invalid or missing."},
                "html",
                qe.Unauthenticated,
                "invalid or expired",
            ),
            (
                401,
                {"detail": "Requires authentication", "error_type": "invalid_token"},
                "json",
                qe.Unauthenticated,
                "Requires authentication",
            ),
            (
                403,
                {"detail": "Unauthorized", "error_type": "insufficient_scope"},
                "json",
                qe.Forbidden,
                "lacks the rights",
            ),
            (
                400,
                {"detail": "Username is not available", "error_type": "invalid_request"},
                "json",
                qe.NameReserved,
                "Username is not available",
            ),
            (
                400,
                {
                    "error_message": "A user or organization with this name already exists",
                    "error_type": "invalid_request",
                },
                "json",
                qe.AlreadyExists,
                "already exists",
            ),
            (
                400,
                {"message": "Invalid namespace A: Namespace must match expression x"},
                "json",
                qe.InvalidName,
                "must match",
            ),
            (
                415,
                {"message": "Did not attempt to load JSON data"},
                "json",
                qe.QuayError,
                "Did not attempt",
            ),
            (
                400,
                {"errors": [{"code": "NAME_INVALID", "message": "Invalid repository name"}]},
                "json",
                qe.InvalidName,
                "Invalid repository name",
            ),
        ],
    )
    async def test_each_quay_error_shape_maps_to_its_class(
        self,
        httpserver: HTTPServer,
        status: int,
        body: dict[str, object],
        content_type: str,
        error: type[qe.QuayError],
        text: str,
    ) -> None:
        ctype = "application/json" if content_type == "json" else "text/html; charset=utf-8"
        httpserver.expect_request("/api/v1/organization/o").respond_with_data(
            json.dumps(body), status=status, content_type=ctype
        )
        async with client_for(httpserver) as client:
            with pytest.raises(error, match=text) as caught:
                await client.get_organization("o")
        assert caught.value.status == status
        assert TOKEN not in str(caught.value)

    async def test_long_bodies_are_cut_short_in_messages(self, httpserver: HTTPServer) -> None:
        httpserver.expect_request("/api/v1/organization/o").respond_with_data(
            "x" * 5000, status=418
        )
        async with client_for(httpserver) as client:
            with pytest.raises(qe.QuayError) as caught:
                await client.get_organization("o")
        assert len(str(caught.value)) < qe.BODY_LIMIT + 100


class TestRetries:
    async def test_503_is_retried_and_retry_after_is_honoured(self, httpserver: HTTPServer) -> None:
        httpserver.expect_ordered_request("/api/v1/user/").respond_with_data(
            "{}", status=503, headers={"Retry-After": "0"}
        )
        httpserver.expect_ordered_request("/api/v1/user/").respond_with_json({"username": "admin"})
        async with client_for(httpserver) as client:
            assert (await client.get_user())["username"] == "admin"

    async def test_429_on_a_post_is_retried(self, httpserver: HTTPServer) -> None:
        httpserver.expect_ordered_request("/api/v1/organization/", method="POST").respond_with_data(
            "{}", status=429, headers={"Retry-After": "0"}
        )
        httpserver.expect_ordered_request("/api/v1/organization/", method="POST").respond_with_json(
            "Created", status=201
        )
        async with client_for(httpserver) as client:
            await client.create_organization("o")

    async def test_500_on_a_post_is_not_repeated_while_the_check_cannot_read(
        self, httpserver: HTTPServer
    ) -> None:
        calls: list[str] = []

        def handler(request: Request) -> Response:
            calls.append(request.method)
            return Response("boom", status=500)

        httpserver.expect_request("/api/v1/organization/o/prototypes").respond_with_handler(handler)
        async with client_for(httpserver) as client:
            with pytest.raises(qe.Unavailable):
                await client.create_prototype("o", "o+builder", "write")
        assert calls.count("POST") == 1 and "GET" in calls  # read back, never written again

    async def test_persistent_5xx_gives_unavailable_after_the_attempts(
        self, httpserver: HTTPServer
    ) -> None:
        calls: list[int] = []

        def handler(request: Request) -> Response:
            calls.append(1)
            return Response('{"message": "down"}', status=502)

        httpserver.expect_request("/api/v1/user/").respond_with_handler(handler)
        async with client_for(httpserver, attempts=3) as client:
            with pytest.raises(qe.Unavailable, match="down"):
                await client.get_user()
        assert len(calls) == 3

    async def test_a_refused_connection_gives_unavailable(self) -> None:
        client = QuayClient(f"http://127.0.0.1:{free_port()}", TOKEN, attempts=2, backoff_seconds=0)
        async with client:
            with pytest.raises(qe.Unavailable, match="cannot reach Quay"):
                await client.get_user()


class TestRequests:
    async def test_paths_follow_quay_trailing_slash_rules_and_send_the_bearer(
        self, httpserver: HTTPServer
    ) -> None:
        seen: list[tuple[str, str, str | None]] = []

        def handler(request: Request) -> Response:
            seen.append((request.method, request.path, request.headers.get("Authorization")))
            replies = {
                ("GET", "/api/v1/user/"): (200, {"username": "a"}),
                ("POST", "/api/v1/organization/"): (201, "Created"),
                ("PUT", "/api/v1/organization/o/robots/builder"): (201, {"name": "o+builder"}),
                ("GET", "/api/v1/organization/o/prototypes"): (200, {"prototypes": []}),
                ("POST", "/api/v1/repository"): (201, {"name": "r"}),
                ("GET", "/api/v1/repository"): (200, {"repositories": [{"name": "r"}]}),
                ("PUT", "/api/v1/repository/o/r/permissions/user/o+builder"): (200, {}),
                ("POST", "/api/v1/organization/o/robots/builder/regenerate"): (200, {"token": "T"}),
                ("DELETE", "/api/v1/organization/o"): (204, None),
            }
            status, body = replies[(request.method, request.path)]
            text = "" if body is None else json.dumps(body)
            return Response(text, status=status, content_type="application/json")

        httpserver.expect_request("").respond_with_handler(handler)
        async with client_for(httpserver) as client:
            await client.get_user()
            await client.create_organization("o")
            await client.create_robot("o", "builder")
            await client.list_prototypes("o")
            await client.create_repository("o", "r")
            assert await client.list_repositories("o") == ["r"]
            await client.set_user_permission("o", "r", "o+builder", "write")
            assert (await client.regenerate_robot("o", "builder"))["token"] == "T"
            await client.delete_organization("o")
        assert all(auth == f"Bearer {TOKEN}" for _, _, auth in seen)
        assert len(seen) == 9

    async def test_every_call_is_reported_to_the_recorder(self, httpserver: HTTPServer) -> None:
        httpserver.expect_request("/api/v1/organization/o").respond_with_json({}, status=404)
        calls: list[tuple[str, str, str]] = []
        async with client_for(httpserver, recorder=lambda e, m, o, s: calls.append((e, m, o))) as c:
            with pytest.raises(qe.NotFound):
                await c.get_organization("o")
        assert calls == [("organization/{org}", "GET", "404")]

    async def test_a_new_token_is_used_without_a_new_client(self, httpserver: HTTPServer) -> None:
        httpserver.expect_request(
            "/api/v1/user/", headers={"Authorization": "Bearer NEW"}
        ).respond_with_json({"username": "b"})
        async with client_for(httpserver) as client:
            client.set_token("NEW")
            assert (await client.get_user())["username"] == "b"


def make_cert(tmp_path: Path) -> tuple[Path, Path, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    cert_path, key_path = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert_path.write_text(pem)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path, pem


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[HTTPServer, str]]:
    cert, key, pem = make_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = HTTPServer(host="127.0.0.1", port=free_port(), ssl_context=context)
    server.start()
    server.expect_request("/api/v1/user/").respond_with_json({"username": "tls"})
    try:
        yield server, pem
    finally:
        server.clear()
        if server.is_running():
            server.stop()


class TestTLS:
    async def test_an_unknown_ca_is_a_tls_failure(self, tls_server: tuple[HTTPServer, str]) -> None:
        server, _ = tls_server
        async with QuayClient(server.url_for("/"), TOKEN) as client:
            with pytest.raises(qe.TLSFailure, match="certificate"):
                await client.get_user()

    async def test_the_ca_bundle_makes_the_certificate_trusted(
        self, tls_server: tuple[HTTPServer, str]
    ) -> None:
        server, pem = tls_server
        async with QuayClient(server.url_for("/"), TOKEN, ca_pem=pem) as client:
            assert (await client.get_user())["username"] == "tls"

    async def test_insecure_skips_verification(self, tls_server: tuple[HTTPServer, str]) -> None:
        server, _ = tls_server
        async with QuayClient(server.url_for("/"), TOKEN, insecure=True) as client:
            assert (await client.get_user())["username"] == "tls"

    def test_a_ca_bundle_that_is_not_pem_is_refused_up_front(self) -> None:
        with pytest.raises(qe.TLSFailure, match="not valid PEM"):
            QuayClient("https://q", TOKEN, ca_pem="not a certificate")
