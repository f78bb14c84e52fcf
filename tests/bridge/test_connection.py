"""``bridge.kube.connection``: the operator's own kubeconfig and in-cluster loader.

Each supported form is loaded from a real file (or a service-account directory) and, where TLS is
involved, used against a real HTTPS server with certificates made by ``certs.issuing``, so the
checks are the ones the operator's client performs. The last tests start ``quay-bridge run``'s
import path to show the official client stays out of that process.
"""

from __future__ import annotations

import base64
import datetime
import os
import ssl
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bridge.kube import connection as connection_module
from bridge.kube.cluster import Cluster, KubeError
from bridge.kube.connection import Connection, KubeconfigError, load_connection
from bridge.metrics import Metrics
from certs.issuing import Issued, load_issued, make_ca, make_key, make_serving_cert

ROOT = Path(__file__).resolve().parents[2]


def kubeconfig(
    path: Path,
    *,
    cluster: dict[str, Any] | None = None,
    user: dict[str, Any] | None = None,
    current: str = "main",
    extra_contexts: dict[str, tuple[dict[str, Any], dict[str, Any]]] | None = None,
) -> Path:
    """Write a kubeconfig with a context ``main`` (and any ``extra_contexts``) to ``path``."""
    contexts = {"main": (cluster or {"server": "https://api.example:6443"}, user or {})}
    contexts.update(extra_contexts or {})
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": f"c-{n}", "cluster": c} for n, (c, _) in contexts.items()],
        "users": [{"name": f"u-{n}", "user": u} for n, (_, u) in contexts.items()],
        "contexts": [
            {"name": n, "context": {"cluster": f"c-{n}", "user": f"u-{n}"}} for n in contexts
        ],
        "current-context": current,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document))
    return path


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def client_certificate(ca: Issued, name: str = "system:serviceaccount:qb:operator") -> Issued:
    """A client-authentication certificate signed by ``ca``, as an API server's CA issues."""
    ca_cert, ca_key = load_issued(ca)
    key = make_key()
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), key_pem)


class TestKubeconfigCredentials:
    def test_a_token_becomes_a_bearer_header_that_no_repr_shows(self, tmp_path: Path) -> None:
        path = kubeconfig(tmp_path / "config", user={"token": "sha256~secret"})

        connection = load_connection(str(path))

        assert connection.server == "https://api.example:6443"
        assert connection.authorization() == "Bearer sha256~secret"
        assert "sha256~secret" not in repr(connection)
        assert str(path) in connection.source and "main" in connection.source

    def test_a_token_file_is_read_relative_to_the_kubeconfig_and_re_read_when_rotated(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        (tmp_path / "token").write_text("first\n")
        path = kubeconfig(tmp_path / "config", user={"tokenFile": "token"})
        connection = load_connection(str(path))
        assert connection.authorization() == "Bearer first"

        (tmp_path / "token").write_text("second\n")
        assert connection.authorization() == "Bearer first"  # within the re-read interval
        monkeypatch.setattr(connection_module, "TOKEN_REREAD_SECONDS", 0.0)
        assert connection.authorization() == "Bearer second"

        (tmp_path / "token").unlink()  # a rotation in progress keeps the last token
        assert connection.authorization() == "Bearer second"

    def test_an_unreadable_token_file_is_a_clear_error(self, tmp_path: Path) -> None:
        path = kubeconfig(tmp_path / "config", user={"tokenFile": "/nonexistent/token"})

        with pytest.raises(KubeconfigError, match="cannot read the token file /nonexistent"):
            load_connection(str(path)).authorization()

    def test_username_and_password_become_basic_authentication(self, tmp_path: Path) -> None:
        path = kubeconfig(tmp_path / "config", user={"username": "admin", "password": "pw"})

        connection = load_connection(str(path))

        assert connection.authorization() == "Basic " + b64(b"admin:pw")
        assert "pw" not in repr(connection).replace("password", "")

    @pytest.mark.parametrize(
        ("key", "value", "named"),
        [
            ("exec", {"command": "oc-plugin", "apiVersion": "v1"}, "credential plugin (exec)"),
            ("auth-provider", {"name": "oidc"}, "auth-provider"),
            ("as", "system:admin", "impersonation"),
        ],
        ids=["exec", "auth-provider", "impersonation"],
    )
    def test_unsupported_user_settings_are_named_with_what_to_use_instead(
        self, tmp_path: Path, key: str, value: Any, named: str
    ) -> None:
        path = kubeconfig(tmp_path / "config", user={key: value})

        with pytest.raises(KubeconfigError) as caught:
            load_connection(str(path))

        assert named in str(caught.value)
        assert "'u-main'" in str(caught.value) and "use a token" in str(caught.value)

    def test_a_proxy_is_refused_by_name(self, tmp_path: Path) -> None:
        cluster = {"server": "https://api.example:6443", "proxy-url": "http://proxy:3128"}
        path = kubeconfig(tmp_path / "config", cluster=cluster)

        with pytest.raises(KubeconfigError, match="proxy-url"):
            load_connection(str(path))


class TestKubeconfigSelection:
    def test_current_context_is_used_unless_a_context_is_given(self, tmp_path: Path) -> None:
        other = ({"server": "https://other.example:6443"}, {"token": "t2"})
        path = kubeconfig(tmp_path / "config", extra_contexts={"other": other})

        assert load_connection(str(path)).server == "https://api.example:6443"
        chosen = load_connection(str(path), context="other")
        assert chosen.server == "https://other.example:6443"
        assert chosen.authorization() == "Bearer t2"

    @pytest.mark.parametrize(
        ("document", "message"),
        [
            ("clusters: [\n  - name", "not valid YAML"),
            ("- just a list", "not a YAML map"),
            ("apiVersion: v1\nkind: Config\n", "no current-context; pass --context"),
            ("current-context: gone\n", "no context named 'gone'"),
        ],
        ids=["bad-yaml", "not-a-map", "no-current-context", "unknown-context"],
    )
    def test_broken_kubeconfigs_give_clear_errors(
        self, tmp_path: Path, document: str, message: str
    ) -> None:
        path = tmp_path / "config"
        path.write_text(document)

        with pytest.raises(KubeconfigError, match=message):
            load_connection(str(path))

    def test_a_context_naming_a_missing_user_is_an_error(self, tmp_path: Path) -> None:
        path = kubeconfig(tmp_path / "config")
        document = yaml.safe_load(path.read_text())
        document["users"] = []
        path.write_text(yaml.safe_dump(document))

        with pytest.raises(KubeconfigError, match="no known user"):
            load_connection(str(path))

    def test_a_server_that_is_not_a_url_is_an_error(self, tmp_path: Path) -> None:
        path = kubeconfig(tmp_path / "config", cluster={"server": "api.example:6443"})

        with pytest.raises(KubeconfigError, match="no http"):
            load_connection(str(path))

    def test_kubeconfig_files_are_merged_the_first_naming_an_entry_wins(
        self, tmp_path: Path
    ) -> None:
        first = kubeconfig(tmp_path / "a" / "config", user={"token": "from-a"})
        second = kubeconfig(
            tmp_path / "b" / "config",
            cluster={"server": "https://b.example"},
            user={"token": "from-b"},
            current="other",
        )
        env = {"KUBECONFIG": os.pathsep.join([str(tmp_path / "none"), str(first), str(second)])}

        connection = load_connection(environ=env)

        assert connection.server == "https://api.example:6443"
        assert connection.authorization() == "Bearer from-a"

    def test_the_default_kubeconfig_is_in_the_home_directory(self, tmp_path: Path) -> None:
        kubeconfig(tmp_path / ".kube" / "config", user={"token": "home"})

        assert load_connection(environ={"HOME": str(tmp_path)}).authorization() == "Bearer home"

    def test_nothing_to_connect_with_names_where_it_looked(self, tmp_path: Path) -> None:
        with pytest.raises(KubeconfigError, match=r"not in a cluster.*pass --kubeconfig"):
            load_connection(environ={"HOME": str(tmp_path)})


class TestInCluster:
    def service_account(self, tmp_path: Path, *, ca: bool = True) -> Path:
        directory = tmp_path / "serviceaccount"
        directory.mkdir()
        (directory / "token").write_text("pod-token")
        if ca:
            (directory / "ca.crt").write_bytes(make_ca().cert_pem)
        return directory

    def test_the_service_address_token_file_and_ca_are_used(self, tmp_path: Path) -> None:
        directory = self.service_account(tmp_path)
        env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}

        connection = load_connection(environ=env, service_account_dir=directory)

        assert connection.server == "https://10.0.0.1:443"
        assert connection.source == "in-cluster"
        assert connection.ca_path == str(directory / "ca.crt")
        assert connection.token_file == str(directory / "token")
        assert connection.authorization() == "Bearer pod-token"
        assert not connection.insecure

    def test_an_ipv6_service_address_is_bracketed(self, tmp_path: Path) -> None:
        directory = self.service_account(tmp_path)
        env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}

        connection = load_connection(environ=env, service_account_dir=directory)

        assert connection.server == "https://[fd00::1]:443"

    def test_kubeconfig_given_explicitly_wins_over_in_cluster(self, tmp_path: Path) -> None:
        directory = self.service_account(tmp_path)
        path = kubeconfig(tmp_path / "config", user={"token": "explicit"})
        env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}

        connection = load_connection(str(path), environ=env, service_account_dir=directory)

        assert connection.authorization() == "Bearer explicit"

    def test_a_pod_without_a_mounted_token_is_a_clear_error(self, tmp_path: Path) -> None:
        env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}

        with pytest.raises(KubeconfigError, match="automountServiceAccountToken"):
            load_connection(environ=env, service_account_dir=tmp_path / "missing")


# --- TLS against a real server ----------------------------------------------------------------


@pytest.fixture
def ca() -> Issued:
    return make_ca()


ServerFactory = Callable[..., Any]


@pytest.fixture
async def https_server(tmp_path: Path, ca: Issued) -> AsyncIterator[ServerFactory]:
    """Start HTTPS servers answering ``/apis``; the certificate names only the Service."""
    runners: list[web.AppRunner] = []
    seen: list[str] = []

    async def groups(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        name = "with-client-cert" if peer else "group.example"
        return web.json_response({"groups": [{"name": name}]})

    async def start(*, client_ca: Issued | None = None) -> str:
        serving = make_serving_cert(ca, "kubernetes", "default")  # no IP SAN: not 127.0.0.1
        (tmp_path / "srv.crt").write_bytes(serving.cert_pem)
        (tmp_path / "srv.key").write_bytes(serving.key_pem)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tmp_path / "srv.crt", tmp_path / "srv.key")
        if client_ca is not None:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cadata=client_ca.cert_pem.decode())
        app = web.Application()
        app.router.add_get("/apis", groups)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        port = runner.addresses[0][1]
        return f"https://127.0.0.1:{port}"

    start.seen = seen  # type: ignore[attr-defined]
    yield start
    for runner in runners:
        await runner.cleanup()


async def groups_through(connection: Connection) -> set[str]:
    cluster = Cluster(connection, Metrics())
    try:
        return await cluster.api_groups()
    finally:
        await cluster.aclose()


class TestTls:
    async def test_the_server_is_verified_by_default(self, https_server: ServerFactory) -> None:
        url = await https_server()

        with pytest.raises(KubeError) as caught:
            await groups_through(Connection(server=url, token="t"))

        assert caught.value.status == 0 and "certificate" in caught.value.message.lower()

    async def test_a_ca_from_the_kubeconfig_and_tls_server_name_verify_the_server(
        self, tmp_path: Path, https_server: ServerFactory, ca: Issued
    ) -> None:
        url = await https_server()
        cluster = {
            "server": url,
            "certificate-authority-data": b64(ca.cert_pem),
            "tls-server-name": "kubernetes.default.svc",
        }
        path = kubeconfig(tmp_path / "config", cluster=cluster, user={"token": "t"})

        assert await groups_through(load_connection(str(path))) == {"group.example"}
        assert https_server.seen == ["Bearer t"]  # type: ignore[attr-defined]

    async def test_without_tls_server_name_the_address_does_not_match_the_certificate(
        self, tmp_path: Path, https_server: ServerFactory, ca: Issued
    ) -> None:
        url = await https_server()
        (tmp_path / "ca.crt").write_bytes(ca.cert_pem)
        cluster = {"server": url, "certificate-authority": "ca.crt"}
        path = kubeconfig(tmp_path / "config", cluster=cluster)

        with pytest.raises(KubeError, match=r"(?i)certificate|hostname"):
            await groups_through(load_connection(str(path)))

    async def test_insecure_skip_tls_verify_turns_verification_off(
        self, tmp_path: Path, https_server: ServerFactory
    ) -> None:
        url = await https_server()
        cluster = {"server": url, "insecure-skip-tls-verify": True}
        path = kubeconfig(tmp_path / "config", cluster=cluster)

        assert await groups_through(load_connection(str(path))) == {"group.example"}

    @pytest.mark.parametrize("form", ["data", "files"])
    async def test_a_client_certificate_is_presented(
        self, tmp_path: Path, https_server: ServerFactory, ca: Issued, form: str
    ) -> None:
        client_ca = make_ca("client CA")
        client = client_certificate(client_ca)
        url = await https_server(client_ca=client_ca)
        if form == "data":
            user = {
                "client-certificate-data": b64(client.cert_pem),
                "client-key-data": b64(client.key_pem),
            }
        else:
            (tmp_path / "tls.crt").write_bytes(client.cert_pem)
            (tmp_path / "tls.key").write_bytes(client.key_pem)
            user = {"client-certificate": "tls.crt", "client-key": str(tmp_path / "tls.key")}
        cluster = {
            "server": url,
            "certificate-authority-data": b64(ca.cert_pem),
            "tls-server-name": "kubernetes",
        }
        path = kubeconfig(tmp_path / "config", cluster=cluster, user=user)

        assert await groups_through(load_connection(str(path))) == {"with-client-cert"}

    @pytest.mark.parametrize("setting", ["certificate-authority", "client-certificate"])
    def test_a_missing_certificate_file_is_a_clear_error(
        self, tmp_path: Path, setting: str
    ) -> None:
        cluster: dict[str, Any] = {"server": "https://x"}
        user: dict[str, Any] = {}
        (cluster if setting == "certificate-authority" else user)[setting] = "missing.crt"
        path = kubeconfig(tmp_path / "config", cluster=cluster, user=user)

        with pytest.raises(KubeconfigError, match="cannot load the TLS settings") as caught:
            load_connection(str(path)).ssl_context()

        assert str(path) in str(caught.value)

    def test_bad_certificate_data_is_a_clear_error(self, tmp_path: Path) -> None:
        cluster = {"server": "https://x", "certificate-authority-data": "not base64!"}
        path = kubeconfig(tmp_path / "config", cluster=cluster)

        with pytest.raises(KubeconfigError, match="certificate-authority-data of 'c-main'"):
            load_connection(str(path))


class TestKopfLogin:
    def test_kopf_gets_the_same_server_credentials_and_tls_settings(
        self, tmp_path: Path, ca: Issued
    ) -> None:
        from bridge.app.handlers import MEMO_KEY, login
        from bridge.controller.composition import Controller
        from bridge.controller.state import BridgeState

        cluster_settings = {
            "server": "https://127.0.0.1:6443",
            "certificate-authority-data": b64(ca.cert_pem),
            "tls-server-name": "kubernetes.default.svc",
        }
        path = kubeconfig(tmp_path / "config", cluster=cluster_settings, user={"token": "t"})
        metrics = Metrics()
        controller = Controller(
            Cluster(load_connection(str(path)), metrics), metrics, BridgeState()
        )

        info = login(memo={MEMO_KEY: controller})

        assert info.server == "https://127.0.0.1:6443"
        assert (info.scheme, info.token) == ("Bearer", "t")
        assert info.ca_data == ca.cert_pem and not info.insecure
        context = info.as_ssl_context()
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert getattr(context, "server_name", None) == "kubernetes.default.svc"


class TestTheOperatorProcess:
    def test_the_official_client_is_not_loaded_by_the_operator(self) -> None:
        script = textwrap.dedent(
            """
            import sys
            from bridge.app.commands import keep_official_client_out
            keep_official_client_out()
            import kopf
            import bridge.app.handlers, bridge.app.webhook_server, bridge.builds.completion
            loaded = sorted(m for m in sys.modules if m.split(".")[0] == "kubernetes")
            print("loaded:", loaded)
            try:
                import kubernetes
            except ImportError as exc:
                print("refused:", exc)
            """
        )
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
        )

        assert result.returncode == 0, result.stderr
        assert "loaded: []" in result.stdout
        assert "refused: kubernetes is not loaded in quay-bridge run" in result.stdout

    def test_an_unsupported_kubeconfig_stops_the_operator_with_a_clear_error(
        self, tmp_path: Path
    ) -> None:
        path = kubeconfig(tmp_path / "config", user={"exec": {"command": "get-token"}})

        result = subprocess.run(
            [sys.executable, "-m", "quaybridge_cli", "run", "--no-webhook", "--standalone",
             "--kubeconfig", str(path)],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

        assert result.returncode == 1
        assert "credential plugin (exec)" in result.stderr
        assert "Traceback" not in result.stderr
