"""``quay-bridge run``: the operator process.

One asyncio loop runs kopf (cluster-wide), the admission webhook (started through
``bridge.admission`` unless ``--no-webhook``) and a small HTTP server for ``/metrics``, ``/healthz``
and ``/readyz``. The kubeconfig given with ``--kubeconfig`` is used by both kopf and the official
client; without it, the in-cluster service account or the default kubeconfig.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import sys
from typing import Any

import kopf

from bridge.cluster import Cluster, KubeError, load_client_config
from bridge.controller import Controller
from bridge.metrics import Metrics
from bridge.serving import make_app, start_server
from bridge.state import BridgeState

log = logging.getLogger("bridge")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="quay-bridge run",
        description="Run the Quay bridge operator (kopf controller, admission webhook, metrics).",
    )
    p.add_argument("--kubeconfig", default=None, help="kubeconfig file (default: in-cluster)")
    p.add_argument("--no-webhook", action="store_true", help="do not serve the admission webhook")
    p.add_argument("--webhook-host", default="0.0.0.0", help="webhook listen address")
    p.add_argument("--webhook-port", type=int, default=9443, help="webhook HTTPS port")
    p.add_argument("--cert-dir", default=None, help="webhook certificate directory")
    p.add_argument("--metrics-host", default="0.0.0.0", help="metrics/health listen address")
    p.add_argument("--metrics-port", type=int, default=8080, help="metrics/health port")
    p.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--standalone", action="store_true", help="no kopf peering (one replica)")
    mode.add_argument("--peering", default=None, metavar="NAME", help="kopf peering object name")
    return p


async def _ensure_peering(cluster: Cluster, name: str) -> None:
    try:
        if await cluster.create_peering(name):
            log.info("created ClusterKopfPeering %s", name)
    except KubeError as exc:
        log.warning("could not create ClusterKopfPeering %s: %s", name, exc)


async def run(args: argparse.Namespace) -> int:
    """Run the operator until it is stopped; return the exit code."""
    if args.kubeconfig:
        os.environ["KUBECONFIG"] = os.path.abspath(args.kubeconfig)
    api_client = load_client_config(args.kubeconfig)
    metrics = Metrics()
    state = BridgeState()
    cluster = Cluster(api_client, metrics)
    controller = Controller(cluster, metrics, state)

    import bridge.handlers  # registers the kopf handlers (and bridge.builds')
    from bridge.builds import MEMO_KEY as BUILDS_KEY
    from bridge.builds import BuildImporter

    memo = kopf.Memo()
    memo[bridge.handlers.MEMO_KEY] = controller
    memo[BUILDS_KEY] = BuildImporter(api_client, state)

    runner = await start_server(
        make_app(metrics, lambda: controller.started), args.metrics_host, args.metrics_port
    )
    webhook: Any = None
    if not args.no_webhook:
        from bridge.admission import start_webhook

        webhook = await start_webhook(
            state,
            host=args.webhook_host,
            port=args.webhook_port,
            cert_dir=args.cert_dir,
            api_client=api_client,
        )
    kwargs: dict[str, Any] = {"clusterwide": True, "memo": memo}
    if args.peering:
        await _ensure_peering(cluster, args.peering)
        kwargs.update(peering_name=args.peering, priority=random.randint(1, 10_000))
    else:
        kwargs["standalone"] = True
    try:
        await kopf.operator(**kwargs)
    finally:
        if webhook is not None:
            await webhook.stop()
        await runner.cleanup()
        await cluster.aclose()
    return 0


def main(argv: list[str]) -> int:
    """Entry point of ``quay-bridge run``."""
    args = _parser().parse_args(argv)
    if args.kubeconfig and not os.path.isfile(args.kubeconfig):
        print(f"quay-bridge run: kubeconfig {args.kubeconfig} does not exist", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("kopf").setLevel(logging.WARNING)
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # a clear error, never a traceback for bad input
        print(f"quay-bridge run: {exc}", file=sys.stderr)
        return 1
