"""SubjectAccessReviews answered from the RBAC objects the simulator stores, as RBAC decides."""

from __future__ import annotations

from typing import Any

import requests

from devstack.sim import SimServer
from devstack.waiting import wait_until

SAR = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
RBAC = "/apis/rbac.authorization.k8s.io/v1"


def review(sim: SimServer, user: str, groups: list[str], **attributes: str) -> dict[str, Any]:
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": user, "groups": groups, "resourceAttributes": attributes},
    }
    answer = requests.post(sim.url + SAR, json=body, timeout=10)
    assert answer.status_code == 201, answer.text
    return dict(answer.json()["status"])


def push(namespace: str, stream: str = "app") -> dict[str, str]:
    return {
        "namespace": namespace,
        "verb": "update",
        "group": "image.openshift.io",
        "resource": "imagestreams",
        "subresource": "layers",
        "name": stream,
    }


def new_namespace(sim: SimServer, name: str) -> None:
    requests.post(f"{sim.url}/api/v1/namespaces", json={"metadata": {"name": name}}, timeout=10)

    def bound() -> bool:
        path = f"{RBAC}/namespaces/{name}/rolebindings/system:image-builders"
        return requests.get(sim.url + path, timeout=10).ok

    wait_until(bound, 10, f"the system:image-builders binding in {name}")


class TestSubjectAccessReviews:
    def test_a_builder_may_push_in_its_own_namespace_only(self, sim: SimServer) -> None:
        new_namespace(sim, "sar-a")
        new_namespace(sim, "sar-b")
        user, groups = "system:serviceaccount:sar-a:builder", ["system:serviceaccounts"]
        own = review(sim, user, groups, **push("sar-a"))
        assert own["allowed"] is True and "system:image-builders" in own["reason"]
        assert review(sim, user, groups, **push("sar-b"))["allowed"] is False
        deployer = "system:serviceaccount:sar-a:deployer"
        assert review(sim, deployer, groups, **push("sar-a"))["allowed"] is False

    def test_a_role_binding_in_the_other_namespace_grants_it(self, sim: SimServer) -> None:
        new_namespace(sim, "sar-c")
        new_namespace(sim, "sar-d")
        binding = {
            "metadata": {"name": "c-pushes"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:image-builder",
            },
            "subjects": [{"kind": "Group", "name": "system:serviceaccounts:sar-c"}],
        }
        path = f"{sim.url}{RBAC}/namespaces/sar-d/rolebindings"
        assert requests.post(path, json=binding, timeout=10).status_code == 201
        groups = ["system:serviceaccounts", "system:serviceaccounts:sar-c"]
        user = "system:serviceaccount:sar-c:builder"
        assert review(sim, user, groups, **push("sar-d"))["allowed"] is True

    def test_resource_names_and_wildcards_are_honoured(self, sim: SimServer) -> None:
        new_namespace(sim, "sar-e")
        role = {
            "metadata": {"name": "one-stream"},
            "rules": [
                {
                    "apiGroups": ["*"],
                    "resources": ["*/layers"],
                    "verbs": ["*"],
                    "resourceNames": ["web"],
                }
            ],
        }
        assert requests.post(f"{sim.url}{RBAC}/namespaces/sar-e/roles", json=role, timeout=10).ok
        binding = {
            "metadata": {"name": "alice-web"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "one-stream",
            },
            "subjects": [{"kind": "User", "name": "alice"}],
        }
        path = f"{sim.url}{RBAC}/namespaces/sar-e/rolebindings"
        assert requests.post(path, json=binding, timeout=10).ok
        assert review(sim, "alice", [], **push("sar-e", "web"))["allowed"] is True
        assert review(sim, "alice", [], **push("sar-e", "api"))["allowed"] is False
        assert review(sim, "bob", [], **push("sar-e", "web"))["allowed"] is False

    def test_cluster_admins_may_do_anything(self, sim: SimServer) -> None:
        assert review(sim, "someone", ["system:masters"], **push("anywhere"))["allowed"] is True

    def test_a_review_without_resource_attributes_is_invalid(self, sim: SimServer) -> None:
        spec = {"user": "alice", "nonResourceAttributes": {"path": "/healthz"}}
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": spec,
        }
        answer = requests.post(sim.url + SAR, json=body, timeout=10)
        assert answer.status_code == 422
        assert "resourceAttributes" in answer.json()["message"]
