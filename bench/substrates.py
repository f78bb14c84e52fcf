"""The API servers a benchmark can run an operator on: the simulator, or a real kube-apiserver.

Both offer the same few things to ``bench/convergence.py``: a JSON client marked with the
benchmark's User-Agent, a kubeconfig for the operator, a project (a namespace with the
``builder``, ``default`` and ``deployer`` ServiceAccounts), the late-ServiceAccount step, the
operator's writes by resource, and the server's process for its CPU time.

- ``sim``: ``quay-bridge sim --immediate`` with its request log. A ProjectRequest makes the project
  and OpenShift's controllers (simulated) make the ServiceAccounts and re-create a deleted one.
- ``real``: etcd, kube-apiserver and kube-controller-manager from ``devstack/realapi.py`` with
  ``deploy/base`` applied; the operator acts as the ``quay-bridge`` ServiceAccount (RBAC on). There
  is no OpenShift: the benchmark makes ``builder`` and ``deployer`` as OpenShift's project template
  does, re-creates a deleted ``deployer`` as OpenShift's controller does, and installs ImageStream
  as a CRD so the workload is the same. The operator's writes come from the API server's audit log
  (by the operator's user name), since there is no request log.

Another operator (``bench/peer/``) asks for more of OpenShift's kinds with ``install_kind`` (CRDs
on the real server) and for an identity with its own RBAC rules with ``grant``.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any, Protocol

import requests
import yaml

from devstack.realapi import RealApi, start_real_api
from devstack.sim import SimServer, start_sim

ROOT = Path(__file__).resolve().parent.parent
BENCH_AGENT = "quay-bridge-bench"
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}
READ_VERBS = {"get", "list", "watch"}
OPERATOR_USER = "system:serviceaccount:quay-bridge:quay-bridge"


def openshift_crd(group: str, kind: str, plural: str) -> dict[str, Any]:
    """A CustomResourceDefinition standing in for an OpenShift kind on plain Kubernetes.

    Its schema keeps every field, so an OpenShift client reads and writes the kind as it would
    on OpenShift; what OpenShift's own controllers would do with it, nobody does here.
    """
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


IMAGESTREAM_CRD = openshift_crd("image.openshift.io", "ImageStream", "imagestreams")
BUILD_CRD = openshift_crd("build.openshift.io", "Build", "builds")


class Api:
    """A small JSON client marked with the benchmark's User-Agent (one session per thread)."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        cert: tuple[str, str] | None = None,
        verify: str | bool = True,
    ) -> None:
        self.url = url
        self.token = token
        self.cert = cert
        self.verify = verify
        self.local = threading.local()

    def new_session(self) -> requests.Session:
        """A session with the benchmark's identity (for a watch held by one thread)."""
        session = requests.Session()
        # Loopback only: no proxy, and no CA bundle from the environment over ``verify``.
        session.trust_env = False
        session.headers["User-Agent"] = BENCH_AGENT
        if self.token:
            session.headers["Authorization"] = f"Bearer {self.token}"
        session.cert = self.cert
        session.verify = self.verify
        return session

    def call(self, method: str, path: str, body: Any = None, ctype: str | None = None) -> Any:
        """Send one request; raise on an error status; return the decoded JSON."""
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = self.new_session()
        headers = {"Content-Type": ctype} if ctype else {}
        reply = session.request(method, self.url + path, json=body, headers=headers, timeout=60)
        if reply.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {reply.status_code} {reply.text[:300]}")
        return reply.json() if reply.content else None


class Substrate(Protocol):
    """What the convergence benchmark needs from an API server."""

    name: str
    api: Api
    operator_kubeconfig: str
    #: the namespace of the Quay credentials Secret
    credentials_namespace: str
    server_pid: int

    def create_project(self, namespace: str) -> None:
        """Make a namespace with the ``builder``, ``default`` and ``deployer`` accounts."""

    def replace_deployer(self, namespace: str) -> None:
        """Delete ``deployer``; a new one (without the bridge's entries) takes its place."""

    def writes(self, start: int) -> tuple[Counter[str], int]:
        """The operator's writes from byte offset ``start`` of the log, by resource."""
        ...

    def reads(self, start: int) -> tuple[Counter[str], int]:
        """The operator's reads from byte offset ``start`` of the log, by verb and resource."""
        ...

    def install_kind(self, crd: dict[str, Any]) -> None:
        """Serve an OpenShift kind (a CRD on plain Kubernetes; the simulator serves its own)."""

    def grant(self, namespace: str, name: str, rules: list[dict[str, Any]]) -> str:
        """A kubeconfig acting as ServiceAccount ``namespace/name`` allowed exactly ``rules``."""
        ...

    def stop(self) -> None:
        """Stop the server and whatever it started."""


def _count(counts: Counter[str], resource: str, subresource: str, code: int) -> None:
    if subresource:
        resource += "/" + subresource
    if code >= 400:
        resource += " (refused)"
    counts[resource] += 1


def _read_from(path: Path, start: int) -> tuple[str, int]:
    with open(path, encoding="utf-8") as handle:
        handle.seek(start)
        data = handle.read()
        return data, handle.tell()


class SimSubstrate:
    """The simulator, with OpenShift's delays at zero."""

    name = "sim"
    credentials_namespace = "openshift-operators"

    def __init__(self, workdir: Path) -> None:
        self.request_log = workdir / "requests.jsonl"
        self.sim: SimServer = start_sim("--request-log", str(self.request_log), immediate=True)
        self.api = Api(self.sim.url, token="sim-token")
        self.operator_kubeconfig = self.sim.kubeconfig
        self.server_pid = self.sim.process.pid
        crd = yaml.safe_load((ROOT / "crds" / "quayintegration.yaml").read_text())
        self.api.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        # The simulator starts with OpenShift's own namespaces, openshift-operators among them.
        self.api.call("GET", "/api/v1/namespaces/openshift-operators")

    def create_project(self, namespace: str) -> None:
        """A ProjectRequest: the simulated OpenShift makes the namespace and its accounts."""
        body = {
            "apiVersion": "project.openshift.io/v1",
            "kind": "ProjectRequest",
            "metadata": {"name": namespace},
        }
        self.api.call("POST", "/apis/project.openshift.io/v1/projectrequests", body)

    def replace_deployer(self, namespace: str) -> None:
        """Delete ``deployer``: OpenShift re-creates it at once, without the bridge's entries."""
        self.api.call("DELETE", f"/api/v1/namespaces/{namespace}/serviceaccounts/deployer")

    def writes(self, start: int) -> tuple[Counter[str], int]:
        """Operator writes in the request log from byte offset ``start``, by resource."""
        return self._tally(start, WRITE_VERBS, by_verb=False)

    def reads(self, start: int) -> tuple[Counter[str], int]:
        """Operator reads in the request log from byte offset ``start``, by verb and resource."""
        return self._tally(start, READ_VERBS, by_verb=True)

    def _tally(self, start: int, verbs: set[str], *, by_verb: bool) -> tuple[Counter[str], int]:
        counts: Counter[str] = Counter()
        data, end = _read_from(self.request_log, start)
        for line in data.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            verb = entry.get("verb")
            if entry.get("user_agent") == BENCH_AGENT or verb not in verbs:
                continue
            _count(
                counts,
                f"{verb} {entry.get('resource') or '?'}"
                if by_verb
                else entry.get("resource") or "?",
                entry.get("subresource") or "",
                int(entry.get("code") or 0),
            )
        return counts, end

    def install_kind(self, crd: dict[str, Any]) -> None:
        """Nothing to do: the simulator serves OpenShift's kinds itself."""
        del crd

    def grant(self, namespace: str, name: str, rules: list[dict[str, Any]]) -> str:
        """The simulator's kubeconfig: it enforces no RBAC."""
        del namespace, name, rules
        return self.sim.kubeconfig

    def stop(self) -> None:
        """Stop the simulator."""
        self.sim.stop()


class RealSubstrate:
    """A real kube-apiserver with deploy/base applied; the operator is its ServiceAccount."""

    name = "real"
    credentials_namespace = "quay-bridge"
    #: whose writes ``writes`` counts (``grant`` hands the role to another account)
    operator_user = OPERATOR_USER

    def __init__(self, workdir: Path) -> None:
        del workdir  # the control plane keeps its own directory
        self.kube: RealApi = start_real_api(audit=True)
        try:
            self.kube.kubectl("apply", "-k", "deploy/base")
            self.api = Api(
                self.kube.url,
                cert=(str(self.kube.admin_cert_path), str(self.kube.admin_key_path)),
                verify=str(self.kube.ca_path),
            )
            self.install_kind(IMAGESTREAM_CRD)
            self.kube.kubectl(
                "wait", "--for=condition=Established", "--timeout=60s",
                "crd/quayintegrations.quay.redhat.com",
            )  # fmt: skip
            self.operator_kubeconfig = self.kube.service_account_kubeconfig(
                "quay-bridge", "quay-bridge"
            )
            self.server_pid = self.kube.apiserver.pid
        except BaseException:
            self.kube.stop()
            raise

    def create_project(self, namespace: str) -> None:
        """The namespace, and the two accounts OpenShift's project template adds to ``default``."""
        self.api.call("POST", "/api/v1/namespaces", {"metadata": {"name": namespace}})
        for account in ("builder", "deployer"):
            self.api.call(
                "POST",
                f"/api/v1/namespaces/{namespace}/serviceaccounts",
                {"metadata": {"name": account}},
            )

    def replace_deployer(self, namespace: str) -> None:
        """Delete ``deployer`` and make a new one, as OpenShift's controller would."""
        path = f"/api/v1/namespaces/{namespace}/serviceaccounts"
        self.api.call("DELETE", f"{path}/deployer")
        self.api.call("POST", path, {"metadata": {"name": "deployer"}})

    def writes(self, start: int) -> tuple[Counter[str], int]:
        """The operator's writes in the audit log from byte offset ``start``, by resource."""
        return self._tally(start, WRITE_VERBS, by_verb=False)

    def reads(self, start: int) -> tuple[Counter[str], int]:
        """The operator's reads in the audit log from ``start`` on, by verb and resource."""
        return self._tally(start, READ_VERBS, by_verb=True)

    def _tally(self, start: int, verbs: set[str], *, by_verb: bool) -> tuple[Counter[str], int]:
        counts: Counter[str] = Counter()
        if not self.kube.audit_log.exists():
            return counts, start
        data, end = _read_from(self.kube.audit_log, start)
        for line in data.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if (entry.get("user") or {}).get("username") != self.operator_user:
                continue
            verb = entry.get("verb")
            if entry.get("stage") != "ResponseComplete" or verb not in verbs:
                continue
            ref = entry.get("objectRef") or {}
            code = int((entry.get("responseStatus") or {}).get("code") or 0)
            resource = ref.get("resource") or "?"
            _count(
                counts,
                f"{verb} {resource}" if by_verb else resource,
                ref.get("subresource") or "",
                code,
            )
        return counts, end

    def install_kind(self, crd: dict[str, Any]) -> None:
        """Create ``crd`` and wait until the API server serves it."""
        self.api.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        self.kube.kubectl(
            "wait", "--for=condition=Established", "--timeout=60s",
            f"crd/{crd['metadata']['name']}",
        )  # fmt: skip

    def grant(self, namespace: str, name: str, rules: list[dict[str, Any]]) -> str:
        """Make the account and a ClusterRole of ``rules`` bound to it; return its kubeconfig.

        Its writes are the ones ``writes`` counts from then on.
        """
        role = f"{namespace}-{name}"
        objects = [
            (
                f"/api/v1/namespaces/{namespace}/serviceaccounts",
                {"metadata": {"name": name}},
            ),
            (
                "/apis/rbac.authorization.k8s.io/v1/clusterroles",
                {"metadata": {"name": role}, "rules": rules},
            ),
            (
                "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
                {
                    "metadata": {"name": role},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": role,
                    },
                    "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
                },
            ),
        ]
        for path, body in objects:
            self.api.call("POST", path, body)
        # From now on the operator under test is this account: count its writes.
        self.operator_user = f"system:serviceaccount:{namespace}:{name}"
        return self.kube.service_account_kubeconfig(namespace, name)

    def stop(self) -> None:
        """Stop the control plane and remove its files."""
        self.kube.stop()


def start_substrate(name: str, workdir: Path) -> Substrate:
    """Start the named API server (``sim`` or ``real``)."""
    if name == "sim":
        return SimSubstrate(workdir)
    if name == "real":
        return RealSubstrate(workdir)
    raise ValueError(f"unknown API server {name!r}: choose sim or real")


def credentials_secret(token: str) -> dict[str, Any]:
    """The Secret holding the Quay token, as the QuayIntegration names it."""
    return {
        "metadata": {"name": "quay-token"},
        "data": {"token": base64.b64encode(token.encode()).decode()},
    }
