"""The state view the admission webhook reads, declared here so the webhook never imports bridge.

The webhook must answer every admission from memory (no API-server call per request), so it needs
a small window onto the controller's state: where a namespace's builds should push, whether the
builder secret is in place, and a way to ask for provisioning right now. A namespace the controller
has not provisioned yet (created a moment ago) is decided from the integrations' selection rules
and its labels, which the view knows when the controller has seen the namespace and otherwise reads
once: the only API-server call an admission may make. The bridge implements this
``Protocol`` from its in-memory state and hands an instance to the webhook server it starts; tests
implement it with a dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Destination:
    """Where the Builds of one managed namespace push their images.

    Attributes:
        registry_host: ``host[:port]`` of the Quay registry, as used in image references.
        organization: the Quay organization that mirrors the namespace.
        insecure_registry: the integration's ``insecureRegistry`` (``importPolicy.insecure``).
        scheduled_import: the integration's ``scheduledImageStreamImport``.
    """

    registry_host: str
    organization: str
    insecure_registry: bool = False
    scheduled_import: bool = False


class StateView(Protocol):
    """What the webhook needs to know about the controller's state, answered from memory."""

    def destination_for(self, namespace: str) -> Destination | None:
        """Return where builds of ``namespace`` push; ``None`` when the namespace is unmanaged."""
        ...

    def builder_ready(self, namespace: str) -> bool:
        """Return whether the builder service account of ``namespace`` has its Quay secret."""
        ...

    async def ensure_now(self, namespace: str) -> None:
        """Provision ``namespace`` immediately (robots, secrets, links); return when done or failed.

        The webhook bounds the wait with its own timeout and checks ``builder_ready`` afterwards,
        so this may return early or raise; either way the answer is at most "still not ready".
        """
        ...

    def rules_known(self) -> bool:
        """Return whether the integrations are loaded, so the selection rules can be applied."""
        ...

    def labels_seen(self, namespace: str) -> Mapping[str, str] | None:
        """Return the labels of a namespace the controller has seen; ``None`` when it has not."""
        ...

    def destination_by_rules(self, namespace: str, labels: Mapping[str, str]) -> Destination | None:
        """Return where builds of ``namespace`` would push by the integrations' rules (memory only).

        ``None`` when no integration (or more than one) selects the namespace with these labels.
        """
        ...

    async def read_namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        """Read the namespace from the API server (one GET); ``None`` when it does not exist.

        Raises when the read fails otherwise; the webhook then answers "not ready yet".
        """
        ...
