"""The Namespace mutation: a namespace an integration selects carries the managed label from birth.

The Build webhook's configuration selects namespaces by the managed label, and the controller adds
that label only after its watch has shown it the namespace, which can be after the namespace's
first Build (a script's ``oc new-project x && oc new-app ...``). Labelling the namespace in its own
CREATE admission closes that gap: the first Build already reaches the Build webhook. Pure and total
like ``webhook.mutation``: the selection rules come in as a lookup answered from memory, so this
admission makes no API-server call; any odd shape of the request means "leave it alone".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vocabulary import MANAGED_LABEL
from webhook.mutation import JsonPatchOp, escape_pointer_token
from webhook.reviews import AdmissionRequest
from webhook.state_view import Destination

SelectionLookup = Callable[[str, Mapping[str, str]], Destination | None]
#: Set on every namespace by the API server (Kubernetes 1.21 and later), always to its name.
NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class NamespaceDecision:
    """The answer for one Namespace admission: ``patch`` is empty when it is left alone."""

    reason: str
    patch: list[JsonPatchOp] = field(default_factory=list)

    @property
    def labelled(self) -> bool:
        """Whether the namespace gets the managed label."""
        return bool(self.patch)


def decide_namespace(
    request: AdmissionRequest, destination_by_rules: SelectionLookup, rules_known: bool = True
) -> NamespaceDecision:
    """Decide whether a namespace being created gets the managed label.

    Args:
        request: the validated ``request`` half of the review.
        destination_by_rules: the state view's selection lookup (``None``: not selected).
        rules_known: whether the integrations are loaded; when not, nothing is labelled and the
            controller labels the namespace once it has them (the fallback).
    """
    if request.operation != "CREATE":
        return NamespaceDecision(f"operation {request.operation} is left alone")
    if request.resource.resource != "namespaces" or request.sub_resource:
        return NamespaceDecision("not a namespaces create")
    if request.kind.kind != "Namespace":
        return NamespaceDecision(f"kind {request.kind.kind or '(none)'} is not a Namespace")
    namespace = request.object
    if namespace is None:
        return NamespaceDecision("no object in the request")
    metadata = namespace.get("metadata")
    name = request.name or _text(metadata.get("name") if isinstance(metadata, Mapping) else None)
    if not name:
        return NamespaceDecision("the namespace has no name yet")
    raw = metadata.get("labels") if isinstance(metadata, Mapping) else None
    labels = _string_map(raw)
    # The API server sets this label to the name after mutating admission: decide as it will be.
    labels[NAME_LABEL] = name
    if labels.get(MANAGED_LABEL) == "true":
        return NamespaceDecision("already labelled")
    if not rules_known:
        return NamespaceDecision("the integrations are not loaded yet")
    if destination_by_rules(name, labels) is None:
        return NamespaceDecision(f"no integration selects namespace {name}")
    if not isinstance(metadata, Mapping):
        patch = [{"op": "add", "path": "/metadata", "value": {"labels": {MANAGED_LABEL: "true"}}}]
    elif not isinstance(raw, Mapping):
        patch = [{"op": "add", "path": "/metadata/labels", "value": {MANAGED_LABEL: "true"}}]
    else:
        path = "/metadata/labels/" + escape_pointer_token(MANAGED_LABEL)
        patch = [{"op": "add", "path": path, "value": "true"}]
    return NamespaceDecision(f"namespace {name} is selected", patch)


def _string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
