"""Discovery (``/api``, ``/apis``, ``/apis/<group>[/<version>]``, OpenAPI v3) from the catalogue.

Clients find resources only through these: kopf resolves its handlers' resources here, kubectl
maps kinds to URLs and lists ``api-resources`` from them.
"""

from __future__ import annotations

from typing import Any

from sim.resources import Catalogue, ResourceType


def api_versions() -> dict[str, Any]:
    """Return ``/api``: the core group's versions."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
    }


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(cat: Catalogue) -> dict[str, Any]:
    """Return ``/apis``: every named group."""
    groups = [_group(name, versions) for name, versions in cat.groups().items() if name]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(cat: Catalogue, name: str) -> dict[str, Any] | None:
    """Return ``/apis/<group>``, or None when the group is not served."""
    versions = cat.groups().get(name)
    if not versions or not name:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def _entries(rt: ResourceType) -> list[dict[str, Any]]:
    main = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        main["shortNames"] = list(rt.short_names)
    if rt.categories:
        main["categories"] = list(rt.categories)
    out = [main]
    for sub in rt.subresources:
        verbs = ["get", "patch", "update"] if sub in ("status", "finalize") else ["create"]
        if sub == "finalize":
            verbs = ["update"]
        out.append(
            {
                "name": f"{rt.plural}/{sub}",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": verbs,
            }
        )
    return out


def api_resource_list(cat: Catalogue, group: str, version: str) -> dict[str, Any] | None:
    """Return ``/api/v1`` or ``/apis/<group>/<version>``, or None when not served."""
    types = cat.in_group_version(group, version)
    if not types:
        return None
    resources = [entry for rt in types for entry in _entries(rt)]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


def version_info() -> dict[str, str]:
    """Return ``/version`` (what kubectl and the clients read to learn the server version)."""
    return {
        "major": "1",
        "minor": "30",
        "gitVersion": "v1.30.0-quay-bridge-sim",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.22",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def openapi_v3_root(cat: Catalogue) -> dict[str, Any]:
    """Return ``/openapi/v3``: one entry per served group/version."""
    paths = {}
    for group, versions in cat.groups().items():
        for version in versions:
            gv = _gv_path(group, version)
            paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}"}
    return {"paths": paths}


def openapi_v3_group_version(cat: Catalogue, group: str, version: str) -> dict[str, Any] | None:
    """Return a minimal OpenAPI v3 document for one group/version.

    It lists each resource's item path with a PATCH operation tagged with its group/version/kind
    and the ``fieldValidation`` parameter, which is what kubectl reads to decide that the server
    validates fields itself; it carries no schemas (kubectl then uses merge patches for kinds it
    does not know, as it does for custom resources).
    """
    types = cat.in_group_version(group, version)
    if not types:
        return None
    paths: dict[str, Any] = {}
    params = [
        {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
        {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
    ]
    for rt in types:
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        prefix = f"/{_gv_path(group, version)}/" + (
            "namespaces/{namespace}/" if rt.namespaced else ""
        )
        op = {"x-kubernetes-group-version-kind": gvk, "parameters": params, "responses": {}}
        paths[f"{prefix}{rt.plural}/{{name}}"] = {"patch": op, "get": {**op}}
        paths[f"{prefix}{rt.plural}"] = {"post": {**op}}
    return {
        "openapi": "3.0.0",
        "info": {"title": "quay-bridge simulator", "version": "v1"},
        "paths": paths,
        "components": {"schemas": {}},
    }
