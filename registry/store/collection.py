"""Collection: what deleting leaves for the namespace GC, and the purges that remove it.

Deleting a repository or an organization only marks it (``repositories.mark_repository_deleted``,
``organizations.mark_organization_deleted``), so the name is free or reserved at once and the
request stays short; the application's namespace GC pass later finds the marks here and purges
the rows. Blobs are shared between repositories and are the blob collector's (``registry.oci``).
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.store.schema import (
    account,
    deleted_namespace,
    manifest,
    manifest_reference,
    oauth_application,
    oauth_token,
    prototype,
    repository,
    repository_blob,
    repository_permission,
    tag,
    team,
    team_member,
    upload,
)


async def repositories_marked_deleted(conn: AsyncConnection) -> list[int]:
    """Ids of repositories waiting to be purged."""
    rows = await conn.execute(
        select(repository.c.id).where(repository.c.state == "MARKED_FOR_DELETION")
    )
    return [int(value) for value in rows.scalars()]


async def purge_repository(conn: AsyncConnection, repo_id: int) -> None:
    """Delete a repository row with its permissions and OCI rows (blobs themselves are shared)."""
    manifest_ids = select(manifest.c.id).where(manifest.c.repository_id == repo_id)
    await conn.execute(delete(tag).where(tag.c.repository_id == repo_id))
    await conn.execute(
        delete(manifest_reference).where(manifest_reference.c.manifest_id.in_(manifest_ids))
    )
    await conn.execute(delete(manifest).where(manifest.c.repository_id == repo_id))
    await conn.execute(delete(repository_blob).where(repository_blob.c.repository_id == repo_id))
    await conn.execute(delete(upload).where(upload.c.repository_id == repo_id))
    await conn.execute(
        delete(repository_permission).where(repository_permission.c.repository_id == repo_id)
    )
    await conn.execute(delete(repository).where(repository.c.id == repo_id))


async def due_deleted_namespaces(conn: AsyncConnection, marked_before: float) -> list[int]:
    """Account ids of deleted orgs marked before ``marked_before``."""
    rows = await conn.execute(
        select(deleted_namespace.c.account_id).where(deleted_namespace.c.marked <= marked_before)
    )
    return [int(value) for value in rows.scalars()]


async def purge_organization(conn: AsyncConnection, org_id: int) -> None:
    """Remove an organization or user and everything it owns (the namespace GC's work)."""
    repo_ids = (
        (await conn.execute(select(repository.c.id).where(repository.c.namespace_id == org_id)))
        .scalars()
        .all()
    )
    for repo_id in repo_ids:
        await purge_repository(conn, repo_id)
    robot_ids = (
        (
            await conn.execute(
                select(account.c.id).where(
                    account.c.kind == "robot", account.c.organization_id == org_id
                )
            )
        )
        .scalars()
        .all()
    )
    team_ids = (
        (await conn.execute(select(team.c.id).where(team.c.organization_id == org_id)))
        .scalars()
        .all()
    )
    app_ids = (
        (
            await conn.execute(
                select(oauth_application.c.id).where(oauth_application.c.organization_id == org_id)
            )
        )
        .scalars()
        .all()
    )
    await conn.execute(delete(prototype).where(prototype.c.organization_id == org_id))
    if app_ids:
        await conn.execute(delete(oauth_token).where(oauth_token.c.application_id.in_(app_ids)))
        await conn.execute(delete(oauth_application).where(oauth_application.c.id.in_(app_ids)))
    if robot_ids:
        await conn.execute(
            delete(repository_permission).where(repository_permission.c.account_id.in_(robot_ids))
        )
        await conn.execute(delete(team_member).where(team_member.c.account_id.in_(robot_ids)))
        await conn.execute(
            delete(prototype).where(
                prototype.c.delegate_account_id.in_(robot_ids)
                | prototype.c.activating_account_id.in_(robot_ids)
            )
        )
    if team_ids:
        await conn.execute(
            delete(repository_permission).where(repository_permission.c.team_id.in_(team_ids))
        )
        await conn.execute(delete(prototype).where(prototype.c.delegate_team_id.in_(team_ids)))
        await conn.execute(delete(team_member).where(team_member.c.team_id.in_(team_ids)))
        await conn.execute(delete(team).where(team.c.id.in_(team_ids)))
    if robot_ids:
        await conn.execute(delete(account).where(account.c.id.in_(robot_ids)))
    # A deleted user (the same GC purges it) holds rows of its own: tokens, memberships, grants.
    await conn.execute(delete(oauth_token).where(oauth_token.c.account_id == org_id))
    await conn.execute(delete(team_member).where(team_member.c.account_id == org_id))
    await conn.execute(
        delete(repository_permission).where(repository_permission.c.account_id == org_id)
    )
    await conn.execute(
        delete(prototype).where(
            (prototype.c.delegate_account_id == org_id)
            | (prototype.c.activating_account_id == org_id)
        )
    )
    await conn.execute(delete(deleted_namespace).where(deleted_namespace.c.account_id == org_id))
    await conn.execute(delete(account).where(account.c.id == org_id))
