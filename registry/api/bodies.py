"""JSON views of accounts, robots, prototypes, repositories, tags and tokens, as pure functions.

Key names, key order and value formats follow real Quay's responses (the golden exchanges), so
clients that compare or display them see no difference: REST dates are RFC 2822 with ``-0000``, the
token API uses ISO 8601 ``Z``, tag times are epoch seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

from registry.api.avatars import Avatar, avatar
from registry.store.accounts import Account
from registry.store.oauth import Application, Token
from registry.store.repositories import Repository, TagView, is_manifest_list
from registry.store.teams import TeamInfo

TAG_EXPIRATION_S = 1209600

Json = dict[str, Any]


def rfc2822(timestamp: float | None) -> str | None:
    """Quay's ``format_date``: ``Sun, 22 Nov 2026 01:22:51 -0000``, or None."""
    return None if timestamp is None else formatdate(timestamp, localtime=False)


def iso8601(timestamp: float | None) -> str | None:
    """ISO 8601 UTC with ``Z`` (the v3.18 token API), or None.

    As Quay's ``datetime.isoformat() + "Z"``: microseconds are shown unless they are zero.
    """
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=UTC).replace(tzinfo=None).isoformat() + "Z"


def account_avatar(entry: Account) -> Avatar:
    """The avatar of a user or robot account."""
    return avatar(entry.username, entry.email, "robot" if entry.is_robot else "user")


def org_avatar(org: Account, kind: str = "user") -> Avatar:
    """An organization's avatar; Quay labels it ``user`` in org GET and ``org`` in user views."""
    return avatar(org.username, org.email, "org" if kind == "org" else "user")


def team_view(info: TeamInfo, repo_count: int = 0) -> Json:
    """A team as org GET shows it."""
    return {
        "name": info.name,
        "description": info.description,
        "role": info.role,
        "avatar": avatar(info.name, info.name, "team"),
        "can_view": True,
        "repo_count": repo_count,
        "member_count": info.member_count,
        "is_synced": False,
    }


def robot_view(
    robot: Account,
    token: str | None,
    *,
    metadata: str = "stored",
    include_token: bool = True,
) -> Json:
    """A robot.

    ``metadata``: ``"stored"`` shows the stored object (``{}`` when none), ``"echo-none"`` shows
    null (PUT without metadata), ``"omit"`` leaves the key out (regenerate, lists).
    """
    view: Json = {
        "name": robot.username,
        "created": rfc2822(robot.created),
        "last_accessed": rfc2822(robot.last_accessed),
        "description": robot.description,
    }
    if include_token:
        view["token"] = token
    if metadata == "stored":
        view["unstructured_metadata"] = robot.unstructured_metadata
    elif metadata == "echo-none":
        view["unstructured_metadata"] = None
    return view


def robot_list_item(
    robot: Account,
    token: str | None,
    *,
    with_permissions: bool,
    teams: list[Json],
    repositories: list[str],
) -> Json:
    """A robot in the org's robot list (never with unstructured_metadata)."""
    view: Json = {
        "name": robot.username,
        "created": rfc2822(robot.created),
        "last_accessed": rfc2822(robot.last_accessed),
    }
    if with_permissions:
        view["teams"] = teams
        view["repositories"] = repositories
    view["description"] = robot.description
    if token is not None:
        view["token"] = token
    return view


def delegate_user_view(entry: Account, is_org_member: bool) -> Json:
    """A user or robot as a prototype delegate or activating user."""
    return {
        "name": entry.username,
        "is_robot": entry.is_robot,
        "kind": "user",
        "is_org_member": True if entry.is_robot else is_org_member,
        "avatar": account_avatar(entry),
    }


def delegate_team_view(name: str) -> Json:
    """A team as a prototype delegate."""
    return {"name": name, "kind": "team", "avatar": avatar(name, name, "team")}


def permission_view(entry: Account, role: str, is_org_member: bool | None) -> Json:
    """A user's or robot's permission on a repository."""
    view: Json = {
        "role": role,
        "name": entry.username,
        "is_robot": entry.is_robot,
        "avatar": account_avatar(entry),
    }
    if is_org_member is not None:
        view["is_org_member"] = True if entry.is_robot else is_org_member
    return view


def repository_view(
    repo: Repository,
    *,
    is_organization: bool,
    can_write: bool,
    can_admin: bool,
    tags: list[TagView] | None,
) -> Json:
    """A repository as ``GET /api/v1/repository/{ns}/{repo}`` shows it (None: no ``tags`` key)."""
    view: Json = {
        "namespace": repo.namespace,
        "name": repo.name,
        "kind": repo.kind,
        "description": repo.description,
        "is_public": repo.is_public,
        "is_organization": is_organization,
        "is_starred": False,
        "status_token": repo.status_token,
        "trust_enabled": False,
        "tag_expiration_s": TAG_EXPIRATION_S,
        "is_free_account": True,
        "state": repo.state,
        "tags": {
            entry.name: {
                "name": entry.name,
                "size": entry.size,
                "last_modified": rfc2822(entry.start_ts),
                "manifest_digest": entry.manifest_digest,
            }
            for entry in tags or []
        },
        "can_write": can_write,
        "can_admin": can_admin,
    }
    if tags is None:  # ?includeTags=false: Quay leaves the key out
        del view["tags"]
    return view


def repository_list_item(repo: Repository) -> Json:
    """A repository in ``GET /api/v1/repository?namespace=``."""
    return {
        "namespace": repo.namespace,
        "name": repo.name,
        "description": repo.description,
        "is_public": repo.is_public,
        "kind": repo.kind,
        "state": repo.state,
        "is_starred": False,
    }


def tag_view(entry: TagView) -> Json:
    """A tag in the REST tag list (history rows carry ``end_ts`` and ``expiration``)."""
    view: Json = {
        "name": entry.name,
        "reversion": False,
        "start_ts": entry.start_ts,
    }
    if entry.end_ts is not None:
        view["end_ts"] = entry.end_ts
    view.update(
        {
            "manifest_digest": entry.manifest_digest,
            "is_manifest_list": is_manifest_list(entry.media_type),
            "size": entry.size,
            "last_modified": rfc2822(entry.start_ts),
        }
    )
    if entry.end_ts is not None:
        view["expiration"] = rfc2822(entry.end_ts)
    return view


def application_view(app: Application, client_secret: str) -> Json:
    """An OAuth application."""
    return {
        "name": app.name,
        "description": app.description,
        "application_uri": app.application_uri,
        "client_id": app.client_id,
        "client_secret": client_secret,
        "redirect_uri": app.redirect_uri,
        "avatar_email": app.avatar_email,
    }


def token_view(token: Token, secret: str | None = None) -> Json:
    """A minted access token; ``token`` only when just created."""
    view: Json = {
        "uuid": token.uuid,
        "name": token.name,
        "scope": token.scope,
        "expires_at": iso8601(token.expires_at),
        "created": iso8601(token.created),
        "created_by": token.created_by,
        "last_accessed": iso8601(token.last_accessed),
    }
    if secret is not None:
        view["token"] = secret
    return view
