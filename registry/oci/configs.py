"""The image config check Quay makes when a Docker schema 2 manifest is pushed.

Quay loads the config blob a Docker schema 2 manifest names and validates it against its schema
for that config: `history` (an array) and `rootfs` (an object with a string `type`) are required.
A config that is not JSON, or fails that schema, makes the manifest `MANIFEST_INVALID` with
`detail.message` "malformed config data: ..." or "config data does not match schema: ...". OCI
manifests' configs are not checked (Quay does not either). Pure.
"""

from __future__ import annotations

from registry import boundedjson, validation

DOCKER_CONFIG_SCHEMA: validation.JsonSchema = {
    "type": "object",
    "required": ["history", "rootfs"],
    "properties": {
        "history": {"type": "array"},
        "rootfs": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"type": "string"}},
        },
    },
}


def docker_config_problem(data: bytes) -> str | None:
    """Why `data` is not a Docker schema 2 config Quay accepts (its wording); None if it is."""
    try:
        config = boundedjson.loads(data)
    except ValueError as exc:
        return f"malformed config data: {exc}"
    problem = validation.validate(DOCKER_CONFIG_SCHEMA, config)
    if problem is not None:
        return f"config data does not match schema: {problem}"
    return None
