"""Content digests: parsing `algorithm:hex` strings and hashing streams as they pass.

The registry trusts no digest a client sends: every blob and manifest is hashed while it streams to
disk, and the result is compared with the claimed digest before anything becomes visible. sha256 and
sha512 are supported, as the OCI image spec registers them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Protocol

_HEX_LENGTH = {"sha256": 64, "sha512": 128}
# OCI image-spec descriptor grammar: algorithm-component(s) ":" encoded.
_DIGEST_RE = re.compile(r"^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$")


class DigestError(ValueError):
    """A digest string that is malformed or uses an algorithm the registry does not support."""


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...
    def copy(self) -> _Hasher: ...


@dataclass(frozen=True, order=True)
class Digest:
    """A parsed, validated content digest such as `sha256:ab12…`."""

    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse and validate `text`.

        Raises:
            DigestError: malformed, unsupported algorithm, or wrong hex length/case.
        """
        match = _DIGEST_RE.match(text)
        if match is None:
            raise DigestError(f"malformed digest: {text[:80]!r}")
        algorithm, encoded = match.groups()
        expected = _HEX_LENGTH.get(algorithm)
        if expected is None:
            raise DigestError(f"unsupported digest algorithm: {algorithm[:20]!r}")
        if len(encoded) != expected or not re.fullmatch(r"[0-9a-f]+", encoded):
            raise DigestError(f"{algorithm} digest must be {expected} lowercase hex characters")
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        """The digest of `data` (sha256 unless told otherwise)."""
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())


class StreamHasher:
    """Hashes a stream with the algorithm of an expected digest while counting its bytes.

    The hasher can be copied, so an upload can keep hashing across PATCH requests without rereading
    the bytes already written.
    """

    def __init__(self, algorithm: str = "sha256") -> None:
        if algorithm not in _HEX_LENGTH:
            raise DigestError(f"unsupported digest algorithm: {algorithm[:20]!r}")
        self.algorithm = algorithm
        self._hash: _Hasher = hashlib.new(algorithm)
        self.size = 0

    def update(self, chunk: bytes) -> None:
        """Feed the next chunk of the stream."""
        self._hash.update(chunk)
        self.size += len(chunk)

    def copy(self) -> StreamHasher:
        """An independent hasher in the same state."""
        clone = StreamHasher(self.algorithm)
        clone._hash = self._hash.copy()
        clone.size = self.size
        return clone

    def digest(self) -> Digest:
        """The digest of everything fed so far."""
        return Digest(self.algorithm, self._hash.hexdigest())

    def matches(self, expected: Digest) -> bool:
        """Whether the stream so far hashes to `expected` (False for another algorithm)."""
        return expected.algorithm == self.algorithm and self.digest() == expected
