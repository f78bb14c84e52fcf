"""Setting the ``caBundle`` of a live MutatingWebhookConfiguration through the kubernetes client.

Used by ``quay-bridge certs inject-cabundle --name`` (and tests). The call is synchronous (the
official client is). The operator, which does not load the official client, uses the async
:func:`certs.injecting.inject_ca_bundle` with the same patch planning.
"""

from __future__ import annotations

import logging
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from certs.cabundles import ca_bundle_patch
from certs.injecting import ATTEMPTS

log = logging.getLogger(__name__)


def patch_live_ca_bundle(
    api_client: Any, name: str, ca_pem: bytes, *, webhook: str | None = None
) -> int:
    """Set ``caBundle`` on the webhooks of the live configuration ``name``.

    Args:
        api_client: a ``kubernetes.client.ApiClient`` configured for the cluster.
        name: the MutatingWebhookConfiguration's name.
        ca_pem: the CA certificate, PEM.
        webhook: only this webhook (default: all of them).

    Returns:
        How many webhooks were updated.

    Raises:
        kubernetes.client.exceptions.ApiException: when reading or patching fails for good.
        certs.cabundles.InjectionError: when the configuration has no matching webhook.
    """
    api = client.AdmissionregistrationV1Api(api_client)
    for attempt in range(1, ATTEMPTS + 1):
        live = api_client.sanitize_for_serialization(api.read_mutating_webhook_configuration(name))
        ops = ca_bundle_patch(live, ca_pem, webhook=webhook)
        try:
            api.patch_mutating_webhook_configuration(
                name, ops, _content_type="application/json-patch+json"
            )
        except ApiException as exc:
            if exc.status in (409, 422) and attempt < ATTEMPTS:
                log.info("caBundle patch of %s raced a concurrent edit; retrying", name)
                continue
            raise
        updated = sum(1 for op in ops if op["op"] == "add")
        log.info("set caBundle on %d webhook(s) of MutatingWebhookConfiguration %s", updated, name)
        return updated
    raise AssertionError("unreachable")  # pragma: no cover
