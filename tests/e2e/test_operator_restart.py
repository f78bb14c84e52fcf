"""An operator restart in the middle of the procedure: nothing is done twice, nothing is lost.

Two interruptions: a clean restart once the project is provisioned (the new process must find
everything in place and make no Quay write, counted on the registry core's ``/metrics``), and a
crash (SIGKILL) as soon as the first build exists, so the build completes while no operator runs;
the restarted operator must still import it, exactly once, and Quay must hold each object once.
"""

from __future__ import annotations

import requests

from demo.scenario import DemoConfig, Scenario, wait_for
from devstack.stack import Stack
from devstack.waiting import wait_until, wait_until_steady
from tests.e2e.conftest import RecordingReporter, quay_writes
from tests.e2e.test_seed_procedure import CHECKS
from vocabulary import IMPORTED_ANNOTATION

NS = "e2e-demo"
ORG = "openshift_e2e-demo"
BUILD = f"/apis/build.openshift.io/v1/namespaces/{NS}/builds/httpd-example-1"


def run(scenario: Scenario, *names: str) -> None:
    steps = {name: (title, step) for name, title, step in scenario.steps()}
    for name in names:
        title, step = steps[name]
        assert scenario.run_step(name, title, step), scenario.records[-1].error
        if name in CHECKS:
            CHECKS[name](scenario)


def writes(stack: Stack) -> dict[tuple[str, str, str], float]:
    text = requests.get(f"{stack.registry_url}/metrics", timeout=10).text
    return quay_writes(text)


def settle(stack: Stack, seconds: float = 3.0) -> dict[tuple[str, str, str], float]:
    """Wait until the registry core has seen no Quay write for ``seconds``; return the counts."""
    return wait_until_steady(
        lambda: writes(stack), seconds, 60, "the operator's Quay writes", interval=0.5
    )


def test_a_restarted_operator_does_nothing_twice_and_loses_nothing(stack: Stack) -> None:
    scenario = Scenario(stack, RecordingReporter(), DemoConfig())
    try:
        run(scenario, "registry", "token", "simulator", "operator", "integration", "new-project")
        assert scenario.kube is not None and scenario.quay is not None
        provisioned = settle(stack)
        assert provisioned, "the registry core's /metrics shows no Quay write at all"

        stack.stop("operator")
        stack.start_operator()
        assert settle(stack) == provisioned, "the restarted operator wrote to Quay again"

        # Crash as soon as the first build exists: it completes while no operator runs.
        run(scenario, "new-app")
        kube = scenario.kube
        wait_until(lambda: kube.get(BUILD) is not None, 60, "the first build", interval=0.02)
        stack.kill("operator")
        after_crash = kube.get(BUILD) or {}
        assert (after_crash["metadata"].get("annotations") or {}).get(
            IMPORTED_ANNOTATION
        ) != "true", "the build was imported before the crash: the restart path was not played"
        wait_for(
            lambda: (kube.get(BUILD) or {}).get("status", {}).get("phase") == "Complete",
            60,
            "the build completing while the operator is down",
        )
        # Also created while no operator runs: an ImageStream, whose repository must follow.
        kube.create(
            f"/apis/image.openshift.io/v1/namespaces/{NS}/imagestreams",
            {
                "apiVersion": "image.openshift.io/v1",
                "kind": "ImageStream",
                "metadata": {"name": "extra"},
                "spec": {},
            },
        )
        stack.start_operator()
        run(scenario, "build", "imagestream")
        quay = scenario.quay
        wait_for(lambda: "extra" in quay.repositories(ORG), 60, "repository extra after restart")

        stream = kube.get(f"/apis/image.openshift.io/v1/namespaces/{NS}/imagestreams/httpd-example")
        assert stream is not None
        assert [len(tag["items"]) for tag in stream["status"]["tags"]] == [1]
        prototypes = requests.get(
            f"{stack.registry_url}/api/v1/organization/{ORG}/prototypes",
            headers={"Authorization": f"Bearer {scenario.facts['_token']}"},
            timeout=10,
        ).json()["prototypes"]
        delegates = sorted(p["delegate"]["name"] for p in prototypes)
        assert delegates == sorted(set(delegates)), "a prototype was created twice"
        assert scenario.quay.robots(ORG) == [
            f"{ORG}+builder",
            f"{ORG}+default",
            f"{ORG}+deployer",
        ]
        assert scenario.quay.repositories(ORG) == ["extra", "httpd-example"]
        final = settle(stack)
        creates = {
            route: value
            for (method, route, _), value in final.items()
            if method == "POST"
            and route.rstrip("/") in {"/api/v1/organization", "/api/v1/repository"}
        }
        # One organization and two repositories, each created exactly once.
        assert creates == {"/api/v1/organization/": 1, "/api/v1/repository": 2}, final

        run(scenario, "delete-project")
    finally:
        scenario.close()
