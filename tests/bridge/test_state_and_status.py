"""The webhook's view of the state, and the status an integration renders (pure, no servers)."""

from __future__ import annotations

import pytest

from bridge.controller.cluster_view import is_waiting_project
from bridge.controller.integrations import Check, Integration
from bridge.controller.state import BridgeState, NamespaceRecord
from bridge.metrics import Metrics
from bridge.model.naming import NamespaceNames
from webhook.state_view import Destination, StateView

SPEC = {
    "clusterID": "openshift",
    "credentialsSecret": {"name": "q", "namespace": "ops"},
    "quayHostname": "https://quay.example.com:8443",
}


def record(namespace: str = "team", **kwargs: object) -> NamespaceRecord:
    return NamespaceRecord(
        namespace=namespace,
        integration="quay",
        names=NamespaceNames.of("openshift", "openshift", namespace, ["builder"]),
        registry_host="quay.example.com:8443",
        **kwargs,  # type: ignore[arg-type]
    )


class TestStateView:
    def test_the_state_satisfies_the_webhook_protocol(self) -> None:
        view: StateView = BridgeState()
        assert view.destination_for("nowhere") is None

    def test_a_managed_namespace_has_a_destination_with_the_import_policy(self) -> None:
        state = BridgeState()
        state.records["team"] = record(insecure_registry=True, scheduled_import=True)
        assert state.destination_for("team") == Destination(
            "quay.example.com:8443", "openshift_team", True, True
        )

    def test_the_builder_is_ready_only_once_linked(self) -> None:
        state = BridgeState()
        state.records["team"] = record()
        assert not state.builder_ready("team")
        state.records["team"].linked.add("builder")
        assert state.builder_ready("team")
        assert not state.builder_ready("other")

    async def test_ensure_now_runs_the_installed_reconcile(self) -> None:
        state = BridgeState()
        seen: list[str] = []

        async def ensure(namespace: str) -> None:
            seen.append(namespace)

        await state.ensure_now("team")  # nothing installed yet: a no-op
        state.install_ensure(ensure)
        await state.ensure_now("team")
        assert seen == ["team"]


class TestProjects:
    @pytest.mark.parametrize(
        ("annotations", "waiting"),
        [
            ({}, False),
            ({"openshift.io/display-name": "", "openshift.io/description": ""}, True),
            (
                {
                    "openshift.io/display-name": "",
                    "openshift.io/description": "",
                    "openshift.io/sa.scc.mcs": "s0:c1,c2",
                },
                False,
            ),
        ],
    )
    def test_projects_wait_for_the_scc_annotations_and_plain_namespaces_do_not(
        self, annotations: dict[str, str], waiting: bool
    ) -> None:
        body = {"metadata": {"name": "p", "annotations": annotations}}
        assert is_waiting_project(body) is waiting


class TestStatus:
    def integration(self) -> Integration:
        integration = Integration("quay", Metrics())
        integration.update_body({"metadata": {"name": "quay", "generation": 4}, "spec": SPEC})
        return integration

    def conditions(self, body: dict[str, object]) -> dict[str, dict[str, object]]:
        return {c["type"]: c for c in body["conditions"]}  # type: ignore[attr-defined,index]

    def test_an_invalid_spec_is_not_ready_and_says_which_field(self) -> None:
        integration = Integration("quay", Metrics())
        integration.update_body(
            {"metadata": {"name": "quay"}, "spec": {**SPEC, "clusterID": "a b"}}
        )
        body = integration.status_body([])
        assert self.conditions(body)["Ready"]["status"] == "False"
        assert "spec.clusterID" in str(body["message"])

    def test_counts_and_conditions_follow_the_records_and_checks(self) -> None:
        integration = self.integration()
        integration.credentials = Check(True, "TokenAccepted", "ok")
        integration.reachable = Check(True, "Reachable", "ok")
        integration.client = object()  # type: ignore[assignment]
        done = record("a")
        done.quay_ready = True
        failed = record("b", error="Quay is unavailable")
        integration.invalid_names["a--b"] = "not valid in Quay"
        body = integration.status_body([done, failed])
        assert body["managedNamespaces"] == 1
        assert body["failedNamespaces"] == 2
        assert body["observedGeneration"] == 4
        conditions = self.conditions(body)
        assert conditions["Ready"]["status"] == "True"
        assert conditions["Conflict"]["status"] == "False"
        assert "b: Quay is unavailable" in str(body["message"])

    def test_transition_times_stay_while_the_status_does_not_change(self) -> None:
        integration = self.integration()
        integration.credentials = Check(False, "TokenRejected", "expired")
        first = self.conditions(integration.status_body([]))["CredentialsValid"]
        integration._transitions["CredentialsValid"] = ("False", "2000-01-01T00:00:00Z")
        again = self.conditions(integration.status_body([]))["CredentialsValid"]
        assert first["reason"] == again["reason"] == "TokenRejected"
        assert again["lastTransitionTime"] == "2000-01-01T00:00:00Z"

    def test_overlaps_are_reported_as_a_conflict_naming_the_other_integration(self) -> None:
        integration = self.integration()
        integration.conflicts["shared"] = ["other"]
        conflict = self.conditions(integration.status_body([]))["Conflict"]
        assert conflict["status"] == "True"
        assert conflict["reason"] == "OverlappingSelection"
        assert "shared (also other)" in str(conflict["message"])
