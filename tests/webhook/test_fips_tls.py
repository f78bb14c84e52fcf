"""With FIPS on, the webhook serves and the operator's clients speak only approved TLS.

Real handshakes on loopback: a client (or server) that offers only a non-approved suite
(ChaCha20-Poly1305) or group (X25519) fails against the restricted side, while the same peer
succeeds when FIPS is off (so each refusal is the policy's doing), and a default peer ends up on
an approved suite.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.kube.connection import Connection
from certs.tlspolicy import APPROVED_TLS12_CIPHERS, APPROVED_TLS13_SUITES, restrict_to_approved
from tests.webhook.builds import destinations
from tests.webhook.support import DictView, serving_files
from webhook.serving import WebhookServer, WebhookSettings, start_webhook

APPROVED = set(APPROVED_TLS12_CIPHERS) | APPROVED_TLS13_SUITES


def chacha_only(ca_file: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_file))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")
    return context


def x25519_only(ca_file: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_file))
    context.set_ecdh_curve("X25519")
    return context


async def handshake(port: int, context: ssl.SSLContext) -> str:
    """Connect over TLS and return the negotiated suite's name (raises on a failed handshake)."""
    _reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="localhost"), 10
    )
    ssl_object = writer.get_extra_info("ssl_object")
    name = str(ssl_object.cipher()[0])
    writer.close()
    await writer.wait_closed()
    return name


@pytest.fixture(params=[True, False], ids=["fips", "default"])
async def webhook(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[WebhookServer]:
    serving_files(tmp_path)
    view = DictView(destinations("p"), ready={"p"})
    server = await start_webhook(
        view, "127.0.0.1", 0, tmp_path, WebhookSettings(fips=request.param)
    )
    yield server
    await server.stop()


async def test_the_webhook_refuses_non_approved_suites_and_groups_only_in_fips_mode(
    webhook: WebhookServer, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.crt"
    default = await handshake(webhook.port, ssl.create_default_context(cafile=str(ca_file)))
    if webhook.settings.fips:
        assert default in APPROVED
        for context in (chacha_only(ca_file), x25519_only(ca_file)):
            with pytest.raises((ssl.SSLError, ConnectionResetError)):
                await handshake(webhook.port, context)
    else:
        assert "CHACHA20" in await handshake(webhook.port, chacha_only(ca_file))
        await handshake(webhook.port, x25519_only(ca_file))


async def serve_tls(context: ssl.SSLContext) -> tuple[asyncio.Server, int]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    return server, int(server.sockets[0].getsockname()[1])


@pytest.mark.parametrize("fips", [True, False], ids=["fips", "default"])
async def test_the_api_server_client_will_not_agree_to_chacha20_in_fips_mode(
    tmp_path: Path, fips: bool
) -> None:
    serving_files(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.maximum_version = ssl.TLSVersion.TLSv1_2
    server_context.set_ciphers("ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")
    server_context.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    server, port = await serve_tls(server_context)
    connection = Connection(
        server=f"https://localhost:{port}", ca_path=str(tmp_path / "ca.crt"), fips=fips
    )
    client_context = connection.ssl_context()
    assert client_context is not None
    try:
        if fips:
            with pytest.raises((ssl.SSLError, ConnectionResetError)):
                await handshake(port, client_context)
        else:
            assert "CHACHA20" in await handshake(port, client_context)
    finally:
        server.close()
        await server.wait_closed()


def test_tls13_stays_on_only_when_openssl_offers_nothing_but_approved_suites() -> None:
    context = restrict_to_approved(ssl.create_default_context())
    offered = {c["name"] for c in context.get_ciphers() if c.get("protocol") == "TLSv1.3"}
    if offered - APPROVED_TLS13_SUITES:
        assert context.maximum_version == ssl.TLSVersion.TLSv1_2
    else:
        assert context.maximum_version == ssl.TLSVersion.MAXIMUM_SUPPORTED
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
