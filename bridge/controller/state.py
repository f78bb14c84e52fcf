"""The controller's in-memory state of managed namespaces, and the webhook's view onto it.

The admission webhook must answer from memory, so everything it needs (the namespace's Quay
destination, whether the builder's pull secret is linked) lives here, updated by the controller as
it provisions. :class:`BridgeState` satisfies ``webhook.state_view.StateView`` structurally;
``ensure_now`` is delegated to a callback the controller installs, which provisions the namespace at
once; so are the selection rules for namespaces without a record yet (:class:`NamespaceRules`,
the controller's integrations and its namespace cache), which the webhook uses so that a namespace
created a moment ago is never taken for an unmanaged one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from bridge.model.naming import NamespaceNames
from webhook.state_view import Destination

BUILDER = "builder"


@dataclass
class NamespaceRecord:
    """What the controller knows about one managed namespace."""

    namespace: str
    integration: str
    #: the organization, robot and pull Secret names, computed once from the integration's spec
    names: NamespaceNames
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

    @property
    def organization(self) -> str:
        """The namespace's Quay organization."""
        return self.names.organization


class NamespaceRules(Protocol):
    """The controller's side of the webhook's selection questions (``webhook.state_view``)."""

    def rules_known(self) -> bool:
        """Whether every QuayIntegration has been loaded."""
        ...

    def labels_seen(self, namespace: str) -> Mapping[str, str] | None:
        """The labels of a namespace in the controller's cache; ``None`` when not seen."""
        ...

    def destination_by_rules(self, namespace: str, labels: Mapping[str, str]) -> Destination | None:
        """Where the namespace's Builds push if exactly one integration selects it."""
        ...

    async def read_namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        """One GET of the namespace; ``None`` when it does not exist."""
        ...


class BridgeState:
    """Managed namespaces by name; implements the webhook's ``StateView``."""

    def __init__(self) -> None:
        self.records: dict[str, NamespaceRecord] = {}
        self._ensure: Callable[[str], Awaitable[None]] | None = None
        self._rules: NamespaceRules | None = None

    def install_ensure(self, ensure: Callable[[str], Awaitable[None]]) -> None:
        """Set the coroutine ``ensure_now`` runs (the controller's immediate reconcile)."""
        self._ensure = ensure

    def install_rules(self, rules: NamespaceRules) -> None:
        """Set who answers the selection questions (the controller)."""
        self._rules = rules

    def rules_known(self) -> bool:
        """Whether the integrations are loaded (never, until the controller installed its rules)."""
        return self._rules is not None and self._rules.rules_known()

    def labels_seen(self, namespace: str) -> Mapping[str, str] | None:
        """The labels of a namespace the controller has seen; ``None`` when it has not."""
        return None if self._rules is None else self._rules.labels_seen(namespace)

    def destination_by_rules(self, namespace: str, labels: Mapping[str, str]) -> Destination | None:
        """Where builds of ``namespace`` would push by the integrations' rules; None: unselected."""
        return None if self._rules is None else self._rules.destination_by_rules(namespace, labels)

    async def read_namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        """Read the namespace once (the controller remembers it); ``None`` when it is absent."""
        if self._rules is None:
            raise RuntimeError("the controller has not started")
        return await self._rules.read_namespace_labels(namespace)

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
