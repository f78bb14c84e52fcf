"""The registry core in FIPS mode reaches no non-approved primitive; switching to it loses nothing.

Each server runs with ``audit/`` on its ``PYTHONPATH``: its ``sitecustomize`` records every call of
the hashing, HMAC, key generation and sealing entry points (see that module). The same session of
calls (first user, organization, robot, repository, OAuth token, a skopeo push with the robot and
a pull with the user's password) runs with FIPS off as a control (the records then show scrypt and
Fernet, so the hooks see what they claim to) and with FIPS on, where no record may be non-approved
and the approved replacements (PBKDF2-HMAC-SHA256, AES-GCM) must appear.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.registry import RegistryServer, registry_server
from tests.registry.oci.images import make_image, write_layout

AUDIT_DIR = Path(__file__).parent / "audit"

pytestmark = [
    pytest.mark.skopeo,
    pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed"),
]


def audited(log: Path) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(AUDIT_DIR), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "QUAY_CRYPTO_AUDIT": str(log)}


def records(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def skopeo(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (home / "registries.conf").touch()
    return subprocess.run(
        ["skopeo", "--insecure-policy", "--registries-conf", str(home / "registries.conf"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
    )


def token_with_password(quay: RegistryServer) -> requests.Response:
    return requests.get(
        f"{quay.url}/v2/auth",
        params={"service": quay.host, "scope": "repository:team/app:pull"},
        auth=(quay.username, quay.password),
        timeout=30,
    )


def exercise(quay: RegistryServer, tmp_path: Path) -> str:
    """Every credential path once; return the robot's token."""
    api, base = quay.headers(), f"{quay.url}/api/v1"
    assert requests.post(f"{base}/organization/", json={"name": "team"}, headers=api).ok
    robot = requests.put(f"{base}/organization/team/robots/builder", headers=api).json()
    repo = {"namespace": "team", "repository": "app", "visibility": "private", "description": ""}
    assert requests.post(f"{base}/repository", json=repo, headers=api).status_code == 201
    write = {"role": "write"}
    assert requests.put(
        f"{base}/repository/team/app/permissions/user/team+builder", json=write, headers=api
    ).ok
    again = requests.get(f"{base}/organization/team/robots/builder", headers=api).json()
    assert again["token"] == robot["token"]
    layout = tmp_path / "layout"
    write_layout(layout, make_image("fips\n"), "v1")
    pushed = skopeo(tmp_path, "copy", "--dest-tls-verify=false", "--dest-creds",
                    f"team+builder:{robot['token']}", f"oci:{layout}:v1",
                    f"docker://{quay.host}/team/app:v1")  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr
    user = f"{quay.username}:{quay.password}"
    pulled = skopeo(tmp_path, "inspect", "--tls-verify=false", "--creds", user,
                    f"docker://{quay.host}/team/app:v1")  # fmt: skip
    assert pulled.returncode == 0, pulled.stderr
    assert token_with_password(quay).status_code == 200
    return str(robot["token"])


def fips_server(tmp_path: Path, log: Path, *args: str, **kwargs: Any) -> RegistryServer:
    return RegistryServer.start(extra_args=args, env=audited(log), **kwargs)


def primitives(found: Sequence[dict[str, Any]], approved: bool) -> set[str]:
    return {r["primitive"] for r in found if r["approved"] is approved}


def test_the_hooks_see_scrypt_and_fernet_when_fips_is_off(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with registry_server(env=audited(log)) as quay:
        exercise(quay, tmp_path)
    found = records(log)
    assert {"hashlib.scrypt", "fernet.encrypt"} <= primitives(found, approved=False)


def test_fips_mode_reaches_only_approved_primitives(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    quay = fips_server(tmp_path, log, "--fips")
    try:
        exercise(quay, tmp_path)
    finally:
        quay.stop()
    found = records(log)
    assert primitives(found, approved=False) == set()
    assert {"pbkdf2_hmac:sha256", "aesgcm.encrypt", "aesgcm.decrypt", "hmac:sha256",
            "rsa-2048", "hashlib.sha256"} <= primitives(found, approved=True)  # fmt: skip


def test_switching_fips_on_keeps_tokens_and_robots_and_refuses_scrypt_passwords(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    with registry_server(data_dir=data) as before:
        robot_token = exercise(before, tmp_path / "one")
        token, user, password = before.token, before.username, before.password
    log = tmp_path / "audit.jsonl"
    with registry_server(data_dir=data, initialize=False, extra_args=["--fips"],
                         env=audited(log)) as after:  # fmt: skip
        after.token, after.username, after.password = token, user, password
        api = after.headers()
        robot = requests.get(f"{after.url}/api/v1/organization/team/robots/builder", headers=api)
        assert robot.status_code == 200 and robot.json()["token"] == robot_token
        robot_login = requests.get(
            f"{after.url}/v2/auth",
            params={"service": after.host, "scope": "repository:team/app:pull"},
            auth=("team+builder", robot_token),
            timeout=30,
        )
        assert robot_login.status_code == 200
        assert token_with_password(after).status_code == 401
    server_log = (data / "server.log").read_text()
    assert "1 user(s) have scrypt password hashes" in server_log
    assert f"user {user} has a scrypt password hash" in server_log
    assert primitives(records(log), approved=False) == set()


def test_pbkdf2_before_the_switch_migrates_passwords_at_the_next_login(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = tmp_path / "config.yaml"
    with registry_server(data_dir=data) as scrypt_era:
        token, user, password = scrypt_era.token, scrypt_era.username, scrypt_era.password
    config.write_text("PASSWORD_HASH_ALGORITHM: pbkdf2_sha256\n")
    with registry_server(data_dir=data, initialize=False,
                         extra_args=["--config", str(config)]) as migrating:  # fmt: skip
        migrating.username, migrating.password = user, password
        assert token_with_password(migrating).status_code == 200  # checked with scrypt, rehashed
    config.write_text("FEATURE_FIPS: true\n")
    log = tmp_path / "audit.jsonl"
    with registry_server(data_dir=data, initialize=False, extra_args=["--config", str(config)],
                         env=audited(log)) as fips:  # fmt: skip
        fips.token, fips.username, fips.password = token, user, password
        assert token_with_password(fips).status_code == 200
    assert primitives(records(log), approved=False) == set()
    assert "pbkdf2_hmac:sha256" in primitives(records(log), approved=True)


def serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "quay-registry"), "serve", "--port", "0",
         "--data-dir", str(tmp_path / "data"), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("FEATURE_FIPS: true\nPASSWORD_HASH_ALGORITHM: scrypt\n", "is not FIPS-approved"),
        ("FEATURE_FIPS: yes please\n", "FEATURE_FIPS must be true or false"),
        ("FEATURE_FIPS: true\nDB_URI: x\n", "unsupported setting(s) DB_URI"),
        ("PASSWORD_HASH_ALGORITHM: md5\n", "is not one of scrypt, pbkdf2_sha256"),
    ],
)
def test_a_config_fips_mode_forbids_or_cannot_read_stops_the_start(
    tmp_path: Path, config: str, expected: str
) -> None:
    (tmp_path / "config.yaml").write_text(config)
    result = serve(tmp_path, "--config", str(tmp_path / "config.yaml"))
    assert result.returncode == 2
    assert expected in result.stderr


def test_a_short_rsa_signing_key_stops_a_fips_start_and_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "data" / "oci-signing-key.pem").write_bytes(pem)
    result = serve(tmp_path, "--fips")
    assert result.returncode == 2
    assert "RSA key of 1024 bits; FIPS mode needs at least 2048" in result.stderr
    assert "move it away and start again" in result.stderr
