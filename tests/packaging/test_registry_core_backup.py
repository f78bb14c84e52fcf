"""The registry core's backup CronJob and restore Job, run as written against a real PostgreSQL.

Shape checks (the backup pod reads the blobs volume read-only, beside the registry pod, reaches
PostgreSQL through its own NetworkPolicy) and then the two containers' shell scripts, exactly as
the manifests hold them, with only the volume paths and the database address moved to loopback:
the backup script backs up a registry core that is serving, the restore script refuses the
occupied target until ``FORCE=true`` and then restores it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.registry import registry_server
from tests.packaging.manifests import kustomize
from tests.support.postgres import PostgresCluster, PostgresUnavailableError, start_cluster

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def backup() -> list[dict[str, Any]]:
    return kustomize("deploy/registry-core/backup")


@pytest.fixture(scope="module")
def restore() -> list[dict[str, Any]]:
    return kustomize("deploy/registry-core/restore")


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


def _pod(documents: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [d for d in documents if d["kind"] == kind]
    spec = found["spec"]
    template = spec["jobTemplate"]["spec"]["template"] if kind == "CronJob" else spec["template"]
    assert isinstance(template, dict)
    return template


def test_the_backup_pod_reads_the_blobs_volume_read_only_beside_the_registry_pod(
    backup: list[dict[str, Any]],
) -> None:
    pod = _pod(backup, "CronJob")
    (container,) = pod["spec"]["containers"]
    mounts = {mount["name"]: mount for mount in container["volumeMounts"]}
    assert mounts["blobs"]["readOnly"] is True
    volumes = {volume["name"]: volume for volume in pod["spec"]["volumes"]}
    assert volumes["blobs"]["persistentVolumeClaim"]["claimName"] == "quay-registry-blobs"
    affinity = pod["spec"]["affinity"]["podAffinity"]
    (term,) = affinity["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["labelSelector"]["matchLabels"] == {"app.kubernetes.io/name": "quay-registry"}
    assert term["topologyKey"] == "kubernetes.io/hostname"
    labels = pod["metadata"]["labels"]
    name = "quay-registry-postgresql-backup"
    (opening,) = [
        d for d in backup if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == name
    ]
    assert opening["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"] == labels
    registry_pods = {"app.kubernetes.io/name": "quay-registry"}
    assert labels != registry_pods, "the registry's Service would send requests to the backup pod"


def _run_script(
    pod: dict[str, Any], postgres: PostgresCluster, paths: dict[str, Path], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    (container,) = pod["spec"]["containers"]
    assert container["command"] == ["/bin/sh", "-c"]
    (script,) = container["args"]
    script = script.replace("quay-registry-postgresql:5432", f"127.0.0.1:{postgres.port}")
    for inside, outside in paths.items():
        script = script.replace(inside, str(outside))
    environment = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    environment.update(env)
    return subprocess.run(
        ["/bin/sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={
            **os.environ,
            **environment,
            "DATABASE_USER": "postgres",
            "DATABASE_PASSWORD": "unused",
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        },
    )


@pytest.mark.postgres
def test_the_scripts_back_up_a_serving_registry_and_restore_it_only_when_forced(
    backup: list[dict[str, Any]],
    restore: list[dict[str, Any]],
    postgres: PostgresCluster,
    tmp_path: Path,
) -> None:
    url = postgres.create_database("quay")
    backups, data = tmp_path / "backups", tmp_path / "data"
    backups.mkdir()
    paths = {"/backups": backups, "/var/lib/quay-registry": data}
    with registry_server(data_dir=data, database=url) as quay:
        api = quay.headers()
        assert requests.post(f"{quay.url}/api/v1/organization/", json={"name": "kept"},
                             headers=api).ok  # fmt: skip
        token = quay.token
        for _ in range(8):
            taken = _run_script(_pod(backup, "CronJob"), postgres, paths, {})
            assert taken.returncode == 0, taken.stderr
        runs = sorted(p.name for p in backups.iterdir())
        assert len(runs) == 7, "the script keeps the newest 7 backups"
        assert requests.delete(f"{quay.url}/api/v1/organization/kept", headers=api).ok
    job = _pod(restore, "Job")
    refused = _run_script(job, postgres, paths, {"BACKUP": runs[-1]})
    assert refused.returncode == 1 and "not empty" in refused.stderr, refused.stderr
    forced = _run_script(job, postgres, paths, {"BACKUP": runs[-1], "FORCE": "true"})
    assert forced.returncode == 0, forced.stderr
    with registry_server(data_dir=data, database=url, initialize=False) as restored:
        restored.token = token
        found = requests.get(f"{restored.url}/api/v1/organization/kept", headers=restored.headers())
    assert found.status_code == 200, found.text
