"""Request bodies are streamed to disk: a large blob push does not grow the server by its size.

Runs a real `quay-registry serve` process (the full application, metrics and all) and reads its peak
resident set (`VmHWM` in `/proc`) before and after pushing a 128 MiB blob through the `/v2` API.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devstack.registry import registry_server

BLOB_MIB = 128
CHUNK = 1024 * 1024


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM line")


_BLOCK = os.urandom(CHUNK)


def _blob() -> Iterator[bytes]:
    block = _BLOCK
    for i in range(BLOB_MIB):
        yield i.to_bytes(8, "big") + block[8:]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_a_128_mib_blob_push_costs_the_server_far_less_than_128_mib() -> None:
    hasher = hashlib.sha256()
    for chunk in _blob():
        hasher.update(chunk)
    digest = "sha256:" + hasher.hexdigest()
    with registry_server() as quay:
        repo = f"{quay.username}/big"
        token = requests.get(
            f"{quay.url}/v2/auth",
            params={"service": quay.host, "scope": f"repository:{repo}:push,pull"},
            auth=(quay.username, quay.password),
            timeout=10,
        ).json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        before = _peak_rss_mib(quay.process.pid)
        started = requests.post(f"{quay.url}/v2/{repo}/blobs/uploads/", headers=bearer, timeout=10)
        assert started.status_code == 202
        finished = requests.put(
            started.headers["Location"],
            params={"digest": digest},
            data=_blob(),
            headers=bearer,
            timeout=120,
        )
        assert finished.status_code == 201, finished.text
        growth = _peak_rss_mib(quay.process.pid) - before
        head = requests.head(f"{quay.url}/v2/{repo}/blobs/{digest}", headers=bearer, timeout=10)
        assert head.headers["Content-Length"] == str(BLOB_MIB * CHUNK)
    assert growth < BLOB_MIB / 4, f"server peak memory grew by {growth:.0f} MiB"
