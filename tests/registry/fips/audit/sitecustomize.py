"""Records every use of a cryptographic entry point in a registry core, approved or not.

Loaded by a registry core started with this directory on ``PYTHONPATH``; the records go to the JSON
Lines file named by ``QUAY_CRYPTO_AUDIT``.

Python's audit hooks do not see ``hashlib``, ``hmac`` or ``cryptography``, so their entry points
are wrapped here, before the registry core imports anything: the module attributes the registry
calls through (``hashlib.scrypt``, ``hmac.digest``, ``rsa.generate_private_key``...) are replaced
by recording wrappers around the originals, and ``Fernet`` and ``AESGCM`` by recording proxies.
Each record says whether FIPS 140-3 approves the primitive as used (the hash name, the key size,
the curve); Fernet encryption is recorded as not selected (FIPS mode seals with AES-GCM), Fernet
decryption as approved (AES-CBC and HMAC-SHA256, reading values sealed before the switch).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable
from typing import Any

_LOG = os.environ.get("QUAY_CRYPTO_AUDIT")
_SHA2 = {"sha224", "sha256", "sha384", "sha512", "sha512_224", "sha512_256"}
_SHA3 = {"sha3_224", "sha3_256", "sha3_384", "sha3_512"}
_APPROVED_HASHES = _SHA2 | _SHA3


def _record(primitive: str, approved: bool) -> None:
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"primitive": primitive, "approved": approved}) + "\n")


def _hash_name(value: Any) -> str:
    if isinstance(value, str):
        return value.lower().replace("-", "_")
    name = getattr(value, "name", None) or getattr(value, "__name__", "")
    return str(name).lower().replace("openssl_", "").replace("-", "_")


def _wrap(module: Any, attribute: str, judge: Callable[..., tuple[str, bool]]) -> None:
    original = getattr(module, attribute)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        primitive, approved = judge(*args, **kwargs)
        _record(primitive, approved)
        return original(*args, **kwargs)

    setattr(module, attribute, wrapper)


def _install() -> None:
    for name in sorted(_APPROVED_HASHES & set(dir(hashlib))):
        _wrap(hashlib, name, lambda *a, _n=name, **k: (f"hashlib.{_n}", True))
    for name in ("md5", "sha1", "blake2b", "blake2s"):
        _wrap(hashlib, name, lambda *a, _n=name, **k: (f"hashlib.{_n}", False))
    _wrap(hashlib, "scrypt", lambda *a, **k: ("hashlib.scrypt", False))
    _wrap(
        hashlib,
        "new",
        lambda name, *a, **k: (
            f"hashlib.new:{_hash_name(name)}",
            _hash_name(name) in _APPROVED_HASHES,
        ),
    )
    _wrap(
        hashlib,
        "pbkdf2_hmac",
        lambda name, *a, **k: (f"pbkdf2_hmac:{_hash_name(name)}", _hash_name(name) in _SHA2),
    )
    _wrap(
        hmac,
        "new",
        lambda key, msg=None, digestmod="", **k: (
            f"hmac:{_hash_name(digestmod)}",
            _hash_name(digestmod) in _APPROVED_HASHES,
        ),
    )
    _wrap(
        hmac,
        "digest",
        lambda key, msg, digest: (
            f"hmac:{_hash_name(digest)}",
            _hash_name(digest) in _APPROVED_HASHES,
        ),
    )

    from cryptography import fernet
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.ciphers import aead

    _wrap(
        rsa,
        "generate_private_key",
        lambda public_exponent=65537, key_size=0, *a, **k: (f"rsa-{key_size}", key_size >= 2048),
    )
    curves = {"secp256r1", "secp384r1", "secp521r1"}
    _wrap(
        ec,
        "generate_private_key",
        lambda curve, *a, **k: (f"ec:{curve.name}", curve.name in curves),
    )

    class RecordingFernet(fernet.Fernet):
        def encrypt(self, data: bytes) -> bytes:
            _record("fernet.encrypt", False)
            return super().encrypt(data)

        def decrypt(self, token: bytes | str, ttl: int | None = None) -> bytes:
            _record("fernet.decrypt", True)
            return super().decrypt(token, ttl)

    real_gcm = aead.AESGCM

    class RecordingAESGCM:
        def __init__(self, key: bytes) -> None:
            _record(f"aes-{len(key) * 8}-gcm", len(key) in (16, 24, 32))
            self._inner = real_gcm(key)

        def encrypt(self, nonce: bytes, data: bytes, associated: bytes | None) -> bytes:
            _record("aesgcm.encrypt", True)
            return self._inner.encrypt(nonce, data, associated)

        def decrypt(self, nonce: bytes, data: bytes, associated: bytes | None) -> bytes:
            _record("aesgcm.decrypt", True)
            return self._inner.decrypt(nonce, data, associated)

    fernet.Fernet = RecordingFernet  # type: ignore[misc]
    aead.AESGCM = RecordingAESGCM  # type: ignore[misc, assignment]


if _LOG:
    _install()
