"""The Quay client never does a write twice, and survives what a busy Quay does to connections.

Real servers on loopback: pytest-httpserver answering what a real Quay answers after a write that
took effect (a 5xx, a reset, "already exists" on the retry), and a raw asyncio server that closes
a connection without answering, as Quay's server does with an idle keep-alive connection.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bridge.quay import errors as qe
from bridge.quay.client import QuayClient
from bridge.quay.limiting import AdaptiveLimit, LimitSettings, background

TOKEN = "SECRET-TOKEN-VALUE-1234"


def client_for(server: HTTPServer, **kwargs: object) -> QuayClient:
    return QuayClient(server.url_for("/"), TOKEN, backoff_seconds=0.01, **kwargs)  # type: ignore[arg-type]


class FakeQuayState:
    """What the server holds: created once, whatever the client does."""

    def __init__(self) -> None:
        self.writes: list[str] = []
        self.objects: dict[str, dict[str, object]] = {}


def test_a_robot_whose_put_answered_500_after_creating_it_is_read_not_created_again(
    httpserver: HTTPServer,
) -> None:
    state = FakeQuayState()
    path = "/api/v1/organization/o/robots/builder"

    def handler(request: Request) -> Response:
        if request.method == "PUT":
            state.writes.append("PUT")
            if path in state.objects:
                return Response(
                    json.dumps({"error_message": "Existing robot with name: o+builder"}),
                    status=400,
                    content_type="application/json",
                )
            state.objects[path] = {"name": "o+builder", "token": "T" * 64}
            return Response("proxy error", status=502)  # created, but the answer was lost
        if path in state.objects:
            return Response(json.dumps(state.objects[path]), content_type="application/json")
        return Response(
            json.dumps({"message": "Could not find robot with specified username"}), status=400
        )

    httpserver.expect_request(path).respond_with_handler(handler)

    async def go() -> dict[str, object]:
        async with client_for(httpserver) as client:
            return dict(await client.create_robot("o", "builder"))

    robot = asyncio.run(go())
    assert robot["name"] == "o+builder" and robot["token"] == "T" * 64
    assert state.writes == ["PUT"]


def test_already_exists_after_a_retry_counts_once_the_check_finds_it(
    httpserver: HTTPServer,
) -> None:
    # The first POST reaches Quay but its answer is lost; the read that follows does not see
    # the repository yet (a replica behind), so the POST is sent again and meets "already exists".
    state = {"posts": 0, "gets": 0}

    def create(request: Request) -> Response:
        state["posts"] += 1
        if state["posts"] == 1:
            return Response("gateway timeout", status=504)
        return Response(
            json.dumps({"error_message": "Repository already exists"}),
            status=400,
            content_type="application/json",
        )

    def read(request: Request) -> Response:
        state["gets"] += 1
        if state["gets"] == 1:
            return Response(json.dumps({"error_message": "Not Found"}), status=404)
        return Response(json.dumps({"name": "r"}), content_type="application/json")

    httpserver.expect_request("/api/v1/repository", method="POST").respond_with_handler(create)
    httpserver.expect_request("/api/v1/repository/o/r", method="GET").respond_with_handler(read)

    async def go() -> None:
        async with client_for(httpserver) as client:
            await client.create_repository("o", "r")

    asyncio.run(go())
    assert state == {"posts": 2, "gets": 2}


def test_already_exists_without_an_uncertain_try_is_still_an_error(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request("/api/v1/repository", method="POST").respond_with_json(
        {"error_message": "Repository already exists"}, status=400
    )

    async def go() -> None:
        async with client_for(httpserver) as client:
            await client.create_repository("o", "r")

    with pytest.raises(qe.AlreadyExists):
        asyncio.run(go())


def test_a_connection_closed_without_an_answer_is_retried_on_a_new_one() -> None:
    """The server closes the first connection after reading the request, like an idle close."""
    seen: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        seen.append(1)
        if len(seen) > 1:
            body = b'{"username": "admin"}'
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
            await writer.drain()
        writer.close()

    async def go() -> dict[str, object]:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with QuayClient(f"http://127.0.0.1:{port}", TOKEN, attempts=1) as client:
                return await client.get_user()
        finally:
            server.close()
            await server.wait_closed()

    assert asyncio.run(go())["username"] == "admin"  # one attempt, one free reconnect
    assert len(seen) == 2


def test_the_timeout_counts_time_on_the_wire_not_time_in_the_queue(
    httpserver: HTTPServer,
) -> None:
    lock = threading.Lock()

    def slow(request: Request) -> Response:
        with lock:  # one worker, like a Quay with one worker
            time.sleep(0.2)
        return Response(json.dumps({"username": "admin"}), content_type="application/json")

    httpserver.expect_request("/api/v1/user/").respond_with_handler(slow)

    async def go() -> list[dict[str, object]]:
        # Eight calls take 1.6 s in all, each 0.2 s on the wire; the timeout is 1 s.
        client = client_for(httpserver, concurrency=1, timeout_seconds=1.0, attempts=1)
        async with client:
            return list(await asyncio.gather(*(client.get_user() for _ in range(8))))

    assert [user["username"] for user in asyncio.run(go())] == ["admin"] * 8


def test_event_work_is_served_before_background_work() -> None:
    order: list[str] = []

    async def go() -> None:
        limit = AdaptiveLimit(LimitSettings(maximum=1, initial=1))
        await limit.acquire()  # a call in flight

        async def call(name: str) -> None:
            await limit.acquire()
            order.append(name)
            limit.release(0.01, failed=False)

        with background():
            resync = asyncio.create_task(call("resync"))
        await asyncio.sleep(0)
        event = asyncio.create_task(call("event"))
        await asyncio.sleep(0)
        limit.release(0.01, failed=False)
        await asyncio.gather(resync, event)

    asyncio.run(go())
    assert order == ["event", "resync"]


def test_the_limit_backs_off_when_calls_queue_in_quay_and_grows_when_they_do_not() -> None:
    limit = AdaptiveLimit(LimitSettings(maximum=16, initial=8))
    for _ in range(20):  # fast answers: grows towards the ceiling
        limit.in_flight += 1
        limit.release(0.01, failed=False)
    grown = limit.limit
    assert grown > 8
    limit.in_flight += 1
    limit.release(5.0, failed=False)  # far slower than the fastest seen: Quay is queueing
    assert limit.limit < grown
    shrunk = limit.limit
    limit.in_flight += 1
    limit.release(0.01, failed=True)  # a failure right after: at most one cut per round trip
    assert limit.limit == shrunk


def test_a_cancelled_waiter_leaves_the_queue_and_holds_no_later_call_back() -> None:
    async def go() -> tuple[int, int]:
        limit = AdaptiveLimit(LimitSettings(maximum=1, initial=1))
        await limit.acquire()  # the only slot is taken
        waiter = asyncio.ensure_future(limit.acquire())
        await asyncio.sleep(0)
        assert limit.waiting == 1
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        waiting_after_cancel = limit.waiting
        limit.release(0.01, failed=False)
        await asyncio.wait_for(limit.acquire(), 1.0)  # the slot goes to the next caller at once
        return waiting_after_cancel, limit.in_flight

    assert asyncio.run(go()) == (0, 1)
