"""The seed's procedure on a real OpenShift cluster (the original's ``hack/test-e2e.sh``, and more).

Prerequisites: the operator deployed (``deploy/``), one QuayIntegration whose credentials Secret the
``KUBECONFIG`` user may read. The test reads the Quay URL, the clusterID and the token from there,
then plays ``oc new-project``, ``oc new-app --template=httpd-example``, waits for the build and the
import, and ``oc delete project``, checking the same objects as ``tests/e2e``. Settings:
``E2E_NAMESPACE`` (default ``e2e-test``), ``E2E_BUILD_TIMEOUT`` seconds (default 900),
``QUAY_CA_BUNDLE`` (a CA file for Quay's certificate) or ``QUAY_INSECURE=1``.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator

import pytest

from demo.kube import Kube
from demo.quay import Quay
from demo.scenario import DemoConfig, Scenario
from devstack.stack import Stack
from tests.e2e.conftest import RecordingReporter

pytestmark = pytest.mark.cluster

STEPS = ("new-project", "new-app", "build", "imagestream", "delete-project")


@pytest.fixture
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    kube = Kube(os.environ["KUBECONFIG"])
    integrations = kube.items("/apis/quay.redhat.com/v1/quayintegrations")
    assert len(integrations) >= 1, "no QuayIntegration on this cluster: deploy one first"
    spec = integrations[0]["spec"]
    ref = spec["credentialsSecret"]
    secret = kube.get(f"/api/v1/namespaces/{ref['namespace']}/secrets/{ref['name']}")
    assert secret is not None, f"credentials Secret {ref['namespace']}/{ref['name']} not readable"
    token = base64.b64decode(secret["data"][ref.get("key") or "token"]).decode()
    verify: bool | str = os.environ.get("QUAY_CA_BUNDLE") or os.environ.get("QUAY_INSECURE") != "1"
    config = DemoConfig(
        namespace=os.environ.get("E2E_NAMESPACE", "e2e-test"),
        cluster_id=spec["clusterID"],
        organization_prefix=spec.get("organizationPrefix") or "",
        quay_url=spec["quayHostname"],
        provision_timeout=120,
        build_timeout=float(os.environ.get("E2E_BUILD_TIMEOUT", "900")),
        delete_timeout=300,
    )
    played = Scenario(Stack(tmp_path_factory.mktemp("cluster")), RecordingReporter(), config)
    played.kube = kube
    played.quay = Quay(spec["quayHostname"], token, verify=verify)
    try:
        yield played
    finally:
        if played.records and not played.records[-1].ok:
            kube.delete(f"/api/v1/namespaces/{config.namespace}")  # leave the cluster clean
        played.close()


def test_the_seed_procedure_holds_on_a_real_cluster(scenario: Scenario) -> None:
    steps = {name: (title, step) for name, title, step in scenario.steps()}
    for name in STEPS:
        title, step = steps[name]
        assert scenario.run_step(name, title, step), scenario.records[-1].error
    org = scenario.config.organization
    assert scenario.quay is not None and scenario.quay.organization(org) is None
