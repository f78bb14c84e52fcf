"""One started process of the development stack: its log file, process group, readiness, stop.

Every component runs in a process group of its own (``start_new_session``), so stopping it stops
whatever it started too, and a terminal's Ctrl-C reaches only the parent. Its stdout and stderr go
to one log file, whose tail every start-up error quotes. Until it is stopped, the process is
listed by :func:`running_processes` (a test run shows their logs when a test fails), and any still
running when the interpreter exits are killed, so an aborted run leaves nothing behind.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TypeVar

from devstack.waiting import NOT_YET, WaitTimeout, wait_until

T = TypeVar("T")

#: Seconds a component may take to answer its health endpoint after it was started.
START_TIMEOUT = 30.0
#: Seconds a component may take to exit after SIGTERM before it is killed.
STOP_TIMEOUT = 10.0

_RUNNING: dict[int, Process] = {}


class StartError(RuntimeError):
    """A process exited or did not become ready; the message quotes its log's tail."""


def cli(*args: str) -> list[str]:
    """Return the argv that runs ``quay-bridge <args>`` with this interpreter."""
    return [sys.executable, "-m", "quaybridge_cli", *args]


def running_processes() -> list[Process]:
    """The processes started here and not stopped yet, oldest first."""
    return list(_RUNNING.values())


class Process:
    """A command run in its own process group with its output in a log file.

    Args:
        name: what it is (``registry``, ``sim``, ``operator``, ``kube-apiserver``, ...).
        argv: its command line.
        log: the file receiving its stdout and stderr (appended to, across restarts).
        env: variables added to this process's environment (``PYTHONUNBUFFERED=1`` is always
            set, so a log is complete when the process dies).
        cwd: its working directory.
        grace: seconds between SIGTERM and SIGKILL when it is stopped.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        grace: float = STOP_TIMEOUT,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.env = dict(env or {})
        self.cwd = cwd
        self.grace = grace
        self._popen: subprocess.Popen[bytes] | None = None

    @classmethod
    def spawn(
        cls,
        name: str,
        argv: Sequence[str],
        log: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        grace: float = STOP_TIMEOUT,
    ) -> Process:
        """Make and start a process (see the class for the arguments)."""
        process = cls(name, argv, log, env=env, cwd=cwd, grace=grace)
        process.start()
        return process

    def start(self) -> None:
        """Start the command (again, after :meth:`stop`: same argv, same log)."""
        if self.running():
            raise StartError(f"{self.name} is running already (pid {self.pid})")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        out: IO[bytes]
        with self.log.open("ab") as out:
            self._popen = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.cwd,
                start_new_session=True,
            )
        _RUNNING[id(self)] = self

    @property
    def popen(self) -> subprocess.Popen[bytes]:
        """The running (or last) ``subprocess.Popen``."""
        if self._popen is None:
            raise StartError(f"{self.name} was never started")
        return self._popen

    @property
    def pid(self) -> int:
        """The process id (also its process group's)."""
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        """Its exit status, ``None`` while it runs."""
        return None if self._popen is None else self._popen.poll()

    def running(self) -> bool:
        """Whether it was started and has not exited."""
        return self._popen is not None and self._popen.poll() is None

    def log_text(self) -> str:
        """The whole log."""
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the log, for error messages."""
        return "\n".join(self.log_text().splitlines()[-lines:])

    def check(self) -> None:
        """Raise :class:`StartError` (with the log's tail) when the process has exited."""
        if self._popen is not None and self._popen.poll() is not None:
            raise StartError(
                f"{self.name} exited with code {self._popen.returncode}:\n{self.log_tail(40)}"
            )

    def await_ready(
        self, check: Callable[[], T | None], what: str, timeout: float = START_TIMEOUT
    ) -> T:
        """Wait until ``check`` holds while the process runs; on failure raise with its log.

        Connection errors of ``check`` count as "not yet" (the server is still starting).
        """

        def ready() -> T | None:
            self.check()
            return check()

        try:
            return wait_until(ready, timeout, what, interval=0.05, tolerate=NOT_YET)
        except WaitTimeout as error:
            raise StartError(f"{self.name}: {error}\n{self.log_tail(40)}") from None

    def _signal(self, sig: signal.Signals) -> bool:
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def stop(self, timeout: float | None = None) -> None:
        """Stop the process group: SIGTERM, then SIGKILL after ``timeout`` (its grace) seconds."""
        if self.running():
            grace = self.grace if timeout is None else timeout
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
                if not self._signal(sig):
                    break
                try:
                    self.popen.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
            self._reap_group()
        _RUNNING.pop(id(self), None)

    def kill(self) -> None:
        """Kill the process group at once (SIGKILL), as a crash would."""
        if self.running():
            self._signal(signal.SIGKILL)
            self.popen.wait(timeout=STOP_TIMEOUT)
        _RUNNING.pop(id(self), None)

    def _reap_group(self) -> None:
        """Kill what the process left in its group, right after it exited (a lingering child).

        Called only the moment this object reaped the leader: the kernel hands out process ids
        in turn, so the group's id is not someone else's by then.
        """
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)

    def __repr__(self) -> str:
        state = "running" if self.running() else f"exited {self.returncode}"
        pid = self._popen.pid if self._popen else "-"
        return f"<Process {self.name} pid {pid} {state} log {self.log}>"


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_RUNNING.values()):
        process.kill()
