"""``quay-registry backup`` and ``restore`` on a real registry core: refusals, damage, backends.

The full story (a bridge-filled registry backed up while serving, restored, and found complete by
the bridge) is ``tests/e2e/test_backup_restore.py``; here are the edges a user hits by mistake.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devstack.registry import RegistryServer, registry_server
from registry.commands import main
from tests.support.postgres import PostgresCluster, PostgresUnavailableError, start_cluster


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


def fill(quay: RegistryServer) -> None:
    """An organization with a robot and a repository (blobs: ``tests/e2e/test_backup_restore``)."""
    api, base = quay.headers(), f"{quay.url}/api/v1"
    assert requests.post(f"{base}/organization/", json={"name": "team"}, headers=api).ok
    assert requests.put(f"{base}/organization/team/robots/builder", headers=api).ok
    repo = {"namespace": "team", "repository": "app", "visibility": "private", "description": ""}
    assert requests.post(f"{base}/repository", json=repo, headers=api).status_code == 201


def backup(quay: RegistryServer, out: Path, *extra: str) -> int:
    return main(["backup", "--out", str(out), "--data-dir", str(quay.data_dir), *extra])


def test_a_backup_refuses_a_directory_that_is_not_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old").write_text("x")
    with registry_server() as quay:
        assert backup(quay, tmp_path / "out") == 1
    assert "is not an empty directory" in capsys.readouterr().err


def test_a_damaged_backup_is_refused_naming_the_file_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with registry_server() as quay:
        fill(quay)
        assert backup(quay, tmp_path / "b") == 0
    accounts = tmp_path / "b" / "database" / "account.jsonl"
    accounts.write_text(accounts.read_text().replace("team", "mean"))
    target = tmp_path / "restored"
    assert main(["restore", "--from", str(tmp_path / "b"), "--data-dir", str(target)]) == 1
    err = capsys.readouterr().err
    assert "damaged" in err and "database/account.jsonl" in err
    assert not target.exists()


def test_a_backup_without_its_manifest_is_an_unfinished_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with registry_server() as quay:
        assert backup(quay, tmp_path / "b") == 0
    (tmp_path / "b" / "backup.json").unlink()
    assert main(["restore", "--from", str(tmp_path / "b"), "--data-dir", str(tmp_path / "r")]) == 1
    assert "did not finish" in capsys.readouterr().err


def test_a_backup_of_another_format_version_is_refused_with_the_versions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with registry_server() as quay:
        assert backup(quay, tmp_path / "b") == 0
    manifest = tmp_path / "b" / "backup.json"
    document = json.loads(manifest.read_text())
    document["formatVersion"] = 99
    manifest.write_text(json.dumps(document))
    assert main(["restore", "--from", str(tmp_path / "b"), "--data-dir", str(tmp_path / "r")]) == 1
    assert "format version 99" in capsys.readouterr().err


def test_force_replaces_a_registry_and_the_old_token_works_again(tmp_path: Path) -> None:
    with registry_server() as old:
        fill(old)
        assert backup(old, tmp_path / "b") == 0
        token = old.token
    other = tmp_path / "other"
    with registry_server(data_dir=other) as running:
        fill(running)  # the same names, other rows and keys: all replaced
    restore = ["restore", "--from", str(tmp_path / "b"), "--data-dir", str(other)]
    assert main(restore) == 1
    assert main([*restore, "--force"]) == 0
    restarted = RegistryServer.start(data_dir=other, initialize=False)
    try:
        restarted.token = token
        repos = requests.get(
            f"{restarted.url}/api/v1/repository?namespace=team", headers=restarted.headers()
        ).json()["repositories"]
        robots = requests.get(
            f"{restarted.url}/api/v1/organization/team/robots", headers=restarted.headers()
        ).json()["robots"]
    finally:
        restarted.stop()
    assert [repo["name"] for repo in repos] == ["app"]
    assert [robot["name"] for robot in robots] == ["team+builder"]
    assert robots[0]["token"], "the sealed robot token did not come back readable"


@pytest.mark.postgres
def test_a_sqlite_backup_restores_into_postgresql_and_back(
    tmp_path: Path, postgres: PostgresCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    with registry_server() as sqlite_quay:
        fill(sqlite_quay)
        assert backup(sqlite_quay, tmp_path / "from-sqlite") == 0
        token = sqlite_quay.token
    url = postgres.create_database("crossed")
    restore = ["restore", "--from", str(tmp_path / "from-sqlite"), "--data-dir"]
    assert main([*restore, str(tmp_path / "pg-data"), "--database", url]) == 0
    assert main([*restore, str(tmp_path / "pg-data2"), "--database", url]) == 1
    assert "already holds registry tables" in capsys.readouterr().err
    with registry_server(data_dir=tmp_path / "pg-data", database=url, initialize=False) as pg:
        pg.token = token
        created = requests.post(
            f"{pg.url}/api/v1/repository",
            json={"namespace": "team", "repository": "second", "visibility": "private",
                  "description": ""},
            headers=pg.headers(),
        )  # fmt: skip
        assert created.status_code == 201, created.text  # the id sequences moved past the rows
        assert main(["backup", "--out", str(tmp_path / "from-pg"), "--data-dir",
                     str(pg.data_dir), "--database", url]) == 0  # fmt: skip
    assert main([*restore[:2], str(tmp_path / "from-pg"), "--data-dir", str(tmp_path / "s")]) == 0
    with registry_server(data_dir=tmp_path / "s", initialize=False) as back:
        back.token = token
        repos = requests.get(
            f"{back.url}/api/v1/repository?namespace=team", headers=back.headers()
        ).json()["repositories"]
    assert sorted(repo["name"] for repo in repos) == ["app", "second"]
