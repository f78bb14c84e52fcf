"""OpenAPI v2 in the protobuf form kubectl reads (gnostic's ``openapi.v2.Document``).

kubectl fetches ``/openapi/v2`` only as ``application/com.github.proto-openapi.spec.v2@v1.0+
protobuf`` (``kubectl explain --output=plaintext-openapiv2``, and its client-side validation when a
kind is missing from the v3 documents). The JSON document ``sim.discovery.openapi_v2`` builds is
turned into gnostic's messages here, whose descriptors come with the Kubernetes schemas (see
``sim.protobuf``): maps become ``Named*`` lists, values of ``default``/``enum``/``example`` and
vendor extensions become YAML in ``Any``, ``type`` a ``TypeItem``, ``items`` an ``ItemsItem``.
"""

from __future__ import annotations

from typing import Any

import yaml
from google.protobuf import message_factory
from google.protobuf.message import Message

from sim import protobuf

#: what kubectl asks for in Accept, and the type the answer is labelled with (Go's mime parser
#: refuses the '@' in a Content-Type, so the API server answers with the dotted form)
MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
ANSWER_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"

_SCALARS = {
    "format": "format",
    "title": "title",
    "description": "description",
    "multipleOf": "multiple_of",
    "maximum": "maximum",
    "exclusiveMaximum": "exclusive_maximum",
    "minimum": "minimum",
    "exclusiveMinimum": "exclusive_minimum",
    "maxLength": "max_length",
    "minLength": "min_length",
    "pattern": "pattern",
    "maxItems": "max_items",
    "minItems": "min_items",
    "uniqueItems": "unique_items",
    "maxProperties": "max_properties",
    "minProperties": "min_properties",
    "readOnly": "read_only",
    "discriminator": "discriminator",
}


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=False, sort_keys=False)


def _any(target: Any, value: Any) -> None:
    target.yaml = _yaml(value)


def _schema(msg: Any, schema: dict[str, Any]) -> None:
    for key, value in schema.items():
        if key == "$ref":
            msg._ref = value
        elif key in _SCALARS:
            setattr(msg, _SCALARS[key], value)
        elif key == "required":
            msg.required.extend(value)
        elif key in ("default", "example"):
            _any(getattr(msg, key), value)
        elif key == "enum":
            for item in value:
                _any(msg.enum.add(), item)
        elif key == "type":
            msg.type.value.extend(value if isinstance(value, list) else [value])
        elif key == "items" and isinstance(value, dict):
            _schema(msg.items.schema.add(), value)
        elif key == "allOf":
            for item in value:
                _schema(msg.all_of.add(), item)
        elif key == "properties":
            msg.properties.SetInParent()
            for name, sub in value.items():
                named = msg.properties.additional_properties.add()
                named.name = name
                _schema(named.value, sub)
        elif key == "additionalProperties":
            if isinstance(value, dict):
                _schema(msg.additional_properties.schema, value)
            else:
                msg.additional_properties.boolean = bool(value)
        elif key.startswith("x-"):
            ext = msg.vendor_extension.add()
            ext.name = key
            _any(ext.value, value)


def encode(doc: dict[str, Any]) -> bytes | None:
    """Return the protobuf bytes of an OpenAPI v2 document, or None without the schemas."""
    schemas = protobuf.schemas()
    if schemas is None:
        return None
    try:
        desc = schemas.pool.FindMessageTypeByName("openapi.v2.Document")
    except KeyError:
        return None
    out: Message = message_factory.GetMessageClass(desc)()
    msg: Any = out
    msg.swagger = doc.get("swagger", "2.0")
    info = doc.get("info") or {}
    msg.info.title = info.get("title", "")
    msg.info.version = info.get("version", "")
    msg.paths.SetInParent()
    msg.definitions.SetInParent()
    for name, schema in (doc.get("definitions") or {}).items():
        named = msg.definitions.additional_properties.add()
        named.name = name
        _schema(named.value, schema)
    return out.SerializeToString()
