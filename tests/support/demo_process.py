"""``quay-bridge demo --json`` as a process, read event by event (the demo command's own tests).

The demo command is what these tests check, so it runs as a user runs it (its stdout a pipe, its
signals real); reading its events and waiting for one goes through ``devstack.waiting``.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from typing import Any

from devstack.waiting import wait_until


class DemoProcess:
    """``quay-bridge demo --json <args>`` running, its JSON events collected in :attr:`seen`."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "quaybridge_cli", "demo", "--json", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.seen: list[dict[str, Any]] = []
        self._lines: queue.Queue[str] = queue.Queue()
        stdout = self.process.stdout
        threading.Thread(
            target=lambda: [self._lines.put(line) for line in stdout or []], daemon=True
        ).start()

    def until(self, event: str, timeout: float = 240.0) -> dict[str, Any]:
        """Read events until one named ``event`` arrives; return it (fail if the demo exits)."""

        def arrived() -> dict[str, Any] | None:
            try:
                self.seen.append(json.loads(self._lines.get(timeout=5)))
            except queue.Empty:
                assert self.process.poll() is None, f"the demo exited early: {self.seen[-3:]}"
            return next((o for o in self.seen if o.get("event") == event), None)

        return wait_until(arrived, timeout, f"the demo's {event!r} event", interval=0)

    def stop(self) -> int:
        """SIGTERM, as a user's kill: the demo stops what it started; return its exit status."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode
