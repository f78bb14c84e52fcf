"""``GET /api/v1/discovery``: the REST API described as a Swagger 2.0 document, as Quay serves it.

Tools that drive Quay (API clients, generators) read this document to learn the paths, methods,
path parameters and request bodies. It is built from the route table (``routing.ROUTES``, which
``routing.add_routes`` puts on the application) at request time, so it always lists exactly what
this server answers: one operation per route, ``operationId`` from the handler's name
(``get_organization`` → ``getOrganization``, mostly Quay's nicknames), Quay's path parameter names
(``{repository}`` for ``namespace/name``), Quay's error responses and the request-body schemas of
``registry.api.schemas``. Anonymous callers may read it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from aiohttp import web

from registry import validation
from registry.api import schemas
from registry.appkeys import SETTINGS_KEY
from registry.scopes import ALL_SCOPES

Json = dict[str, Any]

BODY_SCHEMAS: dict[str, tuple[str, validation.JsonSchema]] = {
    "create_organization": ("NewOrg", schemas.NEW_ORG),
    "create_repository": ("RepoCreate", schemas.NEW_REPO),
    "change_visibility": ("ChangeVisibility", schemas.CHANGE_VISIBILITY),
    "set_user_permission": ("UserPermission", schemas.USER_PERMISSION),
    "create_robot": ("CreateRobot", schemas.CREATE_ROBOT),
    "create_prototype": ("NewPrototype", schemas.NEW_PROTOTYPE),
    "update_prototype": ("PrototypeUpdate", schemas.PROTOTYPE_UPDATE),
    "create_application": ("NewApp", schemas.NEW_APPLICATION),
    "update_application": ("UpdateApp", schemas.NEW_APPLICATION),
    "create_token": ("NewAppToken", schemas.NEW_APP_TOKEN),
    "create_user": ("NewUser", schemas.NEW_SUPERUSER_USER),
    "put_team": ("TeamDescription", schemas.TEAM_DESCRIPTION),
}
"""Handler name → (definition name, schema) of the routes that take a JSON body."""

API_ERROR: Json = {
    "type": "object",
    "properties": {
        "status": {"type": "integer", "description": "Status code of the response."},
        "type": {"type": "string", "description": "Reference to the type of the error."},
        "detail": {"type": "string", "description": "Details about the specific instance."},
        "title": {"type": "string", "description": "Unique error code for the type of error."},
        "error_message": {"type": "string", "description": "Deprecated; alias for detail"},
        "error_type": {"type": "string", "description": "Deprecated; alias for title"},
    },
    "required": ["status", "type", "title"],
}

_PARAMETER = re.compile(r"\{(\w+)(?::[^}]*)?\}")
_NAMESPACE_AND_REPO = "{namespace}/{repository:.+}"


def operation_id(handler_name: str) -> str:
    """``get_organization`` → ``getOrganization``."""
    first, *rest = handler_name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def swagger_path(route_path: str) -> str:
    """A route path in Swagger form: ``{namespace}/{repository:.+}`` is Quay's ``{repository}``."""
    return _PARAMETER.sub(r"{\1}", route_path.replace(_NAMESPACE_AND_REPO, "{repository}"))


def _tag(path: str) -> str:
    return path.removeprefix("/api/v1/").split("/", 1)[0] or "api"


def _operation(method: str, path: str, handler: Callable[..., Any], tag: str) -> Json:
    name = handler.__name__
    parameters: list[Json] = [
        {"name": param, "in": "path", "required": True, "type": "string", "description": ""}
        for param in re.findall(r"\{(\w+)\}", path)
    ]
    body = BODY_SCHEMAS.get(name)
    if body is not None:
        parameters.append(
            {
                "name": "body",
                "in": "body",
                "required": True,
                "description": "Request body contents.",
                "schema": {"$ref": f"#/definitions/{body[0]}"},
            }
        )
    error = {"schema": {"$ref": "#/definitions/ApiError"}}
    responses: Json = {
        "400": {"description": "Bad Request", **error},
        "401": {"description": "Session required", **error},
        "403": {"description": "Unauthorized access", **error},
        "404": {"description": "Not found", **error},
    }
    if method == "DELETE":
        responses["204"] = {"description": "Deleted"}
    elif method == "POST":
        responses["201"] = {"description": "Successful creation"}
    else:
        responses["200"] = {"description": "Successful invocation"}
    return {
        "operationId": operation_id(name),
        "parameters": parameters,
        "responses": responses,
        "description": (handler.__doc__ or "").strip().splitlines()[0] if handler.__doc__ else "",
        "tags": [tag],
    }


def document(routes: Iterable[tuple[str, str, Callable[..., Any]]], host: str, scheme: str) -> Json:
    """The Swagger 2.0 document of `routes` (method, path, handler) served at `host`."""
    paths: dict[str, Json] = {}
    definitions: Json = {"ApiError": API_ERROR}
    tags: set[str] = set()
    for method, route_path, handler in routes:
        if not route_path.startswith("/api/v1/"):
            continue
        path = swagger_path(route_path).removeprefix("/api")
        tag = _tag(route_path)
        tags.add(tag)
        entry = paths.setdefault(path, {"x-tag": tag})
        entry[method.lower()] = _operation(method, path, handler, tag)
        body = BODY_SCHEMAS.get(handler.__name__)
        if body is not None:
            definitions[body[0]] = body[1]
    return {
        "swagger": "2.0",
        "host": host,
        "basePath": "/api",
        "schemes": [scheme],
        "info": {
            "version": "v1",
            "title": "Quay Frontend",
            "description": "The part of Quay's API this registry core serves: organizations, "
            "robots, teams, prototypes, applications, repositories, users.",
        },
        "securityDefinitions": {
            "oauth2_implicit": {
                "type": "oauth2",
                "flow": "implicit",
                "authorizationUrl": f"{scheme}://{host}/oauth/authorize",
                "scopes": {scope: scope for scope in ALL_SCOPES},
            }
        },
        "paths": dict(sorted(paths.items(), key=lambda item: (item[1]["x-tag"], item[0]))),
        "definitions": definitions,
        "tags": [{"name": tag, "description": ""} for tag in sorted(tags)],
    }


RouteTable = Sequence[tuple[str, str, Callable[..., Any]]]
ROUTES_KEY: web.AppKey[RouteTable] = web.AppKey("api_routes")
"""The route table the application serves; the table (``routing``) names this handler, so it is
handed over through the application rather than imported."""


async def discovery(request: web.Request) -> web.Response:
    """``GET /api/v1/discovery``: the Swagger document, for anyone."""
    settings = request.app[SETTINGS_KEY]
    host = settings.server_hostname or request.host
    routes = request.app[ROUTES_KEY]
    return web.json_response(document(routes, host, settings.preferred_url_scheme))
