"""Where the operator's API server is and how it proves who it is: kubeconfig or in-cluster.

``quay-bridge run`` talks to the API server through its own aiohttp session
(``bridge.kube.cluster``) and kopf's; neither needs the official ``kubernetes`` package, which would
cost the operator memory (docs/bridge.md#memory) only to read these settings. This module reads them
instead, in the order the official client uses: ``--kubeconfig``; else in-cluster
(``KUBERNETES_SERVICE_HOST`` and ``_PORT`` with the pod's service-account token and CA); else
``$KUBECONFIG`` (a ``:``-separated list, merged the way ``kubectl`` merges it: the first file naming
an entry wins) or ``~/.kube/config``.

Supported are the settings ``oc login`` and in-cluster pods use: ``server``,
``certificate-authority(-data)``, ``insecure-skip-tls-verify``, ``tls-server-name``, ``token``,
``tokenFile``, ``client-certificate(-data)`` / ``client-key(-data)``, ``username`` / ``password``,
``current-context`` or ``--context``. Credential plugins (``exec``, ``auth-provider``),
impersonation and proxies are refused with a :class:`KubeconfigError` that names them and what to
use instead. Tokens read from a file (in-cluster bound tokens rotate) are re-read every
``TOKEN_REREAD_SECONDS``. The token is never part of a ``repr`` or a log line.
"""

from __future__ import annotations

import base64
import binascii
import os
import ssl
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certs.tlspolicy import restrict_to_approved

#: Where a pod's service-account credentials are mounted.
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
#: How long a token read from a file is used before the file is read again (kubelet rotates bound
#: service-account tokens well before they expire; the official client re-reads every minute).
TOKEN_REREAD_SECONDS = 60.0

#: User settings this loader cannot honour, with what to use instead.
_UNSUPPORTED_USER = {
    "exec": "a credential plugin (exec)",
    "auth-provider": "an auth-provider",
    "as": "impersonation (as)",
    "as-uid": "impersonation (as-uid)",
    "as-groups": "impersonation (as-groups)",
    "as-user-extra": "impersonation (as-user-extra)",
}
_UNSUPPORTED_CLUSTER = {"proxy-url": "a proxy (proxy-url)"}
_INSTEAD = (
    "use a token (e.g. from 'oc login' or 'oc create token'), a client certificate, or run "
    "in-cluster with a service account"
)


class KubeconfigError(Exception):
    """The connection settings are missing, unreadable or use something not supported."""


@dataclass(frozen=True)
class Connection:
    """The API server's address, how to trust it, and the operator's credentials.

    Attributes:
        server: the API server's URL (``https://host:port``).
        source: where the settings came from (a kubeconfig path and context, or ``in-cluster``).
        ca_path: a CA bundle file to verify the server with.
        ca_data: a CA bundle (PEM) to verify the server with.
        insecure: skip verifying the server's certificate (``insecure-skip-tls-verify``).
        tls_server_name: the name to verify the server's certificate against (and send as SNI)
            instead of the host in ``server``.
        token: a bearer token given inline.
        token_file: a file holding the bearer token, re-read every ``TOKEN_REREAD_SECONDS``.
        certificate_path, key_path: the client certificate and key files.
        certificate_data, key_data: the client certificate and key (PEM).
        username, password: basic authentication.
        fips: restrict TLS to FIPS-approved versions, suites and groups (``quay-bridge run
            --fips``, ``certs.tlspolicy``); the Quay client follows the same choice.
    """

    server: str
    source: str = ""
    ca_path: str | None = None
    ca_data: bytes | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    token: str | None = field(default=None, repr=False)
    token_file: str | None = None
    certificate_path: str | None = None
    certificate_data: bytes | None = field(default=None, repr=False)
    key_path: str | None = None
    key_data: bytes | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    fips: bool = False
    _cache: _TokenCache = field(default_factory=lambda: _TokenCache(), repr=False, compare=False)

    @property
    def uses_tls(self) -> bool:
        """Whether ``server`` is an ``https`` URL."""
        return self.server.lower().startswith("https://")

    def bearer_token(self) -> str | None:
        """Return the bearer token: the inline one, else the token file's (re-read now and then).

        Raises:
            KubeconfigError: the token file cannot be read (at the first read; later failures
                keep the last token, since a rotation may be half-written).
        """
        if self.token:
            return self.token
        if not self.token_file:
            return None
        return self._cache.read(self.token_file)

    def authorization(self) -> str | None:
        """Return the ``Authorization`` header value, or None when there are no credentials."""
        token = self.bearer_token()
        if token:
            return f"Bearer {token}"
        if self.username is not None and self.password is not None:
            pair = f"{self.username}:{self.password}".encode()
            return "Basic " + base64.b64encode(pair).decode()
        return None

    def ssl_context(self) -> ssl.SSLContext | None:
        """Return the TLS settings for ``server``; None for plain ``http``.

        Verification is on unless ``insecure``. A ``tls_server_name`` replaces the URL's host both
        as SNI and as the name the certificate must carry, as ``kubectl`` does.

        Raises:
            KubeconfigError: a CA or client certificate file is missing or does not load.
        """
        if not self.uses_tls:
            return None
        try:
            return self._make_ssl_context()
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise KubeconfigError(
                f"cannot load the TLS settings of {self.source or self.server}: {exc}"
            ) from None

    def _make_ssl_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self.tls_server_name:
            context = pin_server_name(context, self.tls_server_name)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif self.ca_path or self.ca_data:
            context.load_verify_locations(
                cafile=self.ca_path or None,
                cadata=self.ca_data.decode() if self.ca_data else None,
            )
        else:
            context.load_default_certs()
        if self.certificate_path or self.certificate_data:
            _load_client_certificate(context, self)
        if self.fips:
            restrict_to_approved(context)
        return context


class _NamedContext(ssl.SSLContext):
    """A client context that always verifies (and sends as SNI) one fixed server name."""

    server_name: str = ""

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        """Wrap with ``server_name`` in place of the host the caller connects to."""
        return super().wrap_bio(
            incoming, outgoing, server_side, self.server_name or server_hostname, session
        )


def pin_server_name(context: ssl.SSLContext, server_name: str) -> ssl.SSLContext:
    """Make an existing client ``context`` verify ``server_name`` (for kopf's own context)."""
    context.__class__ = _NamedContext
    assert isinstance(context, _NamedContext)
    context.server_name = server_name
    return context


class _TokenCache:
    """The last token read from a file and when; shared by copies of a :class:`Connection`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._token: str | None = None
        self._read_at = float("-inf")

    def read(self, path: str) -> str:
        now = time.monotonic()
        with self._lock:
            if self._token is not None and now - self._read_at < TOKEN_REREAD_SECONDS:
                return self._token
            try:
                token = Path(path).read_text().strip()
            except OSError as exc:
                if self._token is None:
                    raise KubeconfigError(f"cannot read the token file {path}: {exc}") from None
                return self._token  # keep the previous token until the file is back
            if not token and self._token is not None:
                return self._token
            self._token, self._read_at = token, now
            return token


def _load_client_certificate(context: ssl.SSLContext, connection: Connection) -> None:
    """Load the client certificate and key; data (not files) goes through a private temp dir.

    Python's ``ssl`` loads a certificate chain from files only, so inline data is written to a
    directory only this process can read and removed as soon as it is loaded.
    """
    if connection.certificate_path and not connection.certificate_data:
        if not (connection.key_path or connection.key_data):
            context.load_cert_chain(connection.certificate_path)
            return
        if connection.key_path:
            context.load_cert_chain(connection.certificate_path, connection.key_path)
            return
    with tempfile.TemporaryDirectory(prefix="quay-bridge-tls-") as directory:
        cert = connection.certificate_path
        if connection.certificate_data:
            cert = os.path.join(directory, "tls.crt")
            _write_private(cert, connection.certificate_data)
        key = connection.key_path
        if connection.key_data:
            key = os.path.join(directory, "tls.key")
            _write_private(key, connection.key_data)
        assert cert is not None
        context.load_cert_chain(cert, key)


def _write_private(path: str, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


# --- loading ----------------------------------------------------------------------------------


def load_connection(
    kubeconfig: str | None = None,
    *,
    context: str | None = None,
    environ: Mapping[str, str] | None = None,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
) -> Connection:
    """Return the connection settings: ``kubeconfig``, else in-cluster, else the default kubeconfig.

    Args:
        kubeconfig: ``--kubeconfig``; when given, it alone is read.
        context: ``--context``; default: the kubeconfig's ``current-context``.
        environ: the environment (default ``os.environ``).
        service_account_dir: where the pod's token, CA and namespace are mounted.

    Raises:
        KubeconfigError: nothing usable was found, or the settings are invalid or unsupported.
    """
    env = os.environ if environ is None else environ
    if kubeconfig:
        return from_kubeconfig([Path(kubeconfig)], context=context)
    if env.get("KUBERNETES_SERVICE_HOST") and env.get("KUBERNETES_SERVICE_PORT"):
        return in_cluster(env, service_account_dir)
    listed = [Path(p) for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    paths = listed or [Path(env.get("HOME") or Path.home()) / ".kube" / "config"]
    existing = [path for path in paths if path.is_file()]
    if not existing:
        raise KubeconfigError(
            "no connection settings: not in a cluster (KUBERNETES_SERVICE_HOST is unset) and no "
            f"kubeconfig at {os.pathsep.join(str(p) for p in paths)}; pass --kubeconfig"
        )
    return from_kubeconfig(existing, context=context)


def in_cluster(
    env: Mapping[str, str], service_account_dir: Path = SERVICE_ACCOUNT_DIR
) -> Connection:
    """Return the in-cluster settings: the service's address, the pod's token file and CA."""
    host, port = env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"]
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    token_file = service_account_dir / "token"
    ca_file = service_account_dir / "ca.crt"
    if not token_file.is_file():
        raise KubeconfigError(
            f"in-cluster, but no service-account token at {token_file} "
            "(is automountServiceAccountToken false?)"
        )
    connection = Connection(
        server=f"https://{host}:{port}",
        source="in-cluster",
        ca_path=str(ca_file) if ca_file.is_file() else None,
        token_file=str(token_file),
    )
    connection.bearer_token()  # fail now, not at the first call, if it cannot be read
    return connection


@dataclass(frozen=True)
class _Entry:
    """A named cluster, user or context and the directory its relative paths are relative to."""

    body: Mapping[str, Any]
    directory: Path


def from_kubeconfig(paths: list[Path], *, context: str | None = None) -> Connection:
    """Return the settings of ``context`` (default ``current-context``) from merged kubeconfigs.

    Raises:
        KubeconfigError: a file does not parse, or the context, its cluster or user is missing,
            invalid or unsupported.
    """
    clusters: dict[str, _Entry] = {}
    users: dict[str, _Entry] = {}
    contexts: dict[str, _Entry] = {}
    current = ""
    for path in paths:
        document = _read_yaml(path)
        directory = path.resolve().parent
        for key, table, inner in (
            ("clusters", clusters, "cluster"),
            ("users", users, "user"),
            ("contexts", contexts, "context"),
        ):
            for item in document.get(key) or []:
                if isinstance(item, Mapping) and item.get("name") is not None:
                    body = item.get(inner) or {}
                    if not isinstance(body, Mapping):
                        raise KubeconfigError(f"{path}: {key} entry {item['name']!r} is not a map")
                    table.setdefault(str(item["name"]), _Entry(body, directory))
        current = current or str(document.get("current-context") or "")
    where = ", ".join(str(p) for p in paths)
    name = context or current
    if not name:
        raise KubeconfigError(f"{where}: no current-context; pass --context")
    if name not in contexts:
        raise KubeconfigError(f"{where}: no context named {name!r}")
    chosen = contexts[name].body
    cluster_name, user_name = str(chosen.get("cluster") or ""), str(chosen.get("user") or "")
    if cluster_name not in clusters:
        raise KubeconfigError(
            f"{where}: context {name!r} names no known cluster ({cluster_name!r})"
        )
    cluster = clusters[cluster_name]
    user = users.get(user_name, _Entry({}, cluster.directory)) if user_name else None
    if user_name and user_name not in users:
        raise KubeconfigError(f"{where}: context {name!r} names no known user ({user_name!r})")
    for key, what in _UNSUPPORTED_CLUSTER.items():
        if cluster.body.get(key):
            raise KubeconfigError(
                f"cluster {cluster_name!r} in {where} uses {what}, which quay-bridge run does not "
                "support; connect to the API server directly"
            )
    for key, what in _UNSUPPORTED_USER.items():
        if user is not None and user.body.get(key):
            raise KubeconfigError(
                f"user {user_name!r} in {where} uses {what}, which quay-bridge run does not "
                f"support; {_INSTEAD}"
            )
    server = str(cluster.body.get("server") or "")
    if not server.lower().startswith(("https://", "http://")):
        raise KubeconfigError(
            f"cluster {cluster_name!r} in {where} has no http(s) server URL ({server!r})"
        )
    u = user.body if user is not None else {}
    udir = user.directory if user is not None else cluster.directory
    return Connection(
        server=server.rstrip("/"),
        source=f"{where} (context {name})",
        ca_path=_path(cluster.body.get("certificate-authority"), cluster.directory),
        ca_data=_data(cluster.body, "certificate-authority-data", cluster_name),
        insecure=bool(cluster.body.get("insecure-skip-tls-verify")),
        tls_server_name=str(cluster.body["tls-server-name"])
        if cluster.body.get("tls-server-name")
        else None,
        token=str(u["token"]) if u.get("token") else None,
        token_file=_path(u.get("tokenFile"), udir),
        certificate_path=_path(u.get("client-certificate"), udir),
        certificate_data=_data(u, "client-certificate-data", user_name),
        key_path=_path(u.get("client-key"), udir),
        key_data=_data(u, "client-key-data", user_name),
        username=str(u["username"]) if u.get("username") is not None else None,
        password=str(u["password"]) if u.get("password") is not None else None,
    )


def _read_yaml(path: Path) -> Mapping[str, Any]:
    import yaml  # only for a kubeconfig: an in-cluster operator does without

    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise KubeconfigError(f"kubeconfig {path} is not valid YAML: {exc}") from None
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise KubeconfigError(f"kubeconfig {path} is not a YAML map")
    return document


def _path(value: Any, directory: Path) -> str | None:
    """A file named in a kubeconfig; relative paths are relative to that kubeconfig's directory."""
    if not value:
        return None
    path = Path(os.path.expanduser(str(value)))
    return str(path if path.is_absolute() else directory / path)


def _data(body: Mapping[str, Any], key: str, owner: str) -> bytes | None:
    """A ``*-data`` field: base64 of PEM."""
    value = body.get(key)
    if not value:
        return None
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise KubeconfigError(f"{key} of {owner!r} is not base64") from None
