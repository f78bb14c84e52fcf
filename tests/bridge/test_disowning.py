"""When a namespace counts as selected by no integration: the decision to disown it.

Pure decision, no server: the controller's view of the cluster is built alone, its
integrations are loaded from CR bodies exactly as the watch hands them over.
"""

from __future__ import annotations

from typing import Any

import pytest

from bridge.controller.cluster_view import ClusterView
from bridge.controller.integrations import Integration
from bridge.controller.state import BridgeState
from bridge.metrics import Metrics


def integration(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "generation": 1},
        "spec": {
            "clusterID": "openshift",
            "credentialsSecret": {"name": "quay-token", "namespace": "openshift-operators"},
            "quayHostname": "https://quay.example.com",
            **spec,
        },
    }


def controller(*bodies: dict[str, Any], listed: bool = True) -> ClusterView:
    metrics = Metrics()
    made = ClusterView(
        BridgeState(), never_managed=frozenset({"quay-bridge"}), is_active=lambda: True
    )
    for body in bodies:
        loaded = Integration(body["metadata"]["name"], metrics)
        loaded.update_body(body)
        made.integrations[loaded.name] = loaded
    made.integrations_listed = listed
    return made


BY_LABEL = integration("a", namespaceSelector={"matchLabels": {"quay": "yes"}})


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}}


@pytest.mark.parametrize(
    ("integrations", "labels", "listed", "unclaimed"),
    [
        ([BY_LABEL], {}, True, True),
        ([BY_LABEL], {"quay": "yes"}, True, False),
        ([integration("a", denylistNamespaces=["team"])], {}, True, True),
        ([], {}, True, True),  # the last integration was deleted
        ([], {}, False, False),  # the integrations could not be listed yet
        ([integration("a", quayHostname="no-scheme")], {}, True, False),  # invalid spec
        ([integration("a"), integration("b", clusterID="beta")], {}, True, False),  # conflict
    ],
    ids=["label-removed", "still-selected", "denylisted", "no-integration", "not-listed",
         "invalid-spec", "conflict"],
)  # fmt: skip
def test_a_namespace_is_disowned_only_when_no_integration_can_claim_it(
    integrations: list[dict[str, Any]], labels: dict[str, str], listed: bool, unclaimed: bool
) -> None:
    made = controller(*integrations, listed=listed)
    assert made.unclaimed("team", namespace("team", **labels)) is unclaimed
