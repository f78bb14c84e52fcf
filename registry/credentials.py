"""Secrets at rest: random tokens, sealed robot tokens, keyed token hashes and password hashes.

Robot tokens must be shown again on every GET (as Quay does), so they are sealed rather than hashed:
with Fernet, or with AES-256-GCM in FIPS mode (``registry.algorithms``). Both kinds of sealed value
are always read back, so switching FIPS mode on or off loses nothing. OAuth tokens are only
compared, so they are stored as HMAC-SHA256 digests: a keyed hash is as safe as a password hash for
160-bit random tokens and is cheap, where Quay's bcrypt check on every request is slow by design and
bounds its request rate (docs/registry.md#secrets); HMAC-SHA256 is FIPS-approved, so these digests
need no migration. Passwords get scrypt, or PBKDF2-HMAC-SHA256 (600,000 iterations) when chosen or
in FIPS mode; a hash records its scheme, and a successful login rehashes with the configured one.
The keys live in ``<data-dir>/secret.key`` (mode 0600), created on first start; the AES-GCM key is
derived from them with HKDF-SHA256, so the file is the same in both modes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import string
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from registry.algorithms import Algorithms, PasswordScheme

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
#: PBKDF2-HMAC-SHA256 iterations for new password hashes (OWASP's 2023 figure for this hash).
PBKDF2_ITERATIONS = 600_000
#: Prefix of values sealed with AES-256-GCM (Fernet tokens start with ``gAAAAA``).
GCM_PREFIX = "aesgcm1."
_GCM_INFO = b"quay-registry seal aes-256-gcm v1"


def random_token(length: int) -> str:
    """A random ``[A-Z0-9]`` string from the system CSPRNG (Quay's ``random_string_generator``).

    One ``token_bytes`` call and a byte translation instead of a ``secrets.choice`` per symbol
    (a 64-symbol robot token took 64 calls into the CSPRNG).
    """
    token = b""
    while len(token) < length:
        token += secrets.token_bytes(length - len(token) + 8).translate(_BYTE_TO_SYMBOL, _REJECTED)
    return token[:length].decode()


def hash_password(password: str, scheme: PasswordScheme = "scrypt") -> str:
    """Hash a password with ``scheme``; the result names the scheme and embeds its salt."""
    salt = os.urandom(16)
    if scheme == "pbkdf2_sha256":
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PBKDF2_ITERATIONS)
        return (
            f"pbkdf2_sha256${PBKDF2_ITERATIONS}$"
            + base64.b64encode(salt).decode()
            + "$"
            + base64.b64encode(digest).decode()
        )
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def password_scheme(stored: str | None) -> str | None:
    """The scheme a stored password hash was made with (``scrypt``, ``pbkdf2_sha256``), or None."""
    if not stored or "$" not in stored:
        return None
    return stored.split("$", 1)[0]


def check_password(password: str, stored: str | None, algorithms: Algorithms | None = None) -> bool:
    """Whether ``password`` matches a ``hash_password`` result.

    A hash whose scheme ``algorithms`` may not verify (scrypt in FIPS mode) never matches: its
    check would need a primitive FIPS mode forbids.
    """
    algorithms = algorithms or Algorithms()
    scheme = password_scheme(stored)
    if stored is None or scheme is None or not algorithms.can_verify(scheme):
        return False
    try:
        if scheme == "pbkdf2_sha256":
            _, rounds, salt_b64, digest_b64 = stored.split("$", 3)
            salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
            digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, int(rounds))
        else:
            _, salt_b64, digest_b64 = stored.split("$", 2)
            salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
            digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    except ValueError:
        return False
    return hmac.compare_digest(digest, expected)


def needs_rehash(stored: str | None, algorithms: Algorithms) -> bool:
    """Whether a hash that just matched should be replaced by one of the configured scheme."""
    return password_scheme(stored) != algorithms.password_scheme


@dataclass(frozen=True)
class Keyring:
    """The server secrets (a Fernet key to seal, an HMAC key for digests) and how to use them."""

    fernet_key: bytes
    hmac_key: bytes
    algorithms: Algorithms = field(default_factory=Algorithms)

    @classmethod
    def load_or_create(cls, data_dir: Path, algorithms: Algorithms | None = None) -> Keyring:
        """Read ``secret.key`` from ``data_dir``, creating it (0600) on first use."""
        algorithms = algorithms or Algorithms()
        path = data_dir / "secret.key"
        if path.exists():
            raw = json.loads(path.read_text())
            return cls(raw["fernet"].encode(), base64.b64decode(raw["hmac"]), algorithms)
        keyring = cls(Fernet.generate_key(), os.urandom(32), algorithms)
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
            return cls.load_or_create(data_dir, algorithms)
        tmp.unlink()
        return keyring

    @cached_property
    def _fernet(self) -> Fernet:
        return Fernet(self.fernet_key)

    @cached_property
    def _aesgcm(self) -> AESGCM:
        # HKDF (SP 800-56C) over both server secrets: one more key without a change to the file.
        kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_GCM_INFO)
        return AESGCM(kdf.derive(base64.urlsafe_b64decode(self.fernet_key) + self.hmac_key))

    def seal(self, secret: str) -> str:
        """Encrypt ``secret`` for storage (AES-256-GCM in FIPS mode, else Fernet)."""
        if self.algorithms.fips:
            nonce = os.urandom(12)
            sealed = nonce + self._aesgcm.encrypt(nonce, secret.encode(), _GCM_INFO)
            return GCM_PREFIX + base64.urlsafe_b64encode(sealed).decode()
        return self._fernet.encrypt(secret.encode()).decode()

    def unseal(self, sealed: str) -> str:
        """Decrypt a ``seal`` result, whichever mode sealed it.

        Fernet values stay readable in FIPS mode: Fernet is AES-128-CBC with HMAC-SHA256, both
        approved algorithms, so robot tokens sealed before the switch keep working.

        Raises:
            ValueError: the value was not sealed with this key.
        """
        try:
            if sealed.startswith(GCM_PREFIX):
                raw = base64.urlsafe_b64decode(sealed.removeprefix(GCM_PREFIX))
                return self._aesgcm.decrypt(raw[:12], raw[12:], _GCM_INFO).decode()
            return self._fernet.decrypt(sealed.encode()).decode()
        except (InvalidToken, InvalidTag, ValueError) as error:
            raise ValueError("sealed value does not match this server's key") from error

    def digest(self, secret: str) -> str:
        """HMAC-SHA256 of ``secret`` under the server key, hex."""
        return hmac.digest(self.hmac_key, secret.encode(), "sha256").hex()
