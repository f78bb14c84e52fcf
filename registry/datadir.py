"""The data directory keeps its secrets to its owner: 0700 directory, 0600 database files.

The data directory holds the SQLite database (password hashes, sealed robot tokens, OAuth token
digests), the server keys (`secret.key`, `oci-signing-key.pem`) and pushed images. Files and
directories created with the process umask (commonly 022) were readable by every local user:
`registry.db` was 0644. `secure_data_dir` creates (or tightens) the directory to 0700 and
`secure_sqlite_file` creates the database file 0600 before SQLite opens it; SQLite gives its `-wal`
and `-shm` files the database file's mode. Existing files from older versions are tightened too.
The key files are written 0600 by their own modules.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


class SharedDataDirError(OSError):
    """The data directory is a shared one (sticky bit, as `/tmp`): it must not be made private."""


def secure_data_dir(path: Path) -> None:
    """Create `path` (and missing parents) and make `path` itself 0700, whatever the umask.

    Raises:
        SharedDataDirError: `path` is a sticky directory such as `/tmp`, which other users need;
            the registry wants a directory of its own there instead.
    """
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    mode = path.stat().st_mode
    if stat.S_IMODE(mode) == DIR_MODE:
        return
    if mode & stat.S_ISVTX:
        raise SharedDataDirError(
            f"data directory {path} is shared (sticky bit); give the registry a directory of its "
            f"own, e.g. {path / 'quay-registry'}"
        )
    os.chmod(path, DIR_MODE)


def secure_sqlite_file(database: Path) -> None:
    """Create the SQLite file 0600 if missing; make it and its side files 0600 if present."""
    fd = os.open(database, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    for suffix in SQLITE_SIDE_FILES:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(database.with_name(database.name + suffix), FILE_MODE)
