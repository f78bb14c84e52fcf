"""Parsing and validating manifests: OCI image manifest and index, Docker schema2 and manifest list.

Pure: bytes and a Content-Type in, a `ParsedManifest` (or a `ManifestError`) out. The registry
stores the bytes exactly as sent (their digest is the manifest's identity); this module only
extracts what the store must check and index: the blobs a manifest references, the child manifests
an index references, and the `subject` a referrer points at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from registry import boundedjson
from registry.oci.digests import Digest, DigestError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
SUPPORTED_MEDIA_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)
_INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
"""Largest manifest accepted: 4 MiB, the size the distribution spec asks registries to accept."""


class ManifestError(ValueError):
    """A manifest the registry refuses; the message says why (it goes into the wire error)."""


class ManifestTooLarge(ManifestError):
    """A manifest over `MAX_MANIFEST_BYTES`."""


@dataclass(frozen=True)
class Descriptor:
    """The parts of an OCI descriptor the registry uses."""

    media_type: str
    digest: Digest
    size: int
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    external: bool = False
    """True when the descriptor lists `urls`: the content lives elsewhere and need not be pushed."""


@dataclass(frozen=True)
class ParsedManifest:
    """A validated manifest and what it references."""

    media_type: str
    digest: Digest
    size: int
    blobs: tuple[Descriptor, ...]
    """Config and layers (image manifests); empty for indexes."""
    children: tuple[Descriptor, ...]
    """Child manifests (indexes); empty for image manifests."""
    subject: Descriptor | None
    artifact_type: str | None
    annotations: dict[str, str]

    @property
    def is_index(self) -> bool:
        """Whether this manifest lists other manifests."""
        return self.media_type in _INDEX_TYPES

    def required_blobs(self) -> tuple[Digest, ...]:
        """Blobs that must already be in the repository for a PUT to be accepted."""
        return tuple(d.digest for d in self.blobs if not d.external)


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise ManifestError(f"{where} must be a descriptor object")
    media_type = value.get("mediaType")
    if not isinstance(media_type, str) or not media_type:
        raise ManifestError(f"{where}.mediaType must be a non-empty string")
    digest_text = value.get("digest")
    if not isinstance(digest_text, str):
        raise ManifestError(f"{where}.digest must be a string")
    try:
        digest = Digest.parse(digest_text)
    except DigestError as exc:
        raise ManifestError(f"{where}.digest: {exc}") from exc
    size = value.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestError(f"{where}.size must be a non-negative integer")
    artifact_type = value.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise ManifestError(f"{where}.artifactType must be a string")
    urls = value.get("urls")
    if urls is not None and not (isinstance(urls, list) and all(isinstance(u, str) for u in urls)):
        raise ManifestError(f"{where}.urls must be a list of strings")
    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        artifact_type=artifact_type,
        annotations=_annotations(value.get("annotations"), f"{where}.annotations"),
        external=bool(urls),
    )


def _annotations(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ManifestError(f"{where} must map strings to strings")
    return dict(value)


def _descriptor_list(value: Any, where: str) -> tuple[Descriptor, ...]:
    if not isinstance(value, list):
        raise ManifestError(f"{where} must be a list")
    return tuple(_descriptor(item, f"{where}[{i}]") for i, item in enumerate(value))


def _media_type(content_type: str | None, document: dict[str, Any]) -> str:
    declared = document.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise ManifestError("mediaType must be a string")
    header = (content_type or "").split(";")[0].strip().lower() or None
    if header in SUPPORTED_MEDIA_TYPES:
        if declared is not None and declared != header:
            raise ManifestError(f"mediaType {declared!r} does not match Content-Type {header!r}")
        return header
    if declared in SUPPORTED_MEDIA_TYPES:
        return declared
    if declared is None and header in (None, "application/json", "application/octet-stream"):
        # An OCI manifest may omit mediaType; its shape says which one it is.
        if "manifests" in document:
            return OCI_INDEX
        if "config" in document:
            return OCI_MANIFEST
    shown = declared or header or "none"
    raise ManifestError(f"unsupported manifest media type: {shown[:100]}")


def parse_manifest(
    body: bytes, content_type: str | None, algorithm: str = "sha256"
) -> ParsedManifest:
    """Validate `body` as one of the four supported manifest kinds.

    Args:
        body: the exact bytes the client sent.
        content_type: the request's Content-Type (may be None).
        algorithm: the digest algorithm naming the manifest (a PUT by sha512 digest uses sha512).

    Raises:
        ManifestTooLarge: over `MAX_MANIFEST_BYTES`.
        ManifestError: not JSON, unsupported kind, or a malformed field.
    """
    if len(body) > MAX_MANIFEST_BYTES:
        raise ManifestTooLarge(
            f"manifest is {len(body)} bytes, over the {MAX_MANIFEST_BYTES} limit"
        )
    try:
        document = boundedjson.loads(body)
    except ValueError as exc:  # not UTF-8, not JSON, or nested too deeply
        raise ManifestError(f"manifest is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ManifestError("manifest must be a JSON object")
    if document.get("schemaVersion") != 2:
        raise ManifestError("schemaVersion must be 2 (schema 1 manifests are not supported)")
    media_type = _media_type(content_type, document)
    blobs: tuple[Descriptor, ...] = ()
    children: tuple[Descriptor, ...] = ()
    if media_type in _INDEX_TYPES:
        children = _descriptor_list(document.get("manifests"), "manifests")
    else:
        config = _descriptor(document.get("config"), "config")
        blobs = (config, *_descriptor_list(document.get("layers"), "layers"))
    subject = None
    if document.get("subject") is not None:
        subject = _descriptor(document["subject"], "subject")
    artifact_type = document.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise ManifestError("artifactType must be a string")
    return ParsedManifest(
        media_type=media_type,
        digest=Digest.of(body, algorithm),
        size=len(body),
        blobs=blobs,
        children=children,
        subject=subject,
        artifact_type=artifact_type,
        annotations=_annotations(document.get("annotations"), "annotations"),
    )


def referrer_artifact_type(manifest: ParsedManifest) -> str | None:
    """The artifact type a referrers listing shows: `artifactType`, else the config's media type."""
    if manifest.artifact_type:
        return manifest.artifact_type
    if manifest.blobs and not manifest.is_index:
        return manifest.blobs[0].media_type
    return None
