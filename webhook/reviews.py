"""``admission.k8s.io/v1`` AdmissionReview wire models, parsed strictly at the edge.

The API server accepts only a reply that is an ``admission.k8s.io/v1`` AdmissionReview with a
``response`` carrying the request's ``uid`` and a ``patchType`` exactly when there is a ``patch``;
anything else is a "received invalid webhook response" calling error. Requests are validated here
once, so the mutation works on typed values and a malformed body becomes a clear 400 rather than a
crash deeper in.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

API_VERSION: Final = "admission.k8s.io/v1"
KIND: Final = "AdmissionReview"

Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]


class MalformedReview(ValueError):
    """The request body is not an ``admission.k8s.io/v1`` AdmissionReview request we can answer."""


class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class GroupVersionKind(_Wire):
    """The ``kind`` of the object under admission."""

    group: str = ""
    version: str = ""
    kind: str = ""


class GroupVersionResource(_Wire):
    """The ``resource`` the request was made against."""

    group: str = ""
    version: str = ""
    resource: str = ""


class AdmissionRequest(_Wire):
    """The ``request`` half of a review: what the API server asks about."""

    uid: str = Field(min_length=1)
    kind: GroupVersionKind = GroupVersionKind()
    resource: GroupVersionResource = GroupVersionResource()
    sub_resource: str = Field(default="", alias="subResource")
    name: str = ""
    namespace: str = ""
    operation: Operation
    object: dict[str, Any] | None = None
    old_object: dict[str, Any] | None = Field(default=None, alias="oldObject")
    dry_run: bool = Field(default=False, alias="dryRun")


class AdmissionReviewRequest(_Wire):
    """A whole review as the API server sends it."""

    api_version: Literal["admission.k8s.io/v1"] = Field(alias="apiVersion")
    kind: Literal["AdmissionReview"]
    request: AdmissionRequest


class Status(_Wire):
    """The ``metav1.Status`` subset a denial carries (message, reason, HTTP code)."""

    message: str
    reason: str | None = None
    code: int | None = None


class AdmissionResponse(_Wire):
    """The ``response`` half of a review."""

    uid: str
    allowed: bool
    patch: str | None = None
    patch_type: Literal["JSONPatch"] | None = Field(default=None, alias="patchType")
    status: Status | None = None
    warnings: list[str] | None = None


class AdmissionReviewResponse(_Wire):
    """A whole review as the webhook answers it."""

    api_version: Literal["admission.k8s.io/v1"] = Field(default=API_VERSION, alias="apiVersion")
    kind: Literal["AdmissionReview"] = KIND
    response: AdmissionResponse

    def to_json(self) -> bytes:
        """Serialize with the wire names and without absent fields."""
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()


def parse_review(body: bytes) -> AdmissionReviewRequest:
    """Parse a request body into a review.

    Raises:
        MalformedReview: with a short message saying what is wrong, never echoing the body (it may
            hold Secrets or tokens of the object under admission).
    """
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedReview(f"request body is not JSON: {type(exc).__name__}") from None
    if not isinstance(document, dict):
        raise MalformedReview("request body is not a JSON object")
    if document.get("kind") != KIND or document.get("apiVersion") != API_VERSION:
        raise MalformedReview(f"expected kind {KIND} with apiVersion {API_VERSION}")
    if not isinstance(document.get("request"), dict):
        raise MalformedReview("the review has no request object")
    if not document["request"].get("uid"):
        raise MalformedReview("the review's request has no uid")
    try:
        return AdmissionReviewRequest.model_validate(document)
    except ValidationError as exc:
        raise MalformedReview(f"invalid review: {_describe(exc)}") from None


def _describe(exc: ValidationError) -> str:
    """Name the failing fields and why, leaving out the input values."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False)[:3]:
        where = ".".join(str(item) for item in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def allow(uid: str, patch: Sequence[dict[str, Any]] = (), warnings: Sequence[str] = ()) -> bytes:
    """Return the wire reply that allows the request, with a JSON Patch when there is one."""
    encoded = base64.b64encode(json.dumps(list(patch)).encode()).decode() if patch else None
    response = AdmissionResponse(
        uid=uid,
        allowed=True,
        patch=encoded,
        patchType="JSONPatch" if encoded else None,
        warnings=list(warnings) or None,
    )
    return AdmissionReviewResponse(response=response).to_json()


def deny(uid: str, message: str, *, code: int, reason: str) -> bytes:
    """Return the wire reply that denies the request with an HTTP code the API server passes on."""
    status = Status(message=message, reason=reason, code=code)
    response = AdmissionResponse(uid=uid, allowed=False, status=status)
    return AdmissionReviewResponse(response=response).to_json()
