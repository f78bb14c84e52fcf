"""Build the quay-bridge image with whatever container engine this machine has (``make image``).

The engine is the first that works of docker (with a running daemon), podman and buildah. The
Dockerfile's base is its ``BASE`` argument: the pinned public Python image when it is present or can
be pulled, otherwise a Debian bookworm base with Python 3.11 made here with ``mmdebstrap`` from
Debian's packages and imported into the engine, so the image builds where no public image registry
is reachable. The base's root filesystem is cached outside the tree (``$XDG_CACHE_HOME/quay-bridge``
or ``~/.cache/quay-bridge``).

The build is skipped when an image built from the same inputs exists: the inputs are the Dockerfile,
``.dockerignore``, every file the Dockerfile copies, and the base image's ID, hashed into the label
:data:`INPUTS_LABEL`. A rebuild runs with the engine's layer cache, so a source change does not
reinstall the dependencies.

Usage: ``python -m tools.image_build [--engine E] [--base IMAGE] [--json]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from tools import dockerfile_lint, image_name

ROOT = Path(__file__).resolve().parents[1]
#: The tag every build gets besides the cluster name, for tests and local runs.
LOCAL_NAME = "localhost/quay-bridge"
INPUTS_LABEL = "io.quay-bridge.inputs"
#: Debian's packages for the base: Python 3.11 and its venv module (ensurepip), nothing else.
DEBIAN_PACKAGES = ("python3.11", "python3.11-venv")
DEBIAN_SUITE = "bookworm"
#: Documentation, manual pages and translations are left out of the base (licenses stay).
DPKG_EXCLUDES = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
)
ENGINES = ("docker", "podman", "buildah")


class BuildError(RuntimeError):
    """A step of the build failed; the message says which and what it printed."""


def cache_dir() -> Path:
    """Where the Debian base's root filesystem is kept between builds (outside the tree)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "quay-bridge"


def _run(argv: Sequence[str], *, timeout: float = 1800, quiet: bool = True) -> str:
    result = subprocess.run(
        list(argv),
        capture_output=quiet,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        output = f"{result.stdout or ''}{result.stderr or ''}"[-4000:]
        raise BuildError(f"{' '.join(argv)} failed ({result.returncode}):\n{output}")
    return result.stdout or ""


def _succeeds(argv: Sequence[str], timeout: float = 120) -> bool:
    try:
        result = subprocess.run(
            list(argv),
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


@dataclass(frozen=True)
class Engine:
    """One container engine's commands. ``name`` is docker, podman or buildah."""

    name: str

    def exists(self, image: str) -> bool:
        """Whether ``image`` is in the engine's local storage."""
        if self.name == "buildah":
            return _succeeds(["buildah", "inspect", "--type", "image", image])
        return _succeeds([self.name, "image", "inspect", image])

    def image_id(self, image: str) -> str:
        """The image's ID (its config digest)."""
        if self.name == "buildah":
            return _run(
                ["buildah", "inspect", "--type", "image", "--format", "{{.FromImageID}}", image]
            ).strip()
        return _run([self.name, "image", "inspect", "--format", "{{.Id}}", image]).strip()

    def label(self, image: str, key: str) -> str:
        """The value of the image's label ``key`` ("" when absent)."""
        if self.name == "buildah":
            template = f'{{{{index .OCIv1.Config.Labels "{key}"}}}}'
            return _run(
                ["buildah", "inspect", "--type", "image", "--format", template, image]
            ).strip()
        path = ".Config.Labels" if self.name == "docker" else ".Labels"
        template = f'{{{{index {path} "{key}"}}}}'
        out = _run([self.name, "image", "inspect", "--format", template, image]).strip()
        return "" if out == "<no value>" else out

    def size(self, image: str) -> int:
        """The image's size in bytes, uncompressed, as the engine reports it."""
        if self.name == "buildah":
            (entry,) = json.loads(_run(["buildah", "images", "--json", image]))
            return parse_size(str(entry["size"]))
        return int(_run([self.name, "image", "inspect", "--format", "{{.Size}}", image]).strip())

    def pull(self, image: str) -> bool:
        """Try to pull ``image``; False when no registry serving it can be reached."""
        if self.name == "buildah":
            return _succeeds(["buildah", "pull", "--quiet", image])
        return _succeeds([self.name, "pull", "--quiet", image])

    def import_rootfs(self, tarball: Path, tag: str) -> None:
        """Make image ``tag`` from a root filesystem tarball."""
        if self.name != "buildah":
            _run([self.name, "import", str(tarball), tag])
            return
        container = _run(["buildah", "from", "scratch"]).strip()
        try:
            _run(["buildah", "add", container, str(tarball), "/"])
            _run(["buildah", "config", "--cmd", "/bin/sh", container])
            _run(["buildah", "commit", "--quiet", "--rm", container, tag])
        except BuildError:
            _succeeds(["buildah", "rm", container])
            raise

    def build(
        self, root: Path, args: dict[str, str], labels: dict[str, str], tags: list[str]
    ) -> None:
        """Build the Dockerfile in ``root`` with layer caching, showing the engine's output."""
        if self.name == "buildah":
            argv = ["buildah", "bud", "--isolation", "chroot", "--layers"]
        elif self.name == "podman":
            argv = ["podman", "build", "--layers"]
        else:
            argv = ["docker", "build"]
        for key, value in args.items():
            argv += ["--build-arg", f"{key}={value}"]
        for key, value in labels.items():
            argv += ["--label", f"{key}={value}"]
        for tag in tags:
            argv += ["--tag", tag]
        ca_bundle = host_ca_bundle()
        if ca_bundle is not None:
            argv += ["--secret", f"id=pip-ca,src={ca_bundle}"]
        argv += ["--file", str(root / "Dockerfile"), str(root)]
        _run(argv, quiet=False)


def host_ca_bundle() -> Path | None:
    """The CA bundle this machine's pip is told to trust, if any (a TLS-inspecting proxy's).

    From ``PIP_CERT``, ``REQUESTS_CA_BUNDLE`` or ``SSL_CERT_FILE``, else pip's own ``cert`` setting.

    The Dockerfile mounts it as the build secret ``pip-ca`` for pip alone; no layer keeps it.
    """
    for variable in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        value = os.environ.get(variable)
        if value and Path(value).is_file():
            return Path(value)
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    ).stdout
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        configured = Path(value.strip().strip("'\""))
        if key.strip().endswith(".cert") and configured.is_file():
            return configured
    return None


_UNITS = {"B": 1, "kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}


def parse_size(text: str) -> int:
    """Bytes from a size as buildah prints it (``"368 MB"``: decimal units, 3-4 digits)."""
    number, _, unit = text.strip().partition(" ")
    if unit not in _UNITS:
        raise BuildError(f"unexpected image size {text!r} from the engine")
    return round(float(number) * _UNITS[unit])


def detect_engine() -> Engine:
    """The first usable engine: docker with a daemon, podman, buildah."""
    if shutil.which("docker") and _succeeds(["docker", "info"], timeout=20):
        return Engine("docker")
    for name in ("podman", "buildah"):
        if shutil.which(name):
            return Engine(name)
    raise BuildError(
        "no container engine: install docker (with its daemon), podman or buildah "
        "(`make system-deps` installs buildah and mmdebstrap on Debian)"
    )


def mmdebstrap_command(output: Path) -> list[str]:
    """The command that makes the Debian base's root filesystem as a tarball at ``output``."""
    argv = ["mmdebstrap", "--mode=root", "--variant=minbase", "--quiet"]
    argv += [f"--include={','.join(DEBIAN_PACKAGES)}"]
    argv += ["--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr"]
    argv += [f"--dpkgopt={option}" for option in DPKG_EXCLUDES]
    return [*argv, DEBIAN_SUITE, str(output)]


def debian_base(engine: Engine, log: list[str]) -> str:
    """Return the tag of the Debian base in ``engine``, making and importing it when missing."""
    key = hashlib.sha256(" ".join(mmdebstrap_command(Path("out"))).encode()).hexdigest()[:12]
    tag = f"localhost/quay-bridge-base:{DEBIAN_SUITE}-python3.11-{key}"
    if engine.exists(tag):
        return tag
    tarball = cache_dir() / f"base-{DEBIAN_SUITE}-python3.11-{key}.tar"
    if not tarball.exists():
        if shutil.which("mmdebstrap") is None:
            raise BuildError(
                "no public base image can be pulled and mmdebstrap is missing (`make system-deps`)"
            )
        if os.geteuid() != 0:
            raise BuildError("making the Debian base with mmdebstrap --mode=root needs root")
        tarball.parent.mkdir(parents=True, exist_ok=True)
        # mmdebstrap chooses its output format by the file name: keep ``.tar``.
        partial = tarball.with_name(f"{tarball.stem}.partial.tar")
        started = time.monotonic()
        _run(mmdebstrap_command(partial))
        partial.rename(tarball)
        log.append(f"made the Debian base with mmdebstrap in {time.monotonic() - started:.0f} s")
    engine.import_rootfs(tarball, tag)
    log.append(f"imported {tarball} as {tag}")
    return tag


def resolve_base(engine: Engine, requested: str | None, log: list[str]) -> str:
    """The base: ``requested``, else the Dockerfile's default if it can be had, else Debian's."""
    if requested:
        return requested
    default = dockerfile_lint.base_args((ROOT / "Dockerfile").read_text())["BASE"]
    if engine.exists(default) or engine.pull(default):
        return default
    log.append(f"{default} cannot be pulled here; building on a Debian base made with mmdebstrap")
    return debian_base(engine, log)


def input_files(root: Path) -> list[Path]:
    """The files whose content makes the image: Dockerfile, .dockerignore, everything copied."""
    dockerfile = (root / "Dockerfile").read_text()
    ignore = (root / ".dockerignore").read_text()
    files = {root / "Dockerfile", root / ".dockerignore"}
    for source in dockerfile_lint.copy_sources(dockerfile):
        path = root / source
        candidates = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
        for candidate in candidates:
            if not dockerfile_lint.dockerignored(str(candidate.relative_to(root)), ignore):
                files.add(candidate)
    return sorted(files)


def inputs_digest(root: Path, base_id: str, args: dict[str, str]) -> str:
    """A hash of everything the image is built from (see the module docstring)."""
    digest = hashlib.sha256()
    digest.update(f"base={base_id}\n".encode())
    for key, value in sorted(args.items()):
        digest.update(f"arg {key}={value}\n".encode())
    for path in input_files(root):
        digest.update(f"{path.relative_to(root)}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@dataclass(frozen=True)
class Built:
    """What ``build`` produced, for people (``--json``) and tests."""

    engine: str
    image: str  #: the local name, ``localhost/quay-bridge:<version>``
    cluster_name: str  #: the name deploy/image gives it
    image_id: str
    base: str
    size_bytes: int
    cached: bool  #: True when an image of the same inputs existed and nothing was built
    seconds: float
    log: tuple[str, ...]


def build(root: Path = ROOT, *, engine: Engine | None = None, base: str | None = None) -> Built:
    """Build (or find up to date) the image from ``root``; see the module docstring."""
    started = time.monotonic()
    engine = engine or detect_engine()
    log: list[str] = []
    chosen = resolve_base(engine, base, log)
    version = tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]
    local = f"{LOCAL_NAME}:{version}"
    cluster_name = image_name.reference(root)
    args = {"BASE": chosen}
    inputs = inputs_digest(root, engine.image_id(chosen), args)
    cached = engine.exists(local) and engine.label(local, INPUTS_LABEL) == inputs
    if not cached:
        previous = engine.image_id(local) if engine.exists(local) else None
        engine.build(root, args, {INPUTS_LABEL: inputs}, [local, cluster_name])
        if previous and previous != engine.image_id(local):
            # The image this one replaces, now nameless; the layer cache is kept.
            _succeeds([engine.name, "rmi", previous])
    elif not engine.exists(cluster_name) or engine.image_id(cluster_name) != engine.image_id(local):
        _run([engine.name, "tag", local, cluster_name])
    return Built(
        engine=engine.name,
        image=local,
        cluster_name=cluster_name,
        image_id=engine.image_id(local),
        base=chosen,
        size_bytes=engine.size(local),
        cached=cached,
        seconds=round(time.monotonic() - started, 1),
        log=tuple(log),
    )


def main(argv: list[str] | None = None) -> int:
    """Build the image and print what was built (or why it could not be)."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.image_build", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--engine", choices=ENGINES, help="container engine (default: the first that works)"
    )
    parser.add_argument(
        "--base", help="base image (default: the Dockerfile's, else a Debian base made here)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    try:
        built = build(ROOT, engine=Engine(args.engine) if args.engine else None, base=args.base)
    except BuildError as exc:
        print(f"image build failed: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(asdict(built), indent=2))
        return 0
    for line in built.log:
        print(line)
    state = "up to date (inputs unchanged)" if built.cached else "built"
    print(f"{built.image} {state} with {built.engine} on {built.base} in {built.seconds} s")
    size = f"{built.size_bytes / 2**20:.0f} MiB"
    print(f"  also tagged {built.cluster_name}; id {built.image_id[:19]}; size {size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
