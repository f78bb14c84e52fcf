"""The official kubernetes client as the transport of the caBundle injection.

Used by ``quay-bridge certs inject-cabundle --name`` (and tests). The read-patch-retry loop is
:func:`certs.injecting.inject_ca_bundle`, the same the operator runs through its own client; this
module only says how the official (blocking) client reads and patches the configuration, each
call on a worker thread so the loop's event loop is never blocked.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubernetes import client

from certs.injecting import inject_ca_bundle


class OfficialWebhookConfigurations:
    """Reads and JSON-patches MutatingWebhookConfigurations through a ``kubernetes`` ApiClient.

    A failed call raises ``kubernetes.client.exceptions.ApiException``, whose ``status`` is the
    HTTP status the loop checks (see :class:`certs.api.WebhookConfigurations`).
    """

    def __init__(self, api_client: Any) -> None:
        self._client = api_client
        self._api = client.AdmissionregistrationV1Api(api_client)

    async def read_mutating_webhook_configuration(self, name: str) -> dict[str, Any]:
        """Return the configuration ``name`` as the API server sends it (a plain dict)."""
        live = await asyncio.to_thread(self._api.read_mutating_webhook_configuration, name)
        return dict(self._client.sanitize_for_serialization(live))

    async def patch_mutating_webhook_configuration(
        self, name: str, operations: list[dict[str, Any]]
    ) -> None:
        """Apply the JSON Patch ``operations`` to the configuration ``name``."""
        await asyncio.to_thread(
            self._api.patch_mutating_webhook_configuration,
            name,
            operations,
            _content_type="application/json-patch+json",
        )


def patch_live_ca_bundle(
    api_client: Any, name: str, ca_pem: bytes, *, webhook: str | None = None
) -> int:
    """Run :func:`certs.injecting.inject_ca_bundle` through ``api_client``, from blocking code.

    ``api_client`` is a configured ``kubernetes.client.ApiClient``; the other arguments and the
    answer (how many webhooks were updated) are the loop's. A failed read or patch raises the
    client's ``ApiException``.
    """
    transport = OfficialWebhookConfigurations(api_client)
    return asyncio.run(inject_ca_bundle(transport, name, ca_pem, webhook=webhook))
