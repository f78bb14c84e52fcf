"""The demo's story, step by step: what an OpenShift user does and what each step must show.

It follows the product documentation's procedure for the Quay Bridge Operator (chapter 11.5):
``oc new-project e2e-demo`` gives a Quay organization ``openshift_e2e-demo`` with robots
``+builder``, ``+default`` and ``+deployer`` and three ``<sa>-quay-openshift`` pull secrets;
``oc new-app --template=httpd-example`` gives a repository and a Build rewritten to push into it;
the Build pushes, the ImageStream tag follows the image in Quay; ``oc delete project e2e-demo``
removes the organization. Every step checks what it claims and reports the facts it saw; a step
that does not hold within its time bound fails the demo. ``tests/e2e`` plays the same steps.
"""

from __future__ import annotations

import base64
import functools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import yaml

from demo.browser import BrowserError, ui_screenshots
from demo.kube import Kube, KubeError
from demo.quay import Quay, QuayError
from demo.reporting import Reporter, StepRecord
from devstack.stack import Stack
from devstack.waiting import NOT_YET, WaitTimeout, wait_until
from vocabulary import IMPORTED_ANNOTATION, MANAGED_LABEL

T = TypeVar("T")

#: The namespace the operator runs in (``deploy/base``), where it keeps its shared Secrets.
OPERATOR_NAMESPACE = "quay-bridge"
SERVICE_ACCOUNTS = ("builder", "default", "deployer")
#: The Quay user the demo bootstraps (also the web UI's sign-in).
USERNAME = "quayadmin"


@dataclass
class DemoConfig:
    """What the demo creates and how long each wait may take (seconds).

    Attributes:
        namespace: the project the user creates.
        cluster_id: the QuayIntegration's ``clusterID`` (organization prefix, Secret suffix).
        template: the template ``oc new-app`` instantiates.
        operator_namespace: where the credentials Secret lives (as in the product documentation;
            ``openshift-*`` namespaces are never managed, so it gets no organization).
        quay_url: the ``quayHostname`` the integration names; the registry core's URL when empty
            (tests put a fault-injecting proxy there).
        organization_prefix: the integration's ``organizationPrefix`` (``cluster_id`` if empty).
        provision_timeout: organization, robots, Secrets and links after ``new-project``.
        build_timeout: the build running and pushing, the ImageStream following it.
        delete_timeout: the namespace and the organization gone after ``delete project``.
        screenshots_dir: where the ``screenshots`` step saves the web UI's organization and robot
            pages (empty: no such step).
        quay_token_file: an existing Quay's org-admin OAuth token, in this file: the demo then
            plays against the Quay at ``quay_url`` instead of starting the registry core and
            bootstrapping a user (empty: start the registry core).
    """

    namespace: str = "e2e-demo"
    cluster_id: str = "openshift"
    template: str = "httpd-example"
    operator_namespace: str = "openshift-operators"
    quay_url: str = ""
    organization_prefix: str = ""
    provision_timeout: float = 60.0
    build_timeout: float = 120.0
    delete_timeout: float = 60.0
    screenshots_dir: str = ""
    quay_token_file: str = ""

    @property
    def existing_quay(self) -> bool:
        """Whether the story plays against an existing Quay (``quay_url`` and a token file)."""
        return bool(self.quay_url and self.quay_token_file)

    @property
    def organization(self) -> str:
        """The Quay organization of the namespace."""
        return f"{(self.organization_prefix or self.cluster_id).lower()}_{self.namespace}"


class StepFailedError(RuntimeError):
    """A step's check did not hold."""


def wait_for(fetch: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``fetch`` until it returns something truthy; return it, or fail the step (``what``)."""
    try:
        return wait_until(fetch, timeout, what, interval=0.2, tolerate=NOT_YET)
    except WaitTimeout as error:
        raise StepFailedError(str(error)) from None


def crd_manifest() -> dict[str, Any]:
    """Return the QuayIntegration CRD shipped in the ``crds`` package (data only)."""
    text = resources.files("crds").joinpath("quayintegration.yaml").read_text()
    manifest: dict[str, Any] = yaml.safe_load(text)
    return manifest


@dataclass
class Scenario:
    """Plays the demo's steps on a :class:`Stack`, telling a :class:`Reporter` as it goes."""

    stack: Stack
    reporter: Reporter
    config: DemoConfig = field(default_factory=DemoConfig)
    records: list[StepRecord] = field(default_factory=list)
    quay: Quay | None = None
    kube: Kube | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    # -- running -------------------------------------------------------------------------------

    def steps(self) -> list[tuple[str, str, Callable[[], dict[str, Any]]]]:
        """The steps in order: name, title, function returning the facts it saw."""
        ns = self.config.namespace
        quay: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
            ("registry", "Start the registry core (Quay API + OCI registry)", self.start_registry),
            ("token", "Bootstrap a Quay user and OAuth token (user/initialize)", self.bootstrap),
        ]
        if self.config.existing_quay:
            quay = [
                (
                    "quay",
                    f"Use the existing Quay at {self.config.quay_url} with an org-admin token",
                    self.use_existing_quay,
                )
            ]
        return [
            *quay,
            ("simulator", "Start the OpenShift simulator", self.start_simulator),
            ("operator", "Start the operator with its admission webhook", self.start_operator),
            (
                "integration",
                "Create the credentials Secret and the QuayIntegration",
                self.create_integration,
            ),
            ("new-project", f"oc new-project {ns}", self.new_project),
            ("new-app", f"oc new-app --template={self.config.template}", self.new_app),
            ("build", "The build runs and pushes to Quay", self.build_pushes),
            ("imagestream", "The ImageStream tag follows the image in Quay", self.stream_follows),
            *(
                [("screenshots", "Screenshots of the web UI's pages", self.screenshots)]
                if self.config.screenshots_dir
                else []
            ),
            ("delete-project", f"oc delete project {ns}", self.delete_project),
        ]

    def run(self, only: set[str] | None = None) -> bool:
        """Run every step (or those named in ``only``) until one fails; return whether all held."""
        for name, title, step in self.steps():
            if only is not None and name not in only:
                continue
            if not self.run_step(name, title, step):
                return False
        return True

    def run_step(self, name: str, title: str, step: Callable[[], dict[str, Any]]) -> bool:
        """Run one step, record and report it; return whether it held."""
        self.reporter.started(name, title)
        started = time.monotonic()
        try:
            facts = step()
        except Exception as error:  # any failure fails the step, reported
            record = StepRecord(
                name,
                title,
                False,
                time.monotonic() - started,
                error=f"{type(error).__name__}: {error}",
            )
        else:
            record = StepRecord(name, title, True, time.monotonic() - started, facts)
            self.facts.update({f"{name}.{key}": value for key, value in facts.items()})
        self.records.append(record)
        self.reporter.finished(record)
        return record.ok

    def close(self) -> None:
        """Close the HTTP sessions (the stack is closed by its owner)."""
        for client in (self.quay, self.kube):
            if client is not None:
                client.close()

    # -- helpers -------------------------------------------------------------------------------

    @property
    def _kube(self) -> Kube:
        if self.kube is None:
            raise StepFailedError("the simulator is not running")
        return self.kube

    @property
    def _quay(self) -> Quay:
        if self.quay is None:
            raise StepFailedError("the registry core is not running")
        return self.quay

    @property
    def quay_url(self) -> str:
        """The Quay URL the integration names."""
        return self.config.quay_url or self.stack.registry_url

    @property
    def _plain_http(self) -> bool:
        return urlsplit(self.quay_url).scheme == "http"

    @property
    def registry_host(self) -> str:
        """``host:port`` of Quay in image references."""
        return urlsplit(self.quay_url).netloc

    def _ns_path(self, resource: str, name: str = "", group: str = "") -> str:
        base = f"/apis/{group}" if group else "/api/v1"
        path = f"{base}/namespaces/{self.config.namespace}/{resource}"
        return f"{path}/{name}" if name else path

    # -- the steps -----------------------------------------------------------------------------

    def start_registry(self) -> dict[str, Any]:
        """Start the registry core."""
        url = self.stack.start_registry()
        self.quay = Quay(url)
        return {"url": url, "pid": self.stack.components["registry"].pid}

    def use_existing_quay(self) -> dict[str, Any]:
        """Read the org-admin token, check it with Quay, and check the project's org is free.

        The bridge never writes into an organization it did not create (``docs/security.md``), so
        an organization of the project's name already in Quay would only end in a refusal: the
        step says so before anything is started.
        """
        path = Path(self.config.quay_token_file)
        try:
            token = path.read_text().strip()
        except OSError as error:
            raise StepFailedError(
                f"cannot read the Quay token file {path}: {error.strerror or error}"
            ) from None
        if not token:
            raise StepFailedError(f"the Quay token file {path} is empty")
        if any(ch.isspace() for ch in token):
            raise StepFailedError(
                f"the Quay token file {path} holds more than one word: it must hold only the "
                "OAuth access token"
            )
        self.quay = Quay(self.config.quay_url, token)
        try:
            user = self.quay.user()
            existing = self.quay.organization(self.config.organization)
        except (QuayError, requests.RequestException) as error:
            raise StepFailedError(str(error)) from None
        if existing is not None:
            raise StepFailedError(
                f"Quay organization {self.config.organization} already exists at "
                f"{self.config.quay_url}; the bridge would refuse to use it (it did not make it): "
                "pick another --namespace, or delete the organization"
            )
        self.facts["_token"] = token
        return {
            "url": self.config.quay_url,
            "user": user.get("username", "?"),
            "token": f"(read from {path}, kept in the credentials Secret, not shown)",
        }

    def bootstrap(self) -> dict[str, Any]:
        """Create the first Quay user and keep its token for the credentials Secret."""
        password = secrets.token_urlsafe(18)
        self.facts["_token"] = self._quay.initialize(USERNAME, password, "admin@example.com")
        # Kept for the web UI's sign-in (printed only by --keep, for the user at the terminal).
        self.facts["_password"] = password
        return {"user": USERNAME, "token": "(kept in the credentials Secret, not shown)"}

    def start_simulator(self) -> dict[str, Any]:
        """Start the simulator and apply the QuayIntegration CRD to it."""
        extra = (self.registry_host,) if self.config.quay_url and self._plain_http else ()
        kubeconfig = self.stack.start_sim(
            self.stack.registry_url or self.quay_url, insecure_hosts=extra
        )
        self.kube = Kube(kubeconfig)
        crd = crd_manifest()
        path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        if self._kube.get(f"{path}/{crd['metadata']['name']}") is None:
            self._kube.create(path, crd)
        wait_for(lambda: self._kube.get("/apis/quay.redhat.com/v1"), 30, "the CRD being served")
        return {
            "api": self.stack.sim_url,
            "kubeconfig": str(kubeconfig),
            "crd": crd["metadata"]["name"],
            "pid": self.stack.components["sim"].pid,
        }

    def start_operator(self) -> dict[str, Any]:
        """Make the webhook certificates, start the operator and register its webhook.

        The operator's own namespace (``quay-bridge``, as ``deploy/base`` installs it) is created
        first: the operator keeps the key its webhook signs Build decisions with in a Secret there,
        so a restarted operator still imports the Builds rewritten before the restart.
        """
        if self._kube.get(f"/api/v1/namespaces/{OPERATOR_NAMESPACE}") is None:
            self._kube.create(
                "/api/v1/namespaces",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OPERATOR_NAMESPACE}},
            )
        cert_dir = self.stack.make_certificates()
        self.stack.start_operator()
        ca = (cert_dir / "ca.crt").read_bytes()
        config = webhook_configuration(self.stack.webhook_url, ca)
        path = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
        if self._kube.get(f"{path}/{config['metadata']['name']}") is None:
            self._kube.create(path, config)
        return {
            "webhook": self.stack.webhook_url,
            "metrics": self.stack.metrics_url,
            "pid": self.stack.components["operator"].pid,
        }

    def create_integration(self) -> dict[str, Any]:
        """Create the operator's namespace, the token Secret, the QuayIntegration; await Ready."""
        ns = self.config.operator_namespace
        if self._kube.get(f"/api/v1/namespaces/{ns}") is None:
            self._kube.create(
                "/api/v1/namespaces",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
            )
        token = str(self.facts.get("_token", ""))
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "quay-integration", "namespace": ns},
            "type": "Opaque",
            "data": {"token": base64.b64encode(token.encode()).decode()},
        }
        self._kube.create(f"/api/v1/namespaces/{ns}/secrets", secret)
        integration = {
            "apiVersion": "quay.redhat.com/v1",
            "kind": "QuayIntegration",
            "metadata": {"name": "quay"},
            "spec": {
                "clusterID": self.config.cluster_id,
                "credentialsSecret": {"name": "quay-integration", "namespace": ns, "key": "token"},
                "quayHostname": self.quay_url,
                # The registry core speaks plain HTTP on loopback: imports must allow it. An
                # existing Quay behind HTTPS is verified.
                "insecureRegistry": self._plain_http,
            },
        }
        self._kube.create("/apis/quay.redhat.com/v1/quayintegrations", integration)

        def ready() -> dict[str, Any] | None:
            current = self._kube.get("/apis/quay.redhat.com/v1/quayintegrations/quay") or {}
            for condition in (current.get("status") or {}).get("conditions") or []:
                if condition.get("type") == "Ready" and condition.get("status") == "True":
                    return dict(condition)
            return None

        wait_for(ready, self.config.provision_timeout, "the QuayIntegration becoming Ready")
        return {
            "quayintegration": "quay",
            "clusterID": self.config.cluster_id,
            "quayHostname": self.quay_url,
            "credentials": f"Secret {ns}/quay-integration",
        }

    def new_project(self) -> dict[str, Any]:
        """``oc new-project``: a ProjectRequest; then the organization, robots and pull secrets."""
        ns, org = self.config.namespace, self.config.organization
        self._kube.create(
            "/apis/project.openshift.io/v1/projectrequests",
            {
                "apiVersion": "project.openshift.io/v1",
                "kind": "ProjectRequest",
                "metadata": {"name": ns},
            },
        )
        timeout = self.config.provision_timeout
        wait_for(lambda: self._quay.organization(org), timeout, f"Quay organization {org}")
        expected = [f"{org}+{sa}" for sa in SERVICE_ACCOUNTS]

        def all_robots() -> list[str] | None:
            found = self._quay.robots(org)
            return found if set(expected) <= set(found) else None

        robots = wait_for(all_robots, timeout, f"robots {', '.join(expected)}")
        secret_names = [f"{sa}-quay-{self.config.cluster_id}" for sa in SERVICE_ACCOUNTS]
        types: dict[str, str] = {}
        for name in secret_names:
            path = self._ns_path("secrets", name)
            secret = wait_for(
                functools.partial(self._kube.get, path), timeout, f"Secret {ns}/{name}"
            )
            types[name] = str(secret.get("type"))
            if secret.get("type") != "kubernetes.io/dockerconfigjson":
                raise StepFailedError(f"Secret {name} has type {secret.get('type')}")
        for sa, name in zip(SERVICE_ACCOUNTS, secret_names, strict=True):
            what = f"ServiceAccount {sa} linking {name} (secrets and imagePullSecrets)"
            wait_for(functools.partial(self._linked, sa, name), timeout, what)
        return {
            "organization": org,
            "robots": robots,
            "secrets": [f"{name} ({kind})" for name, kind in types.items()],
            "linked": "each Secret in its ServiceAccount's secrets and imagePullSecrets",
        }

    def _linked(self, sa: str, secret: str) -> bool:
        account = self._kube.get(self._ns_path("serviceaccounts", sa)) or {}
        mountable = {ref.get("name") for ref in account.get("secrets") or []}
        pulls = {ref.get("name") for ref in account.get("imagePullSecrets") or []}
        return secret in mountable and secret in pulls

    def new_app(self) -> dict[str, Any]:
        """``oc new-app --template``: process the template and create each object."""
        ns, name = self.config.namespace, self.config.template
        template = self._kube.get(
            f"/apis/template.openshift.io/v1/namespaces/{ns}/templates/{name}"
        ) or self._kube.get(f"/apis/template.openshift.io/v1/namespaces/openshift/templates/{name}")
        if template is None:
            raise StepFailedError(f"template {name} not found in {ns} nor in openshift")
        template["metadata"] = {"name": name, "namespace": ns}
        processed = self._kube.create(
            f"/apis/template.openshift.io/v1/namespaces/{ns}/processedtemplates", template
        )
        created, skipped = [], []
        for obj in processed.get("objects") or []:
            metadata = obj.setdefault("metadata", {})
            metadata.setdefault("annotations", {})["openshift.io/generated-by"] = "OpenShiftNewApp"
            metadata.pop("namespace", None)
            path = self._kube.resource_path(obj["apiVersion"], obj["kind"], ns)
            label = f"{obj['kind']}/{metadata.get('name')}"
            if path is None:
                skipped.append(f"{label} (not served by this cluster)")
                continue
            self._kube.create(path, obj)
            created.append(label)
        org = self.config.organization
        wait_for(
            lambda: name in self._quay.repositories(org),
            self.config.provision_timeout,
            f"Quay repository {org}/{name}",
        )
        facts: dict[str, Any] = {"created": created, "quay repository": f"{org}/{name}"}
        if skipped:
            facts["skipped"] = skipped
        return facts

    def build_pushes(self) -> dict[str, Any]:
        """The BuildConfig's first build is rewritten to Quay, completes and pushes the tag."""
        build_name = f"{self.config.template}-1"
        path = self._ns_path("builds", build_name, group="build.openshift.io/v1")
        timeout = self.config.build_timeout
        build = wait_for(lambda: self._kube.get(path), timeout, f"Build {build_name}")
        output = build["spec"]["output"]["to"]
        expected = f"{self.registry_host}/{self.config.organization}/{self.config.template}:latest"
        if output.get("kind") != "DockerImage" or output.get("name") != expected:
            raise StepFailedError(f"the build pushes to {output}, expected DockerImage {expected}")

        def finished() -> dict[str, Any] | None:
            current = self._kube.get(path) or {}
            phase = (current.get("status") or {}).get("phase")
            if phase in {"Failed", "Error", "Cancelled"}:
                status = current["status"]
                raise StepFailedError(
                    f"the build ended {phase}: {status.get('reason')} {status.get('message')}"
                )
            return current if phase == "Complete" else None

        build = wait_for(finished, timeout, f"Build {build_name} completing")
        digest = (((build.get("status") or {}).get("output") or {}).get("to") or {}).get(
            "imageDigest"
        )
        if not digest:
            raise StepFailedError("the build reported no status.output.to.imageDigest")
        org, repo = self.config.organization, self.config.template
        in_quay = self._quay.tag_digest(org, repo, "latest")
        if in_quay != digest:
            raise StepFailedError(
                f"Quay's {org}/{repo}:latest is {in_quay}, the build said {digest}"
            )
        self.facts["_digest"] = digest
        return {
            "build": build_name,
            "output": expected,
            "digest": digest,
            "in quay": f"{org}/{repo}:latest -> {in_quay}",
        }

    def stream_follows(self) -> dict[str, Any]:
        """The bridge imports the pushed image: the tag points into Quay; the Build is marked."""
        name = self.config.template
        digest = str(self.facts.get("_digest", ""))
        prefix = f"{self.registry_host}/{self.config.organization}/{name}@"

        def imported() -> dict[str, Any] | None:
            stream = self._kube.get(self._ns_path("imagestreams", name, "image.openshift.io/v1"))
            for tag in ((stream or {}).get("status") or {}).get("tags") or []:
                items = tag.get("items") or []
                if tag.get("tag") == "latest" and items:
                    item: dict[str, Any] = items[0]
                    return item
            return None

        item = wait_for(imported, self.config.build_timeout, f"ImageStream {name} tag latest")
        reference = str(item.get("dockerImageReference", ""))
        if not reference.startswith(prefix):
            raise StepFailedError(f"the tag points at {reference}, not into Quay ({prefix}...)")
        if digest and item.get("image") != digest:
            raise StepFailedError(f"the tag holds {item.get('image')}, the build pushed {digest}")
        build_path = self._ns_path("builds", f"{name}-1", group="build.openshift.io/v1")
        wait_for(
            lambda: (
                (
                    (self._kube.get(build_path) or {}).get("metadata", {}).get("annotations") or {}
                ).get(IMPORTED_ANNOTATION)
                == "true"
            ),
            self.config.build_timeout,
            "the Build marked destination-imagestreamtag-imported",
        )
        return {
            "imagestream": f"{name}:latest",
            "dockerImageReference": reference,
            "build annotation": f"{IMPORTED_ANNOTATION}=true",
        }

    def ui_pages(self) -> list[tuple[str, str]]:
        """The web UI pages of what the bridge made: ``(name, path)``."""
        org, repo = self.config.organization, self.config.template
        return [
            ("organization", f"/organization/{org}"),
            ("organization-robot-accounts", f"/organization/{org}?tab=robots"),
            ("organization-default-permissions", f"/organization/{org}?tab=defaultpermissions"),
            ("robot-builder", f"/organization/{org}/robot/builder"),
            ("repository-tags", f"/repository/{org}/{repo}"),
        ]

    def screenshots(self) -> dict[str, Any]:
        """Sign in to the web UI in headless Chromium and save its pages as PNG files."""
        try:
            saved = ui_screenshots(
                self.stack.workdir,
                self.stack.registry_url,
                USERNAME,
                str(self.facts.get("_password", "")),
                self.ui_pages(),
                Path(self.config.screenshots_dir),
            )
        except BrowserError as error:
            raise StepFailedError(str(error)) from None
        return {"saved": [str(path) for path in saved]}

    def delete_project(self) -> dict[str, Any]:
        """``oc delete project``: the namespace goes, and with it the organization."""
        ns, org = self.config.namespace, self.config.organization
        try:
            self._kube.delete(f"/apis/project.openshift.io/v1/projects/{ns}")
        except KubeError as error:
            if error.status not in (404, 405):
                raise
            self._kube.delete(f"/api/v1/namespaces/{ns}")
        timeout = self.config.delete_timeout
        wait_for(
            lambda: self._kube.get(f"/api/v1/namespaces/{ns}") is None,
            timeout,
            f"namespace {ns} deleted",
        )
        wait_for(
            lambda: self._quay.organization(org) is None,
            timeout,
            f"Quay organization {org} deleted",
        )
        return {"namespace": f"{ns} deleted", "organization": f"{org} deleted from Quay"}


def webhook_configuration(url: str, ca_pem: bytes) -> dict[str, Any]:
    """Return the MutatingWebhookConfiguration of ``deploy/``, reaching the webhook at ``url``."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "quay-bridge-webhook"},
        "webhooks": [
            {
                "name": "quayintegration.quay.redhat.com",
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "timeoutSeconds": 10,
                "failurePolicy": "Fail",
                "namespaceSelector": {"matchLabels": {MANAGED_LABEL: "true"}},
                "rules": [
                    {
                        "apiGroups": ["build.openshift.io"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["builds"],
                        "scope": "Namespaced",
                    }
                ],
                "clientConfig": {"url": url, "caBundle": base64.b64encode(ca_pem).decode()},
            },
            {
                # A namespace an integration selects is labelled managed at its creation.
                "name": "namespaces.quay-bridge.quay.redhat.com",
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "timeoutSeconds": 5,
                "failurePolicy": "Ignore",
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["namespaces"],
                        "scope": "Cluster",
                    }
                ],
                "clientConfig": {
                    "url": f"{url}/namespaces",
                    "caBundle": base64.b64encode(ca_pem).decode(),
                },
            },
        ],
    }
