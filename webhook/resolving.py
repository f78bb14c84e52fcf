"""Where a Build's namespaces push, including namespaces the controller has not provisioned yet.

"Not seen yet" is never "unmanaged": a Build created a moment after its namespace reaches the
webhook before the controller has a record of the namespace. Such a namespace is decided from the
integrations' selection rules and its labels: from the controller's memory when it has seen the
namespace, else from one read of the namespace (the only API-server call an admission may make).
The webhook then holds the Build as for any namespace whose push secret is not ready.

While the operator starts and has not loaded its integrations, a namespace without a record cannot
be decided. One carrying the managed label (set by the namespace webhook or the controller) is
answered "not ready yet" (:class:`Undecided`) rather than let through to the integrated registry;
any other is left alone, as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from vocabulary import MANAGED_LABEL
from webhook.state_view import Destination, StateView


class Undecided(Exception):
    """A namespace's management cannot be decided now; the message says why (no secrets in it)."""


@dataclass
class Resolution:
    """Destinations of the namespaces an admission asked about (``None``: unmanaged).

    Attributes:
        destinations: namespace -> destination, for :func:`webhook.mutation.decide`.
        read: the namespaces read from the API server (at most one for a same-namespace Build).
    """

    destinations: dict[str, Destination | None] = field(default_factory=dict)
    read: list[str] = field(default_factory=list)

    def destination_for(self, namespace: str) -> Destination | None:
        """The lookup ``decide`` takes: ``None`` for namespaces not resolved."""
        return self.destinations.get(namespace)


async def resolve(view: StateView, namespaces: Sequence[str]) -> Resolution:
    """Resolve ``namespaces`` in order, stopping at the first unmanaged one.

    The first is the Build's own namespace; when it is unmanaged nothing else matters, so a later
    one (a cross-namespace output) is never read for it.

    Raises:
        Undecided: a namespace with the managed label while the integrations are not loaded, or
            a namespace whose read failed.
    """
    resolution = Resolution()
    for namespace in dict.fromkeys(namespaces):
        destination = await _resolve_one(view, namespace, resolution)
        resolution.destinations[namespace] = destination
        if destination is None:
            break
    return resolution


async def _resolve_one(
    view: StateView, namespace: str, resolution: Resolution
) -> Destination | None:
    known = view.destination_for(namespace)
    if known is not None:
        return known
    labels = view.labels_seen(namespace)
    if labels is None:
        resolution.read.append(namespace)
        try:
            labels = await view.read_namespace_labels(namespace)
        except (
            Exception
        ) as exc:  # any failure of the read: not decidable now, retried by the caller
            raise Undecided(
                f"namespace {namespace!r} could not be read to decide whether quay-bridge "
                f"manages it ({type(exc).__name__})"
            ) from exc
        if labels is None:
            return None
    if not view.rules_known():
        if _labelled_managed(labels):
            raise Undecided(
                f"namespace {namespace!r} is labelled as managed by quay-bridge, but the operator "
                "has not loaded its QuayIntegrations yet"
            )
        return None
    return view.destination_by_rules(namespace, labels)


def _labelled_managed(labels: Mapping[str, str]) -> bool:
    return labels.get(MANAGED_LABEL) == "true"
