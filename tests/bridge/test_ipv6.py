"""IPv6 Quay hosts and an IPv6 API server: bracketed hosts wherever a host meets a port.

``quayHostname: https://[fd00::10]:8443`` must give dockerconfigjson keys, Build outputs and
ImageStreamImport references written ``[fd00::10]:8443/...`` (RFC 3986 and the image reference
grammar both bracket IPv6 literals), an unbracketed IPv6 address is refused with the fix, and an
API server at ``https://[::1]:port`` is verified against an IP SAN ``::1``. The whole story on
``::1`` only, with the real components, is ``tests/e2e/test_ipv6.py``.
"""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import jsonpatch
import pytest
from aiohttp import web

from bridge.builds.image_imports import Verdict, decide, import_request
from bridge.kube.cluster import Cluster, KubeError
from bridge.kube.connection import load_connection
from bridge.metrics import Metrics
from bridge.model import dockercfg
from bridge.model.spec import parse_spec
from certs.issuing import Issued, make_ca, make_serving_cert
from tests.bridge.test_connection import b64, kubeconfig
from tests.webhook.builds import build, review
from webhook.mutation import Rewrite
from webhook.mutation import decide as admit
from webhook.reviews import parse_review
from webhook.state_view import Destination

HOST = "[fd00::10]:8443"
KEY = b"k" * 32


def spec(url: str) -> object:
    return parse_spec(
        {
            "clusterID": "openshift",
            "credentialsSecret": {"name": "quay", "namespace": "ops"},
            "quayHostname": url,
        }
    )


def test_an_ipv6_quay_hostname_gives_a_bracketed_registry_host() -> None:
    parsed = spec(f"https://{HOST}/")
    assert parsed.registry_host == HOST  # type: ignore[attr-defined]
    assert parsed.base_url == f"https://{HOST}"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://fd00::10:8443", "spec.quayHostname accepts an IPv6 address only in brackets"),
        (
            "https://[fd00::10]:99999",
            "spec.quayHostname accepts a port that is a number from 0 to 65535",
        ),
    ],
)
def test_an_ipv6_quay_hostname_without_brackets_is_refused_with_the_fix(
    url: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        spec(url)


def test_the_pull_secret_is_keyed_by_the_bracketed_host_and_read_back() -> None:
    data = dockercfg.secret_data(HOST, "org+builder", "TOKEN")
    document = json.loads(base64.b64decode(data[dockercfg.DATA_KEY]))
    assert list(document["auths"]) == [HOST]
    assert dockercfg.read_login(data, HOST) == ("org+builder", "TOKEN")


def test_the_build_pushes_to_and_is_imported_from_the_bracketed_host() -> None:
    destination = Destination(
        registry_host=HOST, organization="openshift_p", insecure_registry=True
    )
    body = json.dumps(review(build(namespace="p"), namespace="p")).encode()
    request = parse_review(body).request
    decision = admit(request, lambda namespace: destination if namespace == "p" else None, KEY)
    assert isinstance(decision, Rewrite)
    image = f"{HOST}/openshift_p/httpd-example:latest"
    assert {"op": "replace", "path": "/spec/output/to/name", "value": image} in decision.patch

    completed = jsonpatch.apply_patch(build(namespace="p"), decision.patch)
    completed["status"] = {"phase": "Complete"}
    verdict = decide(completed, KEY)
    assert verdict.verdict is Verdict.IMPORT, verdict.reason
    assert verdict.image == image
    assert verdict.target is not None
    body = import_request(
        verdict.target, image, insecure=True, scheduled=False, resource_version=None
    )
    assert body["spec"]["images"][0]["from"] == {"kind": "DockerImage", "name": image}


@pytest.fixture
def ca() -> Issued:
    return make_ca()


@pytest.fixture
async def ipv6_api_server(tmp_path: Path, ca: Issued) -> AsyncIterator[object]:
    """Start HTTPS servers answering ``/apis`` on ``::1`` with certificates for given IPs."""
    runners: list[web.AppRunner] = []

    async def groups(_: web.Request) -> web.Response:
        return web.json_response({"groups": [{"name": "group.example"}]})

    async def start(ip_addresses: list[str]) -> str:
        serving = make_serving_cert(ca, "kubernetes", "default", ip_addresses=ip_addresses)
        (tmp_path / "srv.crt").write_bytes(serving.cert_pem)
        (tmp_path / "srv.key").write_bytes(serving.key_pem)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tmp_path / "srv.crt", tmp_path / "srv.key")
        app = web.Application()
        app.router.add_get("/apis", groups)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "::1", 0, ssl_context=context).start()
        return f"https://[::1]:{runner.addresses[0][1]}"

    yield start
    for runner in runners:
        await runner.cleanup()


async def groups_at(tmp_path: Path, url: str, ca: Issued) -> set[str]:
    cluster_entry = {"server": url, "certificate-authority-data": b64(ca.cert_pem)}
    path = kubeconfig(tmp_path / "config", cluster=cluster_entry, user={"token": "t"})
    cluster = Cluster(load_connection(str(path)), Metrics())
    try:
        return await cluster.api_groups()
    finally:
        await cluster.aclose()


async def test_an_ipv6_api_server_is_reached_and_verified_by_its_ip_san(
    tmp_path: Path, ipv6_api_server: object, ca: Issued
) -> None:
    url = await ipv6_api_server(["::1"])  # type: ignore[operator]
    assert await groups_at(tmp_path, url, ca) == {"group.example"}


async def test_an_ipv6_api_server_without_the_ip_san_is_not_trusted(
    tmp_path: Path, ipv6_api_server: object, ca: Issued
) -> None:
    url = await ipv6_api_server(["127.0.0.1"])  # type: ignore[operator]
    with pytest.raises(KubeError) as caught:
        await groups_at(tmp_path, url, ca)
    assert "certificate" in caught.value.message.lower()
