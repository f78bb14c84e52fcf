"""A real Kubernetes control plane on loopback for tests and benchmarks.

Usage::

    from devstack.realapi import real_api

    with real_api() as kube:             # free ports, temp dir, RBAC on, ready when it returns
        kube.kubeconfig                  # admin (system:masters) kubeconfig, certificates embedded
        kube.kubectl("apply", "-k", "deploy/base")
        path = kube.service_account_kubeconfig("quay-bridge", "quay-bridge")   # token kubeconfig
        kube.request("GET", "/api/v1/namespaces").json()
        kube.restart_apiserver()         # same etcd, same certificates, same port

``start_real_api()`` does the same without ``with`` (call ``stop()``). ``kube_binaries()`` returns
the directory of kube-apiserver and kube-controller-manager, building them first with
``tools/kube/build.sh`` (once per machine, cached outside the source tree) and raising
:class:`KubeBinariesUnavailable` with the reason when they cannot be had; etcd is Debian's
``etcd-server`` (``make system-deps``).

Every certificate and key is made here, with the project's ``certs`` package (the CA and the API
server's serving certificate) and ``cryptography`` (client certificates, the ServiceAccount signing
key). The API server listens on 127.0.0.1 only, with RBAC and the default admission plugins (so
MutatingAdmissionWebhook and NamespaceLifecycle are real); kube-controller-manager runs the
namespace, ServiceAccount, token and garbage-collector controllers, so namespaces really terminate
and ``default`` ServiceAccounts appear.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes.client
import kubernetes.config
import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs.issuing import Issued, load_issued, make_ca, make_serving_cert
from devstack.ports import free_port
from devstack.processes import Process
from devstack.waiting import WaitTimeout, wait_until

ROOT = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = ROOT / "tools" / "kube" / "build.sh"
KUBECTL = str(Path(sys.executable).parent / "kubectl")
#: The controllers a test cluster needs: namespaces terminate, ServiceAccounts and their tokens
#: appear, owner references are collected.
CONTROLLERS = (
    "namespace-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "garbage-collector-controller",
)
START_TIMEOUT_SECONDS = 120.0


class KubeBinariesUnavailable(RuntimeError):
    """kube-apiserver, kube-controller-manager or etcd cannot be had on this machine (says why)."""


_built: Path | None = None


def kube_binaries() -> Path:
    """Return the directory of kube-apiserver and kube-controller-manager, built if missing.

    Raises:
        KubeBinariesUnavailable: no etcd on PATH, or the build failed (its output is in the
            message).
    """
    global _built
    if shutil.which("etcd") is None:
        raise KubeBinariesUnavailable(
            "etcd is not installed (Debian package etcd-server; `make system-deps` installs it)"
        )
    if _built is not None:
        return _built
    result = subprocess.run(
        ["sh", str(BUILD_SCRIPT)], capture_output=True, text=True, check=False, timeout=3600
    )
    if result.returncode != 0:
        raise KubeBinariesUnavailable(
            f"tools/kube/build.sh failed ({result.returncode}): {result.stderr[-2000:]}"
        )
    _built = Path(result.stdout.strip().splitlines()[-1])
    return _built


def _client_cert(ca: Issued, user: str, groups: Sequence[str] = ()) -> Issued:
    """A client certificate for ``user`` in ``groups`` (the API server reads CN and O)."""
    ca_cert, ca_key = load_issued(ca)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    subject = x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
        + [x509.NameAttribute(NameOID.COMMON_NAME, user)]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), key_pem)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def write_kubeconfig(path: Path, url: str, ca_pem: bytes, user: dict[str, str]) -> str:
    """Write a one-context kubeconfig for ``url`` with ``user`` (token or embedded client cert)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "real", "cluster": {"server": url, "certificate-authority-data": _b64(ca_pem)}}
        ],
        "users": [{"name": "user", "user": user}],
        "contexts": [{"name": "real", "context": {"cluster": "real", "user": "user"}}],
        "current-context": "real",
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    path.chmod(0o600)
    return str(path)


@dataclass
class RealApi:
    """A running etcd + kube-apiserver + kube-controller-manager and the files they use."""

    url: str
    #: an admin kubeconfig (user ``quay-bridge-admin`` in ``system:masters``)
    kubeconfig: str
    workdir: Path
    ca_path: Path
    admin_cert_path: Path
    admin_key_path: Path
    etcd: Process
    apiserver: Process
    controllers: Process
    _clients: list[kubernetes.client.ApiClient] = field(default_factory=list)

    @property
    def audit_log(self) -> Path:
        """The API server's audit log (JSON lines; written only when started with ``audit``)."""
        return self.workdir / "audit.log"

    # -- requests ---------------------------------------------------------------------------
    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """An HTTP request to the API server as the admin (``kwargs`` go to ``requests``)."""
        kwargs.setdefault("timeout", 30)
        return requests.request(
            method,
            self.url + path,
            cert=(str(self.admin_cert_path), str(self.admin_key_path)),
            verify=str(self.ca_path),
            **kwargs,
        )

    def api_client(self, kubeconfig: str | None = None) -> kubernetes.client.ApiClient:
        """An official ``kubernetes`` client for ``kubeconfig`` (the admin's by default)."""
        client: kubernetes.client.ApiClient = kubernetes.config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig or self.kubeconfig
        )
        self._clients.append(client)
        return client

    def kubectl(
        self,
        *args: str,
        kubeconfig: str | None = None,
        input: str | None = None,
        check: bool = True,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """Run the project's kubectl against this server; ``check`` raises with its stderr."""
        result = subprocess.run(
            [KUBECTL, "--kubeconfig", kubeconfig or self.kubeconfig, *args],
            capture_output=True,
            text=True,
            input=input,
            cwd=ROOT,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    def service_account_kubeconfig(
        self, namespace: str, name: str, *, seconds: int = 7200, path: Path | None = None
    ) -> str:
        """Write a kubeconfig that acts as ServiceAccount ``namespace/name`` (a TokenRequest token).

        The ServiceAccount must exist; RBAC then grants exactly what its bindings say.
        """
        response = self.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            json={
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": seconds},
            },
        )
        if response.status_code != 201:
            raise RuntimeError(f"TokenRequest for {namespace}/{name}: {response.text}")
        token = response.json()["status"]["token"]
        target = path or self.workdir / f"kubeconfig-{namespace}-{name}"
        return write_kubeconfig(target, self.url, self.ca_path.read_bytes(), {"token": token})

    # -- lifecycle --------------------------------------------------------------------------
    def wait_ready(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Wait for ``/readyz``; start the controllers if they are not running; wait for them.

        kube-controller-manager gives up if the API server is not healthy soon enough (on a busy
        machine its RBAC bootstrap can take a while), so it is started only once ``/readyz``
        answers. The controllers are ready when they have made ``default/default``.
        """
        deadline = time.monotonic() + timeout
        self._wait(deadline, "/readyz", lambda: self._status("/readyz") == 200)
        if not self.controllers.running():
            self.controllers.start()
        self._wait(
            deadline,
            "the default ServiceAccount",
            lambda: self._status("/api/v1/namespaces/default/serviceaccounts/default") == 200,
        )

    def _status(self, path: str) -> int:
        try:
            return self.request("GET", path, timeout=2).status_code
        except requests.RequestException:
            return 0

    def _wait(self, deadline: float, what: str, done: Callable[[], bool]) -> None:
        def ready() -> bool:
            for process in (self.etcd, self.apiserver, self.controllers):
                process.check()
            return done()

        try:
            wait_until(ready, max(deadline - time.monotonic(), 0), what, interval=0.1)
        except WaitTimeout as error:
            raise TimeoutError(
                f"real API server: {error}:\n{self.apiserver.log_tail(40)}"
            ) from None

    def restart_apiserver(self, *, down_seconds: float = 0.0) -> None:
        """Stop kube-apiserver, wait ``down_seconds``, start it again on the same port and data."""
        self.apiserver.stop()
        time.sleep(down_seconds)
        self.apiserver.start()
        self.wait_ready()

    def stop(self) -> None:
        """Stop the three processes (controllers first) and remove the working directory."""
        for client in self._clients:
            client.close()  # type: ignore[no-untyped-call]
        self._clients.clear()
        for process in (self.controllers, self.apiserver, self.etcd):
            process.stop()
        _remove(self.workdir)


def _etcd_data_dir(workdir: Path) -> Path:
    """Return etcd's data directory: in memory (/dev/shm) where possible (no durability needed).

    A link in ``workdir`` points at it, so removing ``workdir`` finds it.
    """
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        directory = Path(tempfile.mkdtemp(prefix="quay-bridge-etcd-", dir=shm))
        (workdir / "etcd").symlink_to(directory)
        return directory
    return workdir / "etcd"


def _audit_flags(workdir: Path, rules: dict[str, Any]) -> list[str]:
    policy = workdir / "audit-policy.yaml"
    policy.write_text(yaml.safe_dump(rules), encoding="utf-8")
    return [
        f"--audit-policy-file={policy}",
        f"--audit-log-path={workdir / 'audit.log'}",
        "--audit-log-format=json",
        "--audit-log-mode=blocking",
        "--audit-log-maxsize=0",
    ]


def _remove(workdir: Path) -> None:
    """Remove ``workdir`` and the in-memory etcd directory its ``etcd`` link points at."""
    link = workdir / "etcd"
    if link.is_symlink():
        shutil.rmtree(link.resolve(), ignore_errors=True)
    shutil.rmtree(workdir, ignore_errors=True)


def _write(path: Path, data: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path


#: An audit policy recording every write (who, which resource, the answer's code), for benchmarks
#: that count a client's writes the way the simulator's request log does.
WRITE_AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived", "ResponseStarted"],
    "rules": [
        {
            "level": "Metadata",
            "verbs": ["create", "update", "patch", "delete", "deletecollection"],
        },
        {"level": "None"},
    ],
}


def _policy(audit: bool | dict[str, Any]) -> dict[str, Any]:
    return audit if isinstance(audit, dict) else WRITE_AUDIT_POLICY


def start_real_api(
    *, timeout: float = START_TIMEOUT_SECONDS, audit: bool | dict[str, Any] = False
) -> RealApi:
    """Make certificates, start etcd, kube-apiserver and kube-controller-manager; return when ready.

    With ``audit`` the API server writes every write request to ``RealApi.audit_log`` (JSON lines,
    :data:`WRITE_AUDIT_POLICY`); an audit policy given as ``audit`` is used instead.

    Raises:
        KubeBinariesUnavailable: the binaries cannot be built or etcd is missing.
    """
    binaries = kube_binaries()
    workdir = Path(tempfile.mkdtemp(prefix="quay-bridge-realapi-"))
    try:
        return _start(binaries, workdir, timeout, audit)
    except BaseException:
        _remove(workdir)
        raise


def _start(binaries: Path, workdir: Path, timeout: float, audit: bool | dict[str, Any]) -> RealApi:
    ca = make_ca("quay-bridge test cluster CA")
    serving = make_serving_cert(
        ca, "kubernetes", "default", dns_names=["localhost"], ip_addresses=["127.0.0.1"]
    )
    admin = _client_cert(ca, "quay-bridge-admin", ["system:masters"])
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    files = {
        "ca.crt": ca.cert_pem,
        "serving.crt": serving.cert_pem,
        "serving.key": serving.key_pem,
        "admin.crt": admin.cert_pem,
        "admin.key": admin.key_pem,
        "sa.key": sa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        "sa.pub": sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    }
    paths = {name: _write(workdir / name, data) for name, data in files.items()}
    etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
    etcd_dir = _etcd_data_dir(workdir)
    etcd_url = f"http://127.0.0.1:{etcd_port}"
    url = f"https://127.0.0.1:{api_port}"
    kubeconfig = write_kubeconfig(
        workdir / "admin.kubeconfig",
        url,
        ca.cert_pem,
        {
            "client-certificate-data": _b64(admin.cert_pem),
            "client-key-data": _b64(admin.key_pem),
        },
    )
    etcd = Process(
        "etcd",
        [
            "etcd",
            "--name=test",
            f"--data-dir={etcd_dir}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-cluster=test=http://127.0.0.1:{peer_port}",
            "--log-level=warn",
        ],
        workdir / "etcd.log",
    )
    apiserver = Process(
        "kube-apiserver",
        [
            str(binaries / "kube-apiserver"),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={api_port}",
            f"--cert-dir={workdir / 'apiserver-certs'}",
            f"--tls-cert-file={paths['serving.crt']}",
            f"--tls-private-key-file={paths['serving.key']}",
            f"--client-ca-file={paths['ca.crt']}",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={paths['sa.pub']}",
            f"--service-account-signing-key-file={paths['sa.key']}",
            "--service-cluster-ip-range=10.96.0.0/24",
            "--endpoint-reconciler-type=none",
            "--allow-privileged=true",
            "--profiling=false",
            "--v=1",
            *(_audit_flags(workdir, _policy(audit)) if audit else []),
        ],
        workdir / "kube-apiserver.log",
        grace=3.0,
    )
    controllers = Process(
        "kube-controller-manager",
        [
            str(binaries / "kube-controller-manager"),
            f"--kubeconfig={kubeconfig}",
            f"--controllers={','.join(CONTROLLERS)}",
            f"--service-account-private-key-file={paths['sa.key']}",
            f"--root-ca-file={paths['ca.crt']}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            "--secure-port=0",
            "--profiling=false",
            "--v=1",
        ],
        workdir / "kube-controller-manager.log",
    )
    kube = RealApi(
        url=url,
        kubeconfig=kubeconfig,
        workdir=workdir,
        ca_path=paths["ca.crt"],
        admin_cert_path=paths["admin.crt"],
        admin_key_path=paths["admin.key"],
        etcd=etcd,
        apiserver=apiserver,
        controllers=controllers,
    )
    try:
        etcd.start()
        apiserver.start()
        kube.wait_ready(timeout)
    except BaseException:
        kube.stop()
        raise
    return kube


@contextmanager
def real_api(
    *, timeout: float = START_TIMEOUT_SECONDS, audit: bool | dict[str, Any] = False
) -> Iterator[RealApi]:
    """Run a real control plane for the duration of a ``with`` block (see the module docstring)."""
    kube = start_real_api(timeout=timeout, audit=audit)
    try:
        yield kube
    finally:
        with contextlib.suppress(Exception):
            kube.stop()


if __name__ == "__main__":  # pragma: no cover - a manual smoke run: python -m devstack.realapi
    with real_api() as running:
        print(running.kubectl("get", "namespaces").stdout)
        print("kubeconfig:", running.kubeconfig, "(Ctrl-C stops)")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    sys.exit(os.EX_OK)
