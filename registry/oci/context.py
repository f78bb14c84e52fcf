"""What every `/v2` handler needs: the stores, the signing key, URLs and the auth check.

`OciContext` is built once per application (`routing.add_routes` arranges it) and reached from a
request with `context_of`. `authorize` is the single gate of the data endpoints: it validates the
repository name, accepts only `Bearer <jwt>` signed by our key for our hostname, checks the token's
`access` grants the action, and finds the repository, answering as Quay does (401 `UNAUTHORIZED`
with a `scope` challenge when the token does not grant it, 404 `NAME_UNKNOWN` when a granted
repository does not exist). A token whose credential has gone since it was minted (see
`liveness`) is treated as no token at all.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from registry import access
from registry.oci import errors, liveness, metadata
from registry.oci.blobstore import BlobStore
from registry.oci.collector import BlobGuard
from registry.oci.scopes import NameError_, RepositoryName, parse_repository_name
from registry.oci.signing import SigningKey, TokenError
from registry.oci.tokens import ANONYMOUS, ClaimsError, TokenAccess, check_claims
from registry.oci.uploads import UploadStore
from registry.settings import Settings
from registry.store import accounts, repositories
from registry.store.database import Store
from registry.store.repositories import Repository

Need = Literal["pull", "push", "*"]

UPLOAD_MAX_AGE_SECONDS = 7 * 24 * 3600
"""Upload sessions older than this (a week, as distribution's purge) are removed at start-up."""


@dataclass
class OciContext:
    """The `/v2` API's long-lived parts."""

    store: Store
    settings: Settings
    blobs: BlobStore
    uploads: UploadStore
    key: SigningKey
    guard: BlobGuard

    @classmethod
    def create(cls, store: Store, settings: Settings) -> OciContext:
        """Open the blob store under `<data-dir>/oci` and load (or make) the signing key."""
        blobs = BlobStore(settings.data_dir / "oci")
        blobs.clean_tmp()
        uploads = UploadStore(blobs)
        uploads.purge_older_than(UPLOAD_MAX_AGE_SECONDS)
        return cls(
            store=store,
            settings=settings,
            blobs=blobs,
            uploads=uploads,
            key=SigningKey.load_or_create(settings.data_dir),
            guard=BlobGuard(),
        )

    def hostname(self, request: web.Request) -> str:
        """Quay's SERVER_HOSTNAME: the configured one, else the request's Host."""
        return self.settings.server_hostname or request.host

    def base_url(self, request: web.Request) -> str:
        """`<scheme>://<hostname>`, the root of every absolute URL the API returns."""
        return f"{self.settings.preferred_url_scheme}://{self.hostname(request)}"

    def realm(self, request: web.Request) -> str:
        """The token endpoint named in challenges."""
        return f"{self.base_url(request)}/v2/auth"


OCI_CONTEXT = web.AppKey("oci_context", OciContext)


def context_of(request: web.Request) -> OciContext:
    """The application's `OciContext`."""
    return request.app[OCI_CONTEXT]


def repository_name(request: web.Request) -> RepositoryName:
    """The `{name}` of the route, validated (400 `NAME_INVALID` otherwise)."""
    try:
        return parse_repository_name(request.match_info["name"])
    except NameError_ as exc:
        raise errors.RegistryError(errors.NAME_INVALID, str(exc)) from exc


_BEARER = re.compile(r"^[Bb]earer\s+([-\w.]+)$")
"""Quay's TOKEN_REGEX: anything else in `Authorization` is "Invalid bearer token format"."""
INVALID_FORMAT = "Invalid bearer token format"
DEAD_CREDENTIAL = "the credential this token was issued for is no longer valid"


class BearerRefused(Exception):
    """An `Authorization` header that is not a valid, live registry token (Quay's abort 401)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_bearer(request: web.Request, ctx: OciContext) -> TokenAccess | None:
    """The access of the request's `Bearer` JWT; None without an `Authorization` header.

    Raises:
        BearerRefused: another scheme (Basic credentials sent straight to a data endpoint), or a
            token that is malformed, not ours, expired or for another audience.
    """
    header = request.headers.get("Authorization", "").strip()
    if not header:
        return None
    match = _BEARER.match(header)
    if match is None:
        raise BearerRefused(INVALID_FORMAT)
    try:
        claims = ctx.key.verify(match.group(1))
        return check_claims(claims, ctx.hostname(request), int(time.time()))
    except (TokenError, ClaimsError) as exc:
        raise BearerRefused(str(exc)) from exc


def bearer_access(request: web.Request, ctx: OciContext) -> TokenAccess | None:
    """The access a valid `Bearer` JWT grants, or None without one (or with a bad one)."""
    try:
        return check_bearer(request, ctx)
    except BearerRefused:
        return None


async def check_live_bearer(request: web.Request, ctx: OciContext) -> TokenAccess | None:
    """`check_bearer`, also refusing a token whose credential is no longer live.

    Raises:
        BearerRefused: as `check_bearer`, or the token's credential has gone or changed.
    """
    granted = check_bearer(request, ctx)
    if granted is None:
        return None
    if granted.credential is None:
        # Without the claim only an anonymous token is acceptable (it names no credential).
        if granted.subject == ANONYMOUS:
            return granted
        raise BearerRefused(DEAD_CREDENTIAL)
    async with ctx.store.read() as conn:
        alive = await liveness.is_live(conn, granted, time.time())
    if not alive:
        raise BearerRefused(DEAD_CREDENTIAL)
    return granted


async def live_bearer_access(request: web.Request, ctx: OciContext) -> TokenAccess | None:
    """`check_live_bearer`, None for any refused token."""
    try:
        return await check_live_bearer(request, ctx)
    except BearerRefused:
        return None


def _challenge_scope(name: RepositoryName, need: Need) -> str:
    actions = {"pull": "pull", "push": "pull,push", "*": "*"}[need]
    return f"repository:{name}:{actions}"


async def find_repository(ctx: OciContext, name: RepositoryName) -> Repository | None:
    """The live repository `name`, or None."""
    async with ctx.store.read() as conn:
        return await metadata.repository_by_name(conn, name.namespace, name.repository)


@dataclass(frozen=True)
class Authorized:
    """The outcome of `authorize`: the repository (None only for a push that may create it)."""

    name: RepositoryName
    repository: Repository | None
    access: TokenAccess


async def authorize(
    request: web.Request, need: Need, *, may_create: bool = False, resolve: bool = True
) -> Authorized:
    """Gate a data endpoint.

    Args:
        request: the request (its route carries `{name}`).
        need: the action the endpoint needs.
        may_create: a push endpoint that creates the repository when the token allows it.
        resolve: look the repository up now; a handler that finds its content and the repository
            in one query passes False (then `repository` is None and `NAME_UNKNOWN` is its job).

    Raises:
        RegistryError: `NAME_INVALID`, `UNAUTHORIZED` (401 with a scope challenge), `NAME_UNKNOWN`.
    """
    ctx = context_of(request)
    name = repository_name(request)
    try:
        granted = await check_live_bearer(request, ctx)
    except BearerRefused as refused:
        raise errors.TokenRefused(refused.reason, _challenge_scope(name, need)) from refused
    if granted is None and need == "pull":
        # As Quay: no Authorization header at all is an anonymous caller, who may read a public
        # repository without fetching a token first.
        repo = await find_repository(ctx, name)
        if repo is not None and repo.is_public:
            return Authorized(name, repo, TokenAccess(ANONYMOUS, {str(name): frozenset({"pull"})}))
    if granted is None or not granted.allows(str(name), need):
        raise errors.RegistryError(
            errors.UNAUTHORIZED, challenge_scope=_challenge_scope(name, need)
        )
    if not resolve:
        return Authorized(name, None, granted)
    repo = await find_repository(ctx, name)
    if repo is None and not (may_create and need == "push"):
        raise errors.RegistryError(errors.NAME_UNKNOWN, detail={"name": str(name)})
    return Authorized(name, repo, granted)


async def repository_for_push(request: web.Request, allowed: Authorized) -> Repository:
    """The repository to write to, created now when the token allowed push-to-create.

    The token was granted `push` on a missing repository only because its bearer could create
    repositories in the namespace; that is checked again here (the caller may have lost the right
    since), and the repository is made private with the bearer as creator, so the org's prototypes
    apply as they do for a repository created through the REST API.
    """
    if allowed.repository is not None:
        return allowed.repository
    ctx = context_of(request)
    name = allowed.name
    async with ctx.store.write() as conn:
        namespace = await accounts.get_by_name(conn, name.namespace)
        creator = await accounts.get_by_name(conn, allowed.access.subject)
        entity = None
        if creator is not None and creator.kind in ("user", "robot"):
            entity = access.Entity(
                account_id=creator.id,
                name=creator.username,
                kind="robot" if creator.is_robot else "user",
            )
        if (
            namespace is None
            or namespace.is_robot
            or not await access.can_create_repository_in(conn, entity, name.namespace)
        ):
            raise errors.RegistryError(errors.DENIED, "cannot create repository by push")
        existing = await repositories.get_repository(conn, namespace.id, name.repository)
        if existing is not None:
            return existing
        try:
            # A savepoint: on PostgreSQL a concurrent first push's unique violation must not
            # poison the whole transaction.
            async with conn.begin_nested():
                return await repositories.create_repository(
                    conn, namespace, name.repository, "private", "", "image", creator
                )
        except repositories.RepositoryExistsError:
            pass
    found = await find_repository(ctx, name)
    if found is None:
        raise errors.RegistryError(errors.NAME_UNKNOWN, detail={"name": str(name)})
    return found
