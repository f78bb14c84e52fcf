"""RBAC is sufficient and minimal: deploy/base's ClusterRole against the operator's real API calls.

The operator runs as deploy/base's Deployment runs it (its arguments and environment; only the
ports and listen addresses move to loopback, and without the optional certificate Secret it
manages its own certificate) against the OpenShift simulator and the registry core, both real
processes on loopback, through a scenario that touches every path: an integration with its Secret
and a CA bundle ConfigMap, a new project, an ImageStream, a Build rewritten by the webhook (built,
pushed and imported when complete), a late ServiceAccount, a robot token rotation, the project's
deletion. The simulator logs every request it serves; every (verb, group, resource) the operator
used must be granted, and every grant must be used or be in :data:`JUSTIFIED_UNUSED` with the
reason this scenario cannot exercise it, or in
:data:`USED_ON_RACES` when the scenario reaches it only when a race happens.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import kubernetes.client
import pytest
import requests
import yaml
from kubernetes.client.exceptions import ApiException

from certs.issuing import make_ca
from devstack.ports import free_port
from devstack.processes import Process
from devstack.registry import RegistryServer
from devstack.sim import SimServer, start_sim
from devstack.waiting import wait_until
from tests.packaging.manifests import ROOT, load_documents
from tools import rbac_rules
from tools.rbac_rules import Permission

pytestmark = pytest.mark.timeout(240)

T = TypeVar("T")
SETUP_AGENT = "quay-bridge-rbac-test-setup"
NAMESPACE = "quay-bridge"
PROJECT = "rbac-demo"
ORG = f"openshift_{PROJECT}"
MANAGED = "quay-registry-operator.quay.redhat.com/"
ROTATE = "quay-bridge.quay.redhat.com/rotate-robot-tokens"

#: Granted and needed, but not exercised by this scenario; each says when the operator uses it.
JUSTIFIED_UNUSED: dict[Permission, str] = {
    ("create", "authorization.k8s.io", "subjectaccessreviews"): "asked only for a Build whose"
    " output is in another namespace (tests/security/test_build_completion_trust.py); the"
    " scenario's Build pushes into its own namespace",
}
#: Granted, needed, and reached by this scenario only when a race happens: neither required to be
#: used nor to be unused here.
USED_ON_RACES: dict[Permission, str] = {
    ("get", "", "namespaces"): "a Namespace is read again after a JSON Patch of it was refused"
    " because it changed meanwhile (409/422), and by the webhook for a namespace not yet watched",
}


def _deployment_container() -> tuple[dict[str, Any], dict[str, Any]]:
    """The operator's container and pod spec, as deploy/base runs them."""
    (deployment,) = load_documents(ROOT / "deploy" / "base" / "deployment.yaml")
    pod: dict[str, Any] = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return container, pod


def _cluster_role_subject() -> str:
    """The ServiceAccount the ClusterRole is bound to."""
    (binding,) = load_documents(ROOT / "deploy" / "base" / "clusterrolebinding.yaml")
    assert binding["roleRef"]["name"] == _cluster_role()["metadata"]["name"]
    (subject,) = binding["subjects"]
    return str(subject["name"])


def _cluster_role() -> dict[str, Any]:
    (role,) = load_documents(ROOT / "deploy" / "base" / "clusterrole.yaml")
    assert isinstance(role, dict)
    return role


class TestTheComparison:
    RULES = [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]},
        {"apiGroups": ["quay.redhat.com"], "resources": ["quayintegrations/status"],
         "verbs": ["patch"]},
    ]  # fmt: skip

    @pytest.mark.parametrize(
        ("permission", "allowed"),
        [
            (("get", "", "secrets"), True),
            (("delete", "", "secrets"), False),
            (("get", "apps", "secrets"), False),
            (("patch", "quay.redhat.com", "quayintegrations/status"), True),
            (("patch", "quay.redhat.com", "quayintegrations"), False),
        ],
    )
    def test_a_permission_is_granted_only_by_a_rule_naming_its_verb_group_and_resource(
        self, permission: Permission, allowed: bool
    ) -> None:
        assert rbac_rules.allows(self.RULES, permission) is allowed

    def test_a_wildcard_grants_everything_in_its_field_but_cannot_be_listed(self) -> None:
        rules = [{"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}]
        assert rbac_rules.allows(rules, ("get", "", "pods"))
        with pytest.raises(ValueError, match="wildcard"):
            rbac_rules.granted(rules)

    def test_missing_and_unused_permissions_are_reported(self) -> None:
        used = [("get", "", "secrets"), ("create", "", "events")]
        assert rbac_rules.missing(self.RULES, used) == [("create", "", "events")]
        assert rbac_rules.unused(self.RULES, used, {}) == [
            ("list", "", "secrets"),
            ("patch", "quay.redhat.com", "quayintegrations/status"),
        ]
        justified = {("list", "", "secrets"): "reason"}
        assert rbac_rules.unused(self.RULES, used, justified) == [
            ("patch", "quay.redhat.com", "quayintegrations/status")
        ]

    def test_a_log_entry_with_a_subresource_needs_the_subresource(self) -> None:
        entry = {"verb": "patch", "group": "quay.redhat.com", "resource": "quayintegrations",
                 "subresource": "status"}  # fmt: skip
        assert rbac_rules.permission_of(entry) == (
            "patch", "quay.redhat.com", "quayintegrations/status"
        )  # fmt: skip

    def test_the_cluster_role_has_no_wildcard_and_every_exception_is_granted(self) -> None:
        rules = _cluster_role()["rules"]
        listed = rbac_rules.granted(rules)
        assert set(JUSTIFIED_UNUSED) <= listed


@dataclass
class Stack:
    registry: RegistryServer
    sim: SimServer
    operator: Process
    request_log: Path
    api: kubernetes.client.ApiClient

    @property
    def core(self) -> kubernetes.client.CoreV1Api:
        return kubernetes.client.CoreV1Api(self.api)

    @property
    def custom(self) -> kubernetes.client.CustomObjectsApi:
        return kubernetes.client.CustomObjectsApi(self.api)

    def quay(self, path: str) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.registry.token}"}
        return requests.get(self.registry.url + path, headers=headers, timeout=10)

    def read(self, reader: Callable[..., Any], *args: str) -> dict[str, Any] | None:
        try:
            raw = reader(*args, _preload_content=False)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return dict(json.loads(raw.data))

    def operator_output(self) -> str:
        return self.operator.log_text()[-4000:]


def _create(server: SimServer, document: dict[str, Any]) -> None:
    """Create one manifest as kubectl does: a POST to its collection."""
    group, _, version = document["apiVersion"].rpartition("/")
    plural = {"CustomResourceDefinition": "customresourcedefinitions", "Namespace": "namespaces",
              "MutatingWebhookConfiguration": "mutatingwebhookconfigurations",
              "ClusterKopfPeering": "clusterkopfpeerings", "Secret": "secrets",
              "ConfigMap": "configmaps", "ServiceAccount": "serviceaccounts",
              "ImageStream": "imagestreams", "Build": "builds",
              "QuayIntegration": "quayintegrations"}[document["kind"]]  # fmt: skip
    namespace = document["metadata"].get("namespace")
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    path = f"{prefix}/namespaces/{namespace}/{plural}" if namespace else f"{prefix}/{plural}"
    headers = {"Authorization": "Bearer sim-token", "User-Agent": SETUP_AGENT}
    reply = requests.post(server.url + path, json=document, headers=headers, timeout=10)
    assert reply.status_code == 201, f"{path}: {reply.status_code} {reply.text[:500]}"


def _install(server: SimServer, registry: RegistryServer) -> None:
    """What an admin applies from deploy/ that the simulator serves, then the samples, adjusted."""
    base = ROOT / "deploy" / "base"
    for path in (ROOT / "crds" / "quayintegration.yaml", base / "kopf-peering.yaml",
                 base / "namespace.yaml", base / "mutatingwebhookconfiguration.yaml"):  # fmt: skip
        for document in load_documents(path):
            _create(server, document)
    (secret,) = load_documents(ROOT / "deploy" / "samples" / "credentials-secret.yaml")
    secret["stringData"]["token"] = registry.token
    _create(server, secret)
    ca = make_ca("quay-bridge test CA")
    _create(server, {"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": "quay-ca", "namespace": NAMESPACE},
                     "data": {"ca.crt": ca.cert_pem.decode()}})  # fmt: skip
    (integration,) = load_documents(ROOT / "deploy" / "samples" / "quayintegration.yaml")
    integration["spec"]["caBundle"] = {
        "kind": "ConfigMap",
        "name": "quay-ca",
        "namespace": NAMESPACE,
    }
    integration["spec"]["quayHostname"] = registry.url
    integration["spec"]["insecureRegistry"] = True
    integration["spec"]["serviceAccounts"].append({"name": "pipeline", "role": "write"})
    _create(server, integration)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("rbac")
    request_log = work / "requests.jsonl"
    operator_log = work / "operator.log"
    webhook_port, metrics_port = free_port(), free_port()
    registry = RegistryServer.start(data_dir=work / "registry")
    sim: SimServer | None = None
    operator: Process | None = None
    try:
        sim = start_sim(
            "--registry", registry.url, "--insecure-registry", registry.host,
            "--request-log", str(request_log),
            "--service-address", f"quay-bridge-webhook.{NAMESPACE}:443=127.0.0.1:{webhook_port}",
        )  # fmt: skip
        api = sim.api_client()
        api.user_agent = SETUP_AGENT
        _install(sim, registry)
        loopback = {
            "--webhook-port": str(webhook_port),
            "--metrics-port": str(metrics_port),
            "--cert-dir": str(work / "empty-cert-dir"),  # the optional Secret is absent
        }
        container, pod = _deployment_container()
        (work / "empty-cert-dir").mkdir()
        arguments = [sys.executable, "-m", "quaybridge_cli"]
        for argument in container["args"]:
            flag, equals, value = argument.partition("=")
            arguments.append(f"{flag}={loopback.get(flag, value)}" if equals else argument)
        arguments += ["--kubeconfig", sim.kubeconfig, "--webhook-host=127.0.0.1",
                      "--metrics-host=127.0.0.1"]  # fmt: skip
        field_values = {"metadata.name": "quay-bridge-test-0", "metadata.namespace": NAMESPACE}
        environment = {}
        for variable in container["env"]:
            environment[variable["name"]] = (
                variable.get("value")
                or field_values[variable["valueFrom"]["fieldRef"]["fieldPath"]]
            )
        assert pod["serviceAccountName"] == _cluster_role_subject()
        operator = Process.spawn("operator", arguments, operator_log, env=environment, grace=15)
        operator.await_ready(
            lambda: requests.get(f"http://127.0.0.1:{metrics_port}/readyz", timeout=1).ok,
            "the operator's /readyz",
        )
        yield Stack(registry, sim, operator, request_log, api)
    finally:
        if operator is not None:
            operator.stop()
        if sim is not None:
            sim.stop()
        registry.stop()


def _linked(stack: Stack, account: str) -> bool:
    body = stack.read(stack.core.read_namespaced_service_account, account, PROJECT) or {}
    secret = f"{account}-quay-openshift"
    return all(
        secret in [entry.get("name") for entry in body.get(field) or []]
        for field in ("secrets", "imagePullSecrets")
    )


def _play_the_scenario(stack: Stack) -> None:
    custom = stack.custom
    custom.create_cluster_custom_object(
        "project.openshift.io", "v1", "projectrequests",
        {"apiVersion": "project.openshift.io/v1", "kind": "ProjectRequest",
         "metadata": {"name": PROJECT}},
    )  # fmt: skip
    accounts = ("builder", "default", "deployer")
    wait_until(
        lambda: all(_linked(stack, a) for a in accounts),
        30,
        "the project's pull secrets linked",
        interval=0.1,
    )

    custom.create_namespaced_custom_object(
        "image.openshift.io", "v1", PROJECT, "imagestreams",
        {"apiVersion": "image.openshift.io/v1", "kind": "ImageStream", "metadata": {"name": "app"}},
    )  # fmt: skip
    wait_until(
        lambda: stack.quay(f"/api/v1/repository/{ORG}/app").ok, 30, "the repository", interval=0.1
    )

    # A Build as `oc new-app` makes it; the webhook rewrites it to push to Quay.
    custom.create_namespaced_custom_object(
        "build.openshift.io", "v1", PROJECT, "builds",
        {
            "apiVersion": "build.openshift.io/v1", "kind": "Build", "metadata": {"name": "app-1"},
            "spec": {
                "serviceAccount": "builder",
                "source": {"type": "Git", "git": {"uri": "https://example.com/app.git"}},
                "strategy": {"type": "Docker", "dockerStrategy": {}},
                "output": {"to": {"kind": "ImageStreamTag", "name": "app:latest"}},
            },
        },
    )  # fmt: skip
    rewritten = custom.get_namespaced_custom_object(
        "build.openshift.io", "v1", PROJECT, "builds", "app-1"
    )
    assert rewritten["spec"]["output"]["to"] == {  # type: ignore[index]
        "kind": "DockerImage",
        "name": f"{stack.registry.host}/{ORG}/app:latest",
    }

    def imported() -> bool:
        build: dict[str, Any] = custom.get_namespaced_custom_object(  # type: ignore[assignment]
            "build.openshift.io", "v1", PROJECT, "builds", "app-1"
        )
        annotations = build["metadata"].get("annotations") or {}
        phase = (build.get("status") or {}).get("phase")
        assert phase not in {"Failed", "Error", "Cancelled"}, build.get("status")
        return annotations.get(f"{MANAGED}destination-imagestreamtag-imported") == "true"

    wait_until(imported, 60, "the build imported into its ImageStream", interval=0.1)

    late = kubernetes.client.V1ServiceAccount(
        metadata=kubernetes.client.V1ObjectMeta(name="pipeline")
    )
    stack.core.create_namespaced_service_account(PROJECT, late)
    wait_until(
        lambda: _linked(stack, "pipeline"), 30, "the late ServiceAccount linked", interval=0.1
    )

    def docker_config() -> str:
        secret = stack.read(stack.core.read_namespaced_secret, "builder-quay-openshift", PROJECT)
        return str((secret or {}).get("data", {}).get(".dockerconfigjson", ""))

    before = docker_config()
    stack.core.patch_namespace(PROJECT, {"metadata": {"annotations": {ROTATE: "1"}}})
    wait_until(
        lambda: docker_config() != before,
        30,
        "the rotated robot token in the pull secret",
        interval=0.1,
    )

    stack.core.delete_namespace(PROJECT)
    wait_until(
        lambda: stack.quay(f"/api/v1/organization/{ORG}").status_code == 404,
        30,
        "the organization deleted",
        interval=0.1,
    )
    wait_until(
        lambda: stack.read(stack.core.read_namespace, PROJECT) is None,
        30,
        "the namespace gone",
        interval=0.1,
    )

    def integration_ready() -> bool:
        body: dict[str, Any] = custom.get_cluster_custom_object(  # type: ignore[assignment]
            "quay.redhat.com", "v1", "quayintegrations", "quay"
        )
        conditions = (body.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    wait_until(integration_ready, 30, "the integration Ready", interval=0.1)


def _end_the_dead_watches(server: SimServer) -> None:
    """Make the simulator notice the stopped operator's watches, so that it logs them.

    The simulator writes a request's log line when the request ends, and a watch whose client went
    away ends only when the simulator next writes an event to it: one change to an object of
    every kind the operator may watch.
    """
    flush = "rbac-flush"
    _create(server, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": flush}})
    # The operator follows its pull Secrets by label and the integration's credentials Secret and
    # CA ConfigMap by name: each needs an event of its own.
    labels = {"quay-bridge.quay.redhat.com/managed": "true"}
    _create(server, {"apiVersion": "v1", "kind": "Secret",
                     "metadata": {"name": "flush-labelled", "namespace": flush,
                                  "labels": labels}})  # fmt: skip
    for kind, version in (("ConfigMap", "v1"), ("Secret", "v1"), ("ServiceAccount", "v1"),
                          ("ImageStream", "image.openshift.io/v1")):  # fmt: skip
        body: dict[str, Any] = {"apiVersion": version, "kind": kind,
                                "metadata": {"name": "flush", "namespace": flush}}  # fmt: skip
        if kind in {"ConfigMap", "Secret"}:
            body["data"] = {}
        _create(server, body)
    headers = {"Authorization": "Bearer sim-token", "User-Agent": SETUP_AGENT,
               "Content-Type": "application/merge-patch+json"}  # fmt: skip
    touch = {"metadata": {"annotations": {"rbac-test/flush": "1"}}}
    for path in ("/apis/quay.redhat.com/v1/quayintegrations/quay",
                 "/api/v1/namespaces/openshift-operators/secrets/quay-integration",
                 f"/api/v1/namespaces/{NAMESPACE}/configmaps/quay-ca",
                 "/apis/kopf.dev/v1/clusterkopfpeerings/quay-bridge",
                 "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                 "quayintegrations.quay.redhat.com"):  # fmt: skip
        reply = requests.patch(server.url + path, json=touch, headers=headers, timeout=10)
        assert reply.ok, f"{path}: {reply.status_code} {reply.text[:300]}"
    _create(server, {
        "apiVersion": "build.openshift.io/v1", "kind": "Build",
        "metadata": {"name": "flush", "namespace": flush},
        "spec": {"strategy": {"type": "Docker", "dockerStrategy": {}},
                 "source": {"type": "Git", "git": {"uri": "https://example.com/x.git"}}},
    })  # fmt: skip
    time.sleep(1.0)


@pytest.fixture(scope="module")
def used(stack: Stack) -> set[Permission]:
    """Play the scenario, stop the operator cleanly, return the permissions it used."""
    try:
        _play_the_scenario(stack)
    except BaseException:
        print(stack.operator_output())
        raise
    stack.operator.stop(timeout=15)
    _end_the_dead_watches(stack.sim)
    entries = rbac_rules.read_request_log(stack.request_log.read_text())
    operator_entries = [e for e in entries if e.get("user_agent") != SETUP_AGENT]
    assert operator_entries, "the simulator logged no request from the operator"
    permissions = {rbac_rules.permission_of(e) for e in operator_entries}
    agents = sorted({str(e.get("user_agent")) for e in operator_entries})
    print(yaml.safe_dump({"agents": agents, "used": [list(p) for p in sorted(permissions)]}))
    return permissions


class TestTheClusterRole:
    def test_grants_every_call_the_operator_makes(self, used: set[Permission]) -> None:
        assert rbac_rules.missing(_cluster_role()["rules"], used) == []

    def test_grants_nothing_the_operator_does_not_use(self, used: set[Permission]) -> None:
        allowed = {**JUSTIFIED_UNUSED, **USED_ON_RACES}
        assert rbac_rules.unused(_cluster_role()["rules"], used, allowed) == []

    def test_every_justified_exception_is_really_unused_here(self, used: set[Permission]) -> None:
        assert sorted(set(JUSTIFIED_UNUSED) & used) == []

    def test_the_scenario_exercised_kopf_the_bridge_and_the_webhook(
        self, used: set[Permission]
    ) -> None:
        for permission in [
            ("patch", "kopf.dev", "clusterkopfpeerings"),
            ("patch", "quay.redhat.com", "quayintegrations/status"),
            ("patch", "", "serviceaccounts"),
            ("create", "image.openshift.io", "imagestreamimports"),
            ("patch", "admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
        ]:
            assert permission in used


def test_the_justified_exceptions_say_why() -> None:
    assert all(len(reason) > 20 for reason in {**JUSTIFIED_UNUSED, **USED_ON_RACES}.values())
