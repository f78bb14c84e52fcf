"""The registry-core overlay: the bundled registry with PostgreSQL, for clusters without a Quay.

Besides the manifests' shape, the registry core is started exactly as the overlay's Deployment
starts it (its command and arguments, with the environment it gets from the Secret and the
ConfigMap) against a real PostgreSQL on loopback; only the addresses change to loopback ones.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.ports import free_port
from tests.packaging.manifests import kustomize
from tests.support.postgres import PostgresCluster, PostgresUnavailableError, start_cluster

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def overlay() -> list[dict[str, Any]]:
    return kustomize("deploy/registry-core")


def _find(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def _container(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (container,) = _find(documents, kind, name)["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


class TestTheOverlay:
    def test_installs_the_operator_too(self, overlay: list[dict[str, Any]]) -> None:
        base = kustomize("deploy/base")
        names = {(d["kind"], d["metadata"]["name"]) for d in overlay}
        assert {(d["kind"], d["metadata"]["name"]) for d in base} <= names

    def test_runs_the_registry_core_from_the_operators_image(
        self, overlay: list[dict[str, Any]]
    ) -> None:
        registry = _container(overlay, "Deployment", "quay-registry")
        operator = _container(overlay, "Deployment", "quay-bridge")
        assert registry["image"] == operator["image"]
        assert registry["command"] == ["quay-registry"]
        assert registry["args"][0] == "serve"
        assert any(a.startswith("--database=postgresql://") for a in registry["args"])

    def test_keeps_metadata_in_a_postgresql_statefulset_with_a_volume(
        self, overlay: list[dict[str, Any]]
    ) -> None:
        statefulset = _find(overlay, "StatefulSet", "quay-registry-postgresql")
        (claim,) = statefulset["spec"]["volumeClaimTemplates"]
        (container,) = statefulset["spec"]["template"]["spec"]["containers"]
        assert claim["metadata"]["name"] in {m["name"] for m in container["volumeMounts"]}
        assert re.fullmatch(r"docker\.io/library/postgres:\d+\.\d+-bookworm", container["image"])

    def test_names_the_same_host_in_the_route_and_the_server_hostname(
        self, overlay: list[dict[str, Any]]
    ) -> None:
        host = _find(overlay, "ConfigMap", "quay-registry")["data"]["server-hostname"]
        assert _find(overlay, "Route", "quay-registry")["spec"]["host"] == host

    def test_every_secret_and_config_key_it_reads_exists(
        self, overlay: list[dict[str, Any]]
    ) -> None:
        containers = [
            _container(overlay, "Deployment", "quay-registry"),
            _container(overlay, "StatefulSet", "quay-registry-postgresql"),
        ]
        for container in containers:
            for variable in container["env"]:
                source = variable.get("valueFrom", {})
                for kind, ref in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                    if ref in source:
                        target = _find(overlay, kind, source[ref]["name"])
                        data = {**target.get("data", {}), **target.get("stringData", {})}
                        assert source[ref]["key"] in data, variable["name"]

    def test_lets_the_operator_reach_the_registry_pods(self, overlay: list[dict[str, Any]]) -> None:
        policy = _find(overlay, "NetworkPolicy", "quay-bridge")["spec"]
        assert {
            "to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "quay-registry"}}}],
            "ports": [{"protocol": "TCP", "port": 8080}],
        } in policy["egress"]

    def test_lets_only_the_registry_core_reach_postgresql(
        self, overlay: list[dict[str, Any]]
    ) -> None:
        policy = _find(overlay, "NetworkPolicy", "quay-registry-postgresql")["spec"]
        assert policy["ingress"] == [
            {
                "from": [
                    {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "quay-registry"}}}
                ],
                "ports": [{"protocol": "TCP", "port": 5432}],
            }
        ]
        assert policy["egress"] == []


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    try:
        cluster = start_cluster()
    except PostgresUnavailableError as error:
        pytest.skip(f"PostgreSQL is not available: {error}")
    try:
        yield cluster
    finally:
        cluster.stop()


def _expand(argument: str, environment: dict[str, str]) -> str:
    """Expand ``$(VAR)`` as the kubelet does in a container's args."""
    return re.sub(r"\$\((\w+)\)", lambda m: environment.get(m.group(1), m.group(0)), argument)


@pytest.mark.postgres
def test_the_registry_core_serves_with_the_overlays_arguments_on_postgresql(
    overlay: list[dict[str, Any]], postgres: PostgresCluster, tmp_path: Path
) -> None:
    container = _container(overlay, "Deployment", "quay-registry")
    postgres.create_database("quay")
    port = free_port()
    host = f"127.0.0.1:{port}"
    environment = {
        "DATABASE_USER": "postgres",
        "DATABASE_PASSWORD": "unused",
        "SERVER_HOSTNAME": host,
    }
    loopback = {
        "--host": "127.0.0.1",
        "--port": str(port),
        "--data-dir": str(tmp_path / "data"),
    }
    args = []
    for argument in container["args"]:
        flag, _, value = argument.partition("=")
        value = loopback.get(flag, _expand(value, environment))
        value = value.replace("quay-registry-postgresql:5432", f"127.0.0.1:{postgres.port}")
        args.append(f"{flag}={value}" if _ else flag)
    assert "unused@127.0.0.1" in " ".join(args) and f"--server-hostname={host}" in args
    executable = shutil.which(container["command"][0], path=str(Path(sys.executable).parent))
    assert executable is not None
    log = tmp_path / "registry.log"
    with log.open("wb") as output:
        process = subprocess.Popen([executable, *args], stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            healthy = False
            while time.monotonic() < deadline and process.poll() is None and not healthy:
                try:
                    healthy = requests.get(f"http://{host}/health/instance", timeout=1).ok
                except requests.ConnectionError:
                    time.sleep(0.1)
            assert healthy, log.read_text(errors="replace")[-3000:]
            initialized = requests.post(
                f"http://{host}/api/v1/user/initialize",
                json={"username": "quayadmin", "password": "password123", "email": "a@b.c",
                      "access_token": True},
                timeout=10,
            )  # fmt: skip
            assert initialized.status_code == 200, initialized.text
            challenge = requests.get(f"http://{host}/v2/", timeout=5)
            assert f'service="{host}"' in challenge.headers["WWW-Authenticate"]
        finally:
            process.terminate()
            process.wait(timeout=10)
