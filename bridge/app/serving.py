"""The operator's small HTTP server: ``/metrics`` (Prometheus), ``/healthz`` and ``/readyz``.

``/healthz`` answers as long as the event loop runs; ``/readyz`` once the controller has loaded the
integrations and started its loops.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiohttp import web

from bridge.metrics import Metrics


def make_app(metrics: Metrics, ready: Callable[[], bool]) -> web.Application:
    """Return the aiohttp application serving metrics and health."""

    async def metrics_view(_: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), content_type="text/plain", charset="utf-8")

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        if ready():
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "starting"}, status=503)

    app = web.Application()
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


async def start_server(app: web.Application, host: str | Sequence[str], port: int) -> web.AppRunner:
    """Start serving ``app`` on each host (dual-stack: two); return the runner to clean up with."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    for address in [host] if isinstance(host, str) else host:
        await web.TCPSite(runner, address, port).start()
    return runner
