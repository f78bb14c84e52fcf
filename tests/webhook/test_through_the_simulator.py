"""The webhook behind the simulator's mutating admission chain, over real TLS checked by caBundle.

Builds are created through the official kubernetes client; the simulator reads the
MutatingWebhookConfiguration (the deployed one, with a ``url`` client config pointing at the
webhook on loopback), calls the webhook as the API server does, applies the JSON Patch strictly and
validates the result. The webhook is the real server with a dict-backed state view.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from certs.issuing import make_ca, make_serving_cert
from certs.official_client import patch_live_ca_bundle
from certs.storing import write_serving_files
from devstack.ports import free_port
from devstack.sim import SimServer, sim_server
from devstack.waiting import wait_until
from tests.webhook.builds import QUAY, build, destinations
from tests.webhook.support import DictView, ThreadedWebhook, threaded_webhook
from vocabulary import DESTINATION_ANNOTATION, MANAGED_ANNOTATION
from webhook.serving import WebhookSettings

DEPLOYED = Path(__file__).parents[2] / "deploy" / "base" / "mutatingwebhookconfiguration.yaml"
MANAGED_LABEL = "quay-bridge.quay.redhat.com/managed"
SETTINGS = WebhookSettings(
    provision_timeout=2.0, provision_poll_interval=0.02, reload_interval=0.05
)
MANAGED = ("p", "shared", "fresh", "stuck")


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with sim_server() as running:
        core = kubernetes.client.CoreV1Api(running.api_client())
        for name in MANAGED:
            core.create_namespace({"metadata": {"name": name, "labels": {MANAGED_LABEL: "true"}}})
        core.create_namespace({"metadata": {"name": "other"}})
        yield running


@pytest.fixture(scope="module")
def api(sim: SimServer) -> kubernetes.client.ApiClient:
    return sim.api_client()


@pytest.fixture
def view() -> DictView:
    return DictView(destinations(*MANAGED), ready={"p", "shared"})


@pytest.fixture
def webhook(view: DictView, tmp_path: Path) -> Iterator[ThreadedWebhook]:
    with threaded_webhook(view, tmp_path / "certs", SETTINGS) as running:
        yield running


def register(
    api: kubernetes.client.ApiClient, url: str, ca_pem: bytes, failure_policy: str = "Fail"
) -> str:
    """Create the deployed MutatingWebhookConfiguration, reaching the webhook at ``url``."""
    body = yaml.safe_load(DEPLOYED.read_text())
    body["metadata"]["name"] = name = f"quay-bridge-{uuid.uuid4().hex[:8]}"
    hook = body["webhooks"][0]
    hook["failurePolicy"] = failure_policy
    hook["clientConfig"] = {"url": url, "caBundle": base64.b64encode(ca_pem).decode()}
    kubernetes.client.AdmissionregistrationV1Api(api).create_mutating_webhook_configuration(body)
    return name


@pytest.fixture
def registered(api: kubernetes.client.ApiClient, webhook: ThreadedWebhook) -> Iterator[str]:
    name = register(api, webhook.url, webhook.files.ca_cert.read_bytes())
    yield name
    kubernetes.client.AdmissionregistrationV1Api(api).delete_mutating_webhook_configuration(name)


def create(api: kubernetes.client.ApiClient, obj: dict[str, Any]) -> dict[str, Any]:
    """Create a Build through the simulator and return the object as stored."""
    body = copy.deepcopy(obj)
    body["metadata"]["name"] = f"b-{uuid.uuid4().hex[:8]}"
    namespace = body["metadata"]["namespace"]
    created = kubernetes.client.CustomObjectsApi(api).create_namespaced_custom_object(
        "build.openshift.io", "v1", namespace, "builds", body
    )
    return dict(created)


def refused(api: kubernetes.client.ApiClient, obj: dict[str, Any]) -> ApiException:
    with pytest.raises(ApiException) as caught:
        create(api, obj)
    return caught.value


def message_of(error: ApiException) -> str:
    """The ``message`` of the Kubernetes Status the simulator answered with."""
    return str(json.loads(error.body)["message"])


class TestRewriteThroughTheAdmissionChain:
    @pytest.mark.parametrize("strategy", ["Docker", "Source", "Custom"])
    @pytest.mark.parametrize(
        "annotations", [None, {"openshift.io/build-config.name": "app"}], ids=["bare", "annotated"]
    )
    @pytest.mark.parametrize("output_namespace", [None, "p"], ids=["no-ns", "with-ns"])
    def test_the_stored_build_pushes_to_quay_and_is_annotated(
        self,
        api: kubernetes.client.ApiClient,
        registered: str,
        strategy: str,
        annotations: dict[str, str] | None,
        output_namespace: str | None,
    ) -> None:
        to: dict[str, Any] = {"kind": "ImageStreamTag", "name": "httpd-example:latest"}
        if output_namespace:
            to["namespace"] = output_namespace

        stored = create(api, build(strategy=strategy, annotations=annotations, output={"to": to}))

        assert stored["spec"]["output"]["to"] == {
            "kind": "DockerImage",
            "name": f"{QUAY}/openshift_p/httpd-example:latest",
        }
        assert stored["metadata"]["annotations"][MANAGED_ANNOTATION] == "true"
        assert stored["metadata"]["annotations"][DESTINATION_ANNOTATION] == "p/httpd-example:latest"
        for key, value in (annotations or {}).items():
            assert stored["metadata"]["annotations"][key] == value

    def test_a_cross_namespace_output_pushes_to_the_destination_namespaces_organization(
        self, api: kubernetes.client.ApiClient, registered: str
    ) -> None:
        to = {"kind": "ImageStreamTag", "name": "lib:v2", "namespace": "shared"}

        stored = create(api, build(output={"to": to}))

        assert stored["spec"]["output"]["to"] == {
            "kind": "DockerImage",
            "name": f"{QUAY}/openshift_shared/lib:v2",
        }
        assert stored["metadata"]["annotations"][DESTINATION_ANNOTATION] == "shared/lib:v2"

    def test_an_unmanaged_namespace_is_never_sent_to_the_webhook(
        self, api: kubernetes.client.ApiClient, registered: str, view: DictView
    ) -> None:
        obj = build(namespace="other")

        stored = create(api, obj)

        assert stored["spec"]["output"] == obj["spec"]["output"]
        assert MANAGED_ANNOTATION not in (stored["metadata"].get("annotations") or {})
        assert view.lookups == 0

    def test_a_jenkins_pipeline_build_is_stored_unchanged(
        self, api: kubernetes.client.ApiClient, registered: str
    ) -> None:
        obj = build(strategy="JenkinsPipeline")

        stored = create(api, obj)

        assert stored["spec"]["output"] == obj["spec"]["output"]


class TestJustInTimeProvisioning:
    def test_the_first_build_of_a_fresh_project_is_admitted_after_provisioning(
        self, api: kubernetes.client.ApiClient, registered: str, view: DictView
    ) -> None:
        view.provision_delay = 0.5

        stored = create(api, build(namespace="fresh"))

        assert (
            stored["spec"]["output"]["to"]["name"] == f"{QUAY}/openshift_fresh/httpd-example:latest"
        )
        assert view.ensure_calls == ["fresh"]

    def test_a_project_that_never_gets_ready_is_denied_with_a_retriable_code_naming_it(
        self, api: kubernetes.client.ApiClient, registered: str, view: DictView
    ) -> None:
        view.provisionable = False

        error = refused(api, build(namespace="stuck"))

        message = message_of(error)
        assert error.status == 503
        assert message.startswith(
            'admission webhook "quayintegration.quay.redhat.com" denied the request: '
        )
        assert "'stuck'" in message
        assert "push secret" in message


class TestWebhookDown:
    @pytest.fixture
    def nowhere(
        self, api: kubernetes.client.ApiClient, request: pytest.FixtureRequest
    ) -> Iterator[str]:
        ca = make_ca().cert_pem
        name = register(api, f"https://127.0.0.1:{free_port()}/admissionwebhook", ca, request.param)
        yield request.param
        kubernetes.client.AdmissionregistrationV1Api(api).delete_mutating_webhook_configuration(
            name
        )

    @pytest.mark.parametrize("nowhere", ["Fail"], indirect=True)
    def test_with_fail_a_managed_build_is_refused_with_500_and_others_are_not(
        self, api: kubernetes.client.ApiClient, nowhere: str
    ) -> None:
        error = refused(api, build())

        assert error.status == 500
        assert "failed calling webhook" in message_of(error)
        assert create(api, build(namespace="other"))["spec"]["output"]["to"]["kind"] == (
            "ImageStreamTag"
        )

    @pytest.mark.parametrize("nowhere", ["Ignore"], indirect=True)
    def test_with_ignore_a_managed_build_is_stored_unchanged(
        self, api: kubernetes.client.ApiClient, nowhere: str
    ) -> None:
        obj = build()

        stored = create(api, obj)

        assert stored["spec"]["output"] == obj["spec"]["output"]

    def test_a_webhook_whose_certificate_the_ca_bundle_does_not_trust_fails_closed(
        self, api: kubernetes.client.ApiClient, webhook: ThreadedWebhook
    ) -> None:
        name = register(api, webhook.url, make_ca().cert_pem, "Fail")
        try:
            error = refused(api, build())
        finally:
            kubernetes.client.AdmissionregistrationV1Api(api).delete_mutating_webhook_configuration(
                name
            )

        assert error.status == 500


class TestCertificateRotation:
    def test_a_serving_certificate_rotated_by_the_same_ca_keeps_admissions_working(
        self, api: kubernetes.client.ApiClient, registered: str, webhook: ThreadedWebhook
    ) -> None:
        assert create(api, build())["spec"]["output"]["to"]["kind"] == "DockerImage"
        rotated = make_serving_cert(
            webhook.ca, "quay-bridge-webhook", "quay-bridge", ip_addresses=["127.0.0.1"]
        )

        write_serving_files(webhook.files.directory, webhook.ca.cert_pem, rotated)
        wait_for_reload(webhook)

        assert create(api, build())["spec"]["output"]["to"]["kind"] == "DockerImage"

    def test_a_new_ca_is_trusted_once_injected_into_the_ca_bundle(
        self, api: kubernetes.client.ApiClient, registered: str, webhook: ThreadedWebhook
    ) -> None:
        new_ca = make_ca()
        rotated = make_serving_cert(
            new_ca, "quay-bridge-webhook", "quay-bridge", ip_addresses=["127.0.0.1"]
        )
        write_serving_files(webhook.files.directory, new_ca.cert_pem, rotated)
        wait_for_reload(webhook)

        assert refused(api, build()).status == 500

        patch_live_ca_bundle(api, registered, new_ca.cert_pem)

        assert create(api, build())["spec"]["output"]["to"]["kind"] == "DockerImage"


def wait_for_reload(webhook: ThreadedWebhook, timeout: float = 5.0) -> None:
    wait_until(
        lambda: webhook.server.certificates.reloads >= 1,
        timeout,
        "the webhook reloading its certificate",
        interval=0.02,
    )
