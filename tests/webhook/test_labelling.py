"""The pure Namespace decision: the managed label for selected namespaces, nothing else."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jsonpatch
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.webhook.builds import destinations
from tests.webhook.namespaces import namespace, namespace_review
from vocabulary import MANAGED_LABEL
from webhook.labelling import decide_namespace
from webhook.reviews import parse_review
from webhook.state_view import Destination

SELECTED = destinations("team", "labelled")


def by_rules(name: str, labels: Mapping[str, str]) -> Destination | None:
    """Select ``team``; ``labelled`` only with ``tier=build``; ``by-name`` by its name label."""
    if name == "labelled" and labels.get("tier") != "build":
        return None
    if name == "by-name":
        return SELECTED["team"] if labels.get("kubernetes.io/metadata.name") == name else None
    return SELECTED.get(name)


def decide(body: dict[str, Any], rules_known: bool = True) -> Any:
    request = parse_review(json.dumps(body).encode()).request
    return decide_namespace(request, by_rules, rules_known)


def applied(obj: dict[str, Any], patch: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = jsonpatch.apply_patch(obj, patch)
    return result


class TestDecideNamespace:
    def test_a_selected_namespace_without_labels_gets_a_labels_map(self) -> None:
        obj = namespace("team")

        decision = decide(namespace_review(obj))

        assert applied(obj, decision.patch)["metadata"]["labels"] == {MANAGED_LABEL: "true"}

    def test_a_selected_namespace_keeps_its_labels_and_gets_ours(self) -> None:
        obj = namespace("labelled", {"tier": "build"})

        decision = decide(namespace_review(obj))

        assert applied(obj, decision.patch)["metadata"]["labels"] == {
            "tier": "build",
            MANAGED_LABEL: "true",
        }

    @pytest.mark.parametrize(
        "obj",
        [
            namespace("elsewhere"),
            namespace("labelled"),
            namespace("labelled", {"tier": "web"}),
        ],
    )
    def test_an_unselected_namespace_is_left_alone(self, obj: dict[str, Any]) -> None:
        decision = decide(namespace_review(obj))

        assert decision.patch == []
        assert "no integration selects" in decision.reason

    def test_a_selector_on_the_name_label_the_api_server_adds_later_is_honoured(self) -> None:
        obj = namespace("by-name")

        decision = decide(namespace_review(obj))

        assert applied(obj, decision.patch)["metadata"]["labels"] == {MANAGED_LABEL: "true"}

    def test_nothing_is_labelled_before_the_integrations_are_loaded(self) -> None:
        decision = decide(namespace_review(namespace("team")), rules_known=False)

        assert decision.patch == []

    def test_an_update_is_left_alone(self) -> None:
        decision = decide(namespace_review(namespace("team"), operation="UPDATE"))

        assert decision.patch == []

    def test_an_already_labelled_namespace_gets_no_patch(self) -> None:
        decision = decide(namespace_review(namespace("team", {MANAGED_LABEL: "true"})))

        assert decision.patch == []

    def test_a_build_sent_to_the_namespace_endpoint_is_left_alone(self) -> None:
        body = namespace_review(namespace("team"))
        body["request"]["kind"]["kind"] = "Build"
        body["request"]["resource"]["resource"] = "builds"

        assert decide(body).patch == []

    @given(
        st.dictionaries(
            st.sampled_from(["metadata", "spec", "kind"]),
            st.one_of(
                st.none(),
                st.text(max_size=5),
                st.dictionaries(
                    st.sampled_from(["name", "labels"]),
                    st.one_of(
                        st.none(),
                        st.sampled_from(["team", "labelled", "x"]),
                        st.dictionaries(st.text(max_size=8), st.text(max_size=5), max_size=3),
                    ),
                ),
            ),
        )
    )
    def test_any_object_shape_gets_a_decision_whose_patch_applies(
        self, obj: dict[str, Any]
    ) -> None:
        body = namespace_review(obj)
        body["request"]["name"] = "team"

        decision = decide(body)

        if decision.patch:
            assert applied(obj, decision.patch)["metadata"]["labels"][MANAGED_LABEL] == "true"
