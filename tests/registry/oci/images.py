"""Small OCI images the tests build themselves: a gzipped tar layer, a config, a manifest.

`write_layout` writes them as an OCI image layout directory (`oci-layout`, `index.json`,
`blobs/sha256/...`) that skopeo can copy from; `Image` also gives the raw parts for HTTP-level
tests.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def digest_of(data: bytes) -> str:
    """`sha256:<hex>` of `data`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, data: bytes) -> dict[str, object]:
    """An OCI descriptor of `data`."""
    return {"mediaType": media_type, "digest": digest_of(data), "size": len(data)}


@dataclass(frozen=True)
class Image:
    """One single-layer image."""

    layer: bytes
    config: bytes
    manifest: bytes

    @property
    def manifest_digest(self) -> str:
        """The manifest's digest (the image's identity)."""
        return digest_of(self.manifest)

    def blobs(self) -> dict[str, bytes]:
        """Config and layer by digest."""
        return {digest_of(self.layer): self.layer, digest_of(self.config): self.config}


def make_image(text: str = "hello from quay-bridge\n") -> Image:
    """A deterministic image whose one layer holds `/hello.txt` with `text`."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        payload = text.encode()
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime, info.mode = len(payload), 0, 0o644
        tar.addfile(info, io.BytesIO(payload))
    uncompressed = raw.getvalue()
    layer = gzip.compress(uncompressed, mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [digest_of(uncompressed)]},
            "history": [{"created_by": "quay-bridge test layer"}],
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config),
            "layers": [descriptor(OCI_LAYER, layer)],
        }
    ).encode()
    return Image(layer, config, manifest)


def write_layout(directory: Path, image: Image, tag: str) -> None:
    """Write `image` as an OCI image layout in `directory`, tagged `tag`."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for data in (image.layer, image.config, image.manifest):
        (blobs / digest_of(data).removeprefix("sha256:")).write_bytes(data)
    (directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    entry = descriptor(OCI_MANIFEST, image.manifest)
    entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}
    (directory / "index.json").write_text(json.dumps(index))
