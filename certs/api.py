"""The few API-server calls the webhook's self-managed certificates need, as an async Protocol.

``certs`` imports no other quay-bridge package, yet the operator makes these calls through its own
client (``bridge.kube.cluster.Cluster``, which satisfies :class:`CertificateApi`) rather than the
official ``kubernetes`` client, which the operator process does not load. The standalone
``quay-bridge certs`` command keeps using the official client (``certs.official_client``), as a
:class:`WebhookConfigurations` transport of the same injection loop.
"""

from __future__ import annotations

from typing import Any, Protocol


class WebhookConfigurations(Protocol):
    """Read and JSON-patch a MutatingWebhookConfiguration: the transport of the caBundle injection.

    :func:`certs.injecting.inject_ca_bundle` is the one read-patch-retry loop; what carries its two
    calls is this collaborator: the operator's own client, or the official client behind
    ``quay-bridge certs inject-cabundle --name`` (``certs.official_client``). Objects are plain
    dicts as the API server sends them. A failed call raises an exception with an integer ``status``
    attribute, the HTTP status (0 when the server did not answer).
    """

    async def read_mutating_webhook_configuration(self, name: str) -> dict[str, Any]:
        """Return the MutatingWebhookConfiguration ``name``."""
        ...

    async def patch_mutating_webhook_configuration(
        self, name: str, operations: list[dict[str, Any]]
    ) -> None:
        """Apply a JSON Patch to the MutatingWebhookConfiguration ``name``."""
        ...


class CertificateApi(WebhookConfigurations, Protocol):
    """Read, create and replace a Secret; read and JSON-patch a MutatingWebhookConfiguration.

    Objects are plain dicts as the API server sends them. A failed call raises an exception with
    an integer ``status`` attribute, the HTTP status (0 when the server did not answer).
    """

    async def read_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """Return the Secret, or None when it does not exist."""
        ...

    async def create_secret(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a Secret (a 409 when it exists)."""
        ...

    async def replace_secret(self, namespace: str, name: str, body: dict[str, Any]) -> None:
        """Replace a Secret (a 409 when ``body``'s resourceVersion is not the latest)."""
        ...


def status_of(error: BaseException) -> int | None:
    """Return the HTTP status a failed API call carries (0: no answer); None for other errors."""
    status = getattr(error, "status", None)
    return status if isinstance(status, int) else None
