"""When a serving certificate must be renewed: with less than a third of its lifetime left.

A third leaves room for a failed renewal to be retried many times before the certificate expires
(cert-manager and kubelet use the same rule of thumb), without renewing so often that every restart
makes a new certificate.
"""

from __future__ import annotations

import datetime

from cryptography import x509

from certs.issuing import CertificateError, utcnow

RENEW_WHEN_LEFT = 1 / 3


def renewal_time(cert_pem: bytes) -> datetime.datetime:
    """Return the moment from which ``cert_pem`` should be renewed."""
    cert = _load(cert_pem)
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return end - (end - start) * RENEW_WHEN_LEFT


def needs_renewal(cert_pem: bytes, now: datetime.datetime | None = None) -> bool:
    """Return whether less than a third of the certificate's lifetime is left at ``now``."""
    return (now or utcnow()) >= renewal_time(cert_pem)


def _load(cert_pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise CertificateError(f"not a PEM certificate: {exc}") from None
