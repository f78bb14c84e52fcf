"""Which cryptographic algorithms the registry core uses, and what FIPS mode allows.

Outside FIPS mode nothing changes from earlier releases: passwords get scrypt, secrets are sealed
with Fernet. With ``FEATURE_FIPS: true`` (or ``serve --fips``) only FIPS-approved algorithms are
chosen: PBKDF2-HMAC-SHA256 for passwords, AES-256-GCM for sealing, HMAC-SHA256 for token digests,
RSA of at least 2048 bits with SHA-256 for registry tokens, SHA-2 content digests. Selection is
pure and checked once at start-up, so a server configured for something FIPS mode forbids refuses
to start with a message that names the setting, instead of failing on the first login.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

PasswordScheme = Literal["scrypt", "pbkdf2_sha256"]
PASSWORD_SCHEMES: tuple[PasswordScheme, ...] = get_args(PasswordScheme)
#: Password schemes built on FIPS-approved primitives (SP 800-132).
APPROVED_PASSWORD_SCHEMES = frozenset({"pbkdf2_sha256"})
#: Content digest algorithms FIPS 180-4 approves that the OCI spec registers.
APPROVED_DIGESTS = frozenset({"sha256", "sha512"})
MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class Algorithms:
    """The algorithm choices of one registry core.

    Attributes:
        fips: FIPS mode: only approved algorithms are used, and credentials whose check would
            need another one are refused.
        password_scheme: how new password hashes are made; ``pbkdf2_sha256`` under FIPS, else
            ``scrypt`` unless configured (``PASSWORD_HASH_ALGORITHM``). Setting ``pbkdf2_sha256``
            without FIPS is how a registry moves its users over before FIPS is switched on: every
            successful login rehashes with the configured scheme.
    """

    fips: bool = False
    password_scheme: PasswordScheme = "scrypt"

    @classmethod
    def select(cls, *, fips: bool, password_scheme: str | None = None) -> Algorithms:
        """The choices for ``fips``, with ``password_scheme`` when configured (not checked here)."""
        default: PasswordScheme = "pbkdf2_sha256" if fips else "scrypt"
        chosen = password_scheme or default
        return cls(fips=fips, password_scheme=chosen)  # type: ignore[arg-type]

    def problems(self) -> list[str]:
        """What in these choices FIPS mode (or plain validity) forbids; empty when fine."""
        if self.password_scheme not in PASSWORD_SCHEMES:
            return [
                f"PASSWORD_HASH_ALGORITHM {self.password_scheme!r} is not one of "
                f"{', '.join(PASSWORD_SCHEMES)}"
            ]
        if self.fips and self.password_scheme not in APPROVED_PASSWORD_SCHEMES:
            return [
                f"PASSWORD_HASH_ALGORITHM {self.password_scheme} is not FIPS-approved: use "
                "pbkdf2_sha256 (or remove the setting) with FEATURE_FIPS"
            ]
        return []

    def can_verify(self, scheme: str) -> bool:
        """Whether a stored password hash of ``scheme`` may be checked at all."""
        if scheme not in PASSWORD_SCHEMES:
            return False
        return not self.fips or scheme in APPROVED_PASSWORD_SCHEMES

    def rsa_key_problem(self, bits: int) -> str | None:
        """Why an RSA signing key of ``bits`` is not acceptable, or None."""
        if self.fips and bits < MIN_RSA_BITS:
            return f"an RSA key of {bits} bits; FIPS mode needs at least {MIN_RSA_BITS}"
        return None
