"""``quay-bridge demo`` as a user runs it: a process, its output, its exit status, its clean-up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.demo_process import DemoProcess

STEPS = [
    "registry",
    "token",
    "simulator",
    "operator",
    "integration",
    "new-project",
    "new-app",
    "build",
    "imagestream",
    "delete-project",
]


def demo(*args: str, timeout: float = 280) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quaybridge_cli", "demo", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not running; our children are reaped by the demo, so this is a real process.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def started_pids(lines: list[dict[str, Any]]) -> list[int]:
    return [line["facts"]["pid"] for line in lines if line.get("facts", {}).get("pid")]


def test_the_demo_plays_every_step_reports_json_and_exits_zero() -> None:
    done = demo("--json")
    lines = events(done.stdout)
    steps = [line for line in lines if line["event"] == "step"]
    assert [step["name"] for step in steps] == STEPS, done.stderr[-3000:]
    assert all(step["ok"] for step in steps), [s["error"] for s in steps if not s["ok"]]
    assert lines[-1] == {**lines[-1], "event": "summary", "ok": True, "failed": []}
    assert done.returncode == 0
    build = next(step for step in steps if step["name"] == "build")
    assert build["facts"]["digest"].startswith("sha256:")
    assert "/openshift_e2e-demo/httpd-example:latest" in build["facts"]["output"]
    token_step = next(step for step in steps if step["name"] == "token")
    assert "not shown" in token_step["facts"]["token"]
    assert not [pid for pid in started_pids(steps) if alive(pid)], "a component was left running"


def test_a_failing_step_makes_the_demo_exit_non_zero_and_still_clean_up(tmp_path: Path) -> None:
    # OpenShift refuses projects named "openshift" (403): the new-project step must fail.
    done = demo("--json", "--namespace", "openshift", "--workdir", str(tmp_path))
    lines = events(done.stdout)
    steps = [line for line in lines if line["event"] == "step"]
    assert done.returncode == 1
    assert steps[-1]["name"] == "new-project" and not steps[-1]["ok"]
    assert "403" in steps[-1]["error"]
    assert lines[-1]["event"] == "summary" and lines[-1]["failed"] == ["new-project"]
    assert not [pid for pid in started_pids(steps) if alive(pid)], "a component was left running"
    assert (tmp_path / "operator.log").exists(), "a failed demo keeps its logs"


def test_the_demo_rejects_an_unknown_option_with_usage() -> None:
    done = demo("--frobnicate", timeout=30)
    assert done.returncode == 2
    assert "usage: quay-bridge demo" in done.stderr


def paste(*commands: str, kubeconfig: str) -> subprocess.CompletedProcess[str]:
    """Run commands as a person pastes them into a shell: one shell, in order, PATH untouched."""
    script = "\n".join(["set -e", f"export KUBECONFIG={kubeconfig}", *commands])
    return subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, timeout=120, check=False
    )


def test_keep_leaves_a_stack_whose_printed_commands_work_when_pasted() -> None:
    demo = DemoProcess("--keep")
    seen = demo.seen
    try:
        demo.until("keep")
        summary = next(o for o in seen if o["event"] == "summary")
        assert summary["ok"], summary
        assert "delete-project" not in [o.get("name") for o in seen]
        kept = next(o for o in seen if o["event"] == "keep")
        assert kept["kubectl"] == str(Path(sys.executable).parent / "kubectl")
        build = next(o for o in seen if o["event"] == "step" and o["name"] == "build")

        shown = paste(*kept["kubectl_commands"], kubeconfig=kept["kubeconfig"])
        assert shown.returncode == 0, shown.stderr
        assert "e2e-demo" in shown.stdout and "builder-quay-openshift" in shown.stdout

        creds = paste(
            kept["robot_credentials"], 'echo "$ROBOT_CREDS"', kubeconfig=kept["kubeconfig"]
        )
        assert creds.returncode == 0, creds.stderr
        assert creds.stdout.startswith("openshift_e2e-demo+builder:")

        assert kept["skopeo"] is not None, "skopeo is installed here (make test installs it)"
        inspect = paste(kept["robot_credentials"], kept["skopeo"], kubeconfig=kept["kubeconfig"])
        assert inspect.returncode == 0, inspect.stderr
        assert json.loads(inspect.stdout)["Digest"] == build["facts"]["digest"]

        tags = paste(
            kept["robot_credentials"], kept["without_skopeo"], kubeconfig=kept["kubeconfig"]
        )
        assert tags.returncode == 0, tags.stderr
        assert "latest" in json.loads(tags.stdout)["tags"]
        pids = started_pids(seen)
    finally:
        returncode = demo.stop()
    assert returncode == 0
    assert not [pid for pid in pids if alive(pid)], "a component was left running"


def test_ctrl_c_stops_everything_the_demo_started_and_exits_130() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "quaybridge_cli", "demo", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    seen: list[dict[str, Any]] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(json.loads(line))
            if seen[-1] == {**seen[-1], "event": "step", "name": "simulator"}:
                break
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    seen += events(rest)
    assert process.returncode == 130
    assert any("interrupted" in line.get("text", "") for line in seen)
    pids = started_pids(seen)
    assert len(pids) == 2  # the registry core and the simulator
    assert not [pid for pid in pids if alive(pid)], "a component was left running"
