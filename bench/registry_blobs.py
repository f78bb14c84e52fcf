"""Blob and manifest throughput of the registry core's `/v2` API beside CNCF distribution's.

One run starts both servers on loopback: the registry core (`quay-registry serve`, SQLite metadata,
blobs under its data dir, Quay token auth) and CNCF distribution (`/usr/bin/docker-registry serve`,
filesystem storage in a temp dir, no auth). The same aiohttp client code then, for each server:

- pushes one 256 MiB blob (POST an upload, PUT it with `?digest=`, streamed from a file) and
  pulls it back (GET, read in 1 MiB chunks), best of `--rounds` rounds, alternating servers;
- pushes 200 small manifests (distinct bytes, same config and layer) by tag, then pulls them back.

Token fetching happens once, before timing. It also records each server's peak resident memory
(`VmHWM`), which shows the blob is streamed rather than held in memory. JSON goes to stdout and to
`bench/results/registry_blobs.json`. Goal: blob throughput at least 0.8x distribution's.

Usage: `.venv/bin/python bench/registry_blobs.py [--blob-mib 256] [--manifests 200] [--rounds 3]`
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import aiohttp
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devstack.ports import free_port
from devstack.processes import Process
from devstack.registry import RegistryServer

RESULTS = Path(__file__).resolve().parent / "results" / "registry_blobs.json"
DISTRIBUTION = "/usr/bin/docker-registry"
CHUNK = 1024 * 1024
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@dataclass
class Target:
    """One server under test and how to reach it."""

    name: str
    url: str
    repo: str
    pid: int
    headers: dict[str, str] = field(default_factory=dict)


def _peak_rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _start_distribution(root: Path) -> tuple[Process, str]:
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'storage'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    process = Process.spawn(
        "distribution", [DISTRIBUTION, "serve", str(config)], root / "distribution.log"
    )
    url = f"http://127.0.0.1:{port}"
    try:
        process.await_ready(
            lambda: requests.get(f"{url}/v2/", timeout=1).status_code == 200,
            "distribution answering /v2/",
        )
    except BaseException:
        process.stop()
        raise
    return process, url


def _core_token(server: RegistryServer, repo: str) -> str:
    response = requests.get(
        f"{server.url}/v2/auth",
        params={"service": server.host, "scope": f"repository:{repo}:push,pull"},
        auth=(server.username, server.password),
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["token"])


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


async def push_blob(
    http: aiohttp.ClientSession, target: Target, path: Path, digest: str, size: int
) -> None:
    """POST an upload, then PUT the whole blob with its digest (streamed from `path`)."""
    start_url = f"{target.url}/v2/{target.repo}/blobs/uploads/"
    async with http.post(start_url, headers=target.headers) as resp:
        assert resp.status == 202, await resp.text()
        location = urljoin(target.url, resp.headers["Location"])
    separator = "&" if "?" in location else "?"
    headers = target.headers | {
        "Content-Type": "application/octet-stream",
        "Content-Length": str(size),
    }
    async with http.put(
        f"{location}{separator}digest={digest}", data=_file_chunks(path), headers=headers
    ) as resp:
        assert resp.status == 201, await resp.text()


async def pull_blob(http: aiohttp.ClientSession, target: Target, digest: str) -> int:
    """GET the blob, reading it in 1 MiB chunks; returns the byte count."""
    url = f"{target.url}/v2/{target.repo}/blobs/{digest}"
    received = 0
    async with http.get(url, headers=target.headers) as resp:
        assert resp.status == 200, await resp.text()
        async for chunk in resp.content.iter_chunked(CHUNK):
            received += len(chunk)
    return received


async def push_small_blob(http: aiohttp.ClientSession, target: Target, data: bytes) -> str:
    """Single-request upload of a small blob."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    start_url = f"{target.url}/v2/{target.repo}/blobs/uploads/"
    async with http.post(start_url, headers=target.headers) as resp:
        location = urljoin(target.url, resp.headers["Location"])
    separator = "&" if "?" in location else "?"
    async with http.put(
        f"{location}{separator}digest={digest}", data=data, headers=target.headers
    ) as resp:
        assert resp.status == 201, await resp.text()
    return digest


def manifests(count: int, config: bytes, layer: bytes) -> list[bytes]:
    """`count` distinct small OCI manifests over the same config and layer."""

    def desc(media_type: str, data: bytes) -> dict[str, Any]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    return [
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": desc("application/vnd.oci.image.config.v1+json", config),
                "layers": [desc("application/vnd.oci.image.layer.v1.tar", layer)],
                "annotations": {"bench.index": str(i)},
            }
        ).encode()
        for i in range(count)
    ]


async def manifest_round(
    http: aiohttp.ClientSession, target: Target, bodies: list[bytes]
) -> tuple[float, float]:
    """Push every manifest by tag, then pull each back; returns (push/s, pull/s)."""
    headers = target.headers | {"Content-Type": OCI_MANIFEST}
    started = time.perf_counter()
    for i, body in enumerate(bodies):
        url = f"{target.url}/v2/{target.repo}/manifests/m{i}"
        async with http.put(url, data=body, headers=headers) as resp:
            assert resp.status == 201, await resp.text()
    push_seconds = time.perf_counter() - started
    accept = target.headers | {"Accept": OCI_MANIFEST}
    started = time.perf_counter()
    for i, body in enumerate(bodies):
        url = f"{target.url}/v2/{target.repo}/manifests/m{i}"
        async with http.get(url, headers=accept) as resp:
            assert await resp.read() == body
    pull_seconds = time.perf_counter() - started
    return len(bodies) / push_seconds, len(bodies) / pull_seconds


def _write_blob(path: Path, mib: int) -> str:
    hasher = hashlib.sha256()
    block = os.urandom(CHUNK)
    with open(path, "wb") as handle:
        for i in range(mib):
            # Vary every MiB so nothing downstream can deduplicate or compress it.
            chunk = i.to_bytes(8, "big") + block[8:]
            hasher.update(chunk)
            handle.write(chunk)
    return "sha256:" + hasher.hexdigest()


async def run(
    args: argparse.Namespace, core: Target, dist: Target, scratch: Path
) -> dict[str, Any]:
    """Measure both targets; returns the result document."""
    blob_path = scratch / "blob.bin"
    size = args.blob_mib * CHUNK
    digest = _write_blob(blob_path, args.blob_mib)
    mib = size / CHUNK
    results: dict[str, dict[str, Any]] = {
        t.name: {"blob_push_mib_s": [], "blob_pull_mib_s": []} for t in (core, dist)
    }
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        for _ in range(args.rounds):
            for target in (core, dist):
                started = time.perf_counter()
                await push_blob(http, target, blob_path, digest, size)
                results[target.name]["blob_push_mib_s"].append(
                    mib / (time.perf_counter() - started)
                )
                started = time.perf_counter()
                assert await pull_blob(http, target, digest) == size
                results[target.name]["blob_pull_mib_s"].append(
                    mib / (time.perf_counter() - started)
                )
        config, layer = b'{"architecture":"amd64","os":"linux"}', b"bench layer"
        bodies = manifests(args.manifests, config, layer)
        for target in (core, dist):
            await push_small_blob(http, target, config)
            await push_small_blob(http, target, layer)
            push_rate, pull_rate = await manifest_round(http, target, bodies)
            results[target.name]["manifest_push_per_s"] = push_rate
            results[target.name]["manifest_pull_per_s"] = pull_rate
            results[target.name]["peak_rss_mib"] = _peak_rss_mib(target.pid)
    for figures in results.values():
        for key in ("blob_push_mib_s", "blob_pull_mib_s"):
            runs = figures.pop(key)
            figures[key] = round(max(runs), 1)
            figures[key.replace("_mib_s", "_runs_mib_s")] = [round(r, 1) for r in runs]
        for key in ("manifest_push_per_s", "manifest_pull_per_s"):
            figures[key] = round(figures[key], 1)
        if figures["peak_rss_mib"] is not None:
            figures["peak_rss_mib"] = round(figures["peak_rss_mib"], 1)
    ours, theirs = results[core.name], results[dist.name]
    ratio = {
        key: round(ours[key] / theirs[key], 3)
        for key in (
            "blob_push_mib_s",
            "blob_pull_mib_s",
            "manifest_push_per_s",
            "manifest_pull_per_s",
        )
    }
    blob_ratio = min(ratio["blob_push_mib_s"], ratio["blob_pull_mib_s"])
    return {
        "benchmark": "registry_blobs",
        "blob_mib": args.blob_mib,
        "manifests": args.manifests,
        "rounds": args.rounds,
        "method": "best of rounds for blobs, servers alternated; one pass for manifests; "
        "same aiohttp client for both; tokens fetched before timing",
        "registry_core": ours,
        "distribution": theirs,
        "ratio_core_over_distribution": ratio,
        "goal_blob_ratio": 0.8,
        "goal_met": blob_ratio >= 0.8,
    }


def main() -> int:
    """Start both servers, measure, print and save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blob-mib", type=int, default=256)
    parser.add_argument("--manifests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not Path(DISTRIBUTION).exists():
        print(f"{DISTRIBUTION} is missing (Debian package docker-registry)", file=sys.stderr)
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="registry-blobs-bench-"))
    server = RegistryServer.start(data_dir=scratch / "core")
    process, dist_url = _start_distribution(scratch)
    try:
        repo = f"{server.username}/bench"
        core = Target(
            "registry_core",
            server.url,
            repo,
            server.process.pid,
            {"Authorization": f"Bearer {_core_token(server, repo)}"},
        )
        dist = Target("distribution", dist_url, "bench/blobs", process.pid)
        result = asyncio.run(run(args, core, dist, scratch))
    finally:
        server.stop()
        process.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
