"""Test parts for the webhook: a dict-backed state view, certificates, a server in a thread.

``DictView`` is a real ``StateView`` implementation (not a mock): destinations and readiness live in
dicts, and ``ensure_now`` makes a namespace ready after a configurable delay, as the bridge does
after its Quay calls. It counts its calls so tests can see that provisioning happened once. The
selection rules are a dict too (``selected``); ``seen`` holds the labels of namespaces the
"controller" has seen (``None``: every namespace, unlabelled) and ``cluster`` what a read of a
namespace returns, each read counted in ``reads``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from certs.issuing import Issued, make_ca, make_serving_cert
from certs.storing import ServingFiles, write_serving_files
from webhook.serving import WebhookServer, WebhookSettings, start_webhook
from webhook.state_view import Destination


@dataclass
class DictView:
    """A ``StateView`` over dicts; ``ensure_now`` readies a namespace after ``provision_delay``."""

    destinations: dict[str, Destination]
    ready: set[str] = field(default_factory=set)
    provision_delay: float = 0.0
    provision_error: Exception | None = None
    provisionable: bool = True
    ensure_calls: list[str] = field(default_factory=list)
    lookups: int = 0
    selected: dict[str, Destination] = field(default_factory=dict)
    seen: dict[str, dict[str, str]] | None = None
    cluster: dict[str, dict[str, str]] = field(default_factory=dict)
    reads: list[str] = field(default_factory=list)
    read_error: Exception | None = None
    loaded: bool = True

    def rules_known(self) -> bool:
        return self.loaded

    def labels_seen(self, namespace: str) -> Mapping[str, str] | None:
        if self.seen is None:
            return {}
        return self.seen.get(namespace)

    def destination_by_rules(self, namespace: str, labels: Mapping[str, str]) -> Destination | None:
        return self.selected.get(namespace)

    async def read_namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        self.reads.append(namespace)
        if self.read_error is not None:
            raise self.read_error
        return self.cluster.get(namespace)

    def destination_for(self, namespace: str) -> Destination | None:
        self.lookups += 1
        return self.destinations.get(namespace)

    def builder_ready(self, namespace: str) -> bool:
        return namespace in self.ready

    async def ensure_now(self, namespace: str) -> None:
        self.ensure_calls.append(namespace)
        await asyncio.sleep(self.provision_delay)
        if self.provision_error is not None:
            raise self.provision_error
        if self.provisionable:
            self.ready.add(namespace)


def serving_files(
    directory: Path, ca: Issued | None = None, service: str = "quay-bridge-webhook"
) -> tuple[ServingFiles, Issued]:
    """Write a CA and a serving certificate valid for the Service and 127.0.0.1."""
    ca = ca or make_ca()
    serving = make_serving_cert(
        ca, service, "quay-bridge", dns_names=["localhost"], ip_addresses=["127.0.0.1"]
    )
    return write_serving_files(directory, ca.cert_pem, serving), ca


@dataclass
class ThreadedWebhook:
    """A webhook server running on its own event loop in a thread (for synchronous clients)."""

    server: WebhookServer
    loop: asyncio.AbstractEventLoop
    files: ServingFiles
    ca: Issued

    @property
    def url(self) -> str:
        return self.server.url


@contextmanager
def threaded_webhook(
    view: DictView, cert_dir: Path, settings: WebhookSettings | None = None
) -> Iterator[ThreadedWebhook]:
    """Run ``start_webhook`` on 127.0.0.1 in a background thread until the block ends."""
    files, ca = serving_files(cert_dir)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="webhook-loop", daemon=True)
    thread.start()
    try:
        server = asyncio.run_coroutine_threadsafe(
            start_webhook(view, "127.0.0.1", 0, cert_dir, settings), loop
        ).result(timeout=10)
        try:
            yield ThreadedWebhook(server, loop, files, ca)
        finally:
            asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
