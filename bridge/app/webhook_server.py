"""Starting the admission webhook inside ``quay-bridge run``, with its certificate.

The bridge owns the state the webhook reads, so the webhook runs in the operator's process; this
module is the one place the bridge touches the webhook. Two certificate modes:

- mounted: ``--cert-dir`` holds ``tls.crt`` and ``tls.key`` (OpenShift's service CA, OLM,
  cert-manager or ``quay-bridge certs generate``); they are served and re-read when rotated, and
  whoever issued them keeps the ``caBundle``;
- self-managed: no certificate there. The operator makes a CA and serving certificate, shares them
  with the other replicas through a Secret in its namespace (``certs.sharing``), sets the
  MutatingWebhookConfiguration's ``caBundle`` (``certs.injecting``), and renews the certificate
  while it runs. These calls go through the operator's own client (``bridge.kube.cluster.Cluster``,
  a ``certs.api.CertificateApi``), not the official ``kubernetes`` one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from bridge.kube.home import own_namespace
from certs.api import CertificateApi, status_of
from certs.cabundles import InjectionError
from certs.injecting import inject_ca_bundle
from certs.sharing import SharedCertificates, ensure_shared_certificates, replacement_for
from certs.storing import ServingFiles, write_serving_files
from webhook.metrics import AdmissionMetrics
from webhook.serving import WebhookServer, WebhookSettings
from webhook.serving import start_webhook as start_server
from webhook.state_view import StateView

log = logging.getLogger(__name__)

#: Seconds between attempts to set a caBundle that could not be set yet.
INJECTION_RETRY_SECONDS = 30.0


@dataclass(frozen=True)
class SelfManagedSettings:
    """Names used in self-managed certificate mode (defaults match ``deploy/base``).

    Attributes:
        service: the webhook's Service (``QUAY_BRIDGE_WEBHOOK_SERVICE``); its cluster names are
            the certificate's SANs.
        namespace: the operator's namespace (``POD_NAMESPACE``), where the Service and the
            shared Secret live.
        configuration: the MutatingWebhookConfiguration whose ``caBundle`` is set
            (``QUAY_BRIDGE_WEBHOOK_CONFIGURATION``).
        secret: the Secret the replicas share the CA and certificate through
            (``QUAY_BRIDGE_WEBHOOK_SECRET``).
        renewal_check_seconds: how often a running replica checks whether the certificate is due
            for renewal (less than a third of its lifetime left). Default one hour.
        dns_names: extra DNS names in the certificate.
        ip_addresses: extra IP addresses in the certificate (``127.0.0.1`` for local callers).
    """

    service: str = field(
        default_factory=lambda: os.environ.get("QUAY_BRIDGE_WEBHOOK_SERVICE", "quay-bridge-webhook")
    )
    namespace: str = field(default_factory=own_namespace)
    configuration: str = field(
        default_factory=lambda: os.environ.get(
            "QUAY_BRIDGE_WEBHOOK_CONFIGURATION", "quay-bridge-webhook"
        )
    )
    secret: str = field(
        default_factory=lambda: os.environ.get(
            "QUAY_BRIDGE_WEBHOOK_SECRET", "quay-bridge-webhook-selfmanaged"
        )
    )
    renewal_check_seconds: float = 3600.0
    dns_names: tuple[str, ...] = ("localhost",)
    ip_addresses: tuple[str, ...] = ("127.0.0.1",)


async def start_webhook(
    view: StateView,
    *,
    host: str | Sequence[str] = "0.0.0.0",
    port: int = 9443,
    cert_dir: str | Path | None = None,
    cluster: CertificateApi | None = None,
    settings: WebhookSettings | None = None,
    self_managed: SelfManagedSettings | None = None,
    metrics_registry: CollectorRegistry | None = None,
    decision_key: bytes | None = None,
) -> WebhookServer:
    """Start the admission webhook for ``quay-bridge run``; ``await server.stop()`` ends it.

    Args:
        view: the bridge's in-memory state (``webhook.state_view.StateView``).
        host: listen address(es) (``--webhook-host``, after ``--listen-ip-version``).
        port: listen port (``--webhook-port``); 0 picks a free one, see ``server.port``.
        cert_dir: ``--cert-dir``. With ``tls.crt`` and ``tls.key`` in it they are served
            (mounted mode); otherwise the operator manages its own certificate (self-managed
            mode), written into this directory when it is writable, else into a private
            temporary one.
        cluster: the API-server calls for self-managed mode (``bridge.kube.cluster.Cluster``);
            needed in that mode only.
        settings: the webhook's timeouts and limits.
        self_managed: names for self-managed mode (defaults from the environment).
        metrics_registry: the operator's Prometheus registry, so ``/metrics`` shows the
            webhook's ``quay_bridge_admission*`` series (default: a private one).
        decision_key: the key the webhook signs its Build decisions with, the one Build
            completion verifies them with (``bridge.builds.decision_key``).

    Raises:
        ValueError: self-managed mode without a ``cluster``.
        OSError, ssl.SSLError: the certificate does not load or the port is taken.
    """
    metrics = AdmissionMetrics(metrics_registry)
    directory = Path(cert_dir) if cert_dir else None
    if directory is not None and ServingFiles(directory).exist():
        log.info("webhook serving the certificate mounted in %s", directory)
        return await start_server(view, host, port, directory, settings, metrics, decision_key)
    if cluster is None:
        raise ValueError("self-managed webhook certificates need a cluster to keep them in")
    options = self_managed or SelfManagedSettings()
    local = _writable_directory(directory)
    temporary = local != directory
    try:
        shared = await _obtain(cluster, options)
        write_serving_files(local, shared.ca.cert_pem, shared.serving)
        injected = await _inject_ca_bundle(cluster, options, shared.ca.cert_pem)
        server = await start_server(view, host, port, local, settings, metrics, decision_key)
    except BaseException:
        if temporary:
            shutil.rmtree(local, ignore_errors=True)
        raise
    renewal = _keep_renewed(cluster, options, local, shared, injected)
    server.run_alongside(_removing(local, renewal) if temporary else renewal, "webhook-renewal")
    log.info("webhook serving a self-managed certificate from %s", local)
    return server


async def _obtain(
    cluster: CertificateApi, options: SelfManagedSettings, current: SharedCertificates | None = None
) -> SharedCertificates:
    """Get the shared pair from the Secret; this replica's own if the Secret cannot be used.

    The replica's own pair is kept (``current``) until it is due for renewal, so a replica that
    cannot use the Secret does not change its CA at every check.
    """
    try:
        return await ensure_shared_certificates(
            cluster,
            options.namespace,
            options.secret,
            options.service,
            dns_names=options.dns_names,
            ip_addresses=options.ip_addresses,
        )
    except Exception as exc:
        if status_of(exc) is None:
            raise
        report = log.warning if current is None else log.debug
        report(
            "cannot keep the webhook certificate in Secret %s/%s (%s); using one made for "
            "this replica only, so several replicas would not share a caBundle",
            options.namespace,
            options.secret,
            exc,
        )
    replacement = replacement_for(
        current,
        options.service,
        options.namespace,
        dns_names=options.dns_names,
        ip_addresses=options.ip_addresses,
    )
    if replacement is None:
        assert current is not None  # only an existing pair can be good enough
        return current
    return replacement


async def _inject_ca_bundle(
    cluster: CertificateApi, options: SelfManagedSettings, ca_pem: bytes
) -> bool:
    """Set the caBundle; a failure is logged and retried later, the webhook serves meanwhile."""
    try:
        await inject_ca_bundle(cluster, options.configuration, ca_pem)
    except InjectionError as exc:
        log.warning("cannot set the caBundle of %s yet: %s", options.configuration, exc)
    except Exception as exc:
        if status_of(exc) is None:
            raise
        log.warning(
            "cannot set the caBundle of MutatingWebhookConfiguration %s yet (%s)",
            options.configuration,
            exc,
        )
    else:
        return True
    return False


async def _keep_renewed(
    cluster: CertificateApi,
    options: SelfManagedSettings,
    local: Path,
    current: SharedCertificates,
    injected: bool,
) -> None:
    """Check the shared certificate periodically; write a renewed one for the server to reload.

    A caBundle that could not be set (say the configuration was applied after the operator
    started) is tried again every ``INJECTION_RETRY_SECONDS`` until it is.
    """
    while True:
        if injected:
            await asyncio.sleep(options.renewal_check_seconds)
        else:
            await asyncio.sleep(min(options.renewal_check_seconds, INJECTION_RETRY_SECONDS))
            injected = await _inject_ca_bundle(cluster, options, current.ca.cert_pem)
        try:
            latest = await _obtain(cluster, options, current)
        except Exception as exc:  # a failed check must not end the renewal loop
            log.warning("webhook certificate renewal check failed: %s", type(exc).__name__)
            continue
        if latest.serving.cert_pem == current.serving.cert_pem:
            continue
        write_serving_files(local, latest.ca.cert_pem, latest.serving)
        if latest.ca.cert_pem != current.ca.cert_pem:
            injected = await _inject_ca_bundle(cluster, options, latest.ca.cert_pem)
        current = latest
        log.info("webhook certificate renewed")


async def _removing(directory: Path, work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` (which lasts as long as the server), then remove ``directory``.

    The server cancels its companions when it stops, so the private key written into a
    temporary directory does not outlive the process's orderly exit (Ctrl-C, SIGTERM).
    """
    try:
        await work
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _writable_directory(directory: Path | None) -> Path:
    if directory is not None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if os.access(directory, os.W_OK):
                return directory
        except OSError:
            pass
    return Path(tempfile.mkdtemp(prefix="quay-bridge-webhook-"))
