"""Blob uploads: start (end-4a/4b, mount end-11), chunk (end-5), finish (end-6), status (end-13).

Cancelling is a DELETE of the session. Every answer about a session carries Quay's headers: an
absolute `Location` built from the server hostname, `Range: bytes=0-<last byte>` (`0--1` before any
byte) and `Docker-Upload-UUID`. Bodies are streamed into the session's file; a wrong digest at
finish is 400 `BLOB_UPLOAD_INVALID` (as Quay, not `DIGEST_INVALID`), a malformed one
`DIGEST_INVALID`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from registry.oci import errors, metadata, replies
from registry.oci.context import (
    Authorized,
    OciContext,
    authorize,
    context_of,
    find_repository,
    repository_for_push,
)
from registry.oci.digests import Digest
from registry.oci.handlers.blobs import parse_digest
from registry.oci.scopes import NameError_, RepositoryName, parse_repository_name
from registry.oci.uploads import (
    UploadBroken,
    UploadDigestMismatch,
    UploadSession,
    UploadSizeMismatch,
)
from registry.store.repositories import Repository

_CONTENT_RANGE = re.compile(r"^(?:bytes[ =])?(\d+)-(\d+)(?:/(?:\d+|\*))?$")
_API_VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}


def _session_headers(
    ctx: OciContext, request: web.Request, session: UploadSession
) -> dict[str, str]:
    location = f"{ctx.base_url(request)}/v2/{session.repository}/blobs/uploads/{session.uuid}"
    return {
        **_API_VERSION,
        "Location": location,
        "Range": f"bytes=0-{session.size - 1}",
        "Docker-Upload-UUID": session.uuid,
    }


def _blob_created(
    ctx: OciContext, request: web.Request, name: RepositoryName, digest: Digest
) -> web.Response:
    headers = {
        **_API_VERSION,
        "Location": f"{ctx.base_url(request)}/v2/{name}/blobs/{digest}",
        "Docker-Content-Digest": str(digest),
    }
    return replies.empty(201, headers)


async def _body(request: web.Request) -> AsyncIterator[bytes]:
    """The request body as it arrives; a body cut short ends in `EOFError`, as `uploads` expects."""
    try:
        async for chunk in request.content.iter_any():
            yield chunk
    except HttpProcessingError as exc:  # ContentLengthError / TransferEncodingError
        raise EOFError(exc.message) from exc


async def _receive(ctx: OciContext, request: web.Request, session: UploadSession) -> None:
    try:
        await ctx.uploads.append(session, _body(request), request.content_length)
    except UploadBroken as exc:
        raise errors.RegistryError(errors.BLOB_UPLOAD_INVALID, f"upload broke off: {exc}") from exc
    except UploadSizeMismatch as exc:
        raise errors.RegistryError(errors.SIZE_INVALID, str(exc)) from exc


async def _finish(
    ctx: OciContext, repo: Repository, session: UploadSession, digest: Digest
) -> None:
    async with ctx.guard.using(digest):  # the blob GC must not take the file meanwhile
        try:
            size = await ctx.uploads.commit(session, digest)
        except UploadDigestMismatch as exc:
            raise errors.RegistryError(
                errors.BLOB_UPLOAD_INVALID, str(exc), detail={"digest": str(digest)}
            ) from exc
        async with ctx.store.write() as conn:
            await metadata.link_blob(conn, repo.id, digest, size)


async def _try_mount(
    request: web.Request, allowed: Authorized, digest_text: str, source: str
) -> web.Response | None:
    ctx = context_of(request)
    digest = parse_digest(digest_text)
    try:
        source_name = parse_repository_name(source)
    except NameError_:
        return None
    if not allowed.access.allows(str(source_name), "pull"):
        return None
    source_repo = await find_repository(ctx, source_name)
    if source_repo is None:
        return None
    async with ctx.guard.using(digest):  # the blob GC must not take the file meanwhile
        async with ctx.store.read() as conn:
            size = await metadata.linked_blob_size(conn, source_repo.id, digest)
        if size is None or ctx.blobs.size(digest) is None:
            return None
        repo = await repository_for_push(request, allowed)
        async with ctx.store.write() as conn:
            await metadata.link_blob(conn, repo.id, digest, size)
    return _blob_created(ctx, request, allowed.name, digest)


async def start_upload(request: web.Request) -> web.Response:
    """End-4a (202 session), end-4b (201 with `?digest=` and a body), end-11 (`?mount=&from=`)."""
    ctx = context_of(request)
    allowed = await authorize(request, "push", may_create=True)
    mount, source = request.query.get("mount"), request.query.get("from")
    if mount and source:
        mounted = await _try_mount(request, allowed, mount, source)
        if mounted is not None:
            return mounted
    digest_text = request.query.get("digest")
    digest = parse_digest(digest_text) if digest_text is not None else None
    repo = await repository_for_push(request, allowed)
    session = ctx.uploads.create(str(allowed.name))
    if digest is None:
        return replies.empty(202, _session_headers(ctx, request, session))
    try:
        async with ctx.uploads.lock(session.uuid):
            await _receive(ctx, request, session)
            await _finish(ctx, repo, session, digest)
    finally:
        ctx.uploads.delete(session)
    return _blob_created(ctx, request, allowed.name, digest)


async def _session(request: web.Request, allowed: Authorized) -> UploadSession:
    session = context_of(request).uploads.get(request.match_info["uuid"])
    if session is None or session.repository != str(allowed.name):
        raise errors.RegistryError(
            errors.BLOB_UPLOAD_UNKNOWN, detail={"uuid": request.match_info["uuid"][:64]}
        )
    return session


async def upload_chunk(request: web.Request) -> web.Response:
    """End-5: append one chunk; a `Content-Range` must start where the session ends (else 416)."""
    ctx = context_of(request)
    allowed = await authorize(request, "push")
    session = await _session(request, allowed)
    async with ctx.uploads.lock(session.uuid):
        session = await _session(request, allowed)  # re-read: a concurrent chunk may have landed
        content_range = request.headers.get("Content-Range")
        if content_range is not None:
            match = _CONTENT_RANGE.match(content_range.strip())
            if match is None or int(match.group(1)) != session.size:
                raise errors.RegistryError(
                    errors.RANGE_INVALID,
                    f"chunk must start at byte {session.size}",
                )
            length = int(match.group(2)) - int(match.group(1)) + 1
            if request.content_length is not None and request.content_length != length:
                raise errors.RegistryError(
                    errors.SIZE_INVALID, "Content-Range and Content-Length disagree"
                )
        await _receive(ctx, request, session)
    return replies.empty(202, _session_headers(ctx, request, session))


async def finish_upload(request: web.Request) -> web.Response:
    """End-6: optional last chunk, then verify `?digest=` and commit the blob (201)."""
    ctx = context_of(request)
    allowed = await authorize(request, "push")
    assert allowed.repository is not None
    session = await _session(request, allowed)
    digest_text = request.query.get("digest")
    if digest_text is None:
        raise errors.RegistryError(errors.DIGEST_INVALID, "digest parameter is required")
    digest = parse_digest(digest_text)
    async with ctx.uploads.lock(session.uuid):
        session = await _session(request, allowed)
        if request.body_exists:
            await _receive(ctx, request, session)
        await _finish(ctx, allowed.repository, session, digest)
    return _blob_created(ctx, request, allowed.name, digest)


async def upload_status(request: web.Request) -> web.Response:
    """End-13: where the upload stands (204 with `Range`)."""
    ctx = context_of(request)
    allowed = await authorize(request, "push")
    session = await _session(request, allowed)
    return replies.empty(204, _session_headers(ctx, request, session))


async def cancel_upload(request: web.Request) -> web.Response:
    """Abandon an upload and remove its data (204)."""
    ctx = context_of(request)
    allowed = await authorize(request, "push")
    session = await _session(request, allowed)
    async with ctx.uploads.lock(session.uuid):
        ctx.uploads.delete(session)
    return replies.empty(204, {})
