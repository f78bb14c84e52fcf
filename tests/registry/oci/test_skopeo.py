"""A real OCI client: skopeo copies a test-built image into the registry core and back out.

Plain HTTP on loopback (`--*-tls-verify=false`), credentials as the bridge hands them out: a robot's
full name and token. Skipped only when the skopeo binary is missing.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from devstack.registry import registry_server
from tests.registry.oci.images import digest_of, make_image, write_layout
from tests.registry.oci.registry_fixture import Registry

pytestmark = [
    pytest.mark.skopeo,
    pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed"),
]


async def _skopeo(tmp_path: Path, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "skopeo",
        "--insecure-policy",
        "--registries-conf",
        str(tmp_path / "registries.conf"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, output.decode(errors="replace")


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    (tmp_path / "registries.conf").write_text("")
    directory = tmp_path / "layout"
    write_layout(directory, make_image(), "v1")
    return directory


def _index_digest(layout: Path) -> str:
    return str(json.loads((layout / "index.json").read_text())["manifests"][0]["digest"])


async def test_a_write_robot_pushes_an_image_and_pulls_it_back_with_the_same_digests(
    registry: Registry, layout: Path, tmp_path: Path
) -> None:
    robot = "acme+writer"
    creds = f"{robot}:{registry.robots[robot]}"
    code, output = await _skopeo(
        tmp_path,
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        creds,
        f"oci:{layout}:v1",
        f"docker://{registry.host}/acme/app:v1",
    )
    assert code == 0, output
    pulled = tmp_path / "pulled"
    code, output = await _skopeo(
        tmp_path,
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        creds,
        f"docker://{registry.host}/acme/app:v1",
        f"oci:{pulled}:v1",
    )
    assert code == 0, output
    assert _index_digest(pulled) == _index_digest(layout)
    for blob in (layout / "blobs" / "sha256").iterdir():
        copied = pulled / "blobs" / "sha256" / blob.name
        assert digest_of(copied.read_bytes()) == f"sha256:{blob.name}"
    code, output = await _skopeo(
        tmp_path,
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        creds,
        f"docker://{registry.host}/acme/app:v1",
    )
    assert code == 0, output
    assert digest_of(output.encode()) == _index_digest(layout)


async def test_a_read_robot_cannot_push(registry: Registry, layout: Path, tmp_path: Path) -> None:
    robot = "acme+reader"
    code, output = await _skopeo(
        tmp_path,
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        f"{robot}:{registry.robots[robot]}",
        f"oci:{layout}:v1",
        f"docker://{registry.host}/acme/app:v1",
    )
    assert code != 0
    assert "unauthorized" in output.lower() or "denied" in output.lower(), output


async def test_a_wrong_password_is_refused(
    registry: Registry, layout: Path, tmp_path: Path
) -> None:
    code, output = await _skopeo(
        tmp_path,
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        "acme+writer:WRONG",
        f"oci:{layout}:v1",
        f"docker://{registry.host}/acme/app:v1",
    )
    assert code != 0
    assert "Could not find robot with username: acme+writer" in output, output


async def test_an_anonymous_pull_of_a_private_repository_is_refused(
    registry: Registry, layout: Path, tmp_path: Path
) -> None:
    robot = "acme+writer"
    code, output = await _skopeo(
        tmp_path,
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        f"{robot}:{registry.robots[robot]}",
        f"oci:{layout}:v1",
        f"docker://{registry.host}/acme/app:v1",
    )
    assert code == 0, output
    code, output = await _skopeo(
        tmp_path,
        "copy",
        "--src-tls-verify=false",
        "--src-no-creds",
        f"docker://{registry.host}/acme/app:v1",
        f"oci:{tmp_path / 'anon'}:v1",
    )
    assert code != 0
    assert "unauthorized" in output.lower() or "denied" in output.lower(), output


async def test_a_docker_schema2_image_round_trips_too(
    registry: Registry, layout: Path, tmp_path: Path
) -> None:
    robot = "acme+writer"
    creds = f"{robot}:{registry.robots[robot]}"
    target = f"docker://{registry.host}/acme/app:docker"
    code, output = await _skopeo(
        tmp_path, "copy", "--format", "v2s2", "--dest-tls-verify=false", "--dest-creds", creds,
        f"oci:{layout}:v1", target,
    )  # fmt: skip
    assert code == 0, output
    code, raw = await _skopeo(
        tmp_path, "inspect", "--raw", "--tls-verify=false", "--creds", creds, target
    )
    assert code == 0, raw
    assert json.loads(raw)["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    code, output = await _skopeo(
        tmp_path, "copy", "--src-tls-verify=false", "--src-creds", creds,
        target, f"dir:{tmp_path / 'docker-out'}",
    )  # fmt: skip
    assert code == 0, output
    assert (tmp_path / "docker-out" / "manifest.json").read_bytes() == raw.encode()


def test_a_robot_made_through_the_quay_api_pushes_as_the_bridge_sets_it_up(
    layout: Path, tmp_path: Path
) -> None:
    """The bridge's order: org, robot, write prototype, then the repository (prototype applies)."""
    with registry_server() as quay:
        api = quay.headers()
        base = f"{quay.url}/api/v1"
        assert requests.post(f"{base}/organization/", json={"name": "team"}, headers=api).ok
        robot = requests.put(f"{base}/organization/team/robots/builder", headers=api).json()
        prototype = {"role": "write", "delegate": {"name": "team+builder", "kind": "user",
                                                   "is_robot": True}}  # fmt: skip
        assert requests.post(f"{base}/organization/team/prototypes", json=prototype, headers=api).ok
        repo = {"namespace": "team", "repository": "httpd", "visibility": "private",
                "description": ""}  # fmt: skip
        assert requests.post(f"{base}/repository", json=repo, headers=api).status_code == 201
        creds = f"team+builder:{robot['token']}"
        result = subprocess.run(
            ["skopeo", "--insecure-policy", "--registries-conf", str(tmp_path / "registries.conf"),
             "copy", "--dest-tls-verify=false", "--dest-creds", creds,
             f"oci:{layout}:v1", f"docker://{quay.host}/team/httpd:latest"],
            capture_output=True, text=True, timeout=60, check=False,
            env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        tags = requests.get(f"{base}/repository/team/httpd/tag/", headers=api).json()["tags"]
    assert [tag["name"] for tag in tags] == ["latest"]
    assert tags[0]["manifest_digest"] == _index_digest(layout)
