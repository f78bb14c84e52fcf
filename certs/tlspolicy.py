"""TLS restricted to FIPS-approved protocol versions, cipher suites and key-exchange groups.

``quay-bridge run --fips`` applies :func:`restrict_to_approved` to every TLS context the operator
makes: the admission webhook's server context, and the clients of the API server (its own and
kopf's) and of Quay. Allowed: TLS 1.2 with ECDHE and AES-GCM suites (SP 800-52r2), TLS 1.3 with
``TLS_AES_128_GCM_SHA256`` and ``TLS_AES_256_GCM_SHA384``, the P-256 group. Python's ``ssl`` can
choose TLS 1.2 suites but not TLS 1.3 ones, so TLS 1.3 stays on only where the OpenSSL library
itself offers nothing else (an OpenSSL in FIPS mode drops ChaCha20-Poly1305); elsewhere the
context stops at TLS 1.2, which every Kubernetes API server and Quay speak.
"""

from __future__ import annotations

import ssl

APPROVED_TLS12_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
)
APPROVED_TLS13_SUITES = frozenset({"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"})
APPROVED_GROUP = "prime256v1"


def unapproved_tls13_suites(context: ssl.SSLContext) -> list[str]:
    """The TLS 1.3 suites ``context`` would offer that are not approved."""
    return sorted(
        cipher["name"]
        for cipher in context.get_ciphers()
        if cipher.get("protocol") == "TLSv1.3" and cipher["name"] not in APPROVED_TLS13_SUITES
    )


def restrict_to_approved(context: ssl.SSLContext) -> ssl.SSLContext:
    """Limit ``context`` to approved versions, suites and groups; return it."""
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(":".join(APPROVED_TLS12_CIPHERS))
    context.set_ecdh_curve(APPROVED_GROUP)
    if unapproved_tls13_suites(context):
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context
