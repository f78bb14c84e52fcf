"""Who is calling and what they may do: the access functions both APIs share.

The Quay REST API and the OCI ``/v2`` API authenticate differently (a bearer OAuth token; Basic
credentials at ``/v2/auth``) but must agree on roles, so both call these functions. Roles follow
Quay (docs/reference/quay.md#registry-token-auth, docs/reference/quay.md#oauth-scopes): a direct
permission or a team's, org admins hold admin on every repository of the org, public repositories
are readable by anyone, and OAuth scopes cap it all.

Entry points (stable signatures):

- ``authenticate_basic(store, username, password) -> Entity | None``
- ``authenticate_bearer(store, token) -> Entity | None``
- ``repository_role(store, entity, namespace, repo) -> "read" | "write" | "admin" | None``
- ``can_create_repository(store, entity, namespace) -> bool``
- ``organization_role(store, entity, namespace) -> "member" | "creator" | "admin" | None``

Each has an ``*_in`` twin taking an open connection, for callers already inside a transaction.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from registry import credentials
from registry.names import parse_robot_name
from registry.scopes import (
    RepoRole,
    TeamRole,
    cap_repo_role,
    cap_team_role,
    max_repo_role,
    parse_scopes,
    repo_role_cap,
    team_role_at_least,
    team_role_cap,
)
from registry.store import accounts, oauth, organizations, repositories, teams
from registry.store.database import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entity:
    """An authenticated caller.

    Attributes:
        account_id: the ``account`` row id of the user or robot.
        name: the username, or the robot's full name ``org+short``.
        kind: ``"user"`` or ``"robot"``.
        scopes: the OAuth token's scopes when authenticated with a token (they cap every role);
            None for a password or robot token, which are unrestricted.
        token_uuid: the OAuth token's uuid when authenticated with one, else None.
        superuser: the user is a registry superuser (the first, initialized user is one); superuser
            powers also need the ``super:user`` scope when authenticated with a token.
    """

    account_id: int
    name: str
    kind: Literal["user", "robot"]
    scopes: frozenset[str] | None = None
    token_uuid: str | None = None
    superuser: bool = False

    @property
    def is_robot(self) -> bool:
        """Whether the caller is a robot account."""
        return self.kind == "robot"

    def has_scope(self, scope: str) -> bool:
        """Whether the credential carries ``scope`` (unrestricted credentials carry all)."""
        return self.scopes is None or scope in self.scopes

    @property
    def acts_as_superuser(self) -> bool:
        """Superuser and, for a token, the ``super:user`` scope."""
        return self.superuser and self.has_scope("super:user")


def _entity_for(account: accounts.Account, token: oauth.Token | None = None) -> Entity:
    return Entity(
        account_id=account.id,
        name=account.username,
        kind="robot" if account.is_robot else "user",
        scopes=parse_scopes(token.scope) if token is not None else None,
        token_uuid=token.uuid if token is not None else None,
        superuser=account.superuser,
    )


LAST_ACCESSED_UPDATE_SECONDS = 60.0
"""A robot login records ``last_accessed`` when the recorded one is older than this (Quay's
LAST_ACCESSED_UPDATE_THRESHOLD_S), so a burst of pulls costs one write, not one per login."""

TOKEN_CACHE_SECONDS = 5.0
TOKEN_CACHE_MAX = 10_000


def cached_bearer(store: Store, token: str) -> Entity | None:
    """The entity of a recently validated, unexpired token, or None (then look it up)."""
    key = store.keyring.digest(token)
    cached = store.token_cache.get(key)
    if cached is None:
        return None
    now = time.time()
    checked, (entity, expires_at) = cached
    if now - checked < TOKEN_CACHE_SECONDS and (expires_at is None or now < expires_at):
        assert isinstance(entity, Entity)
        return entity
    store.token_cache.pop(key, None)
    return None


async def authenticate_bearer_in(conn: AsyncConnection, store: Store, token: str) -> Entity | None:
    """``authenticate_bearer`` on an open connection.

    A validated token is remembered for ``TOKEN_CACHE_SECONDS`` (never past its expiry), so
    revoking it in another process takes effect within that time.
    """
    now = time.time()
    key = store.keyring.digest(token)
    remembered = cached_bearer(store, token)
    if remembered is not None:
        return remembered
    found = await oauth.find_valid_token(conn, store.keyring, token, now)
    if found is None:
        return None
    account = await accounts.get_by_id(conn, found.account_id)
    if account is None or not account.enabled:
        return None
    entity = _entity_for(account, found)
    if len(store.token_cache) >= TOKEN_CACHE_MAX:
        store.token_cache.clear()
    store.token_cache[key] = (now, (entity, found.expires_at))
    return entity


async def authenticate_bearer(store: Store, token: str) -> Entity | None:
    """The user behind an unexpired OAuth access token, with its scopes; None if invalid."""
    async with store.read() as conn:
        return await authenticate_bearer_in(conn, store, token)


async def authenticate_basic(store: Store, username: str, password: str) -> Entity | None:
    """Check registry-login credentials, as Quay's ``/v2/auth`` does.

    - ``$oauthtoken`` with an OAuth access token: that token's user, capped by its scopes;
    - ``org+short`` with the robot's token: the robot (its org must exist and be enabled);
    - a username with its password: the user.

    Returns None for anything else (never raises on bad input).
    """
    if not username or not password:
        return None
    if username == "$oauthtoken":
        return await authenticate_bearer(store, password)
    async with store.read() as conn:
        account = await accounts.get_by_name(conn, username)
        if account is None:
            return None
        if account.is_robot:
            owner = (
                await accounts.get_by_id(conn, account.organization_id)
                if account.organization_id is not None
                else None
            )
            if owner is None or not owner.enabled or parse_robot_name(username) is None:
                return None
            if account.robot_token_sealed is None:
                return None
            try:
                expected = store.keyring.unseal(account.robot_token_sealed)
            except ValueError:
                return None
            if not hmac.compare_digest(expected.encode(), password.encode()):
                return None
        elif account.kind != "user":
            return None
    if account.is_robot:
        if time.time() - (account.last_accessed or 0.0) >= LAST_ACCESSED_UPDATE_SECONDS:
            async with store.write() as conn:
                await accounts.touch(conn, account.id)
        return _entity_for(account)
    algorithms = store.keyring.algorithms
    stored = account.password_hash
    ok = await asyncio.to_thread(credentials.check_password, password, stored, algorithms)
    if not ok:
        if algorithms.fips and credentials.password_scheme(stored) == "scrypt":
            log.warning(
                "user %s has a scrypt password hash, which FIPS mode cannot check: see "
                "docs/fips.md (migrating passwords)",
                username,
            )
        return None
    if stored is not None and credentials.needs_rehash(stored, algorithms):
        rehashed = await asyncio.to_thread(
            credentials.hash_password, password, algorithms.password_scheme
        )
        async with store.write() as conn:
            await accounts.replace_password_hash(conn, account.id, stored, rehashed)
    return _entity_for(account)


def namespace_team_role(
    entity: Entity, namespace: accounts.Account, held: TeamRole | None
) -> TeamRole | None:
    """The caller's capped team role in ``namespace`` given the role its teams hold there."""
    if namespace.kind == "user":
        held = "admin" if namespace.id == entity.account_id else None
    elif not namespace.is_org:
        return None
    return cap_team_role(held, team_role_cap(entity.scopes))


async def organization_role_in(
    conn: AsyncConnection, entity: Entity | None, namespace: str
) -> TeamRole | None:
    """``organization_role`` on an open connection."""
    if entity is None:
        return None
    ns, held = await organizations.get_with_role(conn, namespace, entity.account_id)
    if ns is None:
        return None
    return namespace_team_role(entity, ns, held)


async def organization_role(store: Store, entity: Entity | None, namespace: str) -> TeamRole | None:
    """The caller's team role in ``namespace`` after scope capping (own user namespace = admin)."""
    async with store.read() as conn:
        return await organization_role_in(conn, entity, namespace)


async def repository_role_for(
    conn: AsyncConnection,
    entity: Entity | None,
    namespace: accounts.Account,
    repo: repositories.Repository,
    team_role: TeamRole | None = None,
) -> RepoRole | None:
    """``repository_role`` for an already loaded namespace and repository.

    ``team_role``: the caller's team role in the namespace when already known (saves a query).
    """
    public: RepoRole | None = "read" if repo.is_public else None
    if entity is None:
        return public
    if namespace.is_org:
        if team_role is None:
            team_role = await teams.team_role(conn, namespace.id, entity.account_id)
        held: RepoRole | None = "admin" if team_role == "admin" else None
    else:
        held = "admin" if namespace.id == entity.account_id else None
    if held is None:
        held = await repositories.held_role(conn, repo.id, entity.account_id)
    return max_repo_role(cap_repo_role(held, repo_role_cap(entity.scopes)), public)


async def repository_role_in(
    conn: AsyncConnection, entity: Entity | None, namespace: str, repo: str
) -> RepoRole | None:
    """``repository_role`` on an open connection."""
    ns = await accounts.get_by_name(conn, namespace)
    if ns is None or ns.is_robot:
        return None
    found = await repositories.get_repository(conn, ns.id, repo)
    if found is None:
        return None
    return await repository_role_for(conn, entity, ns, found)


async def repository_role(
    store: Store, entity: Entity | None, namespace: str, repo: str
) -> Literal["read", "write", "admin"] | None:
    """The caller's role on ``namespace/repo`` (None = no access or no such repository).

    ``entity`` None is an anonymous caller: read on public repositories only.
    """
    async with store.read() as conn:
        return await repository_role_in(conn, entity, namespace, repo)


async def can_create_repository_in(
    conn: AsyncConnection, entity: Entity | None, namespace: str
) -> bool:
    """``can_create_repository`` on an open connection."""
    return team_role_at_least(await organization_role_in(conn, entity, namespace), "creator")


async def can_create_repository(store: Store, entity: Entity | None, namespace: str) -> bool:
    """Whether the caller may create repositories in ``namespace`` (push-to-create included).

    Needs team role ``admin`` or ``creator`` (capped by org:admin / repo:create for tokens), or the
    caller's own user namespace. Robots with only prototype permissions cannot.
    """
    async with store.read() as conn:
        return await can_create_repository_in(conn, entity, namespace)
