"""A list or watch from a resourceVersion the simulator never issued, answered as a real server.

After an API server lost its state (an etcd restore, a restarted simulator) the versions clients
hold are ahead of the server. kube-apiserver's watch cache waits a few seconds for such a version
and then answers 504 ``Timeout`` "Too large resource version: N, current: M" with the cause
``ResourceVersionTooLarge`` and a retry-after of one second: as the response of a list, and as an
``ERROR`` event on an opened watch stream. A version that arrives during the wait is served.
"""

from __future__ import annotations

import json
import threading
import time

import requests

from devstack.sim import SimServer


def current_version(sim: SimServer) -> int:
    listing = requests.get(f"{sim.url}/api/v1/namespaces", timeout=10).json()
    return int(listing["metadata"]["resourceVersion"])


def too_large(status: dict[str, object], requested: int) -> None:
    assert status["code"] == 504
    assert status["reason"] == "Timeout"
    assert f"Too large resource version: {requested}, current: " in str(status["message"])
    details = status["details"]
    assert isinstance(details, dict)
    assert details["causes"] == [
        {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
    ]
    assert details["retryAfterSeconds"] == 1


class TestAVersionAheadOfTheServer:
    def test_a_list_gets_the_504_too_large_answer(self, sim: SimServer) -> None:
        requested = current_version(sim) + 1000
        answer = requests.get(
            f"{sim.url}/api/v1/namespaces", params={"resourceVersion": str(requested)}, timeout=30
        )
        assert answer.status_code == 504
        too_large(answer.json(), requested)

    def test_a_watch_gets_an_error_event_with_the_same_status(self, sim: SimServer) -> None:
        requested = current_version(sim) + 1000
        answer = requests.get(
            f"{sim.url}/api/v1/namespaces",
            params={"watch": "true", "resourceVersion": str(requested)},
            timeout=30,
        )
        assert answer.status_code == 200
        events = [json.loads(line) for line in answer.text.splitlines() if line]
        assert [event["type"] for event in events] == ["ERROR"]
        too_large(events[0]["object"], requested)

    def test_a_version_reached_while_waiting_is_served(self, sim: SimServer) -> None:
        requested = current_version(sim) + 1

        def write_soon() -> None:
            time.sleep(0.5)
            requests.post(
                f"{sim.url}/api/v1/namespaces",
                json={"metadata": {"name": f"later-{requested}"}},
                timeout=10,
            )

        writer = threading.Thread(target=write_soon)
        writer.start()
        answer = requests.get(
            f"{sim.url}/api/v1/namespaces", params={"resourceVersion": str(requested)}, timeout=30
        )
        writer.join()
        assert answer.status_code == 200
        assert int(answer.json()["metadata"]["resourceVersion"]) >= requested
