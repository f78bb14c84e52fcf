"""Record the differential cases' answers from a real kube-apiserver.

The simulator is held to what kube-apiserver answers: this script runs every case of
``tests/sim/differential/cases.py`` against a real server and writes the answers (status, reason,
message, chosen fields, warnings, tables, watch events; normalized) to
``tests/sim/differential/recorded/kube-apiserver.json``, which is committed and replayed against
the simulator by ``tests/sim/differential/test_replay.py``.

Two ways to reach a server::

    python -m tools.record_differential --kubeconfig ~/.kube/config   # any server, its credentials
    python -m tools.record_differential --start DIR                   # DIR holds kube-apiserver

With ``--start``, the script runs a throw-away control plane on loopback only: Debian's ``etcd``
with its data in a temporary directory, and ``DIR/kube-apiserver`` serving TLS with a certificate
made here (``cryptography``), a bearer token from a token file and ``AlwaysAllow`` authorization.
No controller manager runs; the cases stay within what the API server itself answers. Everything
is stopped and removed at the end.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import ipaddress
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.sim.differential.cases import all_cases
from tests.sim.differential.runner import Target, run_all

RECORD = Path(__file__).resolve().parents[1] / "tests/sim/differential/recorded/kube-apiserver.json"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def target_from_kubeconfig(path: Path, workdir: Path) -> Target:
    """Return the target of a kubeconfig's current context (token or client certificate)."""
    config = yaml.safe_load(path.read_text())
    context_name = config.get("current-context")
    context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in config["users"] if u["name"] == context["user"])

    def materialize(data_key: str, file_key: str, source: dict[str, Any]) -> str | None:
        if source.get(data_key):
            out = workdir / data_key
            out.write_bytes(base64.b64decode(source[data_key]))
            return str(out)
        value = source.get(file_key)
        return str(value) if value else None

    ca = materialize("certificate-authority-data", "certificate-authority", cluster)
    cert = materialize("client-certificate-data", "client-certificate", user)
    key = materialize("client-key-data", "client-key", user)
    verify: str | bool = ca if ca else not cluster.get("insecure-skip-tls-verify", False)
    return Target(
        str(cluster["server"]).rstrip("/"),
        token=user.get("token"),
        ca=verify,
        cert=(cert, key) if cert and key else None,
    )


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def make_certificates(directory: Path) -> dict[str, Path]:
    """Write a CA, a serving certificate for 127.0.0.1 and a service-account key pair."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "differential-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = _key()
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    sa_key = _key()
    files = {
        "ca": directory / "ca.crt",
        "cert": directory / "server.crt",
        "key": directory / "server.key",
        "sa_key": directory / "sa.key",
        "sa_pub": directory / "sa.pub",
    }
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(_pem_key(server_key))
    files["sa_key"].write_bytes(_pem_key(sa_key))
    files["sa_pub"].write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return files


@contextmanager
def control_plane(bindir: Path) -> Iterator[Target]:
    """Run etcd and kube-apiserver on loopback; yield a target with an admin token."""
    etcd = shutil.which("etcd")
    apiserver = bindir / "kube-apiserver"
    if etcd is None:
        raise SystemExit("etcd is not installed (Debian: apt-get install etcd-server)")
    if not apiserver.exists():
        raise SystemExit(f"{apiserver} does not exist")
    work = Path(tempfile.mkdtemp(prefix="differential-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        files = make_certificates(work)
        token = secrets.token_hex(16)
        (work / "tokens.csv").write_text(f'{token},admin,admin,"system:masters"\n')
        client, peer, secure = _free_port(), _free_port(), _free_port()
        logs = work / "logs"
        logs.mkdir()
        processes.append(
            subprocess.Popen(
                [
                    etcd,
                    "--data-dir",
                    str(work / "etcd"),
                    "--listen-client-urls",
                    f"http://127.0.0.1:{client}",
                    "--advertise-client-urls",
                    f"http://127.0.0.1:{client}",
                    "--listen-peer-urls",
                    f"http://127.0.0.1:{peer}",
                    "--initial-advertise-peer-urls",
                    f"http://127.0.0.1:{peer}",
                    "--initial-cluster",
                    f"default=http://127.0.0.1:{peer}",
                ],
                stdout=(logs / "etcd.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        )
        processes.append(
            subprocess.Popen(
                [
                    str(apiserver),
                    "--etcd-servers",
                    f"http://127.0.0.1:{client}",
                    "--bind-address",
                    "127.0.0.1",
                    "--advertise-address",
                    "127.0.0.1",
                    "--secure-port",
                    str(secure),
                    "--tls-cert-file",
                    str(files["cert"]),
                    "--tls-private-key-file",
                    str(files["key"]),
                    "--client-ca-file",
                    str(files["ca"]),
                    "--token-auth-file",
                    str(work / "tokens.csv"),
                    "--authorization-mode",
                    "AlwaysAllow",
                    "--service-account-issuer",
                    "https://kubernetes.default.svc",
                    "--service-account-key-file",
                    str(files["sa_pub"]),
                    "--service-account-signing-key-file",
                    str(files["sa_key"]),
                    "--service-cluster-ip-range",
                    "10.96.0.0/24",
                    "--cert-dir",
                    str(work / "certs"),
                ],
                stdout=(logs / "kube-apiserver.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        )
        target = Target(f"https://127.0.0.1:{secure}", token=token, ca=str(files["ca"]))
        deadline = time.monotonic() + 180
        ready = ""
        while True:
            try:
                answer = target.session.get(target.url + "/readyz?verbose", timeout=5)
                ready = answer.text
                if answer.status_code == 200:
                    break
            except requests.RequestException as exc:
                ready = str(exc)
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                tail = (logs / "kube-apiserver.log").read_text()[-2000:]
                raise SystemExit(f"kube-apiserver did not become ready:\n{ready}\n{tail}")
            time.sleep(0.5)
        yield target
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(work, ignore_errors=True)


def record(target: Target, out: Path) -> dict[str, Any]:
    """Run every case against ``target`` and write the record to ``out``."""
    version = target.session.get(target.url + "/version", timeout=10).json()
    cases = {case.id: outcomes for case, outcomes in run_all(target, all_cases())}
    doc = {
        "server": version.get("gitVersion"),
        "recorded": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cases": cases,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return doc


def main(argv: list[str] | None = None) -> int:
    """Record against the given server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--kubeconfig", type=Path, help="record against this kubeconfig's server")
    where.add_argument("--start", type=Path, metavar="DIR", help="run DIR/kube-apiserver + etcd")
    parser.add_argument("--out", type=Path, default=RECORD)
    args = parser.parse_args(argv)
    if args.kubeconfig:
        with tempfile.TemporaryDirectory() as tmp:
            doc = record(target_from_kubeconfig(args.kubeconfig, Path(tmp)), args.out)
    else:
        with control_plane(args.start) as target:
            doc = record(target, args.out)
    print(f"recorded {len(doc['cases'])} cases from {doc['server']} into {args.out}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
