"""Case 1 of the threat model: a Build author cannot make the operator import into another tenant.

The attack of the issue, through the real registry core, simulator and ``quay-bridge run`` with its
webhook: a Build in namespace ``attacker`` that carries the bridge's own annotations pointing at
``victim/app:latest`` (or ``openshift/nodejs:latest``) and a ``DockerImage`` output the attacker can
push to. The annotations set at creation are stripped by the webhook; set afterwards (a Build's
metadata is mutable, and no webhook sees updates) they carry no valid decision record, so the
operator refuses with a Warning Event and imports nothing. A legitimate Build still imports, and a
Build whose record is valid but whose destination is another namespace imports only once a
SubjectAccessReview lets its service account push there.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from demo.scenario import wait_for
from tests.security.conftest import BUILDS, IMAGES, Running
from vocabulary import RECORD_ANNOTATION
from webhook.decisions import sign

PREFIX = "quay-registry-operator.quay.redhat.com/"
MANAGED = PREFIX + "quay-registry-operator-managed"
DESTINATION = PREFIX + "destination-imagestream"
IMPORTED = PREFIX + "destination-imagestreamtag-imported"


@pytest.fixture(scope="module")
def tenants(running: Running) -> Running:
    for name in ("attacker", "victim"):
        running.new_project(name)
    running.image_stream("attacker", "site")
    running.image_stream("victim", "app")
    return running


def refused(running: Running, namespace: str, name: str) -> dict[str, Any] | None:
    for event in running.events(namespace, name):
        if event.get("reason") == "ImportRefused" and event.get("type") == "Warning":
            return event
    return None


def attacker_image(running: Running, tag: str) -> str:
    return f"{running.registry_host}/openshift_attacker/site:{tag}"


class TestALegitimateBuild:
    def test_is_rewritten_signed_and_imported_into_its_own_stream(self, tenants: Running) -> None:
        tenants.build("attacker", "site-1", {"kind": "ImageStreamTag", "name": "site:latest"})
        build = tenants.finished("attacker", "site-1")
        assert build["status"]["phase"] == "Complete"
        assert build["spec"]["output"]["to"]["name"] == attacker_image(tenants, "latest")
        assert build["metadata"]["annotations"][RECORD_ANNOTATION].startswith("v1:")
        wait_for(
            lambda: tenants.annotations("attacker", "site-1").get(IMPORTED) == "true" or None,
            60,
            "the legitimate build imported",
        )
        assert "latest" in tenants.tags("attacker", "site")


class TestTheConfusedDeputyAttack:
    @pytest.mark.parametrize("destination", ["victim/app:latest", "openshift/nodejs:latest"])
    def test_annotations_set_at_creation_are_stripped_and_nothing_is_imported(
        self, tenants: Running, destination: str
    ) -> None:
        name = "evil-create-" + destination.split("/")[0]
        tenants.build(
            "attacker",
            name,
            {"kind": "DockerImage", "name": attacker_image(tenants, "evil")},
            **{MANAGED: "true", DESTINATION: destination, RECORD_ANNOTATION: "v1:" + "0" * 64},
        )
        assert not any(key.startswith(PREFIX) for key in tenants.annotations("attacker", name))
        assert tenants.finished("attacker", name)["status"]["phase"] == "Complete"
        assert "latest" not in tenants.tags("victim", "app")
        assert tenants.kube.get(tenants.path("openshift", "imagestreams", "nodejs", IMAGES)) is None

    @pytest.mark.parametrize("destination", ["victim/app:latest", "openshift/nodejs:latest"])
    def test_annotations_set_after_creation_get_a_warning_and_nothing_is_imported(
        self, tenants: Running, destination: str
    ) -> None:
        name = "evil-update-" + destination.split("/")[0]
        tenants.build(
            "attacker", name, {"kind": "DockerImage", "name": attacker_image(tenants, "evil")}
        )
        # A record the webhook really wrote, for another decision (the attacker's own build).
        stolen = tenants.annotations("attacker", "site-1").get(RECORD_ANNOTATION) or "v1:00"
        tenants.kube.merge_patch(
            tenants.path("attacker", "builds", name, BUILDS),
            {
                "metadata": {
                    "annotations": {
                        MANAGED: "true",
                        DESTINATION: destination,
                        RECORD_ANNOTATION: stolen,
                    }
                }
            },
        )
        assert tenants.finished("attacker", name)["status"]["phase"] == "Complete"
        event = wait_for(lambda: refused(tenants, "attacker", name), 60, "an ImportRefused event")
        assert "decision record" in event["message"]
        assert "latest" not in tenants.tags("victim", "app")
        assert tenants.kube.get(tenants.path("openshift", "imagestreams", "nodejs", IMAGES)) is None
        assert tenants.annotations("attacker", name).get(IMPORTED) != "true"


class TestACrossNamespaceDestination:
    """A valid record is not enough for another namespace: the push right is checked too.

    The record is signed here with the operator's key, read from its Secret as only a cluster
    admin can, to reach the check after the record (a Build author cannot read that Secret).
    """

    def key(self, running: Running) -> bytes:
        secret = running.kube.get(
            "/api/v1/namespaces/quay-bridge/secrets/quay-bridge-build-decisions"
        )
        assert secret is not None, "the operator did not create its decision key Secret"
        return base64.b64decode(secret["data"]["key"])

    def signed_build(self, running: Running, name: str, tag: str) -> None:
        image = attacker_image(running, tag)
        running.build("attacker", name, {"kind": "DockerImage", "name": image})
        record = sign(self.key(running), "attacker", "victim/app:cross", image)
        running.kube.merge_patch(
            running.path("attacker", "builds", name, BUILDS),
            {
                "metadata": {
                    "annotations": {
                        MANAGED: "true",
                        DESTINATION: "victim/app:cross",
                        RECORD_ANNOTATION: record,
                    }
                }
            },
        )

    def test_is_refused_until_the_build_service_account_may_push_there(
        self, tenants: Running
    ) -> None:
        self.signed_build(tenants, "cross-1", "cross-1")
        event = wait_for(lambda: refused(tenants, "attacker", "cross-1"), 60, "ImportRefused")
        assert "attacker/builder may not update imagestreams/layers" in event["message"]
        assert "cross" not in tenants.tags("victim", "app")

        tenants.kube.create(
            tenants.path("victim", "rolebindings", api="rbac.authorization.k8s.io/v1"),
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "attacker-builder-pushes"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "system:image-builder",
                },
                "subjects": [
                    {"kind": "ServiceAccount", "name": "builder", "namespace": "attacker"}
                ],
            },
        )
        # The import runs with the destination namespace's pull secrets (the first matching one, by
        # name): let victim read the attacker's image.
        login = base64.b64encode(f"$oauthtoken:{tenants.token}".encode()).decode()
        config = {"auths": {tenants.registry_host: {"auth": login}}}
        tenants.kube.create(
            tenants.path("victim", "secrets"),
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "attacker-images"},
                "type": "kubernetes.io/dockerconfigjson",
                "data": {
                    ".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()
                },
            },
        )
        self.signed_build(tenants, "cross-2", "cross-2")
        wait_for(
            lambda: tenants.annotations("attacker", "cross-2").get(IMPORTED) == "true" or None,
            60,
            "the permitted cross-namespace build imported",
        )
        assert "cross" in tenants.tags("victim", "app")
