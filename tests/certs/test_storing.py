"""Writing certificate files: atomic replacement, keys readable by their owner only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from certs.issuing import make_ca, make_serving_cert
from certs.storing import KEY_MODE, write_atomically, write_ca, write_serving_files


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class TestFiles:
    def test_the_serving_files_are_written_with_the_key_private(self, tmp_path: Path) -> None:
        ca = make_ca()
        serving = make_serving_cert(ca, "hook", "qb")

        files = write_serving_files(tmp_path / "out", ca.cert_pem, serving)

        assert files.exist()
        assert files.ca_cert.read_bytes() == ca.cert_pem
        assert files.cert.read_bytes() == serving.cert_pem
        assert files.key.read_bytes() == serving.key_pem
        assert mode_of(files.key) == 0o600
        assert mode_of(files.cert) == 0o644
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
            "ca.crt",
            "tls.crt",
            "tls.key",
        ]

    def test_a_ca_key_is_written_private_too(self, tmp_path: Path) -> None:
        write_ca(tmp_path, make_ca())

        assert mode_of(tmp_path / "ca.key") == KEY_MODE

    def test_a_key_file_is_private_even_under_a_permissive_umask(self, tmp_path: Path) -> None:
        old = os.umask(0)
        try:
            write_atomically(tmp_path / "k", b"secret", KEY_MODE)
        finally:
            os.umask(old)

        assert mode_of(tmp_path / "k") == 0o600

    def test_replacing_a_file_swaps_the_inode_so_readers_never_see_half_a_file(
        self, tmp_path: Path
    ) -> None:
        target = tmp_path / "tls.crt"
        write_atomically(target, b"old")
        old_inode = target.stat().st_ino
        with target.open("rb") as reader:
            write_atomically(target, b"new")
            assert reader.read() == b"old"

        assert target.read_bytes() == b"new"
        assert target.stat().st_ino != old_inode

    def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(self, tmp_path: Path) -> None:
        target = tmp_path / "tls.crt"
        write_atomically(target, b"old")

        with pytest.raises(TypeError):
            write_atomically(target, "not bytes")  # type: ignore[arg-type]

        assert target.read_bytes() == b"old"
        assert [p.name for p in tmp_path.iterdir()] == ["tls.crt"]
