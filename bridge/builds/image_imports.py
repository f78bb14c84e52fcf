"""What to do when a Build changes: the ImageStreamImport that makes its ImageStream follow Quay.

A Build rewritten by the webhook pushes to Quay instead of the integrated registry, so OpenShift
no longer updates the ImageStream by itself. Once such a Build is ``Complete`` the bridge asks
OpenShift to import the pushed image into the destination tag. This module is the pure part of that
job: the decision table over a Build's annotations and phase, the ``ImageStreamImport`` body (the
one the original operator sends), how to read the import's per-image result, and the annotation
patch that marks a Build as done. It does no I/O; ``bridge.builds.completion`` drives it against the
cluster.

Annotations are set by whoever creates or updates a Build, so the operator trusts none of them by
itself: a Build is imported only when its decision record (``webhook.decisions``, written by the
webhook with a key only the operator holds) verifies against the Build's namespace, destination
and output image as they are at completion. A destination in another namespace additionally needs
a ``SubjectAccessReview`` (:func:`access_review`) that allows the Build's service account to push
there, as OpenShift's registry checks a cross-namespace push.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from vocabulary import (
    DESTINATION_ANNOTATION,
    IMPORTED_ANNOTATION,
    MANAGED_ANNOTATION,
    RECORD_ANNOTATION,
)
from webhook.decisions import verify

#: Phases after which a Build never pushes (``Error`` is as final as ``Failed``).
UNSUCCESSFUL_PHASES: Final = frozenset({"Failed", "Error", "Cancelled"})

# Kubernetes names: a DNS-1123 subdomain for the namespace, the stream and tag as OpenShift allows.
_NAMESPACE = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_STREAM = r"[a-z0-9]+(?:[._-][a-z0-9]+)*"
_TAG = r"[\w][\w.-]{0,127}"
_DESTINATION = re.compile(rf"^(?P<ns>{_NAMESPACE})/(?P<stream>{_STREAM}):(?P<tag>{_TAG})$")


class InvalidDestinationError(ValueError):
    """The destination annotation is not ``<namespace>/<stream>:<tag>``."""


@dataclass(frozen=True)
class TagTarget:
    """The ImageStreamTag a Build's image must land in."""

    namespace: str
    stream: str
    tag: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.stream}:{self.tag}"


def parse_destination(value: str) -> TagTarget:
    """Parse the ``destination-imagestream`` annotation.

    Args:
        value: ``<namespace>/<stream>:<tag>``, as the webhook writes it.

    Returns:
        The target tag.

    Raises:
        InvalidDestinationError: when ``value`` does not have that shape.
    """
    match = _DESTINATION.match(value)
    if match is None or len(match["ns"]) > 63 or len(match["stream"]) > 253:
        raise InvalidDestinationError(
            f"annotation {DESTINATION_ANNOTATION} is {value[:120]!r}, "
            "expected '<namespace>/<imagestream>:<tag>'"
        )
    return TagTarget(namespace=match["ns"], stream=match["stream"], tag=match["tag"])


class Verdict(enum.Enum):
    """What the bridge does with a Build, as decided by :func:`decide`."""

    IMPORT = "import"  # Complete, managed, not imported yet: import now.
    WAIT = "wait"  # managed, still running: nothing yet.
    UNMANAGED = "unmanaged"  # the webhook did not rewrite it: never ours.
    ALREADY_IMPORTED = "already-imported"  # marked: never import twice.
    UNSUCCESSFUL = "unsuccessful"  # Failed, Error or Cancelled: nothing was pushed.
    INVALID = "invalid"  # managed but its annotation or output cannot be used: warn, stop.
    REFUSED = "refused"  # no valid decision record, or no right to push there: warn, stop.


@dataclass(frozen=True)
class Decision:
    """The verdict on one Build and, for ``IMPORT``, what to import where."""

    verdict: Verdict
    reason: str
    target: TagTarget | None = None
    image: str | None = None  # the pushed DockerImage reference (``spec.output.to.name``)


def _field(obj: Mapping[str, Any], *path: str) -> Any:
    """Return ``obj[path[0]][path[1]]...`` or ``None`` when a step is missing or not a mapping."""
    current: Any = obj
    for key in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def decide(build: Mapping[str, Any], key: bytes) -> Decision:
    """Decide what the bridge does with a Build, from its annotations, phase and output.

    The table, first matching row wins:

    ===============================  ======================  ==================
    condition                        verdict                 effect
    ===============================  ======================  ==================
    managed annotation not "true"    ``UNMANAGED``           nothing
    imported annotation "true"       ``ALREADY_IMPORTED``    nothing
    Failed / Error / Cancelled       ``UNSUCCESSFUL``        nothing
    any phase but Complete           ``WAIT``                nothing yet
    destination annotation bad       ``INVALID``             Warning Event
    output not a named DockerImage   ``INVALID``             Warning Event
    decision record does not verify  ``REFUSED``             Warning Event
    otherwise                        ``IMPORT``              ImageStreamImport
    ===============================  ======================  ==================

    ``IMPORT`` into another namespace than the Build's still needs :func:`access_review`.

    Args:
        build: a ``build.openshift.io/v1`` Build as the API server returns it.
        key: the operator's decision key (``bridge.builds.decision_key``).

    Returns:
        The decision; ``target`` and ``image`` are set for ``IMPORT``.
    """
    annotations = _field(build, "metadata", "annotations")
    if not isinstance(annotations, Mapping):
        annotations = {}
    if annotations.get(MANAGED_ANNOTATION) != "true":
        return Decision(Verdict.UNMANAGED, "the build was not rewritten to push to Quay")
    if annotations.get(IMPORTED_ANNOTATION) == "true":
        return Decision(Verdict.ALREADY_IMPORTED, "the destination tag already imported this build")
    phase = _field(build, "status", "phase")
    if phase in UNSUCCESSFUL_PHASES or _field(build, "status", "cancelled") is True:
        return Decision(Verdict.UNSUCCESSFUL, f"the build ended {phase or 'Cancelled'}: no image")
    if phase != "Complete":
        return Decision(Verdict.WAIT, f"the build is {phase or 'New'}")
    destination = annotations.get(DESTINATION_ANNOTATION)
    if not isinstance(destination, str):
        return Decision(Verdict.INVALID, f"annotation {DESTINATION_ANNOTATION} is missing")
    try:
        target = parse_destination(destination)
    except InvalidDestinationError as error:
        return Decision(Verdict.INVALID, str(error))
    kind = _field(build, "spec", "output", "to", "kind")
    image = _field(build, "spec", "output", "to", "name")
    if kind != "DockerImage" or not isinstance(image, str) or not image:
        return Decision(
            Verdict.INVALID,
            f"the build's output is {kind or 'missing'!s} {image or ''!s}, "
            "expected the DockerImage the webhook set",
        )
    namespace = _field(build, "metadata", "namespace")
    if not isinstance(namespace, str) or not verify(
        key, namespace, destination, image, annotations.get(RECORD_ANNOTATION)
    ):
        return Decision(
            Verdict.REFUSED,
            f"not imported into {target}: the build carries no valid decision record of the "
            "bridge's webhook (its annotations were set or changed by someone else, or it was "
            "rewritten under another decision key); run the build again from its BuildConfig",
        )
    return Decision(Verdict.IMPORT, f"import {image} into {target}", target=target, image=image)


#: The service account a Build runs as when ``spec.serviceAccount`` is empty (OpenShift's default).
DEFAULT_BUILD_SERVICE_ACCOUNT: Final = "builder"


def build_service_account(build: Mapping[str, Any]) -> str:
    """Return the service account that pushed the Build's image."""
    name = _field(build, "spec", "serviceAccount")
    return name if isinstance(name, str) and name else DEFAULT_BUILD_SERVICE_ACCOUNT


def access_review(namespace: str, service_account: str, target: TagTarget) -> dict[str, Any]:
    """Return the ``SubjectAccessReview``: may this service account push into ``target``?

    OpenShift's registry authorizes a push into an ImageStream with ``update`` on
    ``imagestreams/layers`` in the stream's namespace (what ``system:image-builder`` grants);
    the same question is asked here before importing into a namespace other than the Build's.
    The groups are those the API server gives a service account's token.
    """
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": f"system:serviceaccount:{namespace}:{service_account}",
            "groups": [
                "system:serviceaccounts",
                f"system:serviceaccounts:{namespace}",
                "system:authenticated",
            ],
            "resourceAttributes": {
                "namespace": target.namespace,
                "verb": "update",
                "group": "image.openshift.io",
                "resource": "imagestreams",
                "subresource": "layers",
                "name": target.stream,
            },
        },
    }


def review_allowed(reply: Mapping[str, Any]) -> tuple[bool, str]:
    """Read a ``SubjectAccessReview`` reply: (allowed, the reason the API server gave)."""
    allowed = _field(reply, "status", "allowed") is True
    denied = _field(reply, "status", "denied") is True
    reason = _field(reply, "status", "reason")
    return allowed and not denied, reason if isinstance(reason, str) else ""


def import_request(
    target: TagTarget,
    image: str,
    *,
    insecure: bool,
    scheduled: bool,
    resource_version: str | None,
) -> dict[str, Any]:
    """Return the ``ImageStreamImport`` that makes ``target`` point at ``image``.

    Args:
        target: the destination ImageStreamTag.
        image: the pushed DockerImage reference (``spec.output.to.name`` of the Build).
        insecure: the integration's ``insecureRegistry`` (``importPolicy.insecure``).
        scheduled: the integration's ``scheduledImageStreamImport`` (``importPolicy.scheduled``).
        resource_version: the stream's current resourceVersion, so a concurrent change gives a 409
            instead of being overwritten; ``None`` when the stream does not exist (the import
            creates it, as a push to the integrated registry would).

    Returns:
        The request body for ``POST .../namespaces/<ns>/imagestreamimports``.
    """
    metadata: dict[str, Any] = {"name": target.stream, "namespace": target.namespace}
    if resource_version is not None:
        metadata["resourceVersion"] = resource_version
    return {
        "apiVersion": "image.openshift.io/v1",
        "kind": "ImageStreamImport",
        "metadata": metadata,
        "spec": {
            "import": True,
            "images": [
                {
                    "from": {"kind": "DockerImage", "name": image},
                    "to": {"name": target.tag},
                    "importPolicy": {"insecure": insecure, "scheduled": scheduled},
                    "referencePolicy": {"type": "Source"},
                }
            ],
        },
    }


@dataclass(frozen=True)
class ImportResult:
    """The outcome of the one image an ImageStreamImport asked for.

    Attributes:
        succeeded: whether OpenShift imported the image.
        reason: ``Success`` or the failure's reason (``Unauthorized``, ``NotFound``, ...).
        message: what OpenShift said, for an Event.
        code: the failure's HTTP-like code (0 on success or when absent).
        image: the image digest (``sha256:...``) on success.
        reference: the ``dockerImageReference`` the tag now points at, on success.
    """

    succeeded: bool
    reason: str
    message: str = ""
    code: int = 0
    image: str | None = None
    reference: str | None = None


def read_import_result(response: Mapping[str, Any]) -> ImportResult:
    """Read the per-image status of an ImageStreamImport reply (a 201 even when the image failed).

    Args:
        response: the ImageStreamImport the API server answered.

    Returns:
        The result of its first image; a reply with no image status is a failure.
    """
    images = _field(response, "status", "images")
    if not isinstance(images, list) or not images or not isinstance(images[0], Mapping):
        return ImportResult(False, "NoStatus", "the import reply has no image status")
    first: Mapping[str, Any] = images[0]
    status = first.get("status")
    if not isinstance(status, Mapping):
        status = {}
    if status.get("status") == "Success":
        digest = _field(first, "image", "metadata", "name")
        reference = _field(first, "image", "dockerImageReference")
        return ImportResult(
            True,
            "Success",
            image=digest if isinstance(digest, str) else None,
            reference=reference if isinstance(reference, str) else None,
        )
    code = status.get("code")
    return ImportResult(
        False,
        str(status.get("reason") or "Unknown"),
        str(status.get("message") or "the import failed without a message"),
        code=code if isinstance(code, int) else 0,
    )


def imported_patch() -> dict[str, Any]:
    """Return the merge patch that marks a Build as imported (metadata only: spec is immutable)."""
    return {"metadata": {"annotations": {IMPORTED_ANNOTATION: "true"}}}
