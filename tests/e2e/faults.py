"""A fault-injecting reverse proxy on loopback, for running the flow against a failing Quay.

It forwards every request to an upstream server (the registry core) unchanged, except while a
fault is armed: then the requests the fault selects get the fault's status (a 5xx with a Quay-like
JSON body) instead, and are counted. It runs its own event loop in a thread, so synchronous test
code and subprocesses can both talk to it. It is a test part, not a mock: the registry core
behind it is real; the proxy only plays the outage.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from devstack.ports import free_port

SESSION = web.AppKey("session", aiohttp.ClientSession)

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-encoding",
    "host",
}


@dataclass
class Fault:
    """An outage: which requests fail, with what status, until when.

    Attributes:
        status: the HTTP status answered instead of forwarding.
        select: which requests fail (method, path); default: the Quay API (``/api/``).
        until: monotonic time at which the outage ends.
    """

    status: int = 503
    select: Callable[[str, str], bool] = lambda method, path: path.startswith("/api/")
    until: float = 0.0


@dataclass
class FaultProxy:
    """A reverse proxy to ``upstream`` that can play outages.

    Attributes:
        upstream: base URL of the real server.
        port: where the proxy listens on 127.0.0.1.
        injected: how many requests got a fault instead of the upstream's answer.
        forwarded: how many requests were forwarded.
    """

    upstream: str
    port: int = field(default_factory=free_port)
    injected: int = 0
    forwarded: int = 0
    fault: Fault | None = None
    #: called with (method, path) before a request is forwarded (tests play races with it)
    hook: Callable[[str, str], None] | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        """The proxy's base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``: the proxy as a registry host in image references."""
        return f"127.0.0.1:{self.port}"

    def fail_for(self, seconds: float, status: int = 503) -> None:
        """Answer ``status`` to every Quay API request for the next ``seconds``."""
        self.fault = Fault(status=status, until=time.monotonic() + seconds)

    def _faulty(self, method: str, path: str) -> Fault | None:
        fault = self.fault
        if fault is None or time.monotonic() >= fault.until or not fault.select(method, path):
            return None
        return fault

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        fault = self._faulty(request.method, request.path)
        if fault is not None:
            self.injected += 1
            return web.json_response(
                {"error_message": "Service Unavailable (injected)", "status": fault.status},
                status=fault.status,
            )
        self.forwarded += 1
        if self.hook is not None:
            await asyncio.to_thread(self.hook, request.method, request.path)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        body = await request.read()
        session: aiohttp.ClientSession = request.app[SESSION]
        async with session.request(
            request.method,
            self.upstream + request.path_qs,
            headers=headers,
            data=body or None,
            allow_redirects=False,
        ) as upstream:
            payload = await upstream.read()
            out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
            return web.Response(status=upstream.status, body=payload, headers=out_headers)

    async def _serve(self, started: threading.Event) -> None:
        app = web.Application(client_max_size=1024**3)
        app[SESSION] = aiohttp.ClientSession(auto_decompress=False)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        started.set()
        while not self._stopped.is_set():
            await asyncio.sleep(0.05)
        await app[SESSION].close()
        await runner.cleanup()

    def start(self) -> FaultProxy:
        """Start serving in a background thread; return self."""
        started = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            self._loop.run_until_complete(self._serve(started))
            self._loop.close()

        self._thread = threading.Thread(target=run, name="fault-proxy", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the fault proxy did not start")
        return self

    def stop(self) -> None:
        """Stop serving and join the thread."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
