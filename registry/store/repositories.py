"""Repositories, their permissions, prototypes' effect at creation, and the REST tag views.

Deleting a repository frees its name at once, as Quay does: the row is renamed to its status token
and marked ``MARKED_FOR_DELETION``, its permissions dropped; ``collection.purge_repository``
removes it with its OCI rows later (the namespace GC pass does both).
"""

from __future__ import annotations

import functools
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, bindparam, delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.scopes import RepoRole, max_repo_role
from registry.store import prepared
from registry.store.accounts import Account
from registry.store.prepared import Prepared
from registry.store.schema import (
    account,
    blob,
    manifest,
    manifest_reference,
    prototype,
    repository,
    repository_permission,
    tag,
    team_member,
)


class RepositoryExistsError(Exception):
    """A repository with that name already exists in the namespace."""


@dataclass(frozen=True)
class Creator:
    """Who creates a repository: enough to grant it admin and match activating users."""

    id: int
    is_robot: bool = False


@dataclass(frozen=True)
class Repository:
    """A repository row."""

    id: int
    namespace_id: int
    namespace: str
    name: str
    visibility: str
    description: str
    kind: str
    state: str
    status_token: str
    created: float

    @property
    def is_public(self) -> bool:
        """Whether anyone may pull."""
        return self.visibility == "public"


_COLUMNS = (
    repository.c.id,
    repository.c.namespace_id,
    account.c.username.label("namespace"),
    repository.c.name,
    repository.c.visibility,
    repository.c.description,
    repository.c.kind,
    repository.c.state,
    repository.c.status_token,
    repository.c.created,
)


def _to_repository(row: Row[Any]) -> Repository:
    return Repository(**dict(row._mapping))


def select_repositories() -> Any:
    """Select :class:`Repository` rows (the repository joined to its namespace's name).

    Also the start of the OCI API's lookup by name (``registry.oci.metadata``), so the row shape
    is declared once, beside the dataclass it fills.
    """
    return select(*_COLUMNS).select_from(
        repository.join(account, account.c.id == repository.c.namespace_id)
    )


_BY_NAME = Prepared(
    select_repositories().where(
        repository.c.namespace_id == bindparam("namespace_id"),
        repository.c.name == bindparam("name"),
        repository.c.state == "NORMAL",
    )
)


async def get_repository(conn: AsyncConnection, namespace_id: int, name: str) -> Repository | None:
    """The live repository ``name`` in ``namespace_id``, or None."""
    row = await prepared.fetch_one(conn, _BY_NAME, {"namespace_id": namespace_id, "name": name})
    return Repository(*row) if row else None


async def list_repositories(
    conn: AsyncConnection, namespace_id: int, offset: int, limit: int
) -> list[Repository]:
    """Live repositories of a namespace by name, ``limit`` from ``offset``."""
    rows = await conn.execute(
        select_repositories()
        .where(repository.c.namespace_id == namespace_id, repository.c.state == "NORMAL")
        .order_by(repository.c.name)
        .offset(offset)
        .limit(limit)
    )
    return [_to_repository(row) for row in rows]


async def list_public_repositories(
    conn: AsyncConnection, offset: int, limit: int
) -> list[Repository]:
    """Live public repositories of every namespace, by namespace and name."""
    rows = await conn.execute(
        select_repositories()
        .where(
            repository.c.visibility == "public",
            repository.c.state == "NORMAL",
            account.c.enabled.is_(True),
        )
        .order_by(account.c.username, repository.c.name)
        .offset(offset)
        .limit(limit)
    )
    return [_to_repository(row) for row in rows]


_INSERT_REPOSITORY = prepared.insert_row(repository)
_INSERT_PERMISSION = prepared.insert_row(repository_permission)


async def create_repository(
    conn: AsyncConnection,
    namespace: Account,
    name: str,
    visibility: str,
    description: str,
    kind: str,
    creator: Account | Creator | None,
) -> Repository:
    """Create a repository; give the creator admin and apply the org's prototypes.

    As Quay does (docs/reference/quay.md#prototypes): prototypes apply only in organizations and
    only when the creator is a user or robot other than the namespace; one with an activating user
    beats a generic one per delegate; the creator is skipped as a delegate.

    Raises:
        RepositoryExistsError: the name is taken in this namespace.
    """
    status_token, created = str(uuid.uuid4()), time.time()
    try:
        outcome = await prepared.run(
            conn,
            _INSERT_REPOSITORY,
            {
                "namespace_id": namespace.id,
                "name": name,
                "visibility": visibility,
                "description": description,
                "kind": kind,
                "state": "NORMAL",
                "status_token": status_token,
                "created": created,
            },
        )
    except IntegrityError as error:
        raise RepositoryExistsError(name) from error
    repo_id = outcome.lastrowid or 0
    if creator is not None and creator.id != namespace.id:
        await prepared.run(
            conn,
            _INSERT_PERMISSION,
            {"repository_id": repo_id, "account_id": creator.id, "team_id": None, "role": "admin"},
        )
        if namespace.is_org:
            await _apply_prototypes(conn, namespace, repo_id, creator)
    return Repository(
        id=repo_id,
        namespace_id=namespace.id,
        namespace=namespace.username,
        name=name,
        visibility=visibility,
        description=description,
        kind=kind,
        state="NORMAL",
        status_token=status_token,
        created=created,
    )


_APPLICABLE_PROTOTYPES = Prepared(
    select(
        prototype.c.delegate_account_id,
        prototype.c.delegate_team_id,
        prototype.c.activating_account_id,
        prototype.c.role,
    )
    .where(prototype.c.organization_id == bindparam("org_id"))
    .where(
        prototype.c.activating_account_id.is_(None)
        | (prototype.c.activating_account_id == bindparam("creator_id"))
    )
    .order_by(prototype.c.id)
)


async def _apply_prototypes(
    conn: AsyncConnection, org: Account, repo_id: int, creator: Account | Creator
) -> None:
    rows = await prepared.fetch_all(
        conn, _APPLICABLE_PROTOTYPES, {"org_id": org.id, "creator_id": creator.id}
    )
    chosen: dict[tuple[str, int], tuple[bool, str]] = {}
    for delegate_account_id, delegate_team_id, activating_account_id, role in rows:
        if delegate_account_id is not None:
            key = ("user", int(delegate_account_id))
        elif delegate_team_id is not None:
            key = ("team", int(delegate_team_id))
        else:
            continue
        specific = activating_account_id is not None
        if key not in chosen or (specific and not chosen[key][0]):
            chosen[key] = (specific, role)
    grants = [
        {
            "repository_id": repo_id,
            "account_id": delegate_id if kind == "user" else None,
            "team_id": delegate_id if kind == "team" else None,
            "role": role,
        }
        for (kind, delegate_id), (_, role) in chosen.items()
        if kind == "team" or delegate_id != creator.id
    ]
    await prepared.run_many(conn, _INSERT_PERMISSION, grants)


async def mark_repository_deleted(conn: AsyncConnection, repo: Repository) -> None:
    """Free the name at once and drop the permissions; the rows wait for ``purge_repository``."""
    await conn.execute(
        delete(repository_permission).where(repository_permission.c.repository_id == repo.id)
    )
    await conn.execute(
        update(repository)
        .where(repository.c.id == repo.id)
        .values(name=f"deleted-{repo.status_token}", state="MARKED_FOR_DELETION")
    )


async def set_visibility(conn: AsyncConnection, repo_id: int, visibility: str) -> None:
    """Make a repository ``public`` or ``private``."""
    await conn.execute(
        update(repository).where(repository.c.id == repo_id).values(visibility=visibility)
    )


# --- permissions ---


@dataclass(frozen=True)
class UserPermission:
    """A user's or robot's direct role on a repository."""

    account: Account
    role: RepoRole


async def user_permissions(conn: AsyncConnection, repo_id: int) -> list[UserPermission]:
    """Direct user and robot permissions on a repository, by account name."""
    from registry.store.accounts import to_account

    rows = await conn.execute(
        select(account, repository_permission.c.role.label("perm_role"))
        .select_from(
            repository_permission.join(account, account.c.id == repository_permission.c.account_id)
        )
        .where(repository_permission.c.repository_id == repo_id)
        .order_by(account.c.username)
    )
    return [UserPermission(to_account(row), row._mapping["perm_role"]) for row in rows]


async def set_user_permission(
    conn: AsyncConnection, repo_id: int, account_id: int, role: RepoRole
) -> None:
    """Grant or change a direct permission."""
    updated = await conn.execute(
        update(repository_permission)
        .where(
            repository_permission.c.repository_id == repo_id,
            repository_permission.c.account_id == account_id,
        )
        .values(role=role)
    )
    if updated.rowcount == 0:
        await conn.execute(
            repository_permission.insert().values(
                repository_id=repo_id, account_id=account_id, role=role
            )
        )


async def delete_user_permission(conn: AsyncConnection, repo_id: int, account_id: int) -> bool:
    """Remove a direct permission; False when there was none."""
    result = await conn.execute(
        delete(repository_permission).where(
            repository_permission.c.repository_id == repo_id,
            repository_permission.c.account_id == account_id,
        )
    )
    return bool(result.rowcount)


_HELD_ROLES = Prepared(
    select(repository_permission.c.role).where(
        repository_permission.c.repository_id == bindparam("repo_id"),
        (repository_permission.c.account_id == bindparam("account_id"))
        | exists().where(
            team_member.c.team_id == repository_permission.c.team_id,
            team_member.c.account_id == bindparam("account_id"),
        ),
    )
)


async def held_role(conn: AsyncConnection, repo_id: int, account_id: int) -> RepoRole | None:
    """The best role ``account_id`` holds on a repository, directly or through a team.

    The repository's few permission rows are walked, each team one probed by its membership key,
    rather than every team membership of the account.
    """
    rows = await prepared.fetch_all(
        conn, _HELD_ROLES, {"repo_id": repo_id, "account_id": account_id}
    )
    return max_repo_role(*(role for (role,) in rows))


# --- tags (read by the REST API; written by the /v2 API) ---


@dataclass(frozen=True)
class TagView:
    """One tag row joined with its manifest."""

    name: str
    start_ts: int
    end_ts: int | None
    manifest_digest: str
    media_type: str
    size: int


_LIST_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}


def is_manifest_list(media_type: str) -> bool:
    """Whether a manifest media type is an index / manifest list."""
    return media_type in _LIST_TYPES


async def list_tags(
    conn: AsyncConnection,
    repo_id: int,
    *,
    only_active: bool,
    name_equals: str | None = None,
    name_like: str | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[TagView]:
    """Tags of a repository, newest first; history rows too unless ``only_active``."""
    if limit is not None and name_like is None:  # the REST views' shapes: statements built once
        statement = _paged_tags(only_active, name_equals is not None)
        params: dict[str, Any] = {"repo_id": repo_id, "limit": limit, "offset": offset}
        if name_equals is not None:
            params["name"] = name_equals
        rows = await prepared.fetch_all(conn, statement, params)
    else:
        query = _tags_query().where(tag.c.repository_id == repo_id)
        if only_active:
            query = query.where(tag.c.end_ts.is_(None))
        if name_equals is not None:
            query = query.where(tag.c.name == name_equals)
        if name_like is not None:
            query = query.where(tag.c.name.contains(name_like, autoescape=True))
        if offset:
            query = query.offset(offset)
        if limit is not None:
            query = query.limit(limit)
        rows = list(await conn.execute(query))
    return [
        TagView(
            name=name,
            start_ts=int(start_ts),
            end_ts=None if end_ts is None else int(end_ts),
            manifest_digest=digest,
            media_type=media_type,
            size=int(layers or 0),
        )
        for name, start_ts, end_ts, digest, media_type, layers in rows
    ]


def _tags_query() -> Select[Any]:
    layer_size = (
        select(func.coalesce(func.sum(blob.c.size), 0))
        .select_from(manifest_reference.join(blob, blob.c.digest == manifest_reference.c.digest))
        .where(
            manifest_reference.c.manifest_id == manifest.c.id, manifest_reference.c.kind == "blob"
        )
        .correlate(manifest)
        .scalar_subquery()
    )
    return (
        select(
            tag.c.name,
            tag.c.start_ts,
            tag.c.end_ts,
            manifest.c.digest,
            manifest.c.media_type,
            layer_size.label("layers"),
        )
        .select_from(tag.join(manifest, manifest.c.id == tag.c.manifest_id))
        .order_by(tag.c.start_ts.desc(), tag.c.id.desc())
    )


@functools.cache
def _paged_tags(only_active: bool, by_name: bool) -> Prepared:
    query = _tags_query().where(tag.c.repository_id == bindparam("repo_id"))
    if only_active:
        query = query.where(tag.c.end_ts.is_(None))
    if by_name:
        query = query.where(tag.c.name == bindparam("name"))
    return Prepared(query.limit(bindparam("limit")).offset(bindparam("offset")))
