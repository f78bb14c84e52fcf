"""Setting the ``caBundle`` of a live MutatingWebhookConfiguration: the one read-patch-retry loop.

Every caller goes through :func:`inject_ca_bundle` and differs only in its transport, a
:class:`certs.api.WebhookConfigurations`: the operator in self-managed mode passes its own
client (``bridge.kube.cluster.Cluster``, from ``bridge.app.webhook_server``), and ``quay-bridge
certs inject-cabundle --name`` the official client's adapter (``certs.official_client``). The patch
is planned by
:func:`certs.cabundles.ca_bundle_patch`, whose ``test`` operations make a concurrent edit fail
rather than be overwritten; the loop then reads again and re-plans.
"""

from __future__ import annotations

import logging

from certs.api import WebhookConfigurations, status_of
from certs.cabundles import ca_bundle_patch

log = logging.getLogger(__name__)

#: A concurrent edit that moves the webhooks fails the patch's ``test`` (422) or conflicts (409).
ATTEMPTS = 5


async def inject_ca_bundle(
    api: WebhookConfigurations, name: str, ca_pem: bytes, *, webhook: str | None = None
) -> int:
    """Set ``caBundle`` on the webhooks of the live configuration ``name``.

    Args:
        api: the transport: how to read and JSON-patch the configuration.
        name: the MutatingWebhookConfiguration's name.
        ca_pem: the CA certificate, PEM.
        webhook: only this webhook (default: all of them).

    Returns:
        How many webhooks were updated.

    Raises:
        Exception: what ``api`` raises when reading or patching fails for good (with ``status``),
            or after :data:`ATTEMPTS` patches raced a concurrent edit.
        certs.cabundles.InjectionError: when the configuration has no matching webhook.
    """
    for attempt in range(1, ATTEMPTS + 1):
        live = await api.read_mutating_webhook_configuration(name)
        ops = ca_bundle_patch(live, ca_pem, webhook=webhook)
        try:
            await api.patch_mutating_webhook_configuration(name, ops)
        except Exception as exc:
            if status_of(exc) in (409, 422) and attempt < ATTEMPTS:
                log.info("caBundle patch of %s raced a concurrent edit; retrying", name)
                continue
            raise
        updated = sum(1 for op in ops if op["op"] == "add")
        log.info("set caBundle on %d webhook(s) of MutatingWebhookConfiguration %s", updated, name)
        return updated
    raise AssertionError("unreachable")  # pragma: no cover
