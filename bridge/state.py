"""The controller's in-memory state of managed namespaces, and the webhook's view onto it.

The admission webhook must answer from memory, so everything it needs (the namespace's Quay
destination, whether the builder's pull secret is linked) lives here, updated by the controller as
it provisions. :class:`BridgeState` satisfies ``webhook.views.StateView`` structurally;
``ensure_now`` is delegated to a callback the controller installs, which provisions the namespace at
once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from webhook.views import Destination

BUILDER = "builder"


@dataclass
class NamespaceRecord:
    """What the controller knows about one managed namespace."""

    namespace: str
    integration: str
    organization: str
    registry_host: str
    insecure_registry: bool = False
    #: the namespace's ``metadata.uid``, which the robots' owner marker names (``ownership``)
    uid: str = ""
    scheduled_import: bool = False
    #: service account -> robot token (in memory only; never logged)
    tokens: dict[str, str] = field(default_factory=dict, repr=False)
    #: Quay side (org, robots, prototypes) known to be in place
    quay_ready: bool = False
    #: service accounts whose pull secret exists and is linked both ways
    linked: set[str] = field(default_factory=set)
    #: pull Secrets known to exist with the right content
    secrets: set[str] = field(default_factory=set)
    #: repositories known to exist with robot rights
    repositories: set[str] = field(default_factory=set)
    #: the last reconcile's error, for status counts; None when it succeeded
    error: str | None = None


class BridgeState:
    """Managed namespaces by name; implements the webhook's ``StateView``."""

    def __init__(self) -> None:
        self.records: dict[str, NamespaceRecord] = {}
        self._ensure: Callable[[str], Awaitable[None]] | None = None

    def install_ensure(self, ensure: Callable[[str], Awaitable[None]]) -> None:
        """Set the coroutine ``ensure_now`` runs (the controller's immediate reconcile)."""
        self._ensure = ensure

    def destination_for(self, namespace: str) -> Destination | None:
        """Return where Builds of ``namespace`` push; None when the namespace is unmanaged."""
        record = self.records.get(namespace)
        if record is None:
            return None
        return Destination(
            registry_host=record.registry_host,
            organization=record.organization,
            insecure_registry=record.insecure_registry,
            scheduled_import=record.scheduled_import,
        )

    def builder_ready(self, namespace: str) -> bool:
        """Return whether the builder service account has its Quay pull secret linked."""
        record = self.records.get(namespace)
        return record is not None and BUILDER in record.linked

    async def ensure_now(self, namespace: str) -> None:
        """Provision ``namespace`` now; returns when the reconcile finished (or failed)."""
        if self._ensure is not None:
            await self._ensure(namespace)

    def for_integration(self, integration: str) -> list[NamespaceRecord]:
        """Return the records of one integration."""
        return [r for r in self.records.values() if r.integration == integration]
