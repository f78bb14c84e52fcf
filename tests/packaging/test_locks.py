"""The lock files pin everything pyproject.toml asks for, with hashes, and agree with each other.

``make lock`` writes them; these checks catch a dependency added to ``pyproject.toml`` without
refreshing the locks (``make install`` would then fail with ``--require-hashes``, or miss it).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==(\S+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: str) -> dict[str, str]:
    return {
        canonical(m.group(1)): m.group(2)
        for line in (ROOT / "requirements" / lock).read_text().splitlines()
        if (m := PIN.match(line))
    }


def wanted(*extras: str) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in extras:
        specs += project["optional-dependencies"][extra]
    return {canonical(re.split(r"[\[<>=!~; ]", spec, maxsplit=1)[0]) for spec in specs}


@pytest.mark.parametrize(
    ("lock", "extras"), [("test.lock", ("test", "demo")), ("demo.lock", ("demo",))]
)
def test_every_dependency_is_pinned(lock: str, extras: tuple[str, ...]) -> None:
    assert wanted(*extras) <= set(pins(lock)), sorted(wanted(*extras) - set(pins(lock)))


def test_the_demo_lock_has_no_test_tools_and_the_test_locks_versions() -> None:
    demo, test = pins("demo.lock"), pins("test.lock")
    assert not {"pytest", "mypy", "ruff", "hypothesis"} & set(demo)
    assert {name: test.get(name) for name in demo} == demo


@pytest.mark.parametrize("lock", ["test.lock", "demo.lock"])
def test_every_pin_carries_hashes(lock: str) -> None:
    text = (ROOT / "requirements" / lock).read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    for block in blocks:
        if PIN.match(block):
            assert "--hash=sha256:" in block, block.splitlines()[0]
