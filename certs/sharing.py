"""One self-managed CA and serving certificate shared by every replica, kept in a Secret.

In self-managed mode (no certificate mounted) the operator makes its own. Two replicas that each
made a CA would overwrite each other's ``caBundle`` and the API server would then reject whichever
replica it reached with the other's CA. So the pair lives in one Secret in the operator's namespace:
the first replica creates it, a replica that loses the create race (409) reads the winner's, and a
replica that finds the serving certificate due for renewal replaces it under optimistic concurrency
(``resourceVersion``). The CA key stays in that Secret so renewals keep the CA, and the caBundle
stays valid for replicas still serving the previous certificate.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from certs.api import CertificateApi, status_of
from certs.issuing import (
    CertificateError,
    Issued,
    load_issued,
    make_ca,
    make_serving_cert,
    service_dns_names,
    subject_alternative_names,
    utcnow,
)
from certs.renewal import needs_renewal

log = logging.getLogger(__name__)

CA_CERT, CA_KEY, TLS_CERT, TLS_KEY = "ca.crt", "ca.key", "tls.crt", "tls.key"
ATTEMPTS = 5


@dataclass(frozen=True)
class SharedCertificates:
    """The CA (with its key) and the serving certificate all replicas serve."""

    ca: Issued
    serving: Issued

    def secret_data(self) -> dict[str, str]:
        """Return the Secret's ``data`` (base64 values)."""
        raw = {
            CA_CERT: self.ca.cert_pem,
            CA_KEY: self.ca.key_pem,
            TLS_CERT: self.serving.cert_pem,
            TLS_KEY: self.serving.key_pem,
        }
        return {key: base64.b64encode(value).decode() for key, value in raw.items()}

    @classmethod
    def from_secret_data(cls, data: Mapping[str, Any] | None) -> SharedCertificates | None:
        """Return the pair a Secret holds, or ``None`` when it is incomplete or does not load."""
        if not data:
            return None
        try:
            raw = {key: base64.b64decode(data[key], validate=True) for key in _KEYS}
            shared = cls(Issued(raw[CA_CERT], raw[CA_KEY]), Issued(raw[TLS_CERT], raw[TLS_KEY]))
            load_issued(shared.ca)
            load_issued(shared.serving)
        except (KeyError, TypeError, binascii.Error, CertificateError):
            return None
        return shared


_KEYS = (CA_CERT, CA_KEY, TLS_CERT, TLS_KEY)


def replacement_for(
    existing: SharedCertificates | None,
    service: str,
    namespace: str,
    *,
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
    now: datetime.datetime | None = None,
) -> SharedCertificates | None:
    """Return new certificates when ``existing`` will not do, else ``None``.

    A missing or unreadable pair gets a new CA; a CA due for renewal too. A serving certificate
    due for renewal, or missing a required name, is re-issued from the existing CA.
    """
    now = now or utcnow()
    wanted_dns = [*service_dns_names(service, namespace), *dns_names]
    if existing is None or needs_renewal(existing.ca.cert_pem, now):
        ca = make_ca(now=now)
    else:
        dns, ips = subject_alternative_names(existing.serving.cert_pem)
        covers = set(wanted_dns) <= set(dns) and set(ip_addresses) <= set(ips)
        if covers and not needs_renewal(existing.serving.cert_pem, now):
            return None
        ca = existing.ca
    serving = make_serving_cert(
        ca, service, namespace, dns_names=dns_names, ip_addresses=ip_addresses, now=now
    )
    return SharedCertificates(ca, serving)


async def ensure_shared_certificates(
    api: CertificateApi,
    namespace: str,
    secret_name: str,
    service: str,
    *,
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
) -> SharedCertificates:
    """Return the shared certificates, creating or renewing them in the Secret when needed.

    Raises:
        Exception: what ``api`` raises (with an HTTP ``status``) when the Secret cannot be read
            or written.
    """
    for attempt in range(1, ATTEMPTS + 1):
        secret = await api.read_secret(namespace, secret_name)
        existing = SharedCertificates.from_secret_data(secret.get("data") if secret else None)
        replacement = replacement_for(
            existing, service, namespace, dns_names=dns_names, ip_addresses=ip_addresses
        )
        if replacement is None:
            assert existing is not None  # only an existing pair can be good enough
            return existing
        body = _secret_body(secret_name, namespace, replacement, secret)
        try:
            if secret is None:
                await api.create_secret(namespace, body)
            else:
                await api.replace_secret(namespace, secret_name, body)
        except Exception as exc:
            if status_of(exc) == 409 and attempt < ATTEMPTS:
                log.info(
                    "another replica wrote Secret %s/%s first; reading it", namespace, secret_name
                )
                continue
            raise
        log.info(
            "stored the webhook's self-managed certificate in Secret %s/%s", namespace, secret_name
        )
        return replacement
    raise AssertionError("unreachable")  # pragma: no cover


def _secret_body(
    name: str, namespace: str, shared: SharedCertificates, current: Mapping[str, Any] | None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": {"app.kubernetes.io/name": "quay-bridge"},
    }
    if current is not None:
        metadata["resourceVersion"] = current["metadata"]["resourceVersion"]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "Opaque",
        "data": shared.secret_data(),
    }
