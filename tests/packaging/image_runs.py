"""Running commands in the built image with buildah, as the Deployment runs the operator.

``podman run`` cannot run in every sandbox (it sets rlimits some refuse), so a command runs through
``buildah run --isolation chroot`` in a working container of the image. What the Deployment
promises is reproduced: the image's UID 1001 and group 0, a read-only view of the image (each of
its top-level directories bound read-only onto itself, ``/`` not writable by 1001) with a fresh
writable ``/tmp`` (the Deployment's emptyDir), and the host's network (``--network host``), so the
simulator and the registry core the tests start on 127.0.0.1 are reachable.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Directories buildah provides itself (kernel file systems, its own /run files) or that stay
#: writable on purpose (/tmp, as the Deployment's emptyDir).
_NOT_BOUND = {"proc", "sys", "dev", "run", "tmp"}


def buildah(*args: str | Path, timeout: float = 300) -> str:
    """Run ``buildah`` with ``args``; fail with its output when it exits non-zero."""
    result = subprocess.run(
        ["buildah", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise AssertionError(f"buildah {args} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def image_config(image: str) -> dict[str, Any]:
    """The image's OCI configuration (``config`` of the OCI image config document)."""
    inspected = json.loads(buildah("inspect", "--type", "image", image))
    config: dict[str, Any] = inspected["OCIv1"]["config"]
    return config


class WorkingContainer:
    """A buildah working container of an image and its root file system, mounted on the host."""

    def __init__(self, image: str) -> None:
        self.image = image
        self.name = buildah("from", "--pull-never", "--quiet", image).strip()
        self.root = Path(buildah("mount", self.name).strip())
        # buildah binds its own /etc/hosts, /etc/resolv.conf and /run/.containerenv over files it
        # creates in the container's writable layer on a first run; once made, /etc can be bound
        # read-only (the image itself is not changed).
        buildah("run", "--isolation", "chroot", self.name, "--", "true")

    def command(
        self,
        argv: Sequence[str],
        *,
        user: str = "1001:0",
        volumes: Sequence[tuple[Path, str]] = (),
        env: dict[str, str] | None = None,
    ) -> list[str]:
        """The ``buildah run`` command line that runs ``argv`` as the Deployment would."""
        command = ["buildah", "run", "--isolation", "chroot", "--network", "host"]
        command += ["--user", user, "--mount", "type=tmpfs,destination=/tmp"]
        for entry in sorted(self.root.iterdir()):
            if entry.is_dir() and not entry.is_symlink() and entry.name not in _NOT_BOUND:
                command += ["--volume", f"{entry}:/{entry.name}:ro"]
        for source, target in volumes:
            command += ["--volume", f"{source}:{target}:ro"]
        for key, value in (env or {}).items():
            command += ["--env", f"{key}={value}"]
        return [*command, self.name, "--", *argv]

    def run(
        self,
        argv: Sequence[str],
        *,
        user: str = "1001:0",
        volumes: Sequence[tuple[Path, str]] = (),
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` to completion; the caller checks the exit code and output."""
        return subprocess.run(
            self.command(argv, user=user, volumes=volumes),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def remove(self) -> None:
        """Unmount and delete the working container (the image stays)."""
        buildah("umount", self.name)
        buildah("rm", self.name)
