"""The product documentation's procedure (chapter 11.5), step by step, against the whole stack.

``oc new-project e2e-demo`` → organization ``openshift_e2e-demo``, robots ``+builder``,
``+default``, ``+deployer``, Secrets ``<sa>-quay-openshift`` (dockerconfigjson) linked to their
ServiceAccounts; ``oc new-app --template=httpd-example`` → a Build pushing to
``<quay host>/openshift_e2e-demo/httpd-example:latest``, the tag in Quay with the build's digest,
the ImageStream tag pointing into Quay; ``oc delete project e2e-demo`` → the organization gone.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from demo.kube import Kube
from demo.scenario import DemoConfig, Scenario, wait_for
from devstack.stack import Stack
from tests.e2e.conftest import RecordingReporter
from vocabulary import IMPORTED_ANNOTATION

NS = "e2e-demo"
ORG = "openshift_e2e-demo"
SAS = ("builder", "default", "deployer")


def check_new_project(scenario: Scenario) -> None:
    assert scenario.quay is not None and scenario.kube is not None
    assert scenario.quay.organization(ORG) is not None
    assert scenario.quay.robots(ORG) == [
        f"{ORG}+builder",
        f"{ORG}+default",
        f"{ORG}+deployer",
    ]
    for sa in SAS:
        secret = scenario.kube.get(f"/api/v1/namespaces/{NS}/secrets/{sa}-quay-openshift")
        assert secret is not None
        assert secret["type"] == "kubernetes.io/dockerconfigjson"
        config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
        entry = config["auths"][scenario.registry_host]
        assert entry["username"] == f"{ORG}+{sa}"
        kube = scenario.kube
        path = f"/api/v1/namespaces/{NS}/serviceaccounts/{sa}"

        def with_openshift_entry(
            path: str = path, sa: str = sa, kube: Kube = kube
        ) -> dict[str, Any] | None:
            # OpenShift links its own internal-registry pull secret asynchronously, maybe after
            # ours: both must end up there, neither writer dropping the other's entry.
            account = kube.get(path) or {}
            pulls = [ref["name"] for ref in account.get("imagePullSecrets") or []]
            return account if any(n.startswith(f"{sa}-dockercfg-") for n in pulls) else None

        account = wait_for(with_openshift_entry, 20, f"OpenShift's dockercfg secret linked to {sa}")
        mountable = [ref["name"] for ref in account.get("secrets") or []]
        pulls = [ref["name"] for ref in account.get("imagePullSecrets") or []]
        assert f"{sa}-quay-openshift" in mountable
        assert f"{sa}-quay-openshift" in pulls
        assert any(name.startswith(f"{sa}-dockercfg-") for name in mountable), mountable


def check_new_app(scenario: Scenario) -> None:
    assert scenario.quay is not None
    assert "httpd-example" in scenario.quay.repositories(ORG)


def check_build(scenario: Scenario) -> None:
    assert scenario.quay is not None and scenario.kube is not None
    build = scenario.kube.get(f"/apis/build.openshift.io/v1/namespaces/{NS}/builds/httpd-example-1")
    assert build is not None
    assert build["spec"]["output"]["to"] == {
        "kind": "DockerImage",
        "name": f"{scenario.registry_host}/{ORG}/httpd-example:latest",
    }
    digest = build["status"]["output"]["to"]["imageDigest"]
    assert digest.startswith("sha256:")
    assert scenario.quay.tag_digest(ORG, "httpd-example", "latest") == digest


def check_imagestream(scenario: Scenario) -> None:
    assert scenario.kube is not None
    stream = scenario.kube.get(
        f"/apis/image.openshift.io/v1/namespaces/{NS}/imagestreams/httpd-example"
    )
    assert stream is not None
    tag = stream["status"]["tags"][0]
    assert tag["tag"] == "latest"
    reference = tag["items"][0]["dockerImageReference"]
    assert reference == f"{scenario.registry_host}/{ORG}/httpd-example@{scenario.facts['_digest']}"
    build = scenario.kube.get(f"/apis/build.openshift.io/v1/namespaces/{NS}/builds/httpd-example-1")
    assert build is not None
    assert build["metadata"]["annotations"][IMPORTED_ANNOTATION] == "true"


def check_deleted(scenario: Scenario) -> None:
    assert scenario.quay is not None and scenario.kube is not None
    assert scenario.kube.get(f"/api/v1/namespaces/{NS}") is None
    assert scenario.quay.organization(ORG) is None


CHECKS: dict[str, Callable[[Scenario], None]] = {
    "new-project": check_new_project,
    "new-app": check_new_app,
    "build": check_build,
    "imagestream": check_imagestream,
    "delete-project": check_deleted,
}


def play(scenario: Scenario, before: dict[str, Callable[[], None]] | None = None) -> None:
    """Run every step, then the test's own check of what the step claims."""
    for name, title, step in scenario.steps():
        if before and name in before:
            before[name]()
        assert scenario.run_step(name, title, step), scenario.records[-1].error
        if name in CHECKS:
            CHECKS[name](scenario)


def test_the_seed_procedure_lands_the_build_in_quay_and_removes_the_org_with_the_project(
    stack: Stack,
) -> None:
    scenario = Scenario(stack, RecordingReporter(), DemoConfig())
    try:
        play(scenario)
    finally:
        scenario.close()
