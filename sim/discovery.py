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
        "minor": "36",
        "gitVersion": "v1.36.3-quay-bridge-sim",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.26.8",
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


def definition_name(rt: ResourceType) -> str:
    """Return the OpenAPI definition name of a kind (``com.redhat.quay.v1.QuayIntegration``)."""
    group = ".".join(reversed(rt.group.split("."))) if rt.group else "io.k8s.api.core"
    return f"{group}.{rt.version}.{rt.kind}"


_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def _kind_schema(rt: ResourceType, ref_prefix: str) -> dict[str, Any]:
    """Return the schema of one kind: the CRD version's schema, or an open object."""
    gvk = [{"group": rt.group, "version": rt.version, "kind": rt.kind}]
    schema: dict[str, Any] = dict(rt.schema) if rt.schema else {"type": "object"}
    props = dict(schema.get("properties") or {})
    props.setdefault(
        "apiVersion",
        {
            "type": "string",
            "description": "APIVersion defines the versioned schema of this representation "
            "of an object.",
        },
    )
    props.setdefault(
        "kind",
        {
            "type": "string",
            "description": "Kind is a string value representing the REST "
            "resource this object represents.",
        },
    )
    props["metadata"] = {
        "description": "Standard object's metadata.",
        "allOf": [{"$ref": f"{ref_prefix}{_OBJECT_META}"}],
    }
    if rt.schema:
        schema["properties"] = props
    schema["x-kubernetes-group-version-kind"] = gvk
    return schema


def _object_meta() -> dict[str, Any]:
    strings = {"type": "object", "additionalProperties": {"type": "string"}}
    fields: list[tuple[str, dict[str, Any], str]] = [
        ("name", {"type": "string"}, "Name must be unique within a namespace."),
        (
            "namespace",
            {"type": "string"},
            "Namespace defines the space within which each name must be unique.",
        ),
        (
            "generateName",
            {"type": "string"},
            "An optional prefix used by the server to generate a unique name.",
        ),
        ("labels", strings, "Map of string keys and values."),
        ("annotations", strings, "Unstructured key value map."),
        (
            "finalizers",
            {"type": "array", "items": {"type": "string"}},
            "Must be empty before the object is deleted.",
        ),
        ("uid", {"type": "string"}, "UID is the unique in time and space value for this object."),
        (
            "resourceVersion",
            {"type": "string"},
            "An opaque value that represents the internal version of this object.",
        ),
        (
            "generation",
            {"type": "integer", "format": "int64"},
            "A sequence number representing a specific generation of the desired state.",
        ),
        (
            "creationTimestamp",
            {"type": "string", "format": "date-time"},
            "A timestamp representing the server time when this object was created.",
        ),
        (
            "deletionTimestamp",
            {"type": "string", "format": "date-time"},
            "RFC 3339 date and time at which this resource will be deleted.",
        ),
    ]
    return {
        "description": "ObjectMeta is metadata that all persisted resources must have.",
        "type": "object",
        "properties": {name: {**schema, "description": text} for name, schema, text in fields},
    }


def openapi_v3_group_version(cat: Catalogue, group: str, version: str) -> dict[str, Any] | None:
    """Return the OpenAPI v3 document of one group/version.

    Each resource's paths carry a PATCH operation tagged with its group/version/kind and the
    ``fieldValidation`` parameter, which is what kubectl reads to decide that the server
    validates fields itself. Kinds defined by a CRD carry their structural schema (what
    ``kubectl explain`` reads); built-in kinds are open objects (kubectl then uses merge
    patches for kinds it does not compile in, as for custom resources).
    """
    types = cat.in_group_version(group, version)
    if not types:
        return None
    paths: dict[str, Any] = {}
    params = [
        {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
        {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
    ]
    schemas: dict[str, Any] = {}
    for rt in types:
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        prefix = f"/{_gv_path(group, version)}/" + (
            "namespaces/{namespace}/" if rt.namespaced else ""
        )
        op = {"x-kubernetes-group-version-kind": gvk, "parameters": params, "responses": {}}
        paths[f"{prefix}{rt.plural}/{{name}}"] = {"patch": op, "get": {**op}}
        paths[f"{prefix}{rt.plural}"] = {"post": {**op}}
        if rt.schema:
            schemas[definition_name(rt)] = _kind_schema(rt, "#/components/schemas/")
    if schemas:
        schemas[_OBJECT_META] = _object_meta()
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.36.3"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def openapi_v2(cat: Catalogue) -> dict[str, Any]:
    """Return the OpenAPI v2 (Swagger 2.0) document: the CRD-defined kinds' definitions."""
    definitions: dict[str, Any] = {_OBJECT_META: _object_meta()}
    for group, versions in cat.groups().items():
        for version in versions:
            for rt in cat.in_group_version(group, version):
                if rt.schema:
                    definitions[definition_name(rt)] = _v2_schema(
                        _kind_schema(rt, "#/definitions/")
                    )
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "v1.36.3"},
        "paths": {},
        "definitions": definitions,
    }


def _v2_schema(schema: Any) -> Any:
    """Drop what Swagger 2.0 cannot say (``nullable``), as kube-apiserver does for v2."""
    if isinstance(schema, dict):
        return {k: _v2_schema(v) for k, v in schema.items() if k != "nullable"}
    if isinstance(schema, list):
        return [_v2_schema(v) for v in schema]
    return schema
