"""Requests per second of the registry core's Quay REST API for the bridge's call mix.

One run starts a real registry core (`quay-registry serve`, SQLite in a temp dir) and drives it with
aiohttp at concurrency 1 and 16. Each unit of work is what the bridge does for one new namespace,
with its status checks, then what a resync re-reads (24 calls, 25 with the 308 hop):

- provision: GET org (404), POST org, 3x (GET robot (400), PUT robot), GET prototypes,
  3x POST prototype, 2x (GET repo (404), POST repo);
- reads: GET user (following the 308 from `/api/v1/user`), GET org, 3x GET robot, GET prototypes,
  2x GET repo.

Workers take units one after another (each unit on its own organization), so concurrency N means N
calls in flight. Every answer's status is checked; the server's `/metrics` count must equal the
calls made. The server's own CPU time per call (from /proc) is reported too: on a shared machine
it shows the capacity independent of what else runs. JSON goes to stdout and to
`bench/results/registry_api.json`. Goal: >= 500 calls/s at concurrency 16 (a real Quay with one
gevent worker does about 4/s here: bcrypt per request).

Each level runs `--rounds` times, alternating, and the best round is the headline (the machine is
shared); every round is in the JSON with the load average.

A third level, `writes`, sends only the write calls the operator makes for a new namespace (the
org, 3 robot PUTs, 3 prototype POSTs, 2 repository POSTs: 9 calls, the mix `bench/convergence.py`
measures as `registry_cpu_seconds`) at concurrency 8, and reports the server's CPU per write call.

Usage: `.venv/bin/python bench/registry_api.py [--units-c1 15] [--units-c16 96]
[--units-writes 100] [--rounds 3]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devstack.registry import RegistryServer

RESULTS = Path(__file__).resolve().parent / "results" / "registry_api.json"
SERVICE_ACCOUNTS = (("builder", "write"), ("default", "read"), ("deployer", "read"))
REPOS = ("httpd-example", "nodejs-example")


class Driver:
    """Sends the mix and records every call's latency."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str) -> None:
        self.session = session
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.latencies: list[float] = []
        self.calls = 0

    async def call(self, method: str, path: str, expect: int, body: Any = None) -> Any:
        """Send one call, check its status, return its JSON body."""
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        async with self.session.request(
            method, self.base + path, data=data, headers=headers
        ) as response:
            payload = await response.read()
            status = response.status
            hops = len(response.history)
        self.latencies.append(time.perf_counter() - started)
        self.calls += 1 + hops
        if status != expect:
            raise RuntimeError(f"{method} {path}: {status} (expected {expect}): {payload[:200]!r}")
        return json.loads(payload) if payload else None

    async def unit(self, org: str) -> None:
        """The bridge's calls for one new namespace, then a resync's reads."""
        o = f"/api/v1/organization/{org}"
        await self.call("GET", o, 404)
        await self.call("POST", "/api/v1/organization/", 201, {"name": org, "email": f"{org}@x.io"})
        for sa, _ in SERVICE_ACCOUNTS:
            await self.call("GET", f"{o}/robots/{sa}", 400)
            await self.call("PUT", f"{o}/robots/{sa}", 201)
        await self.call("GET", f"{o}/prototypes", 200)
        for sa, role in SERVICE_ACCOUNTS:
            delegate = {"kind": "user", "name": f"{org}+{sa}", "is_robot": True}
            await self.call("POST", f"{o}/prototypes", 200, {"role": role, "delegate": delegate})
        for repo in REPOS:
            await self.call("GET", f"/api/v1/repository/{org}/{repo}", 404)
            await self.call(
                "POST",
                "/api/v1/repository",
                201,
                {"namespace": org, "repository": repo, "visibility": "private",
                 "description": "", "repo_kind": "image"},
            )  # fmt: skip
        await self.reads(org)

    async def writes(self, org: str) -> None:
        """Only the operator's writes for one new namespace (what convergence measures)."""
        o = f"/api/v1/organization/{org}"
        await self.call("POST", "/api/v1/organization/", 201, {"name": org, "email": f"{org}@x.io"})
        for sa, _ in SERVICE_ACCOUNTS:
            await self.call("PUT", f"{o}/robots/{sa}", 201)
        for sa, role in SERVICE_ACCOUNTS:
            delegate = {"kind": "user", "name": f"{org}+{sa}", "is_robot": True}
            await self.call("POST", f"{o}/prototypes", 200, {"role": role, "delegate": delegate})
        for repo in REPOS:
            await self.call(
                "POST",
                "/api/v1/repository",
                201,
                {"namespace": org, "repository": repo, "visibility": "private",
                 "description": "", "repo_kind": "image"},
            )  # fmt: skip

    async def reads(self, org: str) -> None:
        """What a resync re-reads for a namespace."""
        o = f"/api/v1/organization/{org}"
        await self.call("GET", "/api/v1/user", 200)
        await self.call("GET", o, 200)
        for sa, _ in SERVICE_ACCOUNTS:
            await self.call("GET", f"{o}/robots/{sa}", 200)
        await self.call("GET", f"{o}/prototypes", 200)
        for repo in REPOS:
            await self.call("GET", f"/api/v1/repository/{org}/{repo}", 200)


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU time the server process has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_level(
    server: RegistryServer, concurrency: int, units: int, tag: str, *, writes_only: bool = False
) -> dict[str, Any]:
    """Run ``units`` units with ``concurrency`` workers; return the measurements."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        driver = Driver(session, server.url, server.token)
        queue: asyncio.Queue[str] = asyncio.Queue()
        for index in range(units):
            queue.put_nowait(f"bench_{tag}-{index}")

        async def worker() -> None:
            while not queue.empty():
                name = queue.get_nowait()
                await (driver.writes(name) if writes_only else driver.unit(name))

        cpu_before = server_cpu_seconds(server.process.pid)
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu = server_cpu_seconds(server.process.pid) - cpu_before
    latencies = sorted(driver.latencies)
    return {
        "level": "writes" if writes_only else f"c{concurrency}",
        "concurrency": concurrency,
        "units": units,
        "calls": driver.calls,
        "seconds": round(elapsed, 3),
        "calls_per_second": round(driver.calls / elapsed, 1),
        "server_cpu_ms_per_call": round(cpu / driver.calls * 1000, 3),
        "server_capacity_calls_per_cpu_second": round(driver.calls / cpu, 1) if cpu else None,
        "latency_ms": {
            "p50": round(statistics.median(latencies) * 1000, 2),
            "p99": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        },
    }


def counted_calls(server: RegistryServer) -> int:
    """Sum of ``quay_registry_requests_total`` over the REST API routes."""
    import requests

    text = requests.get(f"{server.url}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        match = re.match(
            r'quay_registry_requests_total\{[^}]*route="(/api/[^"]*)"[^}]*\} (\S+)', line
        )
        if match and not match.group(1).endswith("/initialize"):
            total += float(match.group(2))
    return int(total)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    server = RegistryServer.start(gc_seconds=60)
    try:
        await run_level(server, 4, 2, "warmup")
        before = counted_calls(server)
        levels = []
        for round_ in range(args.rounds):
            levels.append(await run_level(server, 1, args.units_c1, f"c1r{round_}"))
            levels.append(await run_level(server, 16, args.units_c16, f"c16r{round_}"))
            levels.append(
                await run_level(server, 8, args.units_writes, f"wr{round_}", writes_only=True)
            )
        counted = counted_calls(server) - before
    finally:
        server.stop()
    made = sum(level["calls"] for level in levels)
    best = {
        name: max(level["calls_per_second"] for level in levels if level["level"] == name)
        for name in ("c1", "c16")
    }
    write_cpu = [level["server_cpu_ms_per_call"] for level in levels if level["level"] == "writes"]
    c16 = best["c16"]
    return {
        "benchmark": "registry_api",
        "server": "quay-registry serve (SQLite, one process)",
        "mix_calls_per_unit": 25,  # 24 calls + the 308 hop of GET /api/v1/user
        "levels": levels,
        "best_calls_per_second": best,
        "server_cpu_ms_per_write_call": {"min": min(write_cpu), "max": max(write_cpu)},
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "metrics_counted_calls": counted,
        "metrics_match_calls_made": counted == made,
        "goal_calls_per_second_at_c16": 500,
        "goal_met": c16 >= 500,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units-c1", type=int, default=15, help="units at concurrency 1")
    parser.add_argument("--units-c16", type=int, default=96, help="units at concurrency 16")
    parser.add_argument(
        "--units-writes", type=int, default=100, help="namespaces' writes at concurrency 8"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of all levels (best kept)")
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    text = json.dumps(result, indent=2)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
