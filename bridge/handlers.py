"""kopf handlers: thin adapters from watch events to :class:`bridge.controller.Controller`.

``on.event`` handlers only: they see the initial listing and every change, and, unlike kopf's
create/update handlers, they store no progress annotations on the objects, so the bridge makes no
Kubernetes write kopf would add. Importing this module registers the handlers in kopf's default
registry; it also imports ``bridge.builds`` so its Build handlers are registered with them.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

import bridge.builds  # noqa: F401  (registers the Build completion handlers)
from bridge.controller import Controller
from bridge.planning import MANAGED_LABEL

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


@kopf.on.login()
def login(memo: Any, **_: Any) -> kopf.ConnectionInfo:
    """Log kopf in with the same credentials as the official client (``--kubeconfig``)."""
    configuration = _controller(memo).cluster.api_client.configuration
    header = ""
    for auth in configuration.auth_settings().values():
        if auth.get("key") == "authorization" and auth.get("value"):
            header = str(auth["value"])
    scheme, _sep, token = header.partition(" ")
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        scheme=scheme or None,
        token=token or None,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
    )


@kopf.on.startup()
async def startup(memo: Any, settings: kopf.OperatorSettings, **_: Any) -> None:
    """Load existing integrations before the watches start, then start the controller's loops."""
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 330
    settings.persistence.diffbase_storage = WatchOnlyDiffBase()
    await _controller(memo).start()


@kopf.on.cleanup()
async def cleanup(memo: Any, **_: Any) -> None:
    """Stop the controller's loops and close its Quay clients."""
    await _controller(memo).stop()


@kopf.on.event("quay.redhat.com", "v1", "quayintegrations")
async def integration_event(event: Any, body: kopf.Body, memo: Any, **_: Any) -> None:
    """A QuayIntegration changed."""
    await _controller(memo).on_integration(_event_type(event), dict(body))


@kopf.on.event("", "v1", "namespaces")
async def namespace_event(event: Any, body: kopf.Body, memo: Any, **_: Any) -> None:
    """A Namespace changed."""
    await _controller(memo).on_namespace(_event_type(event), dict(body))


@kopf.on.event("", "v1", "serviceaccounts")
async def service_account_event(event: Any, body: kopf.Body, memo: Any, **_: Any) -> None:
    """A ServiceAccount changed."""
    await _controller(memo).on_service_account(_event_type(event), dict(body))


@kopf.on.event("", "v1", "secrets", labels={MANAGED_LABEL: "true"})
async def pull_secret_event(event: Any, body: kopf.Body, memo: Any, **_: Any) -> None:
    """One of the bridge's pull Secrets changed (filtered by label: no other Secret gets here)."""
    await _controller(memo).on_secret(_event_type(event), dict(body))


def _is_integration_secret(body: kopf.Body, memo: Any, **_: Any) -> bool:
    meta = body.get("metadata") or {}
    return _controller(memo).watches_object(
        "Secret", meta.get("namespace") or "", meta.get("name") or ""
    )


def _is_integration_configmap(body: kopf.Body, memo: Any, **_: Any) -> bool:
    meta = body.get("metadata") or {}
    return _controller(memo).watches_object(
        "ConfigMap", meta.get("namespace") or "", meta.get("name") or ""
    )


@kopf.on.event("", "v1", "secrets", when=_is_integration_secret)
async def integration_secret_event(event: Any, body: kopf.Body, memo: Any, **_: Any) -> None:
    """An integration's credentials or CA bundle Secret changed: reload that integration."""
    await _controller(memo).on_secret(_event_type(event), dict(body))


@kopf.on.event("", "v1", "configmaps", when=_is_integration_configmap)
async def configmap_event(event: Any, body: kopf.Body, memo: Any, **_: Any) -> None:
    """A ConfigMap changed (maybe an integration's CA bundle)."""
    await _controller(memo).on_configmap(_event_type(event), dict(body))


@kopf.on.event("image.openshift.io", "v1", "imagestreams")
async def image_stream_event(event: Any, body: kopf.Body, memo: Any, **_: Any) -> None:
    """An ImageStream changed."""
    await _controller(memo).on_image_stream(_event_type(event), dict(body))
