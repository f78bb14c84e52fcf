"""Content-addressed files on the local filesystem: the registry's blob (and manifest) bytes.

On-disk layout under `<data-dir>/oci/` (distribution keeps the same idea in `storage/paths.go`):

    blobs/<algorithm>/<hex[0:2]>/<hex>   committed content, named by its digest; never rewritten
    uploads/<uuid>/session.json          an upload session: repository, start time (see `uploads`)
    uploads/<uuid>/data                  the bytes received so far for that session
    tmp/<random>                         scratch for single-request writes, renamed or removed

Content only becomes visible by `rename(2)` of a complete, fsynced, digest-verified file into
`blobs/`, followed by an fsync of the directory, so a crash leaves either the whole blob or none of
it. Files under `blobs/` are shared by every repository; which repository may see which blob is
metadata (the `repository_blob` table), not layout. `uploads/` and `tmp/` live on the same
filesystem as `blobs/` so the rename is atomic.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from registry.oci.digests import Digest


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink inside `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobStore:
    """The `blobs/` and `tmp/` halves of the layout above."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.tmp = root / "tmp"
        self.uploads = root / "uploads"
        for directory in (self.blobs, self.tmp, self.uploads):
            directory.mkdir(parents=True, exist_ok=True)

    def path_for(self, digest: Digest) -> Path:
        """Where the content named `digest` lives (whether or not it exists)."""
        return self.blobs / digest.algorithm / digest.hex[:2] / digest.hex

    def size(self, digest: Digest) -> int | None:
        """The stored size of `digest`, or None when it is not stored."""
        try:
            return self.path_for(digest).stat().st_size
        except FileNotFoundError:
            return None

    def read(self, digest: Digest) -> bytes:
        """The whole content of `digest` (manifests only; blobs are streamed from `path_for`)."""
        return self.path_for(digest).read_bytes()

    def temp_path(self) -> Path:
        """A fresh scratch path in `tmp/` (same filesystem as `blobs/`)."""
        return self.tmp / secrets.token_hex(16)

    def adopt(self, source: Path, digest: Digest) -> None:
        """Move the complete, verified file `source` into place as `digest`.

        The file is fsynced before the rename and the directory after it. When the content is
        already stored (another push won the race), `source` is simply removed: same digest,
        same bytes.
        """
        target = self.path_for(digest)
        if target.exists():
            source.unlink(missing_ok=True)
            return
        fd = os.open(source, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        fsync_dir(target.parent)

    def put_bytes(self, digest: Digest, data: bytes) -> None:
        """Store small content (a manifest) through a temp file and a rename."""
        if self.path_for(digest).exists():
            return
        tmp = self.temp_path()
        with open(tmp, "wb") as handle:
            handle.write(data)
        self.adopt(tmp, digest)

    def delete(self, digest: Digest) -> None:
        """Remove the content of `digest` if stored."""
        with contextlib.suppress(FileNotFoundError):
            self.path_for(digest).unlink()

    def clean_tmp(self) -> None:
        """Drop scratch files a crash left behind (called at start-up, before serving)."""
        for leftover in self.tmp.iterdir():
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
