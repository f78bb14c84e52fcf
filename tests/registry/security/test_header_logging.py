"""Case 6: no header value reaches the registry core's output or files, whatever the parser thinks.

The server runs as a process (`quay-registry serve`, stdout and stderr into `server.log`);
raw bytes go to it over a socket, so requests aiohttp's parser refuses are sent as an attacker
would: a token followed by a NUL byte, an oversized Basic header, a bad header name carrying a
secret value, a CR inside a value. Requests the parser accepts but that carry bad credentials go
through the handlers too. Afterwards no file under the data directory holds the secret (nor its
base64 form), and the server still answers.
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devstack.registry import RegistryServer, registry_server

SECRET = "S3CR3T0KENQB9Z7Y6X5W4V3U2T1S0RQPONM"


@pytest.fixture(scope="module")
def quay() -> Iterator[RegistryServer]:
    with registry_server() as server:
        yield server


def _send(quay: RegistryServer, raw: bytes) -> bytes:
    host, port = quay.host.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(raw)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
    return b"".join(chunks)


def _request(path: str, *header_lines: bytes) -> bytes:
    head = [f"GET {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Connection: close"]
    return b"\r\n".join([*head, *header_lines]) + b"\r\n\r\n"


def _basic(password: str) -> bytes:
    return base64.b64encode(f"acme+robot:{password}".encode())


HOSTILE = {
    "token followed by NUL": _request(
        "/v2/", b"Authorization: Bearer " + SECRET.encode() + b"\x00"
    ),
    "NUL inside the token": _request(
        "/v2/acme/app/tags/list",
        b"Authorization: Bearer " + SECRET[:9].encode() + b"\x00" + SECRET.encode(),
    ),
    "oversized Basic header": _request("/v2/auth", b"Authorization: Basic " + _basic(SECRET * 300)),
    "oversized cookie": _request("/api/v1/user/", b"Cookie: session=" + SECRET.encode() * 300),
    "bad header name": _request("/api/v1/user/", b"X-Bad\x01Name: " + SECRET.encode()),
    "CR inside a value": _request("/v2/", b"Authorization: Bearer " + SECRET.encode() + b"\rX"),
    "non-UTF-8 token": _request(
        "/v2/acme/app/tags/list", b"Authorization: Bearer \xff\xfe" + SECRET.encode()
    ),
    "wrong Basic password": _request(
        "/v2/auth?scope=repository:acme/app:pull", b"Authorization: Basic " + _basic(SECRET)
    ),
    "Basic that is not base64": _request("/v2/auth", b"Authorization: Basic !!" + SECRET.encode()),
    "bearer on the REST API": _request(
        "/api/v1/user/", b"Authorization: Bearer " + SECRET.encode()
    ),
    "bearer as a JWT-looking token": _request(
        "/v2/acme/app/manifests/latest", b"Authorization: Bearer a." + SECRET.encode() + b".b"
    ),
}


def _files_holding(directory: Path, needles: list[bytes]) -> list[str]:
    found = []
    for path in directory.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            found += [f"{path.name}: {needle[:12]!r}" for needle in needles if needle in content]
    return found


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_header_is_refused_and_never_logged(quay: RegistryServer, case: str) -> None:
    answer = _send(quay, HOSTILE[case])
    status = int(answer.split(b" ", 2)[1])
    assert 400 <= status < 500, answer[:200]

    assert requests.get(f"{quay.url}/health/instance", timeout=10).status_code == 200
    needles = [
        SECRET.encode(),
        SECRET[:16].encode(),
        _basic(SECRET)[:24],
        _basic(SECRET * 300)[:24],
    ]
    assert _files_holding(quay.data_dir, needles) == []
    assert (quay.data_dir / "server.log").stat().st_size > 0
