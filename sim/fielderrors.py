"""Field errors worded as kube-apiserver words them, and the 422 ``Invalid`` they add up to.

Clients and people read validation failures by their text (``metadata.name: Invalid value:
"Bad": a lowercase RFC 1123 subdomain must ...``), and tools match on the cause types
(``FieldValueInvalid``, ``FieldValueRequired``, ...). This module renders a field error the way
apimachinery's ``field.Error`` does (strings quoted, numbers and booleans bare, other values as
JSON, the detail after a colon), joins several as its aggregate does (``[a, b]``, duplicates
dropped) and builds the ``Status`` with one cause per error. It also holds the name, label and key
checks of apimachinery's validation package with their exact messages. Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sim.errors import ApiError, qualified

#: cause type -> the words that start the message
_WORDS = {
    "FieldValueInvalid": "Invalid value",
    "FieldValueRequired": "Required value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueTooLong": "Too long",
    "FieldValueTooMany": "Too many",
    "FieldValueTypeInvalid": "Invalid value",
    "FieldValueNotFound": "Not found",
}
#: types whose message carries no value
_NO_VALUE = {"FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong"}
#: a marker for errors that omit their value
OMIT = object()


def go_quote(text: str) -> str:
    """Quote a string as Go's ``%q`` does for the texts that appear in API messages."""
    return json.dumps(text, ensure_ascii=False)


def go_value(value: Any) -> str:
    """Render a bad value as apimachinery does: ``%q`` strings, ``%v`` scalars, JSON otherwise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return json.dumps(value, separators=(",", ":"))


@dataclass(frozen=True)
class FieldError:
    """One failed check: cause type, field path, bad value and detail."""

    type: str
    field: str
    value: Any = OMIT
    detail: str = ""

    def body(self) -> str:
        """Return the message without the field (``Invalid value: "x": detail``)."""
        words = _WORDS.get(self.type, "Invalid value")
        text = (
            words
            if self.type in _NO_VALUE or self.value is OMIT
            else (f"{words}: {go_value(self.value)}")
        )
        return f"{text}: {self.detail}" if self.detail else text

    def text(self) -> str:
        """Return the full message (``field: body``)."""
        return f"{self.field}: {self.body()}"


def invalid_value(field: str, value: Any, detail: str) -> FieldError:
    """Return a ``FieldValueInvalid`` error."""
    return FieldError("FieldValueInvalid", field, value, detail)


def required(field: str, detail: str = "") -> FieldError:
    """Return a ``FieldValueRequired`` error."""
    return FieldError("FieldValueRequired", field, OMIT, detail)


def forbidden(field: str, detail: str) -> FieldError:
    """Return a ``FieldValueForbidden`` error."""
    return FieldError("FieldValueForbidden", field, OMIT, detail)


def not_supported(field: str, value: Any, allowed: list[Any]) -> FieldError:
    """Return a ``FieldValueNotSupported`` error listing the supported values."""
    listed = ", ".join(go_value(v) for v in allowed)
    return FieldError("FieldValueNotSupported", field, value, f"supported values: {listed}")


def aggregate(errors: list[FieldError]) -> str:
    """Join messages as apimachinery's aggregate error does."""
    seen: list[str] = []
    for error in errors:
        text = error.text()
        if text not in seen:
            seen.append(text)
    return seen[0] if len(seen) == 1 else "[" + ", ".join(seen) + "]"


def invalid(kind: str, group: str, name: str, errors: list[FieldError]) -> ApiError:
    """Return the 422 ``Invalid`` of an object that fails validation."""
    return ApiError(
        422,
        "Invalid",
        f"{qualified(kind, group)} {go_quote(name)} is invalid: {aggregate(errors)}",
        details={
            "name": name,
            "group": group,
            "kind": kind,
            "causes": [{"reason": e.type, "message": e.body(), "field": e.field} for e in errors],
        },
    )


# -- apimachinery's string checks --------------------------------------------------------------

_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = _LABEL + "(\\." + _LABEL + ")*"
_DNS1035 = "[a-z]([-a-z0-9]*[a-z0-9])?"
_LABEL_RE = re.compile(f"^{_LABEL}$")
_SUBDOMAIN_RE = re.compile(f"^{_SUBDOMAIN}$")
_DNS1035_RE = re.compile(f"^{_DNS1035}$")
_KEY = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_KEY_RE = re.compile(f"^{_KEY}$")
_VALUE = f"({_KEY})?"
_VALUE_RE = re.compile(f"^{_VALUE}$")
_CONFIG_KEY = "[-._a-zA-Z0-9]+"
_CONFIG_KEY_RE = re.compile(f"^{_CONFIG_KEY}$")
_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """Word a pattern failure as apimachinery's ``RegexError``."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def dns1123_label(value: str) -> list[str]:
    """Return the failures of a DNS-1123 label (namespace names)."""
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _LABEL_RE.match(value):
        if _SUBDOMAIN_RE.match(value):
            errs.append("must not contain dots")
        else:
            errs.append(
                regex_error(
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                    "characters or '-', and must start and end with an alphanumeric character",
                    _LABEL,
                    "my-name",
                    "123-abc",
                )
            )
    return errs


def dns1123_subdomain(value: str, unit: str = "characters") -> list[str]:
    """Return the failures of a DNS-1123 subdomain (most object names).

    Name checks count characters; the label-key checks (apimachinery's newer ``content``
    package) word the same limit in bytes.
    """
    errs = []
    if len(value) > 253:
        errs.append(f"must be no more than 253 {unit}")
    if not _SUBDOMAIN_RE.match(value):
        errs.append(
            regex_error(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric character",
                _SUBDOMAIN,
                "example.com",
            )
        )
    return errs


def dns1035_label(value: str) -> list[str]:
    """Return the failures of a DNS-1035 label (Service names)."""
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _DNS1035_RE.match(value):
        errs.append(
            regex_error(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                "start with an alphabetic character, and end with an alphanumeric character",
                _DNS1035,
                "my-name",
                "abc-123",
            )
        )
    return errs


def path_segment(value: str) -> list[str]:
    """Return the failures of a path segment name (RBAC object names)."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


def qualified_name(value: str) -> list[str]:
    """Return the failures of a qualified name (label keys, finalizers)."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in dns1123_subdomain(prefix, "bytes"))
    else:
        return [
            "a valid label key "
            + regex_error(_KEY_MSG, _KEY, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 bytes")
    if not _KEY_RE.match(name):
        errs.append("name part " + regex_error(_KEY_MSG, _KEY, "MyName", "my.name", "123-abc"))
    return errs


def label_value(value: str) -> list[str]:
    """Return the failures of a label value."""
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 bytes")
    if not _VALUE_RE.match(value):
        errs.append(
            regex_error(
                "a valid label must be an empty string or consist of alphanumeric characters, "
                "'-', '_' or '.', and must start and end with an alphanumeric character",
                _VALUE,
                "MyValue",
                "my_value",
                "12345",
            )
        )
    return errs


def config_key(value: str) -> list[str]:
    """Return the failures of a ConfigMap or Secret key."""
    errs = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _CONFIG_KEY_RE.match(value):
        errs.append(
            regex_error(
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                _CONFIG_KEY,
                "key.name",
                "KEY_NAME",
                "key-name",
            )
        )
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs
