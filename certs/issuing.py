"""Making a CA and the webhook's serving certificate, as pure functions over PEM bytes.

The API server calls the webhook at ``https://<svc>.<ns>.svc`` and checks the certificate against
the ``caBundle`` of the MutatingWebhookConfiguration, so the webhook needs a small private CA and a
serving certificate whose SANs cover every name the Service is reached by. Nothing here touches the
filesystem or the clock unless asked: ``now`` is a parameter, so tests decide what time it is.
The default key is ECDSA P-256 (small, fast handshakes); RSA 2048 is there for old clients.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KeyType = Literal["ecdsa-p256", "rsa-2048"]
KEY_TYPES: tuple[KeyType, ...] = ("ecdsa-p256", "rsa-2048")

#: Backdating of ``notBefore``, so a peer whose clock runs a little behind still accepts the cert.
CLOCK_SKEW = datetime.timedelta(minutes=5)

DEFAULT_CA_DAYS = 3650
DEFAULT_SERVING_DAYS = 365

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class CertificateError(ValueError):
    """Input that cannot make a certificate (bad name, bad address, unusable CA)."""


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, both PEM-encoded."""

    cert_pem: bytes
    key_pem: bytes


def utcnow() -> datetime.datetime:
    """Return the current time, timezone-aware (the default for ``now`` parameters)."""
    return datetime.datetime.now(datetime.UTC)


def service_dns_names(service: str, namespace: str) -> list[str]:
    """Return the four names a Service is reached by inside a cluster, shortest first."""
    if not service or not namespace:
        raise CertificateError("service and namespace must not be empty")
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]


def make_key(key_type: KeyType = "ecdsa-p256") -> PrivateKey:
    """Return a new private key of ``key_type``."""
    if key_type == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa-2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise CertificateError(f"unknown key type {key_type!r}; choose one of {', '.join(KEY_TYPES)}")


def make_ca(
    common_name: str = "quay-bridge webhook CA",
    *,
    days: int = DEFAULT_CA_DAYS,
    key_type: KeyType = "ecdsa-p256",
    now: datetime.datetime | None = None,
) -> Issued:
    """Return a self-signed CA that may sign serving certificates only (path length 0)."""
    _check_days(days)
    key = make_key(key_type)
    start = (now or utcnow()) - CLOCK_SKEW
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + CLOCK_SKEW + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def make_serving_cert(
    ca: Issued,
    service: str,
    namespace: str,
    *,
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
    days: int = DEFAULT_SERVING_DAYS,
    key_type: KeyType = "ecdsa-p256",
    now: datetime.datetime | None = None,
) -> Issued:
    """Return a serving certificate signed by ``ca`` for the Service and any extra names.

    Args:
        ca: the signing CA (certificate and key).
        service: the Service name; its four cluster names are always SANs.
        namespace: the Service's namespace.
        dns_names: extra DNS SANs (for example ``localhost``).
        ip_addresses: extra IP SANs (for example ``127.0.0.1``), IPv4 or IPv6.
        days: lifetime in days.
        key_type: the serving key's algorithm.
        now: the issuing time (defaults to the current time).

    Raises:
        CertificateError: on an empty name, a bad IP address, or a CA that does not load.
    """
    _check_days(days)
    ca_cert, ca_key = load_issued(ca)
    names = _unique([*service_dns_names(service, namespace), *dns_names])
    if any(not name or any(c.isspace() for c in name) for name in names):
        raise CertificateError("DNS names must be non-empty and contain no spaces")
    addresses = [_ip(text) for text in ip_addresses]
    key = make_key(key_type)
    start = (now or utcnow()) - CLOCK_SKEW
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in names]
    sans += [x509.IPAddress(address) for address in addresses]
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[2])]))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + CLOCK_SKEW + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False, rsa_key=key_type == "rsa-2048"), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def load_issued(issued: Issued) -> tuple[x509.Certificate, PrivateKey]:
    """Load a PEM certificate and key, checking the key belongs to the certificate."""
    try:
        cert = x509.load_pem_x509_certificate(issued.cert_pem)
        key = serialization.load_pem_private_key(issued.key_pem, password=None)
    except ValueError as exc:
        raise CertificateError(f"certificate or key does not load: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CertificateError("only ECDSA and RSA keys are supported")
    if _spki(key.public_key()) != _spki(cert.public_key()):
        raise CertificateError("the key does not belong to the certificate")
    return cert, key


def subject_alternative_names(cert_pem: bytes) -> tuple[list[str], list[str]]:
    """Return the DNS names and IP addresses a certificate is valid for."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    dns = sans.get_values_for_type(x509.DNSName)
    ips = [str(address) for address in sans.get_values_for_type(x509.IPAddress)]
    return dns, ips


def _key_usage(*, ca: bool, rsa_key: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=rsa_key,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _spki(public: PublicKeyTypes) -> bytes:
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise CertificateError(f"not an IP address: {text!r}") from None


def _check_days(days: int) -> None:
    if days < 1:
        raise CertificateError(f"lifetime must be at least one day, not {days}")


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))
