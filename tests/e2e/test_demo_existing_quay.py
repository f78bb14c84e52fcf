"""``quay-bridge demo --quay-url URL --quay-token-file PATH`` against a Quay that already runs.

The "existing Quay" is a registry core started apart, with its Quay cost model on (each bearer
call pays a password-hash check in one worker, idle connections closed after 2 s), and its first
user's OAuth token written to a file: the demo must play the whole story with that token, never
call ``user/initialize``, and leave no organization behind. The same options from the
environment, and each wrong input, give a clear message and a non-zero exit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.registry import RegistryServer

STEPS = [
    "quay",
    "simulator",
    "operator",
    "integration",
    "new-project",
    "new-app",
    "build",
    "imagestream",
    "delete-project",
]


@pytest.fixture
def quay() -> Iterator[RegistryServer]:
    server = RegistryServer.start(
        extra_args=("--quay-cost", "--quay-cost-seconds", "0.02", "--quay-cost-workers", "1")
    )
    try:
        yield server
    finally:
        server.stop()


def demo(
    *args: str, env: dict[str, str] | None = None, timeout: float = 280
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quaybridge_cli", "demo", "--json", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )


def steps_of(stdout: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return [line for line in lines if line["event"] == "step"]


def requests_to(server: RegistryServer, method: str, route: str) -> dict[str, int]:
    """Answers the registry core gave to one route, by status (its own /metrics)."""
    counts: dict[str, int] = {}
    for line in requests.get(server.url + "/metrics", timeout=10).text.splitlines():
        if not line.startswith("quay_registry_requests_total{"):
            continue
        if f'method="{method}"' in line and f'route="{route}"' in line:
            status = line.split('status="', 1)[1].split('"', 1)[0]
            counts[status] = counts.get(status, 0) + int(float(line.rsplit(" ", 1)[1]))
    return counts


def token_file(tmp_path: Path, token: str) -> Path:
    path = tmp_path / "quay-token"
    path.write_text(token + "\n")
    path.chmod(0o600)
    return path


def test_the_story_plays_against_an_existing_quay_with_an_org_admin_token(
    quay: RegistryServer, tmp_path: Path
) -> None:
    done = demo("--quay-url", quay.url, "--quay-token-file", str(token_file(tmp_path, quay.token)))
    steps = steps_of(done.stdout)
    assert [step["name"] for step in steps] == STEPS, done.stderr[-3000:]
    assert all(step["ok"] for step in steps), [s["error"] for s in steps if not s["ok"]]
    assert done.returncode == 0
    assert steps[0]["facts"]["user"] == quay.username
    assert quay.token not in done.stdout and quay.token not in done.stderr
    build = next(step for step in steps if step["name"] == "build")
    assert build["facts"]["output"].startswith(f"{quay.host}/openshift_e2e-demo/httpd-example:")
    # The demo's token was used, no user bootstrapped; everything made once, then deleted.
    assert requests_to(quay, "POST", "/api/v1/user/initialize") == {"200": 1}  # the fixture's
    assert requests_to(quay, "POST", "/api/v1/organization/") == {"201": 1}
    assert requests_to(quay, "POST", "/api/v1/repository") == {"201": 1}
    assert requests_to(quay, "PUT", "/api/v1/organization/{orgname}/robots/{shortname}") == {
        "201": 3
    }
    gone = requests.get(
        f"{quay.url}/api/v1/organization/openshift_e2e-demo",
        headers={"Authorization": f"Bearer {quay.token}"},
        timeout=10,
    )
    assert gone.status_code == 404


def test_the_environment_gives_the_same_options(quay: RegistryServer, tmp_path: Path) -> None:
    # An organization of the project's name already there: refused before anything starts.
    headers = {"Authorization": f"Bearer {quay.token}"}
    body = {"name": "openshift_taken", "email": "taken@example.com"}
    assert requests.post(f"{quay.url}/api/v1/organization/", json=body, headers=headers).ok
    env = {
        "QUAY_BRIDGE_DEMO_QUAY_URL": quay.url,
        "QUAY_BRIDGE_DEMO_QUAY_TOKEN_FILE": str(token_file(tmp_path, quay.token)),
    }
    done = demo("--namespace", "taken", env=env, timeout=60)
    steps = steps_of(done.stdout)
    assert done.returncode == 1
    assert [step["name"] for step in steps] == ["quay"] and not steps[0]["ok"]
    assert "openshift_taken already exists" in steps[0]["error"]
    assert "another --namespace" in steps[0]["error"]


def test_a_token_quay_refuses_is_said_so(quay: RegistryServer, tmp_path: Path) -> None:
    path = token_file(tmp_path, "not-a-token-of-this-quay")
    done = demo("--quay-url", quay.url, "--quay-token-file", str(path), timeout=60)
    steps = steps_of(done.stdout)
    assert done.returncode == 1
    assert "refused the token" in steps[0]["error"] and "org" in steps[0]["error"]
    assert "not-a-token-of-this-quay" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--quay-url", "http://127.0.0.1:1"], "go together"),
        (["--quay-token-file", "/nonexistent"], "go together"),
        (["--quay-url", "http://h/x", "--quay-token-file", "t"], "scheme and host only"),
        (
            ["--quay-url", "http://h", "--quay-token-file", "t", "--screenshots", "d"],
            "--screenshots",
        ),
    ],
)
def test_wrong_combinations_exit_2_with_the_fix(args: list[str], message: str) -> None:
    done = demo(*args, timeout=60)
    assert done.returncode == 2
    assert message in done.stderr


def test_an_unreadable_token_file_fails_the_first_step(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-file"
    done = demo("--quay-url", "http://127.0.0.1:9", "--quay-token-file", str(missing), timeout=60)
    steps = steps_of(done.stdout)
    assert done.returncode == 1
    assert "cannot read the Quay token file" in steps[0]["error"]
