"""An OpenAPI v3 validator with the Kubernetes structural-schema rules, for the QuayIntegration CRD.

The API server validates custom resources against the CRD's ``openAPIV3Schema`` and fills in
defaults; no API server can run here, so the packaging tests validate the samples (and broken
variants of them) with this module instead. It implements the subset of OpenAPI v3 that structural
schemas allow: types, properties, required, additionalProperties, items, enum, pattern, lengths,
bounds, item counts, the ``int32``/``int64``/``date-time`` formats, ``nullable``,
``x-kubernetes-preserve-unknown-fields``, ``x-kubernetes-int-or-string`` and
``x-kubernetes-list-type`` (``set`` and ``map``), plus defaulting. Unknown fields are errors, as
with kubectl's default strict field validation. Pure: no I/O.
"""

from __future__ import annotations

import copy
import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: JSON values as PyYAML and json load them.
Json = Any

_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_ROOT_FIELDS = {"apiVersion", "kind", "metadata"}


@dataclass(frozen=True)
class Violation:
    """One reason an object does not match its schema."""

    path: str  #: dotted path of the offending field, ``spec.credentialsSecret.name``
    message: str

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {self.message}"


def _type_of(value: Json) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _is_date_time(value: str) -> bool:
    try:
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in value or "t" in value


def _check_scalar(schema: Mapping[str, Json], value: Json, path: str) -> list[Violation]:
    out: list[Violation] = []
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(repr(v) for v in schema["enum"])
        out.append(Violation(path, f"{value!r} is not one of {allowed}"))
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            out.append(Violation(path, f"shorter than {schema['minLength']} characters"))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            out.append(Violation(path, f"longer than {schema['maxLength']} characters"))
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            out.append(Violation(path, f"{value!r} does not match {schema['pattern']!r}"))
        if schema.get("format") == "date-time" and not _is_date_time(value):
            out.append(Violation(path, f"{value!r} is not an RFC 3339 date-time"))
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            out.append(Violation(path, f"{value} is less than the minimum {schema['minimum']}"))
        if "maximum" in schema and value > schema["maximum"]:
            out.append(Violation(path, f"{value} is greater than the maximum {schema['maximum']}"))
        low, high = _INT_RANGES.get(str(schema.get("format")), (None, None))
        if low is not None and high is not None and not low <= value <= high:
            out.append(Violation(path, f"{value} does not fit format {schema['format']}"))
    return out


def _check_list_type(schema: Mapping[str, Json], value: list[Json], path: str) -> list[Violation]:
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "set":
        seen: list[Json] = []
        for index, item in enumerate(value):
            if item in seen:
                return [Violation(_join(path, index), f"duplicate entry {item!r} in a set")]
            seen.append(item)
    if list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys", [])
        seen_keys: set[tuple[str, ...]] = set()
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                continue
            key = tuple(repr(item.get(k)) for k in keys)
            if key in seen_keys:
                return [Violation(_join(path, index), f"duplicate entry for keys {keys}")]
            seen_keys.add(key)
    return []


def _validate(schema: Mapping[str, Json], value: Json, path: str) -> list[Violation]:
    if value is None:
        return [] if schema.get("nullable") else [Violation(path, "must not be null")]
    if schema.get("x-kubernetes-int-or-string"):
        if _type_of(value) not in {"integer", "string"}:
            return [Violation(path, f"must be an integer or a string, not {_type_of(value)}")]
        return _check_scalar(schema, value, path)
    expected = schema.get("type")
    actual = _type_of(value)
    if expected is not None and actual != expected and (expected, actual) != ("number", "integer"):
        return [Violation(path, f"must be of type {expected}, not {actual}")]
    out = _check_scalar(schema, value, path)
    if path == "metadata":
        return out  # ObjectMeta is the API server's own, validated apart from the CRD's schema
    if isinstance(value, dict):
        out += _validate_object(schema, value, path)
    elif isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            out.append(Violation(path, f"fewer than {schema['minItems']} items"))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            out.append(Violation(path, f"more than {schema['maxItems']} items"))
        out += _check_list_type(schema, value, path)
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value):
                out += _validate(items, item, _join(path, index))
    return out


def _validate_object(
    schema: Mapping[str, Json], value: dict[str, Json], path: str
) -> list[Violation]:
    out: list[Violation] = []
    properties: Mapping[str, Json] = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in value:
            out.append(Violation(_join(path, name), "required field is missing"))
    additional = schema.get("additionalProperties")
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    for key, item in value.items():
        if key in properties:
            out += _validate(properties[key], item, _join(path, key))
        elif isinstance(additional, Mapping):
            out += _validate(additional, item, _join(path, key))
        elif additional is True or preserve or (not path and key in _ROOT_FIELDS):
            continue
        elif properties or additional is False or schema.get("type") == "object":
            out.append(Violation(_join(path, key), "unknown field"))
    return out


def apply_defaults(schema: Mapping[str, Json], value: Json) -> Json:
    """Return a copy of ``value`` with the schema's defaults filled in, as the API server does.

    Defaults apply to absent properties of objects that are present (recursively, also inside list
    items and inside the defaults themselves), never to ``null`` values.
    """
    result = copy.deepcopy(value)
    _default_in_place(schema, result)
    return result


def _default_in_place(schema: Mapping[str, Json], value: Json) -> None:
    if isinstance(value, dict):
        properties: Mapping[str, Json] = schema.get("properties", {})
        for name, sub in properties.items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                _default_in_place(sub, value[name])
        additional = schema.get("additionalProperties")
        if isinstance(additional, Mapping):
            for key, item in value.items():
                if key not in properties:
                    _default_in_place(additional, item)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for item in value:
            _default_in_place(schema["items"], item)


def validate(schema: Mapping[str, Json], value: Json) -> list[Violation]:
    """Default ``value`` as the API server would, then return every way it breaks ``schema``."""
    return _validate(schema, apply_defaults(schema, value), "")


_SCHEMA_KEYWORDS = {
    "type", "format", "description", "title", "properties", "required", "additionalProperties",
    "items", "enum", "pattern", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "minItems", "maxItems", "uniqueItems", "multipleOf", "minProperties",
    "maxProperties", "default", "nullable", "example", "externalDocs", "allOf", "anyOf", "oneOf",
    "not", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string",
    "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type",
    "x-kubernetes-embedded-resource", "x-kubernetes-validations",
}  # fmt: skip


def structural_problems(schema: Mapping[str, Json], path: str = "") -> list[Violation]:
    """Return the ways ``schema`` is not a structural schema the API server would accept.

    Checked: every node has a ``type`` (unless int-or-string or preserve-unknown-fields), only
    known keywords, ``properties`` and ``additionalProperties`` not both set, arrays have ``items``,
    list-map keys are required or defaulted properties of the items, patterns compile, and every
    ``default`` matches its own schema.
    """
    out: list[Violation] = []
    unknown = sorted(set(schema) - _SCHEMA_KEYWORDS)
    if unknown:
        out.append(Violation(path, f"unknown schema keywords {unknown}"))
    typeless_ok = schema.get("x-kubernetes-int-or-string") or schema.get(
        "x-kubernetes-preserve-unknown-fields"
    )
    if "type" not in schema and not typeless_ok:
        out.append(Violation(path, "a structural schema needs a type here"))
    if "properties" in schema and "additionalProperties" in schema:
        out.append(Violation(path, "properties and additionalProperties are mutually exclusive"))
    if schema.get("type") == "array" and not isinstance(schema.get("items"), Mapping):
        out.append(Violation(path, "an array schema needs items"))
    if "pattern" in schema:
        try:
            re.compile(schema["pattern"])
        except re.error as error:
            out.append(Violation(path, f"pattern does not compile: {error}"))
    if schema.get("x-kubernetes-list-type") == "map":
        items = schema.get("items", {})
        for key in schema.get("x-kubernetes-list-map-keys", []):
            sub = items.get("properties", {}).get(key)
            if sub is None:
                out.append(Violation(path, f"list-map key {key!r} is not an item property"))
            elif key not in items.get("required", []) and "default" not in sub:
                out.append(Violation(path, f"list-map key {key!r} must be required or defaulted"))
    if "default" in schema:
        out += [
            Violation(_join(path, "default"), str(v)) for v in validate(schema, schema["default"])
        ]
    for name, sub in schema.get("properties", {}).items():
        out += structural_problems(sub, _join(path, name))
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), Mapping):
            out += structural_problems(schema[key], _join(path, key))
    return out
