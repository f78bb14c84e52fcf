"""Secrets at rest: random tokens, sealed robot tokens, keyed token hashes and password hashes.

Robot tokens must be shown again on every GET (as Quay does), so they are sealed with Fernet rather
than hashed. OAuth tokens are only compared, so they are stored as HMAC-SHA256 digests: a keyed hash
is as safe as a password hash for 160-bit random tokens and costs microseconds, where Quay's bcrypt
check on every request limits it to a few calls per second. Passwords get scrypt. The keys live in
``<data-dir>/secret.key`` (mode 0600), created on first start.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import string
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

_TOKEN_ALPHABET = string.ascii_uppercase + string.digits
# Random bytes 0..251 map onto the 36 symbols 7 times each (uniform); 252..255 are dropped.
_ACCEPTED = 252
_BYTE_TO_SYMBOL = bytes(
    _TOKEN_ALPHABET[byte % len(_TOKEN_ALPHABET)].encode()[0] for byte in range(256)
)
_REJECTED = bytes(range(_ACCEPTED, 256))
ROBOT_TOKEN_LENGTH = 64
OAUTH_TOKEN_LENGTH = 40
OAUTH_LOOKUP_LENGTH = 20


def random_token(length: int) -> str:
    """A random ``[A-Z0-9]`` string from the system CSPRNG (Quay's ``random_string_generator``).

    One ``token_bytes`` call and a byte translation instead of a ``secrets.choice`` per symbol
    (a 64-symbol robot token took 64 calls into the CSPRNG).
    """
    token = b""
    while len(token) < length:
        token += secrets.token_bytes(length - len(token) + 8).translate(_BYTE_TO_SYMBOL, _REJECTED)
    return token[:length].decode()


def hash_password(password: str) -> str:
    """Hash a password with scrypt; the result embeds its salt."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches a ``hash_password`` result."""
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt_b64, digest_b64 = stored.split("$", 2)
    salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return hmac.compare_digest(digest, expected)


@dataclass(frozen=True)
class Keyring:
    """The two server secrets: a Fernet key for sealing and an HMAC key for token digests."""

    fernet_key: bytes
    hmac_key: bytes

    @classmethod
    def load_or_create(cls, data_dir: Path) -> Keyring:
        """Read ``secret.key`` from ``data_dir``, creating it (0600) on first use."""
        path = data_dir / "secret.key"
        if path.exists():
            raw = json.loads(path.read_text())
            return cls(raw["fernet"].encode(), base64.b64decode(raw["hmac"]))
        keyring = cls(Fernet.generate_key(), os.urandom(32))
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(
                {
                    "fernet": keyring.fernet_key.decode(),
                    "hmac": base64.b64encode(keyring.hmac_key).decode(),
                },
                handle,
            )
        try:
            os.link(tmp, path)  # first writer wins when two processes start together
        except FileExistsError:
            tmp.unlink()
            return cls.load_or_create(data_dir)
        tmp.unlink()
        return keyring

    @cached_property
    def _fernet(self) -> Fernet:
        return Fernet(self.fernet_key)

    def seal(self, secret: str) -> str:
        """Encrypt ``secret`` for storage."""
        return self._fernet.encrypt(secret.encode()).decode()

    def unseal(self, sealed: str) -> str:
        """Decrypt a ``seal`` result.

        Raises:
            ValueError: the value was not sealed with this key.
        """
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as error:
            raise ValueError("sealed value does not match this server's key") from error

    def digest(self, secret: str) -> str:
        """HMAC-SHA256 of ``secret`` under the server key, hex."""
        return hmac.digest(self.hmac_key, secret.encode(), "sha256").hex()
