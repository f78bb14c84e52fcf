"""Repositories, their user permissions and the REST tag list.

"Missing" depends on who asks, as in Quay: an org admin whose token has a repo scope gets 404 for a
missing repository, anyone else 403 (401 when anonymous). Deleting is idempotent for admins (204).
"""

from __future__ import annotations

import json

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from registry import names
from registry.access import (
    Entity,
    namespace_team_role,
    repository_role_for,
    repository_role_in,
)
from registry.api import schemas
from registry.api.bodies import (
    permission_view,
    repository_list_item,
    repository_view,
    tag_view,
)
from registry.api.errors import ApiError, ModelError, invalid_request, not_found, unauthorized
from registry.api.requests import caller, json_body, no_content, store_of, truthy, writer
from registry.scopes import RepoRole, repo_role_at_least, repo_role_cap, team_role_at_least
from registry.store import accounts, organizations, repositories, teams
from registry.store.database import Store

PAGE_SIZE = 100
NO_PERMISSION = "User does not have permission for repo."


async def _admin_of_namespace_with_repo_scope(
    conn: AsyncConnection, entity: Entity | None, ns: accounts.Account | None
) -> bool:
    if entity is None or ns is None or repo_role_cap(entity.scopes) is None:
        return False
    if ns.is_org:
        return await teams.team_role(conn, ns.id, entity.account_id) == "admin"
    return ns.id == entity.account_id


async def _resolve(
    conn: AsyncConnection, entity: Entity | None, namespace: str, name: str, wanted: RepoRole
) -> tuple[accounts.Account, repositories.Repository, RepoRole]:
    """The namespace, repository and role, or the 401/403/404 Quay answers."""
    ns, team_role = await organizations.get_with_role(
        conn, namespace, entity.account_id if entity is not None else None
    )
    repo = await repositories.get_repository(conn, ns.id, name) if ns and not ns.is_robot else None
    if ns is not None and repo is not None:
        role = await repository_role_for(conn, entity, ns, repo, team_role)
        if role is not None and repo_role_at_least(role, wanted):
            return ns, repo, role
    elif await _admin_of_namespace_with_repo_scope(conn, entity, ns):
        raise not_found()
    raise unauthorized(entity is not None)


async def _resolve_path(
    conn: AsyncConnection, entity: Entity | None, request: web.Request, wanted: RepoRole
) -> tuple[accounts.Account, repositories.Repository, RepoRole]:
    """:func:`_resolve` for the ``{namespace}/{repository}`` named in the request path."""
    match = request.match_info
    return await _resolve(conn, entity, match["namespace"], match["repository"], wanted)


async def _org_member(conn: AsyncConnection, ns: accounts.Account, account_id: int) -> bool | None:
    """Whether the account is in a team of the org (``is_org_member``); None for a user."""
    return await teams.team_role(conn, ns.id, account_id) is not None if ns.is_org else None


def _seal_page(store: Store, offset: int) -> str:
    return store.keyring.seal(json.dumps({"offset": offset}))


def _unseal_page(store: Store, token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(store.keyring.unseal(token)).get("offset", 0)
    except (ValueError, AttributeError) as error:
        raise invalid_request("Invalid next page token") from error
    return int(offset) if isinstance(offset, int) and offset >= 0 else 0


async def create_repository(request: web.Request) -> web.Response:
    """``POST /api/v1/repository``: 201 ``{namespace, name, kind}``; prototypes apply."""
    entity = await writer(request)
    body = await json_body(request, schemas.NEW_REPO)
    namespace = body.get("namespace") or entity.name
    name: str = body["repository"]
    store = store_of(request)
    try:
        async with store.write() as conn:
            ns, held = await organizations.get_with_role(conn, namespace, entity.account_id)
            if ns is None or not team_role_at_least(
                namespace_team_role(entity, ns, held), "creator"
            ):
                raise unauthorized(True)
            if await repositories.get_repository(conn, ns.id, name) is not None:
                raise repositories.RepositoryExistsError(name)
            if not names.is_valid_repository_name(name):
                raise invalid_request("Invalid repository name")
            creator = repositories.Creator(entity.account_id, entity.is_robot)
            repo = await repositories.create_repository(
                conn,
                ns,
                name,
                body["visibility"],
                body["description"],
                body.get("repo_kind") or "image",
                creator,
            )
    except repositories.RepositoryExistsError as error:
        raise invalid_request("Repository already exists") from error
    return web.json_response(
        {"namespace": repo.namespace, "name": repo.name, "kind": repo.kind}, status=201
    )


async def list_repositories(request: web.Request) -> web.Response:
    """``GET /api/v1/repository?namespace=|starred=|public=``, 100 per page with ``next_page``."""
    entity = await caller(request)
    namespace = request.query.get("namespace")
    starred = truthy(request.query.get("starred"), False)
    public = truthy(request.query.get("public"), False)
    if not namespace and not starred and not public:
        raise invalid_request("namespace, starred or public are required for this API call")
    store = store_of(request)
    offset = _unseal_page(store, request.query.get("next_page"))
    if starred and not namespace:
        return web.json_response({"repositories": []})
    visible: list[repositories.Repository] = []
    more = False
    async with store.read() as conn:
        ns = await accounts.get_by_name(conn, namespace) if namespace else None
        if not namespace:  # public=true alone: every namespace's public repositories
            batch = await repositories.list_public_repositories(conn, offset, PAGE_SIZE + 1)
            more = len(batch) > PAGE_SIZE
            visible = batch[:PAGE_SIZE]
        elif ns is not None:
            batch = await repositories.list_repositories(conn, ns.id, offset, PAGE_SIZE + 1)
            more = len(batch) > PAGE_SIZE
            for repo in batch[:PAGE_SIZE]:
                role = await repository_role_in(conn, entity, repo.namespace, repo.name)
                if role is not None and (not public or repo.is_public):
                    visible.append(repo)
    body: dict[str, object] = {"repositories": [repository_list_item(r) for r in visible]}
    if more:
        body["next_page"] = _seal_page(store, offset + PAGE_SIZE)
    return web.json_response(body)


async def get_repository(request: web.Request) -> web.Response:
    """``GET /api/v1/repository/{namespace}/{repository}``."""
    entity = await caller(request)
    store = store_of(request)
    async with store.read() as conn:
        ns, repo, role = await _resolve_path(conn, entity, request, "read")
        tags = None
        if truthy(request.query.get("includeTags"), True):
            tags = await repositories.list_tags(conn, repo.id, only_active=True, limit=500)
    view = repository_view(
        repo,
        is_organization=ns.is_org,
        can_write=repo_role_at_least(role, "write"),
        can_admin=repo_role_at_least(role, "admin"),
        tags=tags,
    )
    return web.json_response(view)


async def change_visibility(request: web.Request) -> web.Response:
    """``POST .../changevisibility {"visibility"}``: repo admins; ``{"success": true}``."""
    entity = await writer(request)
    store = store_of(request)
    async with store.read() as conn:  # as Quay: the permission is checked before the body
        await _resolve_path(conn, entity, request, "admin")
    body = await json_body(request, schemas.CHANGE_VISIBILITY)
    async with store.write() as conn:
        _, repo, _ = await _resolve_path(conn, entity, request, "admin")
        await repositories.set_visibility(conn, repo.id, body["visibility"])
    return web.json_response({"success": True})


async def delete_repository(request: web.Request) -> web.Response:
    """``DELETE /api/v1/repository/{namespace}/{repository}``: 204, also when already gone."""
    entity = await writer(request)
    namespace, name = request.match_info["namespace"], request.match_info["repository"]
    store = store_of(request)
    async with store.write() as conn:
        try:
            _, repo, _ = await _resolve(conn, entity, namespace, name, "admin")
        except ApiError as error:
            if error.status == 404:  # an admin deleting a missing repo: Quay answers 204
                return no_content()
            raise
        await repositories.mark_repository_deleted(conn, repo)
    return no_content()


async def list_user_permissions(request: web.Request) -> web.Response:
    """``GET .../permissions/user/``: repo admins only."""
    entity = await caller(request)
    store = store_of(request)
    async with store.read() as conn:
        ns, repo, _ = await _resolve_path(conn, entity, request, "admin")
        entries = await repositories.user_permissions(conn, repo.id)
        body = {}
        for entry in entries:
            member = await _org_member(conn, ns, entry.account.id)
            body[entry.account.username] = permission_view(entry.account, entry.role, member)
    return web.json_response({"permissions": body})


async def get_user_permission(request: web.Request) -> web.Response:
    """``GET .../permissions/user/{username}``: 400 when the user holds no permission."""
    entity = await caller(request)
    store = store_of(request)
    async with store.read() as conn:
        ns, repo, _ = await _resolve_path(conn, entity, request, "admin")
        username = request.match_info["username"]
        for entry in await repositories.user_permissions(conn, repo.id):
            if entry.account.username == username:
                member = await _org_member(conn, ns, entry.account.id)
                return web.json_response(permission_view(entry.account, entry.role, member))
    raise ModelError(NO_PERMISSION)


async def set_user_permission(request: web.Request) -> web.Response:
    """``PUT .../permissions/user/{username}`` ``{role}``: 200 with the permission."""
    entity = await writer(request)
    body = await json_body(request, schemas.USER_PERMISSION)
    username = request.match_info["username"]
    store = store_of(request)
    async with store.write() as conn:
        ns, repo, _ = await _resolve_path(conn, entity, request, "admin")
        target = await accounts.get_by_name(conn, username)
        if target is None or target.is_org:
            raise invalid_request(f"Invalid username: {username}")
        if target.is_robot and target.organization_id != ns.id:
            raise invalid_request(f"Invalid username: {username}")
        await repositories.set_user_permission(conn, repo.id, target.id, body["role"])
        member = await _org_member(conn, ns, target.id)
    return web.json_response(permission_view(target, body["role"], member))


async def delete_user_permission(request: web.Request) -> web.Response:
    """``DELETE .../permissions/user/{username}``: 204."""
    entity = await writer(request)
    username = request.match_info["username"]
    store = store_of(request)
    async with store.write() as conn:
        _, repo, _ = await _resolve_path(conn, entity, request, "admin")
        target = await accounts.get_by_name(conn, username)
        if target is None or not await repositories.delete_user_permission(
            conn, repo.id, target.id
        ):
            raise ModelError(NO_PERMISSION)
    return no_content()


MAX_PAGE = 2**31 - 1
"""Highest `page` of the tag list: page times limit must stay a 64-bit offset for the database."""


def _int_param(request: web.Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise invalid_request(f"Invalid value for {name}: {raw}") from error
    if maximum is not None and value > maximum:
        raise invalid_request(f"Invalid value for {name}: {raw} (at most {maximum})")
    return value


async def list_tags(request: web.Request) -> web.Response:
    """``GET .../tag/``: paged with ``page``/``limit`` (≤100); history included by default."""
    entity = await caller(request)
    page = max(1, _int_param(request, "page", 1, maximum=MAX_PAGE))
    limit = min(100, max(1, _int_param(request, "limit", 50)))
    only_active = truthy(request.query.get("onlyActiveTags"), False)
    specific = request.query.get("specificTag")
    name_filter = request.query.get("filter_tag_name")
    like: str | None = None
    equals: str | None = specific
    if name_filter:
        op, _, value = name_filter.partition(":")
        if op == "like":
            like = value
        elif op == "eq":
            equals = value
        else:
            raise invalid_request("Invalid filter_tag_name: use like:<text> or eq:<name>")
    store = store_of(request)
    async with store.read() as conn:
        _, repo, _ = await _resolve_path(conn, entity, request, "read")
        found = await repositories.list_tags(
            conn,
            repo.id,
            only_active=only_active,
            name_equals=equals,
            name_like=like,
            offset=(page - 1) * limit,
            limit=limit + 1,
        )
    return web.json_response(
        {
            "tags": [tag_view(entry) for entry in found[:limit]],
            "page": page,
            "has_additional": len(found) > limit,
        }
    )
