"""kopf handlers: thin adapters from kopf to :class:`bridge.controller.composition.Controller`.

kopf logs the operator in, runs its start-up and clean-up, and follows the QuayIntegrations (and,
through ``bridge.builds.completion``, the Builds). The numerous objects (Namespaces,
ServiceAccounts, pull Secrets, ImageStreams, and the integrations' credentials and CA bundles) are
followed by the controller's own informers (:mod:`bridge.kube.watching`), which cost a fraction of
kopf's per-event processing. ``on.event`` handlers only: unlike kopf's create/update handlers they
store no progress annotations on the objects, so the bridge makes no Kubernetes write kopf would
add. Importing this module registers the handlers in kopf's default registry.
"""

from __future__ import annotations

import dataclasses
import logging
import ssl
from typing import Any

import kopf

import bridge.builds.completion  # noqa: F401  (registers the Build completion handlers)
from bridge.controller.composition import Controller
from bridge.kube.connection import pin_server_name
from certs.tlspolicy import restrict_to_approved

log = logging.getLogger(__name__)

MEMO_KEY = "controller"


def _controller(memo: Any) -> Controller:
    controller = memo.get(MEMO_KEY) if hasattr(memo, "get") else None
    if not isinstance(controller, Controller):
        raise kopf.PermanentError("the operator was started without a controller in its memo")
    return controller


def _event_type(event: Any) -> str:
    kind = event.get("type") if isinstance(event, dict) else None
    return str(kind or "ADDED")


class WatchOnlyDiffBase(kopf.DiffBaseStorage):
    """No diff base: every handler here is ``on.event``, so kopf needs no last-handled state.

    kopf would otherwise deep-copy every body of every watched object to compute a diff that no
    handler reads; with thousands of Secrets and ServiceAccounts that is a large share of the CPU.
    """

    def build(self, *, body: Any, extra_fields: Any = None) -> Any:
        """Return an empty essence (nothing is compared)."""
        return {}

    def fetch(self, *, body: Any) -> Any:
        """Nothing is stored."""
        return None

    def store(self, *, body: Any, patch: Any, essence: Any) -> None:
        """Store nothing (and so write nothing onto the objects)."""


@dataclasses.dataclass(frozen=True)
class _BridgeConnectionInfo(kopf.ConnectionInfo):
    """kopf's connection info with the operator's TLS choices.

    ``tls_server_name``: verify the server under that name (kubeconfig ``tls-server-name``)
    instead of the URL's host; ``fips``: only approved TLS (``certs.tlspolicy``).
    """

    tls_server_name: str = ""
    fips: bool = False

    def as_ssl_context(self) -> ssl.SSLContext:
        """Return kopf's context with the operator's name pinning and TLS restrictions."""
        context = super().as_ssl_context()
        if self.tls_server_name:
            context = pin_server_name(context, self.tls_server_name)
        if self.fips:
            restrict_to_approved(context)
        return context


@kopf.on.login()
def login(memo: Any, **_: Any) -> kopf.ConnectionInfo:
    """Log kopf in with the operator's own connection (``--kubeconfig`` or in-cluster).

    Called again by kopf when the API server answers 401, so a rotated token file is read anew.
    """
    connection = _controller(memo).cluster.connection
    token = connection.bearer_token()
    settings: dict[str, Any] = {
        "server": connection.server,
        "ca_path": connection.ca_path,
        "ca_data": connection.ca_data,
        "insecure": connection.insecure or None,
        "scheme": "Bearer" if token else None,
        "token": token,
        "username": None if token else connection.username,
        "password": None if token else connection.password,
        "certificate_path": connection.certificate_path,
        "certificate_data": connection.certificate_data,
        "private_key_path": connection.key_path,
        "private_key_data": connection.key_data,
    }
    if connection.uses_tls and (connection.tls_server_name or connection.fips):
        return _BridgeConnectionInfo(
            **settings, tls_server_name=connection.tls_server_name or "", fips=connection.fips
        )
    return kopf.ConnectionInfo(**settings)


@kopf.on.startup()
async def startup(memo: Any, settings: kopf.OperatorSettings, **_: Any) -> None:
    """Load existing integrations before the watches start, then start the controller's loops."""
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 330
    settings.persistence.diffbase_storage = WatchOnlyDiffBase()
    await _controller(memo).start(follow=True)


@kopf.on.cleanup()
async def cleanup(memo: Any, **_: Any) -> None:
    """Stop the controller's loops and close its Quay clients."""
    await _controller(memo).stop()


@kopf.on.event("quay.redhat.com", "v1", "quayintegrations")
async def integration_event(event: Any, body: kopf.Body, memo: Any, **_: Any) -> None:
    """A QuayIntegration changed."""
    await _controller(memo).on_integration(_event_type(event), dict(body))
