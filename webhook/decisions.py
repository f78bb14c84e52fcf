"""The webhook's signed record of a Build it rewrote: the operator acts only on its own decisions.

Any Build author can set annotations on a Build, so the operator cannot trust
``destination-imagestream`` by itself: a Build in namespace ``a`` annotated with ``b/app:latest``
would otherwise make the operator import into ``b``. The webhook therefore signs what it decided
with a key only the operator holds, an HMAC-SHA256 over the Build's namespace, the destination
``<namespace>/<stream>:<tag>`` and the rewritten output image, and stores it in the annotation
``vocabulary.RECORD_ANNOTATION`` as ``v1:<hex>``. The operator recomputes the HMAC from the Build as
it is when it completes and imports only when the two match: a changed namespace, destination or
output image, or a value made up by the Build's author, does not verify.

Pure: no I/O, no key management (``bridge.builds.decision_key`` keeps the key in a Secret).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Final

VERSION: Final = "v1"
#: Keys shorter than this are refused: a guessable key would make the record forgeable.
MINIMUM_KEY_BYTES: Final = 32
_DOMAIN: Final = "quay-bridge build decision"


def _message(namespace: str, destination: str, image: str) -> bytes:
    """An unambiguous encoding of the signed fields (a JSON array: no separator can be smuggled)."""
    return json.dumps([_DOMAIN, VERSION, namespace, destination, image]).encode()


def sign(key: bytes, namespace: str, destination: str, image: str) -> str:
    """Return the record of one decision: the webhook rewrote ``namespace``'s Build to ``image``.

    Args:
        key: the operator's decision key (at least :data:`MINIMUM_KEY_BYTES` bytes).
        namespace: the Build's namespace.
        destination: ``<namespace>/<stream>:<tag>``, the ImageStreamTag to import into.
        image: the DockerImage reference the Build now pushes to.

    Raises:
        ValueError: the key is too short.
    """
    if len(key) < MINIMUM_KEY_BYTES:
        raise ValueError(f"a decision key needs at least {MINIMUM_KEY_BYTES} bytes")
    digest = hmac.new(key, _message(namespace, destination, image), hashlib.sha256).hexdigest()
    return f"{VERSION}:{digest}"


def verify(key: bytes, namespace: str, destination: str, image: str, record: object) -> bool:
    """Return whether ``record`` is the webhook's record of exactly this decision."""
    if not isinstance(record, str) or len(key) < MINIMUM_KEY_BYTES:
        return False
    return hmac.compare_digest(sign(key, namespace, destination, image), record)
