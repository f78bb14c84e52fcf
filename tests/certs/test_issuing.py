"""Making the CA and serving certificates: names, keys, constraints, and a real TLS handshake."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certs.issuing import (
    CLOCK_SKEW,
    CertificateError,
    Issued,
    KeyType,
    load_issued,
    make_ca,
    make_serving_cert,
    service_dns_names,
    subject_alternative_names,
)
from certs.storing import write_serving_files

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def ca() -> Issued:
    return make_ca(now=NOW)


class TestNames:
    def test_a_service_is_reached_by_four_names(self) -> None:
        assert service_dns_names("hook", "qb") == [
            "hook",
            "hook.qb",
            "hook.qb.svc",
            "hook.qb.svc.cluster.local",
        ]

    def test_the_serving_certificate_covers_the_service_names_and_the_extra_ones(
        self, ca: Issued
    ) -> None:
        serving = make_serving_cert(
            ca, "hook", "qb", dns_names=["localhost", "hook.qb"], ip_addresses=["127.0.0.1", "::1"]
        )

        dns, ips = subject_alternative_names(serving.cert_pem)

        assert dns == [*service_dns_names("hook", "qb"), "localhost"]
        assert ips == ["127.0.0.1", "::1"]
        cert = x509.load_pem_x509_certificate(serving.cert_pem)
        assert cert.subject.rfc4514_string() == "CN=hook.qb.svc"

    @pytest.mark.parametrize(
        ("service", "namespace", "dns", "ips", "message"),
        [
            ("", "qb", [], [], "must not be empty"),
            ("hook", "", [], [], "must not be empty"),
            ("hook", "qb", ["bad name"], [], "no spaces"),
            ("hook", "qb", [], ["300.1.1.1"], "not an IP address"),
            ("hook", "qb", [], ["localhost"], "not an IP address"),
        ],
    )
    def test_bad_names_are_refused_with_a_clear_error(
        self, ca: Issued, service: str, namespace: str, dns: list[str], ips: list[str], message: str
    ) -> None:
        with pytest.raises(CertificateError, match=message):
            make_serving_cert(ca, service, namespace, dns_names=dns, ip_addresses=ips)


class TestKeysAndConstraints:
    @pytest.mark.parametrize(
        ("key_type", "key_class"),
        [("ecdsa-p256", ec.EllipticCurvePrivateKey), ("rsa-2048", rsa.RSAPrivateKey)],
    )
    def test_keys_are_of_the_requested_type_and_belong_to_their_certificate(
        self, key_type: KeyType, key_class: type
    ) -> None:
        ca = make_ca(key_type=key_type)
        serving = make_serving_cert(ca, "hook", "qb", key_type=key_type)

        for issued in (ca, serving):
            _, key = load_issued(issued)
            assert isinstance(key, key_class)

    def test_the_default_key_is_ecdsa_p256(self, ca: Issued) -> None:
        _, key = load_issued(make_serving_cert(ca, "hook", "qb"))

        assert isinstance(key, ec.EllipticCurvePrivateKey)
        assert key.curve.name == "secp256r1"

    def test_the_ca_may_sign_leaf_certificates_only_and_the_leaf_is_for_servers(
        self, ca: Issued
    ) -> None:
        ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
        leaf = x509.load_pem_x509_certificate(make_serving_cert(ca, "hook", "qb").cert_pem)

        ca_constraints = ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        assert (ca_constraints.ca, ca_constraints.path_length) == (True, 0)
        assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert [usage.dotted_string for usage in usages] == ["1.3.6.1.5.5.7.3.1"]
        assert leaf.issuer == ca_cert.subject
        leaf.verify_directly_issued_by(ca_cert)

    @pytest.mark.parametrize("days", [1, 30, 365])
    def test_the_lifetime_is_the_requested_days_backdated_for_clock_skew(
        self, ca: Issued, days: int
    ) -> None:
        leaf = x509.load_pem_x509_certificate(
            make_serving_cert(ca, "hook", "qb", days=days, now=NOW).cert_pem
        )

        assert leaf.not_valid_before_utc == NOW - CLOCK_SKEW
        assert leaf.not_valid_after_utc == NOW + datetime.timedelta(days=days)

    @pytest.mark.parametrize("days", [0, -5])
    def test_a_lifetime_under_one_day_is_refused(self, ca: Issued, days: int) -> None:
        with pytest.raises(CertificateError, match="at least one day"):
            make_serving_cert(ca, "hook", "qb", days=days)

    def test_a_ca_whose_key_does_not_match_is_refused(self, ca: Issued) -> None:
        other = make_ca()

        with pytest.raises(CertificateError, match="does not belong"):
            make_serving_cert(Issued(ca.cert_pem, other.key_pem), "hook", "qb")

    def test_garbage_instead_of_a_ca_is_refused(self) -> None:
        with pytest.raises(CertificateError, match="does not load"):
            make_serving_cert(Issued(b"junk", b"junk"), "hook", "qb")


class TestRealHandshake:
    @pytest.mark.parametrize("key_type", ["ecdsa-p256", "rsa-2048"])
    async def test_a_client_trusting_only_the_ca_verifies_the_service_name_and_the_ip(
        self, tmp_path: Path, key_type: KeyType
    ) -> None:
        ca = make_ca(key_type=key_type)
        serving = make_serving_cert(ca, "hook", "qb", ip_addresses=["127.0.0.1"], key_type=key_type)
        files = write_serving_files(tmp_path, ca.cert_pem, serving)
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_context.load_cert_chain(files.cert, files.key)

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"hello")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_context)
        port = server.sockets[0].getsockname()[1]
        client_context = ssl.create_default_context(cafile=str(files.ca_cert))
        try:
            for server_name in ("hook.qb.svc", "hook.qb.svc.cluster.local", "127.0.0.1"):
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(
                        "127.0.0.1", port, ssl=client_context, server_hostname=server_name
                    ),
                    timeout=5,
                )
                assert await asyncio.wait_for(reader.read(), timeout=5) == b"hello"
                writer.close()
            with pytest.raises(ssl.SSLCertVerificationError):
                await asyncio.wait_for(
                    asyncio.open_connection(
                        "127.0.0.1", port, ssl=client_context, server_hostname="other.qb.svc"
                    ),
                    timeout=5,
                )
        finally:
            server.close()
            await server.wait_closed()
