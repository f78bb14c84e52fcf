"""A real registry core serving `/v2` on loopback, seeded with an org, robots and repositories.

The metadata store is the real one (SQLite in a temp dir), the server a real aiohttp site on
127.0.0.1; accounts are seeded through the store's own functions so the OCI tests do not depend on
the REST API's state. Seed:

- user `quayadmin` (password `adminpass`), owner of org `acme`;
- robots `acme+writer` (write on `acme/app`), `acme+reader` (read on `acme/app`), `acme+nobody`;
- repositories `acme/app` (private) and `acme/public` (public).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

from devstack.ports import free_port
from registry import credentials
from registry.oci.routing import add_routes, attach_context
from registry.oci.signing import KEY_FILE, SigningKey
from registry.settings import Settings
from registry.store import accounts, organizations, repositories, robots
from registry.store.database import Store
from tests.registry.oci.images import OCI_MANIFEST, Image

ADMIN, ADMIN_PASSWORD = "quayadmin", "adminpass"


@dataclass
class Registry:
    """A running registry core and the seeded credentials."""

    url: str
    host: str
    data_dir: Path
    robots: dict[str, str] = field(default_factory=dict)
    """Robot full name → token."""
    http: aiohttp.ClientSession | None = None

    def basic(self, username: str, password: str) -> str:
        """A Basic Authorization header value."""
        return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()

    async def token(self, username: str | None, password: str | None, *scopes: str) -> str:
        """A registry JWT from `/v2/auth` (anonymous when `username` is None)."""
        assert self.http is not None
        headers = (
            {} if username is None else {"Authorization": self.basic(username, password or "")}
        )
        params = [("service", self.host)] + [("scope", s) for s in scopes]
        async with self.http.get(f"{self.url}/v2/auth", params=params, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            return str((await resp.json())["token"])

    async def bearer(self, robot: str, *scopes: str) -> dict[str, str]:
        """Authorization headers for a seeded robot (or the admin) with `scopes`."""
        password = ADMIN_PASSWORD if robot == ADMIN else self.robots[robot]
        return {"Authorization": f"Bearer {await self.token(robot, password, *scopes)}"}


@functools.cache
def _admin_password_hash() -> str:
    return credentials.hash_password(ADMIN_PASSWORD)


@functools.cache
def _signing_key_pem() -> bytes:
    # RSA key generation is the slowest part of a start; one key serves every test's registry.
    with tempfile.TemporaryDirectory() as scratch:
        SigningKey.load_or_create(Path(scratch))
        return (Path(scratch) / KEY_FILE).read_bytes()


async def _seed(store: Store) -> dict[str, str]:
    tokens: dict[str, str] = {}
    async with store.write() as conn:
        admin = await accounts.create_user(
            conn, ADMIN, "admin@example.com", _admin_password_hash(), superuser=True
        )
        org = await organizations.create_organization(conn, "acme", None, admin.id)
        app = await repositories.create_repository(conn, org, "app", "private", "", "image", admin)
        await repositories.create_repository(conn, org, "public", "public", "", "image", admin)
        for short, role in (("writer", "write"), ("reader", "read"), ("nobody", None)):
            token = credentials.random_token(64)
            robot = await robots.create_robot(
                conn, org, f"acme+{short}", "", None, store.keyring.seal(token)
            )
            tokens[robot.username] = token
            if role is not None:
                await repositories.set_user_permission(conn, app.id, robot.id, role)
    return tokens


@asynccontextmanager
async def running_registry(
    data_dir: Path, database_url: str | None = None
) -> AsyncIterator[Registry]:
    """Start a seeded registry core on a free loopback port; stop it on exit.

    Args:
        data_dir: blobs, keys and (by default) the SQLite database; reuse it to test restarts.
        database_url: a `postgresql://` URL to keep the metadata in PostgreSQL instead.
    """
    port = free_port()
    host = f"127.0.0.1:{port}"
    settings = Settings(data_dir=data_dir, server_hostname=host, database_url=database_url)
    store = await Store.open(settings)
    key_file = data_dir / KEY_FILE
    if not key_file.exists():
        key_file.write_bytes(_signing_key_pem())
        key_file.chmod(0o600)
    tokens = (
        await _seed(store)
        if not (data_dir / ".seeded").exists()
        else json.loads((data_dir / ".seeded").read_text())
    )
    (data_dir / ".seeded").write_text(json.dumps(tokens))
    app = web.Application()
    add_routes(app)
    attach_context(app, store, settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    timeout = aiohttp.ClientTimeout(total=60)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http:
            yield Registry(f"http://{host}", host, data_dir, tokens, http)
    finally:
        await runner.cleanup()
        await store.close()


async def error_code(resp: aiohttp.ClientResponse) -> str:
    """The first `errors[].code` of a `/v2` error body."""
    body = await resp.json(content_type=None)
    return str(body["errors"][0]["code"])


async def push_blob(
    registry: Registry, headers: dict[str, str], repo: str, data: bytes, digest: str | None = None
) -> str:
    """Push `data` with one monolithic POST (end-4b); return its digest."""
    assert registry.http is not None
    digest = digest or "sha256:" + hashlib.sha256(data).hexdigest()
    url = f"{registry.url}/v2/{repo}/blobs/uploads/"
    async with registry.http.post(url, params={"digest": digest}, data=data, headers=headers) as r:
        assert r.status == 201, await r.text()
    return digest


async def push_image(
    registry: Registry, headers: dict[str, str], repo: str, image: Image, tag: str
) -> str:
    """Push an image's blobs and its manifest under `tag`; return the manifest digest."""
    assert registry.http is not None
    for data in image.blobs().values():
        await push_blob(registry, headers, repo, data)
    url = f"{registry.url}/v2/{repo}/manifests/{tag}"
    put_headers = headers | {"Content-Type": OCI_MANIFEST}
    async with registry.http.put(url, data=image.manifest, headers=put_headers) as resp:
        assert resp.status == 201, await resp.text()
        return str(resp.headers["Docker-Content-Digest"])
