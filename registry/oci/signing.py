"""The registry's RS256 signing key and compact JWTs, with `cryptography` and nothing else.

Quay signs registry tokens with an instance service key whose id travels as the JWT header `kid`.
The registry core makes one 2048-bit RSA key on first start, keeps it in the data directory (mode
0600) so tokens stay valid across restarts, and derives the `kid` as the key's RFC 7638 JWK
thumbprint (43 base64url characters, the same shape as Quay's). Signing and verifying are pure
functions of a key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from registry import boundedjson

KEY_FILE = "oci-signing-key.pem"


class TokenError(ValueError):
    """A JWT that is malformed, signed by an unknown key, or fails its signature check."""


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JOSE uses."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url (raises TokenError on garbage)."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise TokenError("malformed base64url segment") from exc


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class SigningKey:
    """An RSA private key and its `kid`."""

    private_key: rsa.RSAPrivateKey
    kid: str

    @classmethod
    def from_private_key(cls, private_key: rsa.RSAPrivateKey) -> SigningKey:
        """Wrap `private_key`, deriving its `kid` as the JWK thumbprint of the public half."""
        numbers = private_key.public_key().public_numbers()
        jwk = {"e": _int_b64(numbers.e), "kty": "RSA", "n": _int_b64(numbers.n)}
        canonical = json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()
        return cls(private_key, b64url(hashlib.sha256(canonical).digest()))

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh 2048-bit key."""
        return cls.from_private_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def load_or_create(cls, data_dir: Path) -> SigningKey:
        """Load the key kept in `data_dir`, or make one and keep it there (0600, atomically)."""
        path = data_dir / KEY_FILE
        if path.exists():
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(loaded, rsa.RSAPrivateKey):
                raise TokenError(f"{path} does not hold an RSA private key")
            return cls.from_private_key(loaded)
        key = cls.generate()
        pem = key.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, pem)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            # Two processes starting at once: the first key linked wins, the other is discarded.
            os.link(tmp, path)
        except FileExistsError:
            os.unlink(tmp)
            return cls.load_or_create(data_dir)
        os.unlink(tmp)
        return key

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact RS256 JWT of `claims` with header `{"alg","kid","typ"}`."""
        header = {"alg": "RS256", "kid": self.kid, "typ": "JWT"}
        signing_input = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = self.private_key.sign(
            signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        return signing_input + "." + b64url(signature)

    def verify(self, token: str) -> dict[str, Any]:
        """Check `token`'s header and signature and return its claims (not yet time-checked).

        Raises:
            TokenError: malformed, another algorithm or key id, or a bad signature.
        """
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenError("token is not a compact JWS")
        try:
            header = boundedjson.loads(b64url_decode(parts[0]))
            claims = boundedjson.loads(b64url_decode(parts[1]))
        except ValueError as exc:  # bad base64, not UTF-8, not JSON, or nested too deeply
            raise TokenError("token header or claims are not JSON") from exc
        if not isinstance(header, dict) or header.get("alg") != "RS256":
            raise TokenError("token is not RS256")
        if header.get("kid") != self.kid:
            raise TokenError("token signed by an unknown key")
        try:
            self.private_key.public_key().verify(
                b64url_decode(parts[2]),
                f"{parts[0]}.{parts[1]}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature as exc:
            raise TokenError("bad token signature") from exc
        if not isinstance(claims, dict):
            raise TokenError("token claims are not an object")
        return claims
