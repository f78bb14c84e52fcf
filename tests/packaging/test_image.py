"""The image: the Dockerfile's shape (a lint, in milliseconds) and its install step, run for real.

The install step is what the Dockerfile's first stage does: build the project's wheel, install it
into a fresh virtual environment, and run both console scripts. Dependencies come from PyPI through
pip's cache. The image itself is built and run in test_image_build.py.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

from tools import dockerfile_lint, image_build

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


class TestTheDockerfilePassesItsLint:
    def test_the_committed_dockerfile_has_no_lint_problem(self) -> None:
        assert dockerfile_lint.lint(DOCKERFILE) == []

    def test_the_image_runs_the_operator_by_default(self) -> None:
        assert dockerfile_lint.final_stage_value(DOCKERFILE, "ENTRYPOINT") == ["quay-bridge"]
        assert dockerfile_lint.final_stage_value(DOCKERFILE, "CMD") == ["run"]

    def test_the_base_image_is_the_pinned_python_3_11_slim_in_every_stage(self) -> None:
        bases = dockerfile_lint.base_images(DOCKERFILE)
        assert len(bases) == 2
        for base in bases:
            assert base.split(":")[-1].startswith("3.11.")
            assert base.endswith("-slim-bookworm")

    def test_the_base_is_a_build_argument_used_by_both_stages(self) -> None:
        froms = [i.arguments for i in dockerfile_lint.parse(DOCKERFILE) if i.keyword == "FROM"]
        assert froms == ["${BASE} AS build", "${BASE}"]
        assert set(dockerfile_lint.base_args(DOCKERFILE)) == {"BASE"}

    def test_the_entrypoint_and_the_registry_command_are_console_scripts_of_the_version(
        self,
    ) -> None:
        project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
        assert dockerfile_lint.final_stage_value(DOCKERFILE, "ENTRYPOINT") == ["quay-bridge"]
        assert {"quay-bridge", "quay-registry"} <= set(project["scripts"])
        labels = [i.arguments for i in dockerfile_lint.parse(DOCKERFILE) if i.keyword == "LABEL"]
        assert f'org.opencontainers.image.version="{project["version"]}"' in " ".join(labels)

    def test_the_final_stage_runs_as_uid_1001(self) -> None:
        users = [i.arguments for i in dockerfile_lint.parse(DOCKERFILE) if i.keyword == "USER"]
        assert users[-1].split(":")[0] == "1001"

    def test_every_copied_path_exists_and_is_in_the_build_context(self) -> None:
        ignore = (ROOT / ".dockerignore").read_text()
        sources = dockerfile_lint.copy_sources(DOCKERFILE)
        assert sources
        for source in sources:
            assert (ROOT / source).exists(), source
            assert not dockerfile_lint.dockerignored(source, ignore), source

    @pytest.mark.parametrize(
        "path",
        [".venv/bin/python", ".git/HEAD", "tests/packaging/test_image.py", "bench/x.py",
         "bridge/__pycache__/x.pyc", "bundle/manifests/x.yaml"],
    )  # fmt: skip
    def test_the_build_context_leaves_out_what_the_image_does_not_need(self, path: str) -> None:
        assert dockerfile_lint.dockerignored(path, (ROOT / ".dockerignore").read_text())


GOOD = """\
FROM python:3.11.14-slim-bookworm AS build
RUN pip install --no-cache-dir build && python -m build --wheel
FROM python:3.11.14-slim-bookworm
COPY --from=build /dist /dist
USER 1001
ENTRYPOINT ["quay-bridge"]
CMD ["run"]
"""


class TestTheLintCatchesWhatItPromises:
    def test_a_good_dockerfile_passes(self) -> None:
        assert dockerfile_lint.lint(GOOD) == []

    @pytest.mark.parametrize(
        ("change", "expected"),
        [
            (("FROM python:3.11.14-slim-bookworm AS build", "FROM python AS build"), "not pinned"),
            (("FROM python:3.11.14-slim-bookworm\n", "FROM python:latest\n"), "latest"),
            (("FROM python:3.11.14-slim-bookworm\n", "FROM python:slim\n"), "not pinned"),
            (("USER 1001", "USER app"), "not numeric"),
            (("USER 1001", "USER 0:0"), "root"),
            (("USER 1001\n", ""), "no USER"),
            (('ENTRYPOINT ["quay-bridge"]', "ENTRYPOINT quay-bridge"), "exec"),
            (('CMD ["run"]', "CMD run"), "exec"),
            (('ENTRYPOINT ["quay-bridge"]\n', ""), "no ENTRYPOINT"),
            (("pip install --no-cache-dir build", "pip install build"), "--no-cache-dir"),
            (("COPY --from=build /dist /dist", "COPY dist /dist"), "copies nothing"),
            (
                ("USER 1001", "RUN apt-get update && apt-get install -y gcc\nUSER 1001"),
                "--no-install-recommends",
            ),
            (
                ("USER 1001", "RUN apt-get install -y --no-install-recommends gcc\nUSER 1001"),
                "/var/lib/apt/lists",
            ),
            (
                (
                    "USER 1001",
                    "RUN apt-get install -y --no-install-recommends build-essential \\\n"
                    "    && rm -rf /var/lib/apt/lists/*\nUSER 1001",
                ),
                "compiler",
            ),
            (("USER 1001", "RUN pip wheel --no-cache-dir .\nUSER 1001"), "builds wheels"),
            (("USER 1001", "ADD https://example.com/x /x\nUSER 1001"), "ADD of a URL"),
        ],
    )
    def test_a_broken_dockerfile_is_reported(self, change: tuple[str, str], expected: str) -> None:
        old, new = change
        assert old in GOOD
        problems = dockerfile_lint.lint(GOOD.replace(old, new, 1))
        assert any(expected in p for p in problems), problems

    def test_a_base_argument_is_judged_by_its_default(self) -> None:
        with_arg = "ARG BASE=python:3.11.14-slim-bookworm\n" + GOOD.replace(
            "FROM python:3.11.14-slim-bookworm", "FROM ${BASE}"
        )
        assert dockerfile_lint.lint(with_arg) == []
        unpinned = with_arg.replace("ARG BASE=python:3.11.14-slim-bookworm", "ARG BASE=python")
        assert any("not pinned" in p for p in dockerfile_lint.lint(unpinned))
        no_default = with_arg.replace("ARG BASE=python:3.11.14-slim-bookworm", "ARG BASE")
        assert any("ARG without default" in p for p in dockerfile_lint.lint(no_default))

    def test_a_single_stage_is_reported(self) -> None:
        single = 'FROM python:3.11.14-slim\nUSER 1001\nENTRYPOINT ["x"]\n'
        assert any("single stage" in p for p in dockerfile_lint.lint(single))

    def test_continued_lines_and_comments_make_one_instruction(self) -> None:
        parsed = dockerfile_lint.parse("FROM a:1\nRUN one \\\n# note\n    two\n")
        assert [(i.keyword, i.arguments) for i in parsed] == [("FROM", "a:1"), ("RUN", "one two")]


def _run(*args: str | Path, cwd: Path | None = None, timeout: float = 240) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", out, ROOT)
    (built,) = out.glob("quay_bridge-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment (no pip of its own) with the wheel and its dependencies."""
    env = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False).create(env)
    pip: list[str | Path] = [sys.executable, "-m", "pip", "--python", env / "bin" / "python"]
    _run(*pip, "install", "--quiet", "--no-compile", "--only-binary=:all:", wheel, timeout=280)
    return env / "bin"


class TestTheImageInstallStep:
    def test_the_wheel_carries_every_package_the_crd_and_the_dispatcher(self, wheel: Path) -> None:
        names = set(zipfile.ZipFile(wheel).namelist())
        assert "quaybridge_cli.py" in names
        assert "crds/quayintegration.yaml" in names
        for package in ("bridge", "webhook", "certs", "registry", "sim", "demo", "crds"):
            assert f"{package}/__init__.py" in names, package
        assert not any(n.startswith(("tests/", "tools/", "deploy/", "bundle/")) for n in names)

    def test_quay_bridge_help_runs_from_the_fresh_environment(self, installed: Path) -> None:
        out = _run(installed / "quay-bridge", "--help")
        assert "usage: quay-bridge" in out
        for command in ("run", "certs", "sim", "demo", "registry"):
            assert f"  {command}" in out

    def test_quay_registry_help_runs_from_the_fresh_environment(self, installed: Path) -> None:
        out = _run(installed / "quay-registry", "--help")
        assert "serve" in out

    def test_both_commands_print_the_packages_version(self, installed: Path) -> None:
        version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
        assert _run(installed / "quay-bridge", "--version") == f"quay-bridge {version}\n"
        assert _run(installed / "quay-registry", "--version") == f"quay-registry {version}\n"

    def test_the_installed_package_finds_the_crd(self, installed: Path) -> None:
        code = "import crds; print(*[p.name for p in crds.crd_files()])"
        assert _run(installed / "python", "-c", code, cwd=Path("/")).split() == [
            "quayintegration.yaml"
        ]


def test_the_install_guide_shows_the_debian_base_command_make_image_runs() -> None:
    guide = (ROOT / "docs" / "install.md").read_text()
    start = guide.index("mmdebstrap --mode=root")
    command = guide[start : guide.index("base.tar", start) + len("base.tar")]
    shown = shlex.split(command.replace("\\\n", " "))
    made = image_build.mmdebstrap_command(Path("base.tar"))
    assert shown == [word for word in made if word != "--quiet"]


class TestTheBuildCacheKey:
    """``make image`` rebuilds exactly when something the image is built from changed."""

    @pytest.fixture
    def tree(self, tmp_path: Path) -> Path:
        for name in ("Dockerfile", ".dockerignore", *dockerfile_lint.copy_sources(DOCKERFILE)):
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("*.pyc"))
            else:
                shutil.copy(source, tmp_path / name)
        return tmp_path

    def _key(self, tree: Path, base_id: str = "sha256:base") -> str:
        return image_build.inputs_digest(tree, base_id, {"BASE": "base:1"})

    def test_the_same_tree_gives_the_same_key(self, tree: Path) -> None:
        assert self._key(tree) == self._key(tree)

    @pytest.mark.parametrize("path", ["bridge/__init__.py", "Dockerfile", "pyproject.toml"])
    def test_a_changed_input_changes_the_key(self, tree: Path, path: str) -> None:
        before = self._key(tree)
        with (tree / path).open("a") as stream:
            stream.write("\n# changed\n")
        assert self._key(tree) != before

    def test_a_new_base_changes_the_key(self, tree: Path) -> None:
        assert self._key(tree, "sha256:other") != self._key(tree)

    def test_what_the_build_context_leaves_out_does_not(self, tree: Path) -> None:
        before = self._key(tree)
        (tree / "bridge" / "__pycache__").mkdir(exist_ok=True)
        (tree / "bridge" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
        (tree / "tests").mkdir()
        (tree / "tests" / "test_x.py").write_text("x = 1\n")
        assert self._key(tree) == before


@pytest.mark.parametrize(
    ("text", "expected"),
    [("308 MB", 308_000_000), ("1.25 GB", 1_250_000_000), ("512 kB", 512_000), ("7 B", 7)],
)
def test_the_size_buildah_prints_is_read_in_bytes(text: str, expected: int) -> None:
    assert image_build.parse_size(text) == expected


def test_a_size_in_an_unknown_unit_is_an_error_not_a_guess() -> None:
    with pytest.raises(image_build.BuildError, match="unexpected image size"):
        image_build.parse_size("308 MiB")
