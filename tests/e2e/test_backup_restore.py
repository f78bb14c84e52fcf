"""Backup and restore of the registry core under a running bridge, on SQLite and on PostgreSQL.

The bridge fills the registry (organization, robots, prototypes, repositories, a pushed build and
a second image pushed by the builder robot); ``quay-registry backup`` runs while the registry core
and the operator keep serving, with a third push going on at the same time. The registry core is
then stopped, ``quay-registry restore`` fills a fresh data directory (and a fresh database), and the
registry core starts on it at the same address. A new operator then finds everything in place: the
restored registry core counts no Quay write at all. Every tag the restored registry lists pulls
with skopeo, using the robot credentials the bridge had put in the cluster before the backup
(which proves the sealed robot tokens and the OAuth token digests came back with their keys).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from demo.scenario import DemoConfig, Scenario, wait_for
from devstack.processes import cli
from devstack.stack import Stack
from tests.bridge.metrics import metric_total
from tests.e2e.conftest import RecordingReporter, quay_writes
from tests.e2e.test_operator_restart import run, settle
from tests.registry.oci.images import make_image, write_layout
from tests.support.postgres import PostgresCluster, PostgresUnavailableError, start_cluster

pytestmark = [
    pytest.mark.skopeo,
    pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed"),
]

NS = "e2e-demo"
ORG = "openshift_e2e-demo"


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    try:
        cluster = start_cluster()
    except PostgresUnavailableError as error:
        pytest.skip(f"PostgreSQL tests skipped: {error}")
    try:
        yield cluster
    finally:
        cluster.stop()


def skopeo(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["skopeo", "--insecure-policy", "--registries-conf", str(home / "registries.conf"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
    )


def robot_credentials(scenario: Scenario, account: str) -> str:
    """``user:token`` of the robot in the bridge's dockerconfigjson Secret for ``account``."""
    assert scenario.kube is not None
    secret = scenario.kube.get(f"/api/v1/namespaces/{NS}/secrets/{account}-quay-openshift")
    assert secret is not None, f"no pull secret for {account}"
    config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    (entry,) = config["auths"].values()
    return f"{entry['username']}:{entry['password']}"


def registry_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli("registry", *args), capture_output=True, text=True, timeout=300, check=False
    )


def operator_reconciled(stack: Stack) -> float:
    """Successful namespace reconciles of the running operator."""
    text = requests.get(f"{stack.metrics_url}/metrics", timeout=10).text
    return metric_total(text, "quay_bridge_reconciles_total", kind="namespace", outcome="ok")


def active_tags(stack: Stack, token: str) -> dict[str, str]:
    """``repo:tag`` -> manifest digest of every live tag in the organization."""
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{stack.registry_url}/api/v1/repository"
    found: dict[str, str] = {}
    repositories = requests.get(f"{base}?namespace={ORG}", headers=headers, timeout=10).json()
    for repo in repositories["repositories"]:
        tags = requests.get(
            f"{base}/{ORG}/{repo['name']}/tag/?onlyActiveTags=true", headers=headers, timeout=10
        ).json()["tags"]
        for tag in tags:
            found[f"{repo['name']}:{tag['name']}"] = tag["manifest_digest"]
    return found


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_backup_taken_while_serving_restores_to_a_registry_the_bridge_finds_complete(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    stack = Stack(tmp_path)
    postgres: PostgresCluster | None = None
    if backend == "postgresql":
        postgres = request.getfixturevalue("postgres")
        stack.registry_database = postgres.create_database(f"filled_{tmp_path.name[-12:]}")
    scenario = Scenario(stack, RecordingReporter(), DemoConfig())
    home = tmp_path / "home"
    home.mkdir()
    (home / "registries.conf").write_text("")
    try:
        run(scenario, "registry", "token", "simulator", "operator", "integration", "new-project")
        run(scenario, "new-app", "build", "imagestream")
        host = stack.registry_url.removeprefix("http://")
        builder = robot_credentials(scenario, "builder")
        assert scenario.kube is not None
        scenario.kube.create(
            f"/apis/image.openshift.io/v1/namespaces/{NS}/imagestreams",
            {"apiVersion": "image.openshift.io/v1", "kind": "ImageStream",
             "metadata": {"name": "extra"}, "spec": {}},
        )  # fmt: skip
        scenario_quay = scenario.quay
        assert scenario_quay is not None
        wait_for(lambda: "extra" in scenario_quay.repositories(ORG), 60, "repository extra in Quay")
        first, second = tmp_path / "first", tmp_path / "second"
        write_layout(first, make_image("first extra image\n"), "v1")
        write_layout(second, make_image("pushed while the backup runs\n"), "v1")
        pushed = skopeo(home, "copy", "--dest-tls-verify=false", "--dest-creds", builder,
                        f"oci:{first}:v1", f"docker://{host}/{ORG}/extra:v1")  # fmt: skip
        assert pushed.returncode == 0, pushed.stderr
        settle(stack)
        before = active_tags(stack, scenario.facts["_token"])
        assert set(before) == {"httpd-example:latest", "extra:v1"}, before

        # The backup runs while the registry core and the operator serve, and a push goes on.
        concurrent: dict[str, subprocess.CompletedProcess[str]] = {}
        pusher = threading.Thread(
            target=lambda: concurrent.setdefault(
                "push",
                skopeo(
                    home,
                    "copy",
                    "--dest-tls-verify=false",
                    "--dest-creds",
                    builder,
                    f"oci:{second}:v1",
                    f"docker://{host}/{ORG}/extra:v2",
                ),
            )
        )
        data = tmp_path / "registry-data"
        target = ["--database", stack.registry_database] if stack.registry_database else []
        pusher.start()
        backup = registry_cli("backup", "--out", str(tmp_path / "backup"), "--data-dir",
                              str(data), *target)  # fmt: skip
        pusher.join(timeout=120)
        assert backup.returncode == 0, backup.stderr
        assert concurrent["push"].returncode == 0, concurrent["push"].stderr
        assert stack.components["registry"].running()

        stack.stop("operator")
        stack.stop("registry")
        restored = tmp_path / "restored-data"
        restored_target: list[str] = []
        if postgres is not None:
            restored_target = [
                "--database",
                postgres.create_database(f"restored_{tmp_path.name[-12:]}"),
            ]
        restore = registry_cli("restore", "--from", str(tmp_path / "backup"), "--data-dir",
                               str(restored), *restored_target)  # fmt: skip
        assert restore.returncode == 0, restore.stderr
        again = registry_cli("restore", "--from", str(tmp_path / "backup"), "--data-dir",
                             str(restored), *restored_target)  # fmt: skip
        assert again.returncode == 1 and "not empty" in again.stderr, again.stderr

        port = int(host.rsplit(":", 1)[1])
        stack.registry_database = restored_target[1] if restored_target else None
        stack.start_registry(port=port, data=restored)
        stack.start_operator()
        wait_for(
            lambda: operator_reconciled(stack) >= 1,
            60,
            "the new operator reconciling the namespace",
        )
        assert settle(stack) == {}, "the bridge wrote to the restored registry"
        assert quay_writes(requests.get(f"{stack.registry_url}/metrics", timeout=10).text) == {}

        after = active_tags(stack, scenario.facts["_token"])
        assert {name: before[name] for name in before} == {name: after[name] for name in before}, (
            "a tag the backup held came back at another digest"
        )
        assert set(after) <= set(before) | {"extra:v2"}
        reader = robot_credentials(scenario, "default")
        for name, digest in sorted(after.items()):
            pulled = tmp_path / "pulled" / name.replace(":", "_")
            pulled.mkdir(parents=True)
            result = skopeo(home, "copy", "--src-tls-verify=false", "--src-creds", reader,
                            f"docker://{host}/{ORG}/{name}", f"dir:{pulled}")  # fmt: skip
            assert result.returncode == 0, f"{name}: {result.stderr}"
            reference = f"docker://{host}/{ORG}/{name}"
            inspected = skopeo(home, "inspect", "--tls-verify=false", "--creds", reader,
                               "--format", "{{.Digest}}", reference)  # fmt: skip
            assert inspected.stdout.strip() == digest, name
    finally:
        scenario.close()
        for component in stack.components.values():
            print(f"--- {component.name} log tail ---\n{component.log_tail(40)}")
        stack.close()
