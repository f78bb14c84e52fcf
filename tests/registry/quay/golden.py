"""Comparing a live answer with a golden exchange recorded from a real Quay.

Values that are random per run (tokens, uuids, dates, avatar hashes and colours) are compared by
shape; everything else must be equal, with the recording host replaced by the server under test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"
RECORDED_HOST = "127.0.0.1:58080"

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
RFC2822 = r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} -0000"

#: key -> regex the live value must match instead of equality.
SHAPES: dict[str, str] = {
    "access_token": r"[A-Z0-9]{40}",
    "encrypted_password": r".{20,}",
    "hash": r"[0-9a-f]{64}",
    "color": r"#[0-9a-f]{6}",
    "created": RFC2822,
    "last_modified": RFC2822,
    "status_token": UUID,
    "id": UUID,
    "token": r"[A-Z0-9]{64}|[\w-]+\.[\w-]+\.[\w-]+",
}


def load(name: str) -> list[dict[str, Any]]:
    """The exchanges of one golden file, in recorded order."""
    data = json.loads((GOLDEN_DIR / name).read_text())
    exchanges: list[dict[str, Any]] = data["exchanges"]
    return exchanges


def load_jwt() -> dict[str, Any]:
    """The registry token recorded for the robot's push/pull request (header and claims)."""
    data = json.loads((GOLDEN_DIR / "exchanges.json").read_text())
    recorded: dict[str, Any] = data["jwt"]
    return recorded


def differences(expected: Any, actual: Any, host: str, path: str = "$") -> list[str]:
    """Every place ``actual`` differs from ``expected`` (empty when they match)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {type(actual).__name__}"]
        found = []
        if list(expected) != list(actual) and set(expected) != set(actual):
            found.append(f"{path}: keys {sorted(actual)} != {sorted(expected)}")
        for key in expected:
            if key not in actual:
                continue
            if key in SHAPES and isinstance(expected[key], str):
                value = actual[key]
                if not isinstance(value, str) or not re.fullmatch(SHAPES[key], value):
                    found.append(f"{path}.{key}: {value!r} does not look like {SHAPES[key]}")
                continue
            found += differences(expected[key], actual[key], host, f"{path}.{key}")
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected a list of {len(expected)}, got {actual!r:.200}"]
        if expected and all(isinstance(item, dict) and "name" in item for item in expected):
            expected = sorted(expected, key=lambda item: item["name"])
            actual = sorted(actual, key=lambda item: str(item.get("name")))
        found = []
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            found += differences(want, got, host, f"{path}[{index}]")
        return found
    if isinstance(expected, str):
        expected = expected.replace(RECORDED_HOST, host)
    if type(expected) is not type(actual) or expected != actual:
        return [f"{path}: {actual!r:.200} != {expected!r:.200}"]
    return []
