"""The JSON Schemas of the REST API's request bodies, as Quay declares them.

``registry.validation`` checks a body against one and words the error as Quay's jsonschema does;
``registry.api.discovery`` publishes them.
"""

from __future__ import annotations

from registry.validation import JsonSchema

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
