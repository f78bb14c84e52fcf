"""A small JSON Schema validator that words its errors the way Quay's jsonschema does.

Quay validates bodies with jsonschema and puts the error's full multi-line text (message, the
failing sub-schema pretty-printed, the instance) into ``detail``. Clients show that text, so the
registry core reproduces it for the keywords its schemas use (type, required, enum, properties,
min/maxLength). The REST API's request bodies (``registry.api.schemas``) and the image configs
the /v2 API reads (``registry.oci.configs``) are both checked with it.
"""

from __future__ import annotations

import pprint
from dataclasses import dataclass
from typing import Any

JsonSchema = dict[str, Any]

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "string": (str,),
    "array": (list,),
    "boolean": (bool,),
    "null": (type(None),),
    "integer": (int,),
    "number": (int, float),
}


@dataclass(frozen=True)
class SchemaError:
    """One validation failure, with everything needed to word it like jsonschema."""

    message: str
    validator: str
    schema_path: tuple[str, ...]
    schema: Any
    instance_path: tuple[str, ...]
    instance: Any

    def __str__(self) -> str:
        def index(path: tuple[str, ...]) -> str:
            return "".join(f"[{part!r}]" for part in path)

        def indent(value: Any) -> str:
            return "\n".join("    " + line for line in pprint.pformat(value, width=72).splitlines())

        return (
            f"{self.message}\n\n"
            f"Failed validating {self.validator!r} in schema{index(self.schema_path)}:\n"
            f"{indent(self.schema)}\n\n"
            f"On instance{index(self.instance_path)}:\n"
            f"{indent(self.instance)}"
        )


def _is_type(value: Any, name: str) -> bool:
    if name in {"integer", "number"} and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[name])


def _errors(
    schema: JsonSchema, instance: Any, spath: tuple[str, ...], ipath: tuple[str, ...]
) -> list[SchemaError]:
    found: list[SchemaError] = []
    for keyword, value in schema.items():
        if keyword == "type":
            names = value if isinstance(value, list) else [value]
            if not any(_is_type(instance, name) for name in names):
                shown = ", ".join(repr(name) for name in names)
                found.append(
                    SchemaError(
                        f"{instance!r} is not of type {shown}",
                        "type",
                        spath,
                        schema,
                        ipath,
                        instance,
                    )
                )
                return found
        elif keyword == "required" and isinstance(instance, dict):
            for name in value:
                if name not in instance:
                    message = f"{name!r} is a required property"
                    found.append(SchemaError(message, "required", spath, schema, ipath, instance))
        elif keyword == "enum" and instance not in value:
            message = f"{instance!r} is not one of {value!r}"
            found.append(SchemaError(message, "enum", spath, schema, ipath, instance))
        elif keyword == "maxLength" and isinstance(instance, str) and len(instance) > value:
            message = f"{instance!r} is too long"
            found.append(SchemaError(message, "maxLength", spath, schema, ipath, instance))
        elif keyword == "minLength" and isinstance(instance, str) and len(instance) < value:
            message = f"{instance!r} is too short"
            found.append(SchemaError(message, "minLength", spath, schema, ipath, instance))
        elif keyword == "properties" and isinstance(instance, dict):
            for name, subschema in value.items():
                if name in instance:
                    found += _errors(
                        subschema,
                        instance[name],
                        (*spath, "properties", name),
                        (*ipath, name),
                    )
    return found


def validate(schema: JsonSchema, instance: Any) -> SchemaError | None:
    """Return the error jsonschema's ``best_match`` would report (the shallowest first), or None."""
    found = _errors(schema, instance, (), ())
    if not found:
        return None
    return min(found, key=lambda error: len(error.instance_path))
