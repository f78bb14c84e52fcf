"""The image built with buildah and run: config, contents, registry round trip, the operator.

The image is built once per session by ``tools/image_build`` (what ``make image`` runs) with
``buildah bud --isolation chroot``; where the public Python base cannot be pulled it builds on the
Debian base made with mmdebstrap. An unchanged tree reuses the image built before (the inputs hash
label), so these tests rebuild only when the image's inputs changed. Skipped, saying why, only where
buildah (or, without a reachable public base, mmdebstrap) is not installed or the tests do not run
as root.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import shutil
import signal
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.ports import free_port
from devstack.registry import RegistryServer, registry_server
from devstack.sim import start_sim
from devstack.waiting import wait_until
from tests.bridge.conftest import Cluster
from tests.packaging.image_runs import WorkingContainer, image_config
from tests.packaging.manifests import ROOT
from tools import image_build, image_name

# A cold build (Debian base, dependencies from PyPI) takes minutes, in the first test's setup.
pytestmark = pytest.mark.timeout(1800)

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
#: Build tools and compilers that must not be in the final image (checked as files in its PATH).
BUILD_TOOLS = ("gcc", "cc", "c++", "g++", "clang", "make", "ld", "as", "cargo", "rustc", "pip")


@pytest.fixture(scope="session")
def built() -> image_build.Built:
    if shutil.which("buildah") is None:
        pytest.skip("buildah is not installed: `make system-deps` installs it (Debian, as root)")
    if os.geteuid() != 0:
        pytest.skip("buildah --isolation chroot and mmdebstrap --mode=root need root")
    try:
        result = image_build.build(ROOT, engine=image_build.Engine("buildah"))
    except image_build.BuildError as exc:
        if "mmdebstrap is missing" in str(exc):
            pytest.skip(str(exc))
        raise
    print(f"image {result.image}: {result.size_bytes} bytes, built in {result.seconds} s")
    return result


@pytest.fixture(scope="session")
def config(built: image_build.Built) -> dict[str, Any]:
    return image_config(built.image)


@pytest.fixture(scope="module")
def container(built: image_build.Built) -> Iterator[WorkingContainer]:
    working = WorkingContainer(built.image)
    try:
        yield working
    finally:
        working.remove()


class TestTheBuild:
    def test_an_unchanged_tree_reuses_the_image(self, built: image_build.Built) -> None:
        again = image_build.build(ROOT, engine=image_build.Engine("buildah"))
        assert again.cached
        assert again.image_id == built.image_id

    def test_the_image_is_tagged_with_the_name_deploy_image_gives_it(
        self, built: image_build.Built
    ) -> None:
        assert built.cluster_name == image_name.reference(ROOT)
        assert image_build.Engine("buildah").image_id(built.cluster_name) == built.image_id

    def test_the_size_is_reported_and_modest(
        self, built: image_build.Built, record_property: Any
    ) -> None:
        record_property("image_size_bytes", built.size_bytes)
        assert built.size_bytes == image_build.Engine("buildah").size(built.image)
        assert 50 * 2**20 < built.size_bytes < 400 * 2**20


class TestTheConfig:
    def test_runs_as_uid_1001_group_0(self, config: dict[str, Any]) -> None:
        assert config["User"] == "1001:0"

    def test_runs_the_operator_by_default(self, config: dict[str, Any]) -> None:
        assert config["Entrypoint"] == ["quay-bridge"]
        assert config["Cmd"] == ["run"]
        assert config["WorkingDir"] == "/tmp"
        env = dict(e.split("=", 1) for e in config["Env"])
        assert env["PATH"].startswith("/opt/quay-bridge/bin:")
        assert env["HOME"] == "/tmp"
        assert env["USER"] == "quay-bridge"  # UID 1001 (or OpenShift's) has no passwd entry

    def test_exposes_the_webhook_and_metrics_ports(self, config: dict[str, Any]) -> None:
        assert set(config["ExposedPorts"]) == {"9443/tcp", "8080/tcp"}

    def test_labels_name_the_project_version_and_base(
        self, config: dict[str, Any], built: image_build.Built
    ) -> None:
        labels = config["Labels"]
        assert labels["org.opencontainers.image.title"] == "quay-bridge"
        assert labels["org.opencontainers.image.version"] == VERSION
        assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
        assert labels["org.opencontainers.image.base.name"] == built.base
        assert len(labels[image_build.INPUTS_LABEL]) == 64


class TestTheContents:
    def test_no_build_tool_or_compiler_is_in_the_path(
        self, container: WorkingContainer, config: dict[str, Any]
    ) -> None:
        env = dict(e.split("=", 1) for e in config["Env"])
        found = [
            f"{directory}/{tool}"
            for directory in env["PATH"].split(":")
            for tool in BUILD_TOOLS
            if (container.root / directory.lstrip("/") / tool).exists()
        ]
        assert found == []

    def test_no_compiler_package_or_python_headers_are_installed(
        self, container: WorkingContainer
    ) -> None:
        status = (container.root / "var/lib/dpkg/status").read_text()
        packages = {
            line.split(":", 1)[1].strip()
            for line in status.splitlines()
            if line.startswith("Package:")
        }
        assert packages
        assert packages & {"gcc", "gcc-12", "cpp", "binutils", "make", "libc6-dev"} == set()
        assert not list(container.root.glob("usr/include/python3*/Python.h"))
        assert not list(container.root.glob("usr/local/include/python3*/Python.h"))

    def test_the_environment_holds_the_project_without_its_build_leftovers(
        self, container: WorkingContainer
    ) -> None:
        site = next(container.root.glob("opt/quay-bridge/lib/python3.11/site-packages"))
        assert (site / "bridge" / "__init__.py").exists()
        assert (site / "crds" / "quayintegration.yaml").exists()
        assert not (site / "pip").exists()
        assert not (container.root / "src").exists()
        assert not (container.root / "wheels").exists()


class TestCommandsRunAsTheDeploymentRunsThem:
    def test_quay_bridge_prints_its_version(
        self, container: WorkingContainer, config: dict[str, Any]
    ) -> None:
        result = container.run([*config["Entrypoint"], "--version"])
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"quay-bridge {VERSION}"

    def test_quay_registry_prints_its_version(self, container: WorkingContainer) -> None:
        result = container.run(["quay-registry", "--version"])
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"quay-registry {VERSION}"

    def test_quay_bridge_run_explains_its_options(
        self, container: WorkingContainer, config: dict[str, Any]
    ) -> None:
        result = container.run([*config["Entrypoint"], *config["Cmd"], "--help"])
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("usage: quay-bridge run")
        for option in ("--kubeconfig", "--cert-dir", "--metrics-port", "--peering"):
            assert option in result.stdout

    def test_the_commands_run_as_1001_on_a_read_only_image_with_a_writable_tmp(
        self, container: WorkingContainer
    ) -> None:
        probe = (
            "import os\n"
            "print(os.getuid(), os.getgid())\n"
            "for path in ('/opt/quay-bridge/x', '/etc/x', '/usr/x', '/x'):\n"
            "    try:\n"
            "        open(path, 'w').close()\n"
            "        print('wrote', path)\n"
            "    except OSError as exc:\n"
            "        print('refused', path, exc.strerror)\n"
            "open('/tmp/x', 'w').close()\n"
            "print('tmp ok')\n"
        )
        result = container.run(["python3.11", "-c", probe])
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0] == "1001 0"
        assert [line.split()[:2] for line in lines[1:5]] == [
            ["refused", "/opt/quay-bridge/x"],
            ["refused", "/etc/x"],
            ["refused", "/usr/x"],
            ["refused", "/x"],
        ]
        assert "Read-only file system" in lines[1]
        assert lines[5] == "tmp ok"


def _skopeo(*args: str, home: Path) -> str:
    result = subprocess.run(
        ["skopeo", "--insecure-policy", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"skopeo {args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _robot_with_write_access(quay: RegistryServer, org: str, repo: str) -> tuple[str, str]:
    """Make ``org``, a private ``org/repo`` and a robot that may push to it (Quay API)."""
    api = f"{quay.url}/api/v1"
    headers = quay.headers()
    steps = [
        ("POST", f"{api}/organization/", {"name": org, "email": f"{org}@example.com"}),
        ("PUT", f"{api}/organization/{org}/robots/pusher", {"description": "image tests"}),
        (
            "POST",
            f"{api}/repository",
            {"namespace": org, "repository": repo, "visibility": "private", "description": ""},
        ),
        ("PUT", f"{api}/repository/{org}/{repo}/permissions/user/{org}+pusher", {"role": "write"}),
    ]
    token = ""
    for method, url, body in steps:
        response = requests.request(method, url, json=body, headers=headers, timeout=10)
        assert response.status_code in (200, 201), f"{method} {url}: {response.text}"
        if "/robots/" in url:
            token = response.json()["token"]
    return f"{org}+pusher", token


@pytest.mark.skopeo
@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
def test_a_robot_pushes_the_image_to_the_registry_core_and_pulls_it_back_unchanged(
    built: image_build.Built, tmp_path: Path
) -> None:
    with registry_server() as quay:
        robot, token = _robot_with_write_access(quay, "packaging", "quay-bridge")
        creds = f"{robot}:{token}"
        remote = f"docker://{quay.host}/packaging/quay-bridge:{VERSION}"
        pushed, pulled = tmp_path / "pushed.digest", tmp_path / "pulled.digest"
        _skopeo(
            "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", creds,
            "--digestfile", str(pushed), f"containers-storage:{built.image}", remote,
            home=tmp_path,
        )  # fmt: skip
        layout = tmp_path / "layout"
        _skopeo(
            "copy", "--quiet", "--src-tls-verify=false", "--src-creds", creds,
            "--digestfile", str(pulled), remote, f"oci:{layout}:{VERSION}",
            home=tmp_path,
        )  # fmt: skip
        assert pulled.read_text() == pushed.read_text()
        (entry,) = json.loads((layout / "index.json").read_text())["manifests"]
        assert entry["digest"] == pushed.read_text()
        manifest = json.loads(
            (layout / "blobs" / "sha256" / entry["digest"].split(":")[1]).read_text()
        )
        assert manifest["config"]["digest"] == f"sha256:{built.image_id}"
        raw = _skopeo(
            "inspect", "--raw", "--tls-verify=false", "--creds", creds, remote, home=tmp_path
        )
        assert json.loads(raw) == manifest
        anonymous = subprocess.run(
            ["skopeo", "inspect", "--raw", "--tls-verify=false", "--no-creds", remote],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={"HOME": str(tmp_path), "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
        assert anonymous.returncode != 0  # the repository is private


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop the ``buildah run`` process group this test started (SIGTERM, then SIGKILL)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def test_the_operator_runs_from_the_image_and_provisions_a_namespace(
    built: image_build.Built, config: dict[str, Any], tmp_path: Path
) -> None:
    """As the demo: a QuayIntegration, a new project, and Quay gets its organization and robots."""
    quay = RegistryServer.start()
    sim = start_sim()
    container = WorkingContainer(built.image)
    log_path = tmp_path / "operator.log"
    process: subprocess.Popen[bytes] | None = None
    try:
        kube = tmp_path / "kube"
        kube.mkdir()
        shutil.copy(sim.kubeconfig, kube / "kubeconfig")
        (kube / "kubeconfig").chmod(0o644)
        kube.chmod(0o755)
        port = free_port()
        argv = container.command(
            [
                *config["Entrypoint"], "run", "--no-webhook", "--standalone",
                "--kubeconfig", "/kube/kubeconfig",
                "--metrics-host", "127.0.0.1", "--metrics-port", str(port),
            ],
            volumes=[(kube, "/kube")],
        )  # fmt: skip
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

        def ready() -> bool:
            assert process is not None
            if process.poll() is not None:
                raise AssertionError(f"the operator exited:\n{log_path.read_text()[-3000:]}")
            try:
                return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).ok
            except requests.ConnectionError:
                return False

        wait_until(ready, timeout=90)
        cluster = Cluster(sim)
        cluster.install_crd()
        cluster.secret("openshift-operators", "quay-token", {"token": quay.token})
        cluster.integration("image", quay.url)
        cluster.new_project("image-demo")

        def organization() -> bool:
            url = f"{quay.url}/api/v1/organization/openshift_image-demo"
            return requests.get(url, headers=quay.headers(), timeout=5).status_code == 200

        wait_until(organization, timeout=60)
        for sa in ("builder", "default", "deployer"):
            linked = functools.partial(cluster.linked, "image-demo", sa, f"{sa}-quay-openshift")
            wait_until(linked, timeout=60)
        login = cluster.robot_login("image-demo", "builder-quay-openshift", quay.host)
        assert login is not None and login[0] == "openshift_image-demo+builder"
        auth = base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()
        # The robot's credentials the operator wrote are accepted by the registry's token service.
        token_url = f"{quay.url}/v2/auth?service={quay.host}"
        assert requests.get(token_url, headers={"Authorization": f"Basic {auth}"}, timeout=5).ok
    finally:
        if process is not None:
            _stop_group(process)
        print(log_path.read_text(errors="replace")[-3000:] if log_path.exists() else "")
        container.remove()
        sim.stop()
        quay.stop()
