"""Case 7 (operator side) of the threat model: bad input is a clear condition, never a traceback.

Through the real registry core, simulator and ``quay-bridge run``: a ``serviceAccounts`` entry
Quay cannot take (the simulator, like an API server with an older CRD, stores it) makes the
integration not Ready with a message naming the field; a credentials token that is not UTF-8, or
has a CR/LF inside, sets CredentialsValid False naming the Secret key, no traceback is logged, and
the previous token is not used meanwhile (a new project gets no organization until the token is
fixed). The operator's own namespace is never managed.
"""

from __future__ import annotations

import base64
from typing import Any

from demo.kube import KubeError
from demo.scenario import wait_for
from tests.security.conftest import CLUSTER_ID, Running, operator_log

QI = "/apis/quay.redhat.com/v1/quayintegrations"
SECRET = "/api/v1/namespaces/openshift-operators/secrets/quay-integration"


def condition(running: Running, name: str, kind: str) -> dict[str, Any] | None:
    status = (running.kube.get(f"{QI}/{name}") or {}).get("status") or {}
    for item in status.get("conditions") or []:
        if item.get("type") == kind:
            return dict(item)
    return None


def set_token(running: Running, raw: bytes) -> None:
    running.kube.merge_patch(SECRET, {"data": {"token": base64.b64encode(raw).decode()}})


def invalid_token(running: Running) -> dict[str, Any] | None:
    found = condition(running, "quay", "CredentialsValid")
    return found if found and found.get("reason") == "InvalidToken" else None


class TestAServiceAccountQuayCannotTake:
    def test_makes_the_integration_not_ready_naming_the_field(self, running: Running) -> None:
        try:
            self._create(running)
        except KubeError as exc:
            # The API server applies the CRD's pattern first: its 422 names the field too.
            assert exc.status == 422 and "spec.serviceAccounts[0].name" in str(exc)
            return
        try:
            ready = wait_for(
                lambda: (
                    (c := condition(running, "bad-sa", "Ready")) and c["status"] == "False" and c
                ),
                30,
                "bad-sa not Ready",
            )
            assert ready["reason"] == "InvalidSpec"
            assert "spec.serviceAccounts[0].name accepts" in ready["message"]
            assert "Bad_SA" in ready["message"]
            assert "Traceback" not in operator_log(running)
        finally:
            running.kube.delete(f"{QI}/bad-sa")

    @staticmethod
    def _create(running: Running) -> None:
        running.kube.create(
            QI,
            {
                "apiVersion": "quay.redhat.com/v1",
                "kind": "QuayIntegration",
                "metadata": {"name": "bad-sa"},
                "spec": {
                    "clusterID": "other",
                    "credentialsSecret": {
                        "name": "quay-integration",
                        "namespace": "openshift-operators",
                    },
                    "quayHostname": running.stack.registry_url,
                    "allowlistNamespaces": ["nothing-here"],
                    "serviceAccounts": [{"name": "Bad_SA", "role": "write"}],
                },
            },
        )


class TestATokenThatIsNotText:
    def test_sets_a_false_condition_and_the_old_token_is_not_used(self, running: Running) -> None:
        good = base64.b64decode(running.kube.get(SECRET)["data"]["token"])  # type: ignore[index]
        try:
            for raw, expected in [
                (b"\xff\xfe" + good[2:], "not UTF-8"),
                (good + b"\r\nX-Injected: 1", "carriage return"),
            ]:
                set_token(running, raw)
                found = wait_for(
                    lambda expected=expected: (
                        (c := invalid_token(running)) and expected in c["message"] and c
                    ),
                    30,
                    f"InvalidToken ({expected})",
                )
                assert "'token'" in found["message"]
                assert "openshift-operators/quay-integration" in found["message"]
                ready = condition(running, "quay", "Ready")
                assert ready is not None and ready["status"] == "False"
            # The integration is not usable: nothing is provisioned with the old token meanwhile.
            running.kube.create(
                "/apis/project.openshift.io/v1/projectrequests",
                {
                    "apiVersion": "project.openshift.io/v1",
                    "kind": "ProjectRequest",
                    "metadata": {"name": "while-broken"},
                },
            )
            org = f"{CLUSTER_ID}_while-broken"
            assert running.quay.organization(org) is None
            assert "Traceback" not in operator_log(running)
        finally:
            set_token(running, good)
        wait_for(
            lambda: (c := condition(running, "quay", "Ready")) and c["status"] == "True",
            60,
            "Ready again with the good token",
        )
        wait_for(lambda: running.quay.organization(org), 60, f"organization {org}")


class TestTheOperatorsOwnNamespace:
    def test_is_never_managed(self, running: Running) -> None:
        running.new_project("neighbour")  # the operator has gone through the namespaces
        namespace = running.kube.get("/api/v1/namespaces/quay-bridge") or {}
        labels = namespace["metadata"].get("labels") or {}
        assert "quay-bridge.quay.redhat.com/managed" not in labels
        assert "quay.redhat.com/quayintegrations" not in (
            namespace["metadata"].get("finalizers") or []
        )
        assert running.quay.organization(f"{CLUSTER_ID}_quay-bridge") is None
        assert (
            running.kube.get("/api/v1/namespaces/quay-bridge/secrets/builder-quay-openshift")
            is None
        )
