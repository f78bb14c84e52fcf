"""The webhook listens on IPv4 and IPv6 at once, on one port, with a certificate naming both IPs."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import aiohttp

from certs.issuing import make_ca, make_serving_cert
from certs.storing import write_serving_files
from tests.webhook.builds import build, destinations, review
from tests.webhook.support import DictView
from webhook.serving import start_webhook


async def test_the_webhook_answers_reviews_on_both_loopbacks_with_ip_sans(tmp_path: Path) -> None:
    ca = make_ca()
    serving = make_serving_cert(
        ca, "quay-bridge-webhook", "quay-bridge", ip_addresses=["127.0.0.1", "::1"]
    )
    write_serving_files(tmp_path, ca.cert_pem, serving)
    view = DictView(destinations("p"), ready={"p"})
    server = await start_webhook(view, ["::1", "127.0.0.1"], 0, tmp_path)
    assert server.url.startswith("https://[::1]:")
    context = ssl.create_default_context(cadata=ca.cert_pem.decode())
    body = json.dumps(review(build(namespace="p"), namespace="p")).encode()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
            for host in ("[::1]", "127.0.0.1"):
                url = f"https://{host}:{server.port}/admissionwebhook"
                async with session.post(url, data=body) as response:
                    reply = await response.json()
                assert response.status == 200
                assert reply["response"]["allowed"] is True and reply["response"]["patch"]
    finally:
        await server.stop()
