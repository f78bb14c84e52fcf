"""The webhooks unreachable: namespaces are still created, and the controller labels them.

deploy/base's MutatingWebhookConfiguration is registered with both webhooks pointing at a port
nothing listens on, while ``quay-bridge run`` (its controller) runs. The Namespace webhook's
``failurePolicy: Ignore`` means creating a namespace never depends on the bridge: the namespace is
created without the managed label, and the controller adds it when its watch shows the namespace
(the fallback). From then on the Build webhook's ``failurePolicy: Fail`` refuses the namespace's
Builds while the webhook is down rather than letting them push to the integrated registry, and once
the webhook is back they are rewritten.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
from kubernetes.client.exceptions import ApiException

from devstack.cluster import deployed_configuration, install_integration
from devstack.operator import Operator, make_certificates, operator_process
from devstack.ports import free_port
from devstack.registry import RegistryServer, registry_server
from devstack.sim import SimServer, sim_server
from devstack.waiting import wait_until
from tests.webhook.builds import build
from tests.webhook.operator import builder_linked, namespace_labels

MANAGED_LABEL = "quay-bridge.quay.redhat.com/managed"
CONFIGURATION = "quay-bridge-webhook"


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SimServer, RegistryServer, Operator]]:
    workdir = tmp_path_factory.mktemp("namespace-outage")
    with sim_server() as sim, registry_server() as registry:
        install_integration(sim, registry)
        certificates = make_certificates(workdir / "certs")
        with operator_process(sim.kubeconfig, cert_dir=certificates) as operator:
            yield sim, registry, operator


def register(sim: SimServer, url: str, ca_file: Path) -> None:
    """Register (or replace) deploy/base's configuration with its webhooks at ``url``."""
    admission = kubernetes.client.AdmissionregistrationV1Api(sim.api_client())
    configuration = deployed_configuration(url, ca_file.read_bytes())
    try:
        admission.delete_mutating_webhook_configuration(CONFIGURATION)
    except ApiException as exc:
        if exc.status != 404:
            raise
    admission.create_mutating_webhook_configuration(configuration)


def create_build(sim: SimServer, namespace: str) -> dict[str, Any]:
    custom = kubernetes.client.CustomObjectsApi(sim.api_client())
    body = build(namespace=namespace, name=f"httpd-example-{uuid.uuid4().hex[:6]}")
    created = custom.create_namespaced_custom_object(
        "build.openshift.io", "v1", namespace, "builds", body
    )
    return dict(created)


def test_a_namespace_created_while_the_webhooks_are_down_is_labelled_by_the_controller(
    stack: tuple[SimServer, RegistryServer, Operator],
) -> None:
    sim, registry, operator = stack
    api = sim.api_client()
    register(sim, f"https://127.0.0.1:{free_port()}/admissionwebhook", operator.ca_file)

    created = kubernetes.client.CoreV1Api(api).create_namespace({"metadata": {"name": "outage"}})

    assert MANAGED_LABEL not in (created.metadata.labels or {})  # the webhook was not reached
    wait_until(lambda: namespace_labels(api, "outage").get(MANAGED_LABEL) == "true", timeout=30)
    wait_until(lambda: builder_linked(api, "outage"), timeout=30)

    with pytest.raises(ApiException) as refused:
        create_build(sim, "outage")
    assert refused.value.status == 500
    assert "failed calling webhook" in str(refused.value.body)

    register(sim, operator.webhook_url, operator.ca_file)
    stored = create_build(sim, "outage")
    assert stored["spec"]["output"]["to"] == {
        "kind": "DockerImage",
        "name": f"{registry.host}/openshift_outage/httpd-example:latest",
    }
