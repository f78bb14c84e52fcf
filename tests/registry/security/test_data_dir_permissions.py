"""Case 8: the files holding secrets are the owner's only, whatever the umask.

A `quay-registry serve` process started with umask 000 creates its data directory 0700 and
`registry.db` with its `-wal` and `-shm` files, `secret.key` and `oci-signing-key.pem` 0600, after
real writes (an org, a robot, a pushed blob). A data directory left 0755 with a 0644 database by
an older version is tightened at start-up. A shared sticky directory such as `/tmp` is refused
with a message saying what to use instead, never made private.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from devstack.registry import RegistryServer
from tests.registry.security.tenant import make_tenant, push_blob, registry_token

SECRET_FILES = (
    "registry.db",
    "registry.db-wal",
    "registry.db-shm",
    "secret.key",
    "oci-signing-key.pem",
)


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _use(quay: RegistryServer) -> None:
    tenant = make_tenant(quay, "perm")
    token = registry_token(quay, tenant.robot, tenant.robot_token, f"repository:{tenant.name}:push")
    assert push_blob(quay, tenant.name, token, b"layer").status_code == 201


def _assert_private(data_dir: Path) -> None:
    assert _mode(data_dir) == 0o700
    for name in SECRET_FILES:
        assert (data_dir / name).exists(), name
        assert _mode(data_dir / name) == 0o600, f"{name} is {oct(_mode(data_dir / name))}"


def test_files_holding_secrets_are_0600_in_a_0700_directory_under_umask_000(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "fresh" / "data"
    with _umask(0):
        quay = RegistryServer.start(data_dir=data_dir)
    try:
        _use(quay)
        _assert_private(data_dir)
    finally:
        quay.stop()


def test_an_older_world_readable_data_dir_is_tightened_at_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "old"
    with _umask(0o022):
        quay = RegistryServer.start(data_dir=data_dir)
    _use(quay)
    quay.stop()
    os.chmod(data_dir, 0o755)
    os.chmod(data_dir / "registry.db", 0o644)

    with _umask(0o022):
        again = RegistryServer.start(data_dir=data_dir, initialize=False)
    try:
        _assert_private(data_dir)
    finally:
        again.stop()


def test_a_shared_sticky_directory_is_refused_not_made_private(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    with pytest.raises(RuntimeError, match="is shared \\(sticky bit\\)"):
        RegistryServer.start(data_dir=shared, timeout=20)
    assert _mode(shared) == 0o1777
    assert not (shared / "registry.db").exists()
