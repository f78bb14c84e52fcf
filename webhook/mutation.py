"""The Build mutation: which Builds are rewritten to push to Quay, and the JSON Patch that does it.

Pure and total: it reads the admission request and a namespace-to-destination lookup, does no I/O,
and never raises on odd input (a field of the wrong type means "not a Build we rewrite"), so every
review gets a valid answer. A Build CREATE in a managed namespace whose output is an ImageStreamTag
(Docker, Source or Custom strategy) gets its output replaced by ``DockerImage
<quay host>/<org>/<stream>:<tag>`` with the output namespace removed (a DockerImage output with a
namespace fails validation), and two annotations; the annotations map is created with one ``add``
when absent, because an ``add`` under a missing parent makes the API server answer 500 (both were
defects of the original: docs/reference/original-operator.md#webhook-correctness-and-blast-radius).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from vocabulary import (
    BUILD_ANNOTATION_PREFIX,
    DESTINATION_ANNOTATION,
    MANAGED_ANNOTATION,
    RECORD_ANNOTATION,
)
from webhook.decisions import sign
from webhook.reviews import AdmissionRequest
from webhook.state_view import Destination

#: Strategies whose builder pushes ``spec.output.to``; JenkinsPipeline builds push nothing.
REWRITTEN_STRATEGIES = frozenset({"Docker", "Source", "Custom"})

#: ``<stream>:<tag>`` as OpenShift validates ImageStreamTag names (no registry, no digest).
_STREAM_TAG = re.compile(
    r"^(?P<stream>[a-z0-9]([-a-z0-9._]*[a-z0-9])?):(?P<tag>\w[\w.-]{0,127})$", re.ASCII
)

JsonPatchOp = dict[str, Any]


@dataclass(frozen=True)
class Unchanged:
    """Allow the Build without rewriting it; ``reason`` says why (for logs and tests only).

    ``patch`` removes bridge annotations the Build's author set, when there are any.
    """

    reason: str
    patch: list[JsonPatchOp] = field(default_factory=list)
    decision: Literal["unchanged"] = "unchanged"


@dataclass(frozen=True)
class Rewrite:
    """Allow the Build with ``patch`` applied, once ``namespace``'s builder secret is ready.

    Attributes:
        namespace: the Build's namespace, whose builder service account pushes the image.
        destination_namespace: the namespace of the output ImageStream (the organization's).
        image: the DockerImage reference the Build now pushes to.
        patch: RFC 6902 operations against the Build as it was submitted.
    """

    namespace: str
    destination_namespace: str
    image: str
    patch: list[JsonPatchOp] = field(default_factory=list)
    decision: Literal["rewrite"] = "rewrite"


Decision = Unchanged | Rewrite
DestinationLookup = Callable[[str], Destination | None]


def escape_pointer_token(token: str) -> str:
    """Escape one JSON Pointer reference token (RFC 6901: ``~`` as ``~0``, ``/`` as ``~1``)."""
    return token.replace("~", "~0").replace("/", "~1")


def decide(
    request: AdmissionRequest, destination_for: DestinationLookup, key: bytes | None = None
) -> Decision:
    """Decide what to do with one admission request.

    Args:
        request: the validated ``request`` half of the review.
        destination_for: the state view's lookup; ``None`` means the namespace is unmanaged.
        key: the operator's decision key; the record annotation is written only with one (the
            server always has one; without it the operator would refuse to import the Build).

    Returns:
        ``Rewrite`` with the patch for a Build that must push to Quay, else ``Unchanged``.
    """
    if request.operation != "CREATE":
        return Unchanged(f"operation {request.operation} is left alone")
    if request.resource.resource != "builds" or request.sub_resource:
        return Unchanged("not a builds create")
    if request.kind.kind != "Build":
        return Unchanged(f"kind {request.kind.kind or '(none)'} is not a Build")
    build = request.object
    if build is None:
        return Unchanged("no object in the request")
    strip = _strip_ops(build)
    namespace = request.namespace or _text(_get(build, "metadata", "namespace"))
    if not namespace or destination_for(namespace) is None:
        return Unchanged(f"namespace {namespace or '(none)'} is not managed", strip)
    strategy = _text(_get(build, "spec", "strategy", "type"))
    if strategy not in REWRITTEN_STRATEGIES:
        return Unchanged(f"strategy {strategy or '(none)'} is not rewritten", strip)
    target = _get(build, "spec", "output", "to")
    if not isinstance(target, Mapping) or target.get("kind") != "ImageStreamTag":
        return Unchanged("output is not an ImageStreamTag", strip)
    match = _STREAM_TAG.match(_text(target.get("name")))
    if match is None:
        return Unchanged("output ImageStreamTag name is not <stream>:<tag>", strip)
    destination_namespace = _text(target.get("namespace")) or namespace
    destination = destination_for(destination_namespace)
    if destination is None:
        return Unchanged(f"output namespace {destination_namespace} is not managed", strip)
    stream, tag = match["stream"], match["tag"]
    image = f"{destination.registry_host}/{destination.organization}/{stream}:{tag}"
    patch: list[JsonPatchOp] = [
        *strip,
        {"op": "replace", "path": "/spec/output/to/kind", "value": "DockerImage"},
        {"op": "replace", "path": "/spec/output/to/name", "value": image},
    ]
    if "namespace" in target:
        patch.append({"op": "remove", "path": "/spec/output/to/namespace"})
    where = f"{destination_namespace}/{stream}:{tag}"
    annotations = {MANAGED_ANNOTATION: "true", DESTINATION_ANNOTATION: where}
    if key is not None:
        annotations[RECORD_ANNOTATION] = sign(key, namespace, where, image)
    patch += _annotation_ops(build, annotations)
    return Rewrite(namespace, destination_namespace, image, patch)


def namespaces_to_resolve(request: AdmissionRequest) -> list[str]:
    """Return the namespaces ``decide`` would look up for this request, the Build's own first.

    The server resolves them (from memory, or one read for a namespace not seen yet) before
    calling ``decide``, which stays pure. Empty for anything that is not a Build CREATE.
    """
    if request.operation != "CREATE" or request.resource.resource != "builds":
        return []
    if request.sub_resource or request.kind.kind != "Build" or request.object is None:
        return []
    build = request.object
    namespace = request.namespace or _text(_get(build, "metadata", "namespace"))
    if not namespace:
        return []
    target = _get(build, "spec", "output", "to")
    output = _text(target.get("namespace")) if isinstance(target, Mapping) else ""
    if isinstance(target, Mapping) and target.get("kind") == "ImageStreamTag" and output:
        return [namespace, output]
    return [namespace]


def _strip_ops(build: Mapping[str, Any]) -> list[JsonPatchOp]:
    """Remove every bridge annotation the Build's author set (only the webhook may set them)."""
    annotations = _get(build, "metadata", "annotations")
    if not isinstance(annotations, Mapping):
        return []
    return [
        {"op": "remove", "path": "/metadata/annotations/" + escape_pointer_token(key)}
        for key in annotations
        if isinstance(key, str) and key.startswith(BUILD_ANNOTATION_PREFIX)
    ]


def _annotation_ops(build: Mapping[str, Any], annotations: dict[str, str]) -> list[JsonPatchOp]:
    """Add ``annotations``, creating ``metadata`` or its annotations map when absent."""
    metadata = build.get("metadata")
    if not isinstance(metadata, Mapping):
        return [{"op": "add", "path": "/metadata", "value": {"annotations": annotations}}]
    if not isinstance(metadata.get("annotations"), Mapping):
        return [{"op": "add", "path": "/metadata/annotations", "value": annotations}]
    return [
        {"op": "add", "path": "/metadata/annotations/" + escape_pointer_token(key), "value": value}
        for key, value in annotations.items()
    ]


def _get(document: Any, *path: str) -> Any:
    """Follow ``path`` through nested maps; ``None`` as soon as a step is missing or not a map."""
    for key in path:
        if not isinstance(document, Mapping):
            return None
        document = document.get(key)
    return document


def _text(value: Any) -> str:
    """Return ``value`` when it is a string, else the empty string."""
    return value if isinstance(value, str) else ""
