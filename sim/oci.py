"""A small OCI distribution client: resolve tags and push generated images, with token auth.

The simulator's ImageStreamImport and build controller talk to real registries through it. It
speaks the flow Quay and CNCF distribution use: ``GET /v2/`` answers 401 with a challenge; a
``Bearer`` challenge names a realm where Basic credentials (from the namespace's docker secrets)
buy a token for a ``repository:<repo>:<actions>`` scope; a ``Basic`` challenge takes the
credentials directly. Errors are classified as Kubernetes/OpenShift report them: unauthorized,
not found, or other. Credentials never reach a log line.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
ACCEPT = ", ".join((DOCKER_MANIFEST, OCI_MANIFEST, DOCKER_LIST, OCI_INDEX))
Credentials = tuple[str, str] | None


class RegistryError(Exception):
    """A registry refusal: ``kind`` is ``unauthorized``, ``not_found`` or ``other``."""

    def __init__(self, kind: str, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference ``host[:port]/repository[:tag][@digest]``."""

    host: str
    repository: str
    tag: str = "latest"
    digest: str = ""

    @property
    def reference(self) -> str:
        """Return the digest if there is one, else the tag."""
        return self.digest or self.tag

    def __str__(self) -> str:
        return f"{self.host}/{self.repository}" + (
            f"@{self.digest}" if self.digest else f":{self.tag}"
        )


_REPO = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")


def parse_reference(text: str) -> ImageRef:
    """Parse a pull spec; raise ValueError when it is not one."""
    rest, _, digest = text.partition("@")
    if digest and not re.match(r"^sha256:[0-9a-f]{64}$", digest):
        raise ValueError(f"invalid digest in {text!r}")
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        host, path = first, remainder
    else:
        host, path = "docker.io", rest if "/" in rest else f"library/{rest}"
    tag = "latest"
    last_slash = path.rfind("/")
    colon = path.rfind(":")
    if colon > last_slash:
        path, tag = path[:colon], path[colon + 1 :]
    if not path or not _REPO.match(path) or not _TAG.match(tag):
        raise ValueError(f"invalid image reference {text!r}")
    return ImageRef(host, path, tag, digest)


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, params = header.partition(" ")
    return scheme.lower(), dict(re.findall(r'(\w+)="([^"]*)"', params))


def sha256(data: bytes) -> str:
    """Return the ``sha256:<hex>`` digest of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class GeneratedImage:
    """A tiny single-layer image: blobs by digest and its Docker schema2 manifest."""

    blobs: dict[str, bytes]
    manifest: bytes

    @property
    def digest(self) -> str:
        """Return the manifest digest."""
        return sha256(self.manifest)


def generate_image(label: str) -> GeneratedImage:
    """Build a one-file image whose content names ``label`` (deterministic for a label)."""
    content = f"built by the quay-bridge simulator: {label}\n".encode()
    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("build.txt")
        info.size, info.mtime, info.mode = len(content), 0, 0o644
        tar.addfile(info, io.BytesIO(content))
    layer_tar = tar_buf.getvalue()
    layer = gzip.compress(layer_tar, mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"io.openshift.build.name": label}},
            "rootfs": {"type": "layers", "diff_ids": [sha256(layer_tar)]},
            "history": [{"created_by": "quay-bridge sim build"}],
        },
        sort_keys=True,
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": DOCKER_CONFIG, "size": len(config), "digest": sha256(config)},
            "layers": [{"mediaType": DOCKER_LAYER, "size": len(layer), "digest": sha256(layer)}],
        }
    ).encode()
    return GeneratedImage({sha256(config): config, sha256(layer): layer}, manifest)


@dataclass
class Resolved:
    """What a tag resolves to."""

    digest: str
    media_type: str
    manifest: dict[str, Any]
    config: dict[str, Any]


class OciClient:
    """Registry v2 calls with the challenge/token flow; one instance per task is fine."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        scheme_for: Callable[[str], str],
        timeout: float = 20.0,
    ) -> None:
        self.session = session
        self.scheme_for = scheme_for
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    def _base(self, host: str) -> str:
        return f"{self.scheme_for(host)}://{host}"

    async def _authorization(self, ref: ImageRef, actions: str, creds: Credentials) -> str | None:
        try:
            async with self.session.get(
                f"{self._base(ref.host)}/v2/", timeout=self.timeout
            ) as resp:
                if resp.status == 200:
                    return None
                header = resp.headers.get("WWW-Authenticate", "")
        except aiohttp.ClientError as exc:
            raise RegistryError("other", f"cannot reach {ref.host}: {exc}") from exc
        scheme, params = _challenge(header)
        basic = aiohttp.BasicAuth(*creds) if creds else None
        if scheme == "basic":
            if basic is None:
                raise RegistryError("unauthorized", "authentication required", 401)
            return basic.encode()
        if scheme != "bearer" or "realm" not in params:
            raise RegistryError("other", f"unsupported authentication challenge from {ref.host}")
        query = {"scope": f"repository:{ref.repository}:{actions}"}
        if params.get("service"):
            query["service"] = params["service"]
        try:
            async with self.session.get(
                params["realm"], params=query, auth=basic, timeout=self.timeout
            ) as resp:
                if resp.status in (401, 403):
                    raise RegistryError("unauthorized", "incorrect username or password", 401)
                if resp.status != 200:
                    raise RegistryError(
                        "other", f"token endpoint answered {resp.status}", resp.status
                    )
                doc = await resp.json(content_type=None)
        except aiohttp.ClientError as exc:
            raise RegistryError("other", f"cannot reach the token endpoint: {exc}") from exc
        token = doc.get("token") or doc.get("access_token")
        if not token:
            raise RegistryError("other", "the token endpoint returned no token")
        return f"Bearer {token}"

    async def _call(
        self,
        method: str,
        url: str,
        auth: str | None,
        *,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        hdrs = dict(headers or {})
        if auth:
            hdrs["Authorization"] = auth
        try:
            async with self.session.request(
                method, url, data=data, headers=hdrs, timeout=self.timeout
            ) as resp:
                return resp.status, dict(resp.headers), await resp.read()
        except aiohttp.ClientError as exc:
            raise RegistryError("other", f"{method} {url.split('?')[0]}: {exc}") from exc

    @staticmethod
    def _fail(status: int, body: bytes, what: str) -> RegistryError:
        codes = ""
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            codes = " ".join(e.get("code", "") for e in json.loads(body).get("errors", []))
        if status in (401, 403) or "UNAUTHORIZED" in codes or "DENIED" in codes:
            return RegistryError("unauthorized", f"{what}: unauthorized", status)
        if status == 404 or "UNKNOWN" in codes:
            return RegistryError("not_found", f"{what}: not found", status)
        return RegistryError("other", f"{what}: registry answered {status}", status)

    async def resolve(self, ref: ImageRef, creds: Credentials) -> Resolved:
        """Resolve a tag (or digest) to its manifest digest, picking linux/amd64 from a list."""
        auth = await self._authorization(ref, "pull", creds)
        base = f"{self._base(ref.host)}/v2/{ref.repository}"
        status, headers, body = await self._call(
            "GET", f"{base}/manifests/{ref.reference}", auth, headers={"Accept": ACCEPT}
        )
        if status != 200:
            raise self._fail(status, body, f"manifest {ref}")
        media = headers.get("Content-Type", "").split(";")[0]
        manifest = json.loads(body)
        media = manifest.get("mediaType") or media
        if media in (DOCKER_LIST, OCI_INDEX):
            entries = manifest.get("manifests") or []
            chosen = next(
                (
                    e
                    for e in entries
                    if (e.get("platform") or {}).get("architecture") == "amd64"
                    and (e.get("platform") or {}).get("os") == "linux"
                ),
                entries[0] if entries else None,
            )
            if chosen is None:
                raise RegistryError("not_found", f"manifest list {ref} is empty", 404)
            status, headers, body = await self._call(
                "GET", f"{base}/manifests/{chosen['digest']}", auth, headers={"Accept": ACCEPT}
            )
            if status != 200:
                raise self._fail(status, body, f"manifest {chosen['digest']}")
            manifest = json.loads(body)
            media = manifest.get("mediaType") or headers.get("Content-Type", "").split(";")[0]
        digest = sha256(body)
        config: dict[str, Any] = {}
        config_digest = (manifest.get("config") or {}).get("digest")
        if config_digest:
            status, _, blob = await self._call("GET", f"{base}/blobs/{config_digest}", auth)
            if status == 200:
                try:
                    config = json.loads(blob)
                except ValueError:
                    config = {}
        return Resolved(digest, media, manifest, config)

    async def push(self, ref: ImageRef, image: GeneratedImage, creds: Credentials) -> str:
        """Push a generated image to ``ref`` and return the manifest digest."""
        auth = await self._authorization(ref, "pull,push", creds)
        base = f"{self._base(ref.host)}/v2/{ref.repository}"
        for digest, blob in image.blobs.items():
            status, _, _ = await self._call("HEAD", f"{base}/blobs/{digest}", auth)
            if status == 200:
                continue
            status, headers, body = await self._call("POST", f"{base}/blobs/uploads/", auth)
            if status != 202:
                raise self._fail(status, body, f"blob upload to {ref.host}/{ref.repository}")
            location = headers.get("Location", "")
            if location.startswith("/"):
                location = self._base(ref.host) + location
            sep = "&" if "?" in location else "?"
            status, _, body = await self._call(
                "PUT",
                f"{location}{sep}digest={digest}",
                auth,
                data=blob,
                headers={"Content-Type": "application/octet-stream"},
            )
            if status not in (201, 204):
                raise self._fail(status, body, f"blob {digest}")
        status, headers, body = await self._call(
            "PUT",
            f"{base}/manifests/{ref.tag}",
            auth,
            data=image.manifest,
            headers={"Content-Type": DOCKER_MANIFEST},
        )
        if status not in (200, 201):
            raise self._fail(status, body, f"manifest {ref}")
        return headers.get("Docker-Content-Digest") or image.digest
