"""``quay-bridge run``: the operator process.

One asyncio loop runs kopf (cluster-wide), the admission webhook (started through
``bridge.app.webhook_server`` unless ``--no-webhook``) and a small HTTP server for ``/metrics``,
``/healthz`` and ``/readyz``. The connection settings (``bridge.kube.connection``: ``--kubeconfig``
and ``--context``; without them, the in-cluster service account or the default kubeconfig) serve
both kopf and the operator's own client. The process never loads the official ``kubernetes`` client:
see :func:`keep_official_client_out`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib.abc
import importlib.machinery
import logging
import os
import random
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from bridge.app.logs import FORMATS, LEVELS, configure
from bridge.app.serving import make_app, start_server
from bridge.builds.decision_key import ensure_decision_key
from bridge.controller.composition import Controller
from bridge.controller.state import BridgeState
from bridge.kube.cluster import Cluster, KubeError
from bridge.kube.connection import load_connection
from bridge.kube.home import own_namespace
from bridge.kube.peering import Peering, own_identity
from bridge.metrics import Metrics
from commandline.listening import EVERY_INTERFACE, IP_VERSIONS, listen_hosts
from commandline.parsing import ArgumentParser
from webhook.serving import WebhookSettings

log = logging.getLogger("bridge")

#: Packages ``quay-bridge run`` must not load (see :func:`keep_official_client_out`).
KEPT_OUT = ("kubernetes",)


class _KeepOut(importlib.abc.MetaPathFinder):
    """An import hook that makes ``import kubernetes`` (and its submodules) fail."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        """Refuse the kept-out packages; leave every other import to the usual finders."""
        if fullname.partition(".")[0] in KEPT_OUT:
            raise ModuleNotFoundError(
                f"{fullname} is not loaded in quay-bridge run (see bridge.app.commands)",
                name=fullname,
            )
        return None


def keep_official_client_out() -> None:
    """Make ``import kubernetes`` fail in this process, before kopf is imported.

    The operator reaches the API server through its own aiohttp client (``bridge.kube.cluster``) and
    reads its kubeconfig itself (``bridge.kube.connection``), so nothing in it needs the official
    ``kubernetes`` package; but kopf imports ``kubernetes.client`` whenever it is importable, only
    to recognise its model objects, which the operator never passes to kopf. Loading it is a large
    share of the operator's resident memory (measured in docs/bridge.md#memory). The package stays
    installed for the tests, the simulator's clients, the demo and the ``quay-bridge certs``
    command; this hook affects only the ``quay-bridge run`` process. Idempotent.
    """
    if not any(isinstance(finder, _KeepOut) for finder in sys.meta_path):
        sys.meta_path.insert(0, _KeepOut())


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="quay-bridge run",
        description="Run the Quay bridge operator (kopf controller, admission webhook, metrics).",
    )
    p.add_argument("--kubeconfig", default=None, help="kubeconfig file (default: in-cluster)")
    p.add_argument(
        "--context", default=None, help="kubeconfig context (default: its current-context)"
    )
    p.add_argument("--no-webhook", action="store_true", help="do not serve the admission webhook")
    p.add_argument(
        "--listen-ip-version",
        choices=IP_VERSIONS,
        default=None,
        help="IPv4, IPv6 or dual-stack: the webhook's and the metrics server's addresses "
        "(default: what the hosts imply, else IPv4)",
    )
    p.add_argument(
        "--webhook-host",
        action="append",
        default=None,
        help="webhook listen address, repeatable (default 0.0.0.0, :: or both)",
    )
    p.add_argument("--webhook-port", type=int, default=9443, help="webhook HTTPS port")
    p.add_argument("--cert-dir", default=None, help="webhook certificate directory")
    p.add_argument(
        "--metrics-host",
        action="append",
        default=None,
        help="metrics/health listen address, repeatable (default 0.0.0.0, :: or both)",
    )
    p.add_argument("--metrics-port", type=int, default=8080, help="metrics/health port")
    p.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=LEVELS,
        help="least severe log lines written",
    )
    p.add_argument(
        "--log-format",
        default="text",
        choices=FORMATS,
        help="text for people, json for log collectors (one object per line)",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--standalone", action="store_true", help="no kopf peering (one replica)")
    mode.add_argument("--peering", default=None, metavar="NAME", help="kopf peering object name")
    p.add_argument(
        "--fips",
        action="store_true",
        help="only FIPS-approved TLS for the webhook, the API server and Quay (docs/fips.md)",
    )
    return p


async def _ensure_peering(cluster: Cluster, name: str) -> None:
    try:
        await cluster.create_peering(name)  # logs the creation; False when it existed
    except KubeError as exc:
        log.warning("could not create ClusterKopfPeering %s: %s", name, exc)


#: What kube-apiserver says when asked for a resourceVersion it never issued (state lost).
TOO_LARGE = "Too large resource version"
#: Seconds before kopf is started again (the retry-after kube-apiserver sends with that error).
RESTART_DELAY = 1.0


async def _run_kopf(operator: Any, kwargs: dict[str, Any]) -> None:
    """Run kopf; start it afresh when its watches fail because the API server lost its state.

    kopf lists again after a 410 but stops the whole operator on any other error in a watch
    stream, such as the 504 "Too large resource version" an API server restored from a backup (or
    restarted empty) answers to the versions kopf kept. That error only means "list again": kopf
    is started again in the same process (its clean-up stops the controller, its start-up starts
    it, which lists everything afresh), keeping the webhook and its view serving meanwhile.
    """
    while True:
        try:
            await operator(**kwargs)
        except Exception as exc:
            if TOO_LARGE not in str(exc):
                raise
            log.warning("the API server lost its state (%s); listing everything again", TOO_LARGE)
            await asyncio.sleep(RESTART_DELAY)  # the server's retry-after; never a tight loop
            continue
        return


async def run(args: argparse.Namespace) -> int:
    """Run the operator until it is stopped; return the exit code."""
    connection = load_connection(args.kubeconfig, context=args.context)
    if args.fips:
        connection = dataclasses.replace(connection, fips=True)
    log.info("connecting to %s (%s)", connection.server, connection.source)
    metrics = Metrics()
    state = BridgeState()
    cluster = Cluster(connection, metrics)
    peering: Peering | None = None
    if args.peering:
        # The controller's own loops run outside kopf: they follow the same peering object
        # with the same identity and priority, so exactly one replica writes.
        peering = Peering(
            cluster,
            metrics,
            args.peering,
            identity=own_identity(),
            priority=random.randint(1, 10_000),
        )
    controller = Controller(cluster, metrics, state, peering)

    import kopf

    import bridge.app.handlers  # registers the kopf handlers (and bridge.builds.completion')
    from bridge.builds.completion import MEMO_KEY as BUILDS_KEY
    from bridge.builds.completion import BuildImporter

    memo = kopf.Memo()
    memo[bridge.app.handlers.MEMO_KEY] = controller
    # The webhook signs its Build decisions and Build completion verifies them with one key,
    # shared by the replicas through a Secret in the operator's namespace.
    decision_key = await ensure_decision_key(cluster, own_namespace())
    memo[BUILDS_KEY] = BuildImporter(cluster, state, key=decision_key)

    runner = await start_server(
        make_app(metrics, lambda: controller.started), args.metrics_hosts, args.metrics_port
    )
    webhook: Any = None
    if not args.no_webhook:
        from bridge.app.webhook_server import start_webhook

        webhook = await start_webhook(
            state,
            host=args.webhook_hosts,
            port=args.webhook_port,
            cert_dir=args.cert_dir,
            cluster=cluster,
            settings=WebhookSettings(fips=args.fips),
            metrics_registry=metrics.registry,
            decision_key=decision_key,
        )
    kwargs: dict[str, Any] = {"clusterwide": True, "memo": memo}
    if peering is not None:
        await _ensure_peering(cluster, peering.name)
        kwargs.update(
            peering_name=peering.name, priority=peering.priority, identity=peering.identity
        )
    else:
        kwargs["standalone"] = True
    try:
        await _run_kopf(kopf.operator, kwargs)  # returns after SIGINT or SIGTERM
    finally:
        if webhook is not None:
            await webhook.stop()
        await runner.cleanup()
        await cluster.aclose()
    log.info("stopped")
    return 0


def main(argv: list[str]) -> int:
    """Entry point of ``quay-bridge run``."""
    keep_official_client_out()
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        version = args.listen_ip_version
        args.webhook_hosts = listen_hosts(
            version, args.webhook_host, option="--webhook-host", defaults=EVERY_INTERFACE
        )
        args.metrics_hosts = listen_hosts(
            version, args.metrics_host, option="--metrics-host", defaults=EVERY_INTERFACE
        )
    except ValueError as exc:
        parser.error(str(exc))
    if args.kubeconfig and not os.path.isfile(args.kubeconfig):
        print(f"quay-bridge run: kubeconfig {args.kubeconfig} does not exist", file=sys.stderr)
        return 2
    configure(args.log_level, args.log_format)
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        # Reached once the operator, the webhook (and its temporary certificate directory) and
        # the metrics server were stopped by run()'s cleanup.
        log.info("interrupted: stopped")
        return 130
    except Exception as exc:  # a clear error, never a traceback for bad input
        print(f"quay-bridge run: {exc}", file=sys.stderr)
        return 1
