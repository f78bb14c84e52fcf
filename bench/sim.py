"""Benchmark of the OpenShift simulator: requests per second, list cost and watch fan-out.

Starts a real ``quay-bridge sim`` process, stores 5,000 ConfigMaps, then measures GET, POST
(create) and PATCH (merge) throughput from concurrent keep-alive clients, the server CPU of full
and label-selected lists, and, for writes fanned out to many open watches, the latency from a
write to its arrival on every watch and the server CPU per event delivered. Each measure also
reports the server process's CPU seconds (``/proc``), the figure that does not depend on what else
the shared machine runs. Prints JSON and writes ``bench/results/sim.json``.
Usage: ``.venv/bin/python bench/sim.py [--objects 5000] [--requests 3000] [--watchers 50]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devstack.sim import start_sim

RESULTS = Path(__file__).parent / "results" / "sim.json"


def cpu_seconds(pid: int) -> float:
    """Return the user+system CPU time a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


PID = 0


async def _run(
    session: aiohttp.ClientSession, calls: list[tuple[str, str, Any, str]], concurrency: int
) -> float:
    queue: asyncio.Queue[tuple[str, str, Any, str]] = asyncio.Queue()
    for call in calls:
        queue.put_nowait(call)

    async def worker() -> None:
        while not queue.empty():
            method, url, body, ctype = queue.get_nowait()
            data = json.dumps(body).encode() if body is not None else None
            async with session.request(
                method, url, data=data, headers={"Content-Type": ctype}
            ) as resp:
                await resp.read()
                if resp.status >= 400:
                    raise SystemExit(f"{method} {url}: {resp.status}")

    cpu = cpu_seconds(PID)
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    CPU[id(calls)] = cpu_seconds(PID) - cpu
    return wall


CPU: dict[int, float] = {}


async def throughput(
    url: str, objects: int, requests: int, concurrency: int, lists: int
) -> dict[str, Any]:
    base = f"{url}/api/v1/namespaces/bench/configmaps"
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.post(
            f"{url}/api/v1/namespaces", json={"metadata": {"name": "bench"}}
        ) as resp:
            assert resp.status == 201, resp.status
        seed = [
            (
                "POST",
                base,
                {
                    "metadata": {"name": f"seed-{i}", "labels": {"i": str(i % 10)}},
                    "data": {"v": "x" * 64},
                },
                "application/json",
            )
            for i in range(objects)
        ]
        seed_time = await _run(session, seed, concurrency)
        gets = [
            ("GET", f"{base}/seed-{i % objects}", None, "application/json") for i in range(requests)
        ]
        get_time = await _run(session, gets, concurrency)
        creates = [
            (
                "POST",
                base,
                {"metadata": {"name": f"new-{i}"}, "data": {"v": "y"}},
                "application/json",
            )
            for i in range(requests)
        ]
        create_time = await _run(session, creates, concurrency)
        patches = [
            (
                "PATCH",
                f"{base}/seed-{i % objects}",
                {"data": {"p": str(i)}},
                "application/merge-patch+json",
            )
            for i in range(requests)
        ]
        patch_time = await _run(session, patches, concurrency)

        def per_cpu(calls: list[Any]) -> float:
            used = CPU[id(calls)]
            return round(len(calls) / used, 1) if used else float("inf")

        async with session.get(base, params={"labelSelector": "i=3"}) as resp:
            listed = len((await resp.json())["items"])
        full_lists = [("GET", base, None, "application/json")] * lists
        full_list_time = await _run(session, full_lists, 4)
        selected_lists = [
            ("GET", f"{base}?labelSelector=i%3D{i % 10}", None, "application/json")
            for i in range(lists)
        ]
        await _run(session, selected_lists, 4)
    return {
        "stored_objects": objects + requests,
        "seed_creates_per_second": round(objects / seed_time, 1),
        "get_per_second": round(requests / get_time, 1),
        "create_per_second": round(requests / create_time, 1),
        "patch_per_second": round(requests / patch_time, 1),
        "get_per_server_cpu_second": per_cpu(gets),
        "create_per_server_cpu_second": per_cpu(creates),
        "patch_per_server_cpu_second": per_cpu(patches),
        "label_selected_list_items": listed,
        "full_list_items": objects + requests,
        "full_list_per_second": round(lists / full_list_time, 1),
        "full_list_per_server_cpu_second": per_cpu(full_lists),
        "label_selected_list_per_server_cpu_second": per_cpu(selected_lists),
        "requests_per_measure": requests,
        "client_concurrency": concurrency,
    }


async def fan_out(url: str, watchers: int, writes: int) -> dict[str, Any]:
    base = f"{url}/api/v1/namespaces/fan/configmaps"
    latencies: list[float] = []
    sent: dict[str, float] = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=watchers + 4)) as session:
        async with session.post(
            f"{url}/api/v1/namespaces", json={"metadata": {"name": "fan"}}
        ) as resp:
            assert resp.status == 201
            rv = (await resp.json())["metadata"]["resourceVersion"]
        ready = asyncio.Event()
        opened = 0

        async def watch() -> None:
            nonlocal opened
            params = {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "60"}
            async with session.get(
                base, params=params, timeout=aiohttp.ClientTimeout(total=120)
            ) as resp:
                opened += 1
                if opened == watchers:
                    ready.set()
                seen = 0
                async for line in resp.content:
                    name = json.loads(line)["object"]["metadata"]["name"]
                    latencies.append(time.perf_counter() - sent[name])
                    seen += 1
                    if seen == writes:
                        return

        tasks = [asyncio.create_task(watch()) for _ in range(watchers)]
        await asyncio.wait_for(ready.wait(), 30)
        await asyncio.sleep(0.2)
        cpu = cpu_seconds(PID)
        for i in range(writes):
            name = f"w-{i}"
            sent[name] = time.perf_counter()
            async with session.post(base, json={"metadata": {"name": name}}) as resp:
                assert resp.status == 201
            await asyncio.sleep(0.01)
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
        cpu = cpu_seconds(PID) - cpu
    latencies.sort()
    return {
        "watchers": watchers,
        "writes": writes,
        "events_delivered": len(latencies),
        "latency_ms_p50": round(statistics.median(latencies) * 1000, 2),
        "latency_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "latency_ms_max": round(latencies[-1] * 1000, 2),
        # the writes themselves included: what one change costs the server with this many watches
        "server_cpu_seconds": round(cpu, 3),
        "server_cpu_us_per_event_delivered": round(cpu / len(latencies) * 1e6, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--watchers", type=int, default=50)
    parser.add_argument("--writes", type=int, default=100)
    parser.add_argument("--lists", type=int, default=40, help="full and label-selected lists")
    args = parser.parse_args()
    sim = start_sim(immediate=True)
    url = sim.url
    global PID
    PID = sim.process.pid
    try:
        result = {
            "benchmark": "sim",
            "throughput": asyncio.run(
                throughput(url, args.objects, args.requests, args.concurrency, args.lists)
            ),
            "watch_fan_out": asyncio.run(fan_out(url, args.watchers, args.writes)),
            "goal_simple_requests_per_second": 1000,
            "note": (
                "the server is one process (at most one core); *_per_second is wall-clock with "
                "the client on the same shared 2-core machine; *_per_server_cpu_second divides "
                "by the CPU time the server process used, i.e. the rate one dedicated core gives"
            ),
        }
    finally:
        sim.stop()
    text = json.dumps(result, indent=2)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
