"""Defaults and validation of the built-in kinds, as kube-apiserver applies them.

Clients depend on what the API server does to what they send: a Secret written with
``stringData`` is stored with that data merged (base64) into ``data``; a Secret without a type is
``Opaque``; an ``immutable`` Secret or ConfigMap refuses changes to its data; a Secret's type never
changes; an Event must name its own namespace in ``involvedObject``; object names follow the rule
of their kind (DNS-1123 labels for namespaces and Services, path segments for RBAC objects,
DNS-1123 subdomains otherwise). Failures are 422 ``Invalid`` with kube-apiserver's field
paths and messages (``sim.fielderrors``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from sim import fielderrors as fe
from sim.errors import ApiError
from sim.resources import ResourceType

Obj = dict[str, Any]
Key = tuple[str, str]
NameCheck = Callable[[str], list[str]]

#: the name rule of each kind that does not use a DNS-1123 subdomain
NAME_RULES: dict[Key, NameCheck] = {
    ("", "namespaces"): fe.dns1123_label,
    ("", "services"): fe.dns1123_label,
    ("rbac.authorization.k8s.io", "roles"): fe.path_segment,
    ("rbac.authorization.k8s.io", "rolebindings"): fe.path_segment,
    ("rbac.authorization.k8s.io", "clusterroles"): fe.path_segment,
    ("rbac.authorization.k8s.io", "clusterrolebindings"): fe.path_segment,
    ("build.openshift.io", "builds"): fe.path_segment,
    ("build.openshift.io", "buildconfigs"): fe.path_segment,
    ("image.openshift.io", "imagestreams"): fe.path_segment,
    ("image.openshift.io", "imagestreamtags"): fe.path_segment,
    ("image.openshift.io", "images"): fe.path_segment,
    ("template.openshift.io", "templates"): fe.path_segment,
    ("template.openshift.io", "processedtemplates"): fe.path_segment,
    ("project.openshift.io", "projectrequests"): fe.dns1123_label,
}

_IMMUTABLE = "field is immutable when `immutable` is set"


def _mask_trailing_dash(name: str) -> str:
    # as apimachinery's maskTrailingDash, which replaces the last two characters by "a"
    return name[:-2] + "a" if len(name) > 1 and name.endswith("-") else name


#: kinds whose create validation never looks at the metadata (core v1 Events: legacy rules only)
UNCHECKED_METADATA = {("", "events")}


def metadata_errors(rt: ResourceType, meta: Obj) -> list[fe.FieldError]:
    """Return the failures of an object's metadata (name, generateName, labels, ...)."""
    errors: list[fe.FieldError] = []
    rule = NAME_RULES.get(rt.key, fe.dns1123_subdomain)
    generate = meta.get("generateName")
    if isinstance(generate, str) and generate:
        errors.extend(
            fe.invalid_value("metadata.generateName", generate, msg)
            for msg in rule(_mask_trailing_dash(generate))
        )
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        errors.append(fe.required("metadata.name", "name or generateName is required"))
        name = ""
    else:
        errors.extend(fe.invalid_value("metadata.name", name, msg) for msg in rule(name))
    labels = meta.get("labels")
    if labels is not None:
        if not isinstance(labels, dict):
            errors.append(fe.invalid_value("metadata.labels", labels, "must be a map"))
        else:
            for key, value in labels.items():
                errors.extend(
                    fe.invalid_value("metadata.labels", key, msg) for msg in fe.qualified_name(key)
                )
                if not isinstance(value, str):
                    errors.append(fe.invalid_value("metadata.labels", value, "must be a string"))
                    continue
                errors.extend(
                    fe.invalid_value("metadata.labels", value, msg) for msg in fe.label_value(value)
                )
    annotations = meta.get("annotations")
    if annotations is not None:
        if not isinstance(annotations, dict) or not all(
            isinstance(v, str) for v in annotations.values()
        ):
            errors.append(
                fe.invalid_value("metadata.annotations", annotations, "must be a map of strings")
            )
        else:
            for key in annotations:
                errors.extend(
                    fe.invalid_value("metadata.annotations", key, msg)
                    for msg in fe.qualified_name(key.lower())
                )
    finalizers = meta.get("finalizers")
    if finalizers is not None:
        if not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers):
            errors.append(fe.invalid_value("metadata.finalizers", finalizers, "must be strings"))
        else:
            for finalizer in finalizers:
                errors.extend(
                    fe.invalid_value("metadata.finalizers", finalizer, msg)
                    for msg in fe.qualified_name(finalizer)
                )
    return errors


def check_metadata(rt: ResourceType, meta: Obj) -> None:
    """Raise the 422 of invalid metadata."""
    if rt.key in UNCHECKED_METADATA:
        return
    errors = metadata_errors(rt, meta)
    if errors:
        name = meta.get("name") if isinstance(meta.get("name"), str) else ""
        raise fe.invalid(rt.kind, rt.group, str(name or ""), errors)


# -- Secrets -----------------------------------------------------------------------------------


def secret_defaults(obj: Obj, old: Obj | None) -> None:
    """Merge ``stringData`` into ``data`` (base64) and drop it; default the type to Opaque."""
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = dict(obj.get("data") or {})
        for key, value in string_data.items():
            text = value if isinstance(value, str) else json.dumps(value)
            data[key] = base64.b64encode(text.encode()).decode()
        obj["data"] = data
    if not obj.get("type"):
        obj["type"] = "Opaque"


def _decoded(data: Obj, key: str) -> bytes | None:
    value = data.get(key)
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _json_error(raw: bytes | None) -> str | None:
    try:
        doc = json.loads(raw or b"")
    except ValueError as exc:
        return str(exc)
    return None if isinstance(doc, dict) else "json: cannot unmarshal into a map"


def _data_key_errors(section: str, data: Any) -> list[fe.FieldError]:
    if data is None:
        return []
    if not isinstance(data, dict):
        return [fe.invalid_value(section, data, "must be a map")]
    errors: list[fe.FieldError] = []
    for key in data:
        errors.extend(fe.invalid_value(f"{section}[{key}]", key, m) for m in fe.config_key(key))
    return errors


def secret_errors(obj: Obj, old: Obj | None) -> list[fe.FieldError]:
    """Return the failures of a Secret (keys, the keys its type needs, immutability)."""
    data = obj.get("data") or {}
    errors = _data_key_errors("data", obj.get("data"))
    if isinstance(data, dict):
        for key, value in data.items():
            if not isinstance(value, str) or _decoded(data, key) is None:
                errors.append(
                    fe.invalid_value(
                        f"data[{key}]", "<secret contents redacted>", "illegal base64 data"
                    )
                )
    else:
        data = {}
    kind = obj.get("type")
    annotations = obj["metadata"].get("annotations") or {}
    if kind == "kubernetes.io/service-account-token":
        if not annotations.get("kubernetes.io/service-account.name"):
            errors.append(fe.required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif kind in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = ".dockercfg" if kind == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        if key not in data:
            errors.append(fe.required(f"data[{key}]"))
        else:
            problem = _json_error(_decoded(data, key))
            if problem:
                errors.append(
                    fe.invalid_value(f"data[{key}]", "<secret contents redacted>", problem)
                )
    elif kind == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errors += [fe.required("data[username]"), fe.required("data[password]")]
    elif kind == "kubernetes.io/ssh-auth":
        if not _decoded(data, "ssh-privatekey"):
            errors.append(fe.required("data[ssh-privatekey]"))
    elif kind == "kubernetes.io/tls":
        errors += [fe.required(f"data[{k}]") for k in ("tls.crt", "tls.key") if k not in data]
    if old is not None:
        if obj.get("type") != old.get("type"):
            errors.insert(0, fe.invalid_value("type", obj.get("type"), "field is immutable"))
        if old.get("immutable") is True:
            if obj.get("immutable") is not True:
                errors.insert(0, fe.forbidden("immutable", _IMMUTABLE))
            if (obj.get("data") or {}) != (old.get("data") or {}):
                errors.insert(1, fe.forbidden("data", _IMMUTABLE))
    return errors


# -- ConfigMaps --------------------------------------------------------------------------------


def configmap_errors(obj: Obj, old: Obj | None) -> list[fe.FieldError]:
    """Return the failures of a ConfigMap (keys, data/binaryData duplicates, immutability)."""
    errors = _data_key_errors("data", obj.get("data"))
    errors += _data_key_errors("binaryData", obj.get("binaryData"))
    data, binary = obj.get("data") or {}, obj.get("binaryData") or {}
    if isinstance(data, dict) and isinstance(binary, dict):
        errors += [
            fe.invalid_value(f"data[{k}]", k, "duplicate of key present in binaryData")
            for k in data
            if k in binary
        ]
    if old is not None and old.get("immutable") is True:
        head: list[fe.FieldError] = []
        if obj.get("immutable") is not True:
            head.append(fe.forbidden("immutable", _IMMUTABLE))
        if (obj.get("data") or {}) != (old.get("data") or {}):
            head.append(fe.forbidden("data", _IMMUTABLE))
        if (obj.get("binaryData") or {}) != (old.get("binaryData") or {}):
            head.append(fe.forbidden("binaryData", _IMMUTABLE))
        errors = head + errors
    return errors


# -- Events ------------------------------------------------------------------------------------


def event_errors(obj: Obj, old: Obj | None) -> list[fe.FieldError]:
    """Return the failures of a core v1 Event (its namespace rules, the new-style fields)."""
    errors: list[fe.FieldError] = []
    namespace = obj["metadata"].get("namespace", "")
    involved = obj.get("involvedObject") or {}
    involved_ns = involved.get("namespace") or ""
    if not obj.get("eventTime"):
        if not involved_ns:
            if namespace not in ("", "default"):
                errors.append(
                    fe.invalid_value(
                        "involvedObject.namespace", involved_ns, "does not match event.namespace"
                    )
                )
        elif namespace != involved_ns:
            errors.append(
                fe.invalid_value(
                    "involvedObject.namespace", involved_ns, "does not match event.namespace"
                )
            )
    else:
        if not involved_ns and namespace not in ("default", "kube-system"):
            errors.append(
                fe.invalid_value(
                    "involvedObject.namespace", involved_ns, "does not match event.namespace"
                )
            )
        component = obj.get("reportingComponent") or ""
        if not component:
            errors.append(fe.required("reportingComponent"))
        errors.extend(
            fe.invalid_value("reportingComponent", component, m)
            for m in fe.qualified_name(component)
        )
        if not obj.get("reportingInstance"):
            errors.append(fe.required("reportingInstance"))
        if not obj.get("action"):
            errors.append(fe.required("action"))
        if not obj.get("reason"):
            errors.append(fe.required("reason"))
    return errors


# -- wiring ------------------------------------------------------------------------------------

Check = Callable[[Obj, Obj | None], list[fe.FieldError]]


def raising(rt_kind: str, check: Check) -> Callable[[Obj, Obj | None], None]:
    """Turn a check that lists failures into a machinery hook that raises the 422."""

    def hook(obj: Obj, old: Obj | None) -> None:
        errors = check(obj, old)
        if errors:
            name = obj["metadata"].get("name", "")
            raise fe.invalid(rt_kind, "", name, errors)

    return hook


def install(prepare: dict[Key, list[Any]], validate: dict[Key, list[Any]]) -> None:
    """Register the built-in defaults and checks on the machinery's hook tables."""
    prepare.setdefault(("", "secrets"), []).append(secret_defaults)
    validate.setdefault(("", "secrets"), []).append(raising("Secret", secret_errors))
    validate.setdefault(("", "configmaps"), []).append(raising("ConfigMap", configmap_errors))
    validate.setdefault(("", "events"), []).append(raising("Event", event_errors))


__all__ = ["NAME_RULES", "ApiError", "check_metadata", "install", "metadata_errors"]
