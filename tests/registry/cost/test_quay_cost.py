"""The registry core's Quay cost model (``serve --quay-cost``), against the server as a process.

What is asserted is behaviour, not timings: each bearer-token API call is checked once in a worker
(counted in ``/quay-cost``), calls without a token are not, requests beyond the workers wait rather
than fail, and an idle keep-alive connection is closed by the server after ``idle_seconds``.
"""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor

import requests

from devstack.registry import registry_server


def _report(url: str) -> dict[str, float]:
    return dict(requests.get(url + "/quay-cost", timeout=10).json())


def test_each_bearer_call_is_checked_once_in_one_worker_and_none_fails() -> None:
    args = ("--quay-cost", "--quay-cost-seconds", "0.02", "--quay-cost-workers", "1")
    with registry_server(extra_args=args) as quay:
        before = _report(quay.url)
        assert before["workers"] == 1 and before["rounds"] >= 1
        headers = {"Authorization": f"Bearer {quay.token}"}

        def call(i: int) -> int:
            reply = requests.get(quay.url + "/api/v1/user/", headers=headers, timeout=30)
            return reply.status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(call, range(16)))
        assert statuses == [200] * 16  # queued behind the one worker, none refused
        requests.get(quay.url + "/api/v1/organization/nosuch", timeout=10)  # anonymous: free
        after = _report(quay.url)
        assert after["calls"] - before["calls"] == 16
        assert after["busy_seconds"] > before["busy_seconds"]


def test_off_by_default() -> None:
    with registry_server() as quay:
        assert requests.get(quay.url + "/quay-cost", timeout=10).status_code == 404


def test_an_idle_keep_alive_connection_is_closed_by_the_server() -> None:
    with registry_server(extra_args=("--quay-cost", "--quay-cost-seconds", "0")) as quay:
        host, port = quay.host.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            conn.sendall(f"GET /api/v1/user/ HTTP/1.1\r\nHost: {quay.host}\r\n\r\n".encode())
            first = conn.recv(65536)
            assert first.startswith(b"HTTP/1.1 ")
            # Without the cost model the server keeps the connection for 75 s and this recv
            # times out (an error); with it the server closes it: recv returns b"".
            conn.settimeout(20)
            while conn.recv(65536):  # the rest of the answer, if any, then the close
                pass
