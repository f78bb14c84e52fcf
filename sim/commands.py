"""``quay-bridge sim``: run the OpenShift simulator from the command line.

It prints where it listens (one line, ``listening on http://HOST:PORT``) and writes a kubeconfig,
then serves until interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import sys

from aiohttp import web

from commandline.listening import IP_VERSIONS, LOOPBACK, listen_hosts
from commandline.parsing import ArgumentParser
from sim.assembly import build
from sim.kubeconfig import write_kubeconfig
from sim.listening import url_host
from sim.serving import ApiRunner
from sim.settings import BuildTiming, ProjectTiming, Settings

#: --delay step names -> (settings group, field)
DELAYS = {
    "scc": ("projects", "scc_annotations"),
    "origin": ("projects", "origin_finalizer"),
    "service-accounts": ("projects", "service_accounts"),
    "dockercfg": ("projects", "dockercfg_secrets"),
    "build-pending": ("builds", "to_pending"),
    "build-running": ("builds", "to_running"),
    "build-complete": ("builds", "to_complete"),
}


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="quay-bridge sim", description="Run the OpenShift simulator (plain HTTP on loopback)."
    )
    p.add_argument(
        "--host",
        action="append",
        default=[],
        help="address to listen on, repeatable (default 127.0.0.1, ::1 or both, after the IP "
        "version); the first one goes into the kubeconfig",
    )
    p.add_argument(
        "--listen-ip-version",
        choices=IP_VERSIONS,
        default=None,
        help="IPv4, IPv6 or dual-stack (default: what --host implies, else IPv4)",
    )
    p.add_argument("--port", type=int, default=0, help="port (default: a free one, printed)")
    p.add_argument(
        "--registry", default=None, help="URL of the OCI registry builds push to by default"
    )
    p.add_argument(
        "--kubeconfig-out", default=None, help="write a kubeconfig for the simulator here"
    )
    p.add_argument(
        "--request-log", default=None, help="append one JSON line per API request to this file"
    )
    p.add_argument(
        "--service-address",
        action="append",
        default=[],
        metavar="SVC.NS:PORT=HOST:PORT",
        help="where a webhook service reference really listens (repeatable)",
    )
    p.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="talk plain HTTP to this registry host (repeatable)",
    )
    p.add_argument(
        "--immediate", action="store_true", help="run OpenShift behaviours with no delays"
    )
    p.add_argument(
        "--delay",
        action="append",
        default=[],
        metavar="STEP=SECONDS",
        help="delay of one OpenShift step (after --immediate; repeatable): " + ", ".join(DELAYS),
    )
    p.add_argument("--no-build-controller", action="store_true", help="leave Builds in phase New")
    p.add_argument(
        "--history-limit", type=int, default=10_000, help="watch events kept per resource"
    )
    return p


def settings_from_args(argv: list[str]) -> Settings:
    """Return the Settings that a command line asks for; exit 2 on bad input."""
    parser = _parser()
    args = parser.parse_args(argv)
    addresses = {}
    for item in args.service_address:
        svc, sep, addr = item.partition("=")
        if not sep or not svc or not addr:
            parser.error(f"--service-address wants SVC.NS:PORT=HOST:PORT, got {item!r}")
        addresses[svc] = addr
    try:
        hosts = listen_hosts(args.listen_ip_version, args.host, option="--host", defaults=LOOPBACK)
    except ValueError as exc:
        parser.error(str(exc))
    settings = Settings(
        host=hosts[0],
        extra_hosts=tuple(hosts[1:]),
        port=args.port,
        registry_url=args.registry,
        service_addresses=addresses,
        request_log=args.request_log,
        insecure_registries=tuple(args.insecure_registry),
        history_limit=args.history_limit,
    )
    if args.immediate:
        settings.projects = ProjectTiming(0, 0, 0, 0)
        settings.builds = BuildTiming(0, 0, 0)
    for item in args.delay:
        step, sep, value = item.partition("=")
        if not sep or step not in DELAYS:
            parser.error(
                f"--delay wants STEP=SECONDS with STEP one of {', '.join(DELAYS)}, got {item!r}"
            )
        try:
            seconds = float(value)
        except ValueError:
            parser.error(f"--delay {step}: {value!r} is not a number of seconds")
        if seconds < 0:
            parser.error(f"--delay {step}: must not be negative")
        group, name = DELAYS[step]
        setattr(getattr(settings, group), name, seconds)
    for option, path in (
        ("--request-log", args.request_log),
        ("--kubeconfig-out", args.kubeconfig_out),
    ):
        if path:
            try:
                with open(path, "a", encoding="utf-8"):
                    pass
            except OSError as exc:
                parser.error(f"{option}: cannot write {path}: {exc.strerror}")
    settings.builds.enabled = not args.no_build_controller
    settings.kubeconfig_out = args.kubeconfig_out  # type: ignore[attr-defined]
    return settings


def tune_garbage_collection() -> None:
    """Keep the cyclic garbage collector off the request path of a long-running simulator.

    What the simulator allocates per request are JSON trees without reference cycles, freed by
    reference counting; the collector's passes still walked the young objects every 700 net
    allocations and, now and then, the whole heap, a measurable share of the server's CPU under
    load (docs/simulator.md#performance).
    Everything loaded at start-up (modules, the catalogue, the template) is moved out of its
    reach, and young collections run every 20,000 net allocations; the cycles asyncio leaves
    (exceptions with tracebacks) are still collected.
    """
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


async def serve(settings: Settings, kubeconfig_out: str | None) -> None:
    """Serve until SIGINT/SIGTERM (handled before the port opens, so a stop is always clean)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    simulator = build(settings)
    await simulator.start()
    runner = ApiRunner(simulator.api)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    port = sockets[0].getsockname()[1] if sockets else settings.port
    for host in settings.extra_hosts:  # dual-stack: the same port on the other addresses
        await web.TCPSite(runner, host, port).start()
    url = f"http://{url_host(settings.host)}:{port}"
    if kubeconfig_out:
        write_kubeconfig(kubeconfig_out, url)
    tune_garbage_collection()
    print(f"listening on {url}", flush=True)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str]) -> int:
    """Run ``quay-bridge sim`` and return the exit code."""
    settings = settings_from_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        asyncio.run(serve(settings, getattr(settings, "kubeconfig_out", None)))
    except KeyboardInterrupt:
        print("quay-bridge sim: interrupted, stopped", file=sys.stderr)
        return 130
    except OSError as exc:
        print(
            f"quay-bridge sim: cannot listen on {settings.host}:{settings.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    print("quay-bridge sim: stopped", file=sys.stderr)
    return 0
