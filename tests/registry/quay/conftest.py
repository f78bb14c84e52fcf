"""An in-process registry core (real app, real SQLite) with an initialized first user."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from registry.app import make_app
from registry.settings import Settings


@dataclass
class Quay:
    """A test client plus the first user's token."""

    client: TestClient[Any, Any]
    token: str

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = "default",
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> tuple[ClientResponse, Any]:
        headers = {"Accept": "application/json"}
        bearer = self.token if token == "default" else token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = content_type
        response = await self.client.request(
            method, path, data=data, headers=headers, allow_redirects=False
        )
        text = await response.text()
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return response, parsed

    async def mint(self, org: str, scope: str, expiration: int | None = None) -> str:
        """Create an application in ``org`` and mint a token with ``scope``."""
        response, app = await self.call(
            "POST", f"/api/v1/organization/{org}/applications", {"name": "bridge"}
        )
        assert response.status == 200, app
        body: dict[str, Any] = {"name": "t", "scope": scope}
        if expiration is not None:
            body["expiration"] = expiration
        response, minted = await self.call(
            "POST", f"/api/v1/organization/{org}/applications/{app['client_id']}/tokens", body
        )
        assert response.status == 200, minted
        return str(minted["token"])


@pytest.fixture
def registry_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, namespace_gc_seconds=0.2)


@pytest.fixture
async def quay(registry_settings: Settings) -> AsyncIterator[Quay]:
    app = make_app(registry_settings)
    async with TestClient(TestServer(app)) as client:
        response = await client.post(
            "/api/v1/user/initialize",
            json={
                "username": "quayadmin",
                "password": "password-123",
                "email": "quayadmin@example.com",
                "access_token": True,
            },
        )
        assert response.status == 200
        token = (await response.json())["access_token"]
        yield Quay(client, token)
