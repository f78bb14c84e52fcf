"""Fixtures for the OCI API tests: a running, seeded registry core per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.registry.oci.registry_fixture import Registry, running_registry


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[Registry]:
    async with running_registry(tmp_path / "data") as running:
        yield running
