"""A repository's page: its description, visibility and tags with digests, sizes and push times.

Read-only, as Quay's Tags tab is for what the bridge does. The user must be able to read the
repository (``repository_role_for``, the API's rule: org admins, direct and team permissions,
public repositories); a missing repository and one the user may not read both answer the way the
API does for that user.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from registry.access import namespace_team_role, repository_role_for
from registry.api.errors import unauthorized
from registry.appkeys import STORE_KEY
from registry.store import organizations, repositories
from registry.ui import guards
from registry.ui.rendering import render
from registry.ui.robots import registry_host

#: Tags listed on the page at most (newest push first).
TAG_PAGE = 500


async def repository(request: web.Request) -> web.Response:
    """``GET /repository/{namespace}/{repository}``."""
    signed_in = await guards.require_viewer(request)
    namespace, name = request.match_info["namespace"], request.match_info["repository"]
    async with request.app[STORE_KEY].read() as conn:
        ns, held = await organizations.get_with_role(conn, namespace, signed_in.account.id)
        repo = (
            await repositories.get_repository(conn, ns.id, name)
            if ns is not None and not ns.is_robot
            else None
        )
        role = (
            await repository_role_for(conn, signed_in.entity, ns, repo, held)
            if ns is not None and repo is not None
            else None
        )
        if role is None or repo is None or ns is None:
            # As the API: only those who administer the namespace learn that it is missing.
            if ns is not None and namespace_team_role(signed_in.entity, ns, held) == "admin":
                raise guards.Refused(404, f"There is no repository {namespace}/{name}.")
            raise unauthorized(True)
        tags = await repositories.list_tags(conn, repo.id, only_active=True, limit=TAG_PAGE)
    tags.sort(key=lambda tag: (-tag.start_ts, tag.name))
    context: dict[str, Any] = {
        "viewer": signed_in,
        "namespace": namespace,
        "is_org": ns.is_org,
        "repo": repo,
        "role": role,
        "tags": tags,
        "host": registry_host(request),
    }
    return render("repository.html", context)
