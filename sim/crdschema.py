"""CRD structural schemas applied to custom resources as kube-apiserver applies them.

Order on every write of a custom resource, as in the API server: unknown fields are pruned (their
paths reported for ``fieldValidation``), defaults are filled, nulls of non-nullable fields without
a default are dropped; after admission the object is validated. The walk follows the
apiextensions-apiserver algorithms (pruning, defaulting) and the validation follows kube-openapi's
validators, worded with their messages and turned into field errors as apiextensions-apiserver
does (``spec.clusterID: Invalid value: "bad id": spec.clusterID in body should match '^...$'``,
``spec.x: Required value``, ``spec.y: Unsupported value: "z": supported values: "a", "b"``).

Supported schema keywords: ``type``, ``nullable``, ``properties``, ``additionalProperties``,
``items``, ``required``, ``enum``, ``pattern``, ``minLength``/``maxLength``, ``minimum``/
``maximum`` (and their ``exclusive`` forms), ``multipleOf``, ``minItems``/``maxItems``,
``uniqueItems``, ``minProperties``/``maxProperties``, ``format`` (``byte``, ``date``,
``date-time``; others accepted), ``default``, ``x-kubernetes-preserve-unknown-fields``,
``x-kubernetes-embedded-resource``, ``x-kubernetes-int-or-string``, ``x-kubernetes-list-type``
(``set`` and ``map`` with ``x-kubernetes-list-map-keys``). Not evaluated:
``x-kubernetes-validations`` (CEL rules), ``allOf``/``anyOf``/``oneOf``/``not``. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import re
from functools import lru_cache
from typing import Any

from sim import fielderrors as fe
from sim.cloning import clone

Schema = dict[str, Any]
_META = ("apiVersion", "kind", "metadata")


# -- pruning -----------------------------------------------------------------------------------


def prune(obj: Any, schema: Schema | None) -> list[str]:
    """Remove the fields the schema does not declare; return their paths, sorted."""
    unknown: list[str] = []
    root = dict(schema or {})
    root["x-kubernetes-embedded-resource"] = True
    _prune(obj, root, "", unknown)
    unknown.sort()
    return unknown


def _key_path(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def _prune(x: Any, s: Schema | None, path: str, unknown: list[str]) -> None:
    if s is not None and s.get("x-kubernetes-preserve-unknown-fields"):
        _skip_prune(x, s, path, unknown)
        return
    if isinstance(x, dict):
        if s is None:
            for k in list(x):
                unknown.append(_key_path(path, k))
                del x[k]
            return
        props = s.get("properties") or {}
        extra = s.get("additionalProperties")
        embedded = s.get("x-kubernetes-embedded-resource")
        for k in list(x):
            if embedded and k in _META:
                continue
            if k in props:
                _prune(x[k], props[k], _key_path(path, k), unknown)
            elif extra is not None and extra is not False:
                _prune(
                    x[k], extra if isinstance(extra, dict) else None, _key_path(path, k), unknown
                )
            else:
                if k not in _META or path:
                    unknown.append(_key_path(path, k))
                del x[k]
    elif isinstance(x, list):
        items = s.get("items") if s is not None else None
        for i, v in enumerate(x):
            _prune(v, items, f"{path}[{i}]", unknown)


def _skip_prune(x: Any, s: Schema, path: str, unknown: list[str]) -> None:
    if isinstance(x, dict):
        props = s.get("properties") or {}
        extra = s.get("additionalProperties")
        embedded = s.get("x-kubernetes-embedded-resource")
        for k, v in x.items():
            if embedded and k in _META:
                continue
            if k in props:
                _prune(v, props[k], _key_path(path, k), unknown)
            elif isinstance(extra, dict):
                _prune(v, extra, _key_path(path, k), unknown)
    elif isinstance(x, list) and isinstance(s.get("items"), dict):
        for i, v in enumerate(x):
            _skip_prune(v, s["items"], f"{path}[{i}]", unknown)


# -- defaulting --------------------------------------------------------------------------------


def _non_nullable_null(value: Any, s: Schema) -> bool:
    return value is None and not s.get("nullable")


def default(x: Any, s: Schema | None) -> None:
    """Fill the schema's defaults into ``x`` in place, then drop non-nullable nulls."""
    _default(x, s)
    _drop_nulls(x, s)


def _default(x: Any, s: Schema | None) -> None:
    if s is None:
        return
    if isinstance(x, dict):
        props = s.get("properties") or {}
        for k, prop in props.items():
            if "default" not in prop:
                continue
            if k not in x or _non_nullable_null(x[k], prop):
                x[k] = clone(prop["default"])
        extra = s.get("additionalProperties")
        for k, v in x.items():
            if k in props:
                _default(v, props[k])
            elif isinstance(extra, dict):
                _default(v, extra)
    elif isinstance(x, list):
        for v in x:
            _default(v, s.get("items"))


def _drop_nulls(x: Any, s: Schema | None) -> None:
    if s is None:
        return
    if isinstance(x, dict):
        props = s.get("properties") or {}
        extra = s.get("additionalProperties")
        for k in list(x):
            sub = props.get(k) or (extra if isinstance(extra, dict) else None)
            if sub is None:
                continue
            if x[k] is None and not sub.get("nullable") and "default" not in sub:
                del x[k]
            else:
                _drop_nulls(x[k], sub)
    elif isinstance(x, list):
        for v in x:
            _drop_nulls(v, s.get("items"))


# -- validation --------------------------------------------------------------------------------


def _json_type(value: Any) -> str:
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
    return "object"


def _go_number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    # ECMA/RE2 patterns as Python patterns: the constructs CRDs use read the same
    return re.compile(pattern)


def _valid_format(fmt: str, value: str) -> bool:
    try:
        if fmt == "date-time":
            if "T" not in value.upper():
                return False
            datetime.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        elif fmt == "date":
            datetime.date.fromisoformat(value)
        elif fmt == "byte":
            base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        return False
    return True


def validate(obj: Any, schema: Schema | None) -> list[fe.FieldError]:
    """Return the failures of a custom resource against its version's schema."""
    if schema is None:
        return []
    errors: list[fe.FieldError] = []
    _validate(obj, schema, "", errors, root=True)
    return errors


def _error_path(name: str) -> str:
    return name.lstrip(".") if name not in ("", ".") else ""


def _validate(
    x: Any, s: Schema, path: str, errors: list[fe.FieldError], root: bool = False
) -> None:
    name = path or "."
    shown = _error_path(path)
    declared = s.get("type")
    int_or_string = s.get("x-kubernetes-int-or-string")
    if x is None:
        if declared and not s.get("nullable"):
            errors.append(
                fe.FieldError(
                    "FieldValueTypeInvalid",
                    shown,
                    "",
                    f'{name} in body must be of type {declared}: "null"',
                )
            )
        _enum(x, s, shown, name, errors)
        return
    actual = _json_type(x)
    if int_or_string:
        if actual not in ("integer", "string"):
            errors.append(
                fe.FieldError(
                    "FieldValueTypeInvalid",
                    shown,
                    x,
                    f"{name} in body must be of type integer,string: {fe.go_quote(actual)}",
                )
            )
    elif declared:
        matches = (
            actual == declared
            or (declared == "number" and actual == "integer")
            or (declared == "integer" and actual == "number" and float(x).is_integer())
        )
        if not matches:
            # kube-openapi's error carries the value's type name as its value
            errors.append(
                fe.FieldError(
                    "FieldValueTypeInvalid",
                    shown,
                    actual,
                    f"{name} in body must be of type {declared}: {fe.go_quote(actual)}",
                )
            )
            return
    if isinstance(x, str):
        _string(x, s, shown, name, errors)
    elif isinstance(x, int | float) and not isinstance(x, bool):
        _number(x, s, shown, name, errors)
    elif isinstance(x, list):
        _array(x, s, shown, name, path, errors)
    _enum(x, s, shown, name, errors)
    if isinstance(x, dict):
        _object(x, s, shown, name, path, errors, root)


def _string(x: str, s: Schema, shown: str, name: str, errors: list[fe.FieldError]) -> None:
    # kube-openapi's string validator reports only its first failure (length, then pattern)
    before = len(errors)
    _string_checks(x, s, shown, name, errors)
    del errors[before + 1 :]


def _string_checks(x: str, s: Schema, shown: str, name: str, errors: list[fe.FieldError]) -> None:
    if "maxLength" in s and len(x) > s["maxLength"]:
        errors.append(
            fe.FieldError(
                "FieldValueTooLong",
                shown,
                fe.OMIT,
                f"may not be more than {s['maxLength']} "
                + ("byte" if s["maxLength"] == 1 else "bytes"),
            )
        )
    if "minLength" in s and len(x) < s["minLength"]:
        errors.append(
            fe.invalid_value(
                shown, x, f"{name} in body should be at least {s['minLength']} chars long"
            )
        )
    if "pattern" in s and not _compiled(s["pattern"]).search(x):
        errors.append(fe.invalid_value(shown, x, f"{name} in body should match '{s['pattern']}'"))
    fmt = s.get("format")
    if fmt and not _valid_format(fmt, x):
        errors.append(
            fe.FieldError(
                "FieldValueTypeInvalid",
                shown,
                x,
                f"{name} in body must be of type {fmt}: {fe.go_quote(x)}",
            )
        )


def _number(x: float, s: Schema, shown: str, name: str, errors: list[fe.FieldError]) -> None:
    if "multipleOf" in s and s["multipleOf"] and (x / s["multipleOf"]) % 1:
        errors.append(
            fe.invalid_value(
                shown, x, f"{name} in body should be a multiple of {_go_number(s['multipleOf'])}"
            )
        )
    if "maximum" in s:
        top = s["maximum"]
        if s.get("exclusiveMaximum") and x >= top:
            errors.append(
                fe.invalid_value(shown, x, f"{name} in body should be less than {_go_number(top)}")
            )
        elif x > top:
            errors.append(
                fe.invalid_value(
                    shown, x, f"{name} in body should be less than or equal to {_go_number(top)}"
                )
            )
    if "minimum" in s:
        low = s["minimum"]
        if s.get("exclusiveMinimum") and x <= low:
            errors.append(
                fe.invalid_value(
                    shown, x, f"{name} in body should be greater than {_go_number(low)}"
                )
            )
        elif x < low:
            errors.append(
                fe.invalid_value(
                    shown,
                    x,
                    f"{name} in body should be greater than or equal to {_go_number(low)}",
                )
            )


def _array(
    x: list[Any], s: Schema, shown: str, name: str, path: str, errors: list[fe.FieldError]
) -> None:
    items = s.get("items")
    if isinstance(items, dict):
        for i, v in enumerate(x):
            _validate(v, items, f"{path}[{i}]", errors)
    if "minItems" in s and len(x) < s["minItems"]:
        errors.append(
            fe.invalid_value(
                shown, len(x), f"{name} in body should have at least {s['minItems']} items"
            )
        )
    if "maxItems" in s and len(x) > s["maxItems"]:
        errors.append(
            fe.FieldError(
                "FieldValueTooMany",
                shown,
                len(x),
                f"must have at most {s['maxItems']} " + ("item" if s["maxItems"] == 1 else "items"),
            )
        )
    if s.get("uniqueItems") and len({json.dumps(v, sort_keys=True) for v in x}) != len(x):
        errors.append(fe.invalid_value(shown, x, f"{name} in body shouldn't contain duplicates"))
    list_type = s.get("x-kubernetes-list-type")
    if list_type == "set":
        seen: list[Any] = []
        for i, v in enumerate(x):
            if v in seen:
                errors.append(fe.FieldError("FieldValueDuplicate", f"{shown}[{i}]", v))
            seen.append(v)
    elif list_type == "map":
        keys = s.get("x-kubernetes-list-map-keys") or []
        seen_keys: list[Any] = []
        for i, v in enumerate(x):
            if not isinstance(v, dict):
                continue
            key = {k: v.get(k) for k in keys if k in v}
            if key in seen_keys:
                errors.append(fe.FieldError("FieldValueDuplicate", f"{shown}[{i}]", key))
            seen_keys.append(key)


def _enum(x: Any, s: Schema, shown: str, name: str, errors: list[fe.FieldError]) -> None:
    allowed = s.get("enum")
    if allowed is None or x in allowed:
        return
    errors.append(
        fe.FieldError(
            "FieldValueNotSupported",
            shown,
            x,
            "supported values: "
            + ", ".join(
                fe.go_quote(v if isinstance(v, str) else json.dumps(v, separators=(",", ":")))
                for v in allowed
            ),
        )
    )


def _object(
    x: dict[str, Any],
    s: Schema,
    shown: str,
    name: str,
    path: str,
    errors: list[fe.FieldError],
    root: bool,
) -> None:
    count = len(x)
    if "minProperties" in s and count < s["minProperties"]:
        errors.append(
            fe.invalid_value(
                shown, count, f"{name} in body should have at least {s['minProperties']} properties"
            )
        )
    if "maxProperties" in s and count > s["maxProperties"]:
        errors.append(
            fe.FieldError(
                "FieldValueTooMany",
                shown,
                count,
                f"must have at most {s['maxProperties']} items",
            )
        )
    props = s.get("properties") or {}
    extra = s.get("additionalProperties")
    for key, value in x.items():
        if root and key in _META:
            continue
        child = _key_path(path, key)
        if key in props:
            _validate(value, props[key], child, errors)
        elif isinstance(extra, dict):
            _validate(value, extra, child, errors)
    for key in s.get("required") or ():
        if key not in x:
            errors.append(fe.required(_key_path(shown, key)))
