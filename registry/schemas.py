"""Request-body schemas and a small validator that words its errors the way Quay's jsonschema does.

Quay validates bodies with jsonschema and puts the error's full multi-line text (message, the
failing sub-schema pretty-printed, the instance) into ``detail``. Clients show that text, so the
registry core reproduces it for the keywords these schemas use (type, required, enum, properties,
min/maxLength).
"""

from __future__ import annotations

import pprint
from dataclasses import dataclass
from typing import Any

JsonSchema = dict[str, Any]

NEW_ORG: JsonSchema = {
    "type": "object",
    "description": "Description of a new organization.",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "description": "Organization username"},
        "email": {"type": "string", "description": "Organization contact email"},
        "contact_email": {
            "type": "string",
            "description": "Optional contact email for organization recovery and notifications",
        },
        "recaptcha_response": {
            "type": "string",
            "description": "The (may be disabled) recaptcha response code for verification",
        },
    },
}

TEAM_DESCRIPTION: JsonSchema = {
    "type": "object",
    "description": "Description of a team",
    "required": ["role"],
    "properties": {
        "role": {
            "type": "string",
            "description": "Org wide permissions that should apply to the team",
            "enum": ["member", "creator", "admin"],
        },
        "description": {"type": "string", "description": "Markdown description for the team"},
    },
}

CHANGE_VISIBILITY: JsonSchema = {
    "type": "object",
    "description": "Change the visibility for the repository.",
    "required": ["visibility"],
    "properties": {
        "visibility": {
            "type": "string",
            "description": "Visibility which the repository will start with",
            "enum": ["public", "private"],
        },
    },
}

NEW_REPO: JsonSchema = {
    "type": "object",
    "description": "Description of a new repository",
    "required": ["repository", "visibility", "description"],
    "properties": {
        "repository": {"type": "string", "description": "Repository name"},
        "visibility": {
            "type": "string",
            "description": "Visibility which the repository will start with",
            "enum": ["public", "private"],
        },
        "namespace": {
            "type": "string",
            "description": "Namespace in which the repository should be created. If omitted, the "
            "username of the caller is used",
        },
        "description": {
            "type": "string",
            "description": "Markdown encoded description for the repository",
        },
        "repo_kind": {
            "type": ["string", "null"],
            "description": "The kind of repository",
            "enum": ["image", None],
        },
    },
}

CREATE_ROBOT: JsonSchema = {
    "type": "object",
    "description": "Optional data for creating a robot",
    "properties": {
        "description": {
            "type": "string",
            "description": "Optional text description for the robot",
            "maxLength": 255,
        },
        "unstructured_metadata": {
            "type": "object",
            "description": "Optional unstructured metadata for the robot",
        },
    },
}

NEW_PROTOTYPE: JsonSchema = {
    "type": "object",
    "description": "Description of a new prototype",
    "required": ["role", "delegate"],
    "properties": {
        "role": {
            "type": "string",
            "description": "Role that should be applied to the delegate",
            "enum": ["read", "write", "admin"],
        },
        "activating_user": {
            "type": "object",
            "description": "Repository creating user to whom the rule should apply",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "description": "The username for the activating_user"}
            },
        },
        "delegate": {
            "type": "object",
            "description": "Information about the user or team to which the rule grants access",
            "required": ["name", "kind"],
            "properties": {
                "name": {
                    "type": "string",
                    "description": "The name for the delegate team or user",
                },
                "kind": {
                    "type": "string",
                    "description": "Whether the delegate is a user or a team",
                    "enum": ["user", "team"],
                },
            },
        },
    },
}

PROTOTYPE_UPDATE: JsonSchema = {
    "type": "object",
    "description": "Description of a the new prototype role",
    "required": ["role"],
    "properties": {
        "role": {
            "type": "string",
            "description": "Role that should be applied to the permission",
            "enum": ["read", "write", "admin"],
        }
    },
}

USER_PERMISSION: JsonSchema = {
    "type": "object",
    "description": "Description of a user permission.",
    "required": ["role"],
    "properties": {
        "role": {
            "type": "string",
            "description": "Role to use for the user",
            "enum": ["read", "write", "admin"],
        }
    },
}

NEW_APPLICATION: JsonSchema = {
    "type": "object",
    "description": "Description of a new organization application.",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "description": "The name of the application"},
        "redirect_uri": {
            "type": "string",
            "description": "The URI for the application's OAuth redirect",
        },
        "application_uri": {
            "type": "string",
            "description": "The URI for the application's homepage",
        },
        "description": {
            "type": "string",
            "description": "The human-readable description for the application",
        },
        "avatar_email": {
            "type": "string",
            "description": "The e-mail address of the avatar to use for the application",
        },
    },
}

NEW_APP_TOKEN: JsonSchema = {
    "type": "object",
    "description": "Description of a new application token",
    "required": ["name", "scope"],
    "properties": {
        "name": {
            "type": "string",
            "description": "The name of the token",
            "minLength": 1,
            "maxLength": 255,
        },
        "scope": {"type": "string", "description": "Space- or comma-separated scopes"},
        "expiration": {"type": ["integer", "null"], "description": "Lifetime in seconds"},
    },
}

NEW_SUPERUSER_USER: JsonSchema = {
    "type": "object",
    "description": "Data for creating a user",
    "required": ["username"],
    "properties": {
        "username": {"type": "string", "description": "The username of the user being created"},
        "email": {"type": "string", "description": "The email address of the user being created"},
    },
}

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
