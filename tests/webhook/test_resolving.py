"""A Build's namespace the controller has not seen yet is decided by the rules, not "unmanaged"."""

from __future__ import annotations

import pytest

from tests.webhook.builds import destinations
from tests.webhook.support import DictView
from vocabulary import MANAGED_LABEL
from webhook.resolving import (
    Undecided,
    resolve,
)

PROVISIONED = destinations("old")
SELECTED = destinations("old", "new", "other")


def view(**overrides: object) -> DictView:
    fields: dict[str, object] = {
        "destinations": dict(PROVISIONED),
        "selected": dict(SELECTED),
        "seen": {"old": {}, "known-unmanaged": {}},
        "cluster": {"new": {}, "other": {}, "plain": {}},
    }
    fields.update(overrides)
    return DictView(**fields)  # type: ignore[arg-type]


class TestResolve:
    async def test_a_provisioned_namespace_is_answered_from_memory(self) -> None:
        state = view()

        resolution = await resolve(state, ["old"])

        assert resolution.destination_for("old") == PROVISIONED["old"]
        assert state.reads == []

    async def test_a_namespace_seen_but_not_selected_is_unmanaged_without_a_read(self) -> None:
        state = view()

        resolution = await resolve(state, ["known-unmanaged"])

        assert resolution.destination_for("known-unmanaged") is None
        assert state.reads == []

    async def test_a_namespace_seen_and_selected_but_not_provisioned_gets_its_destination(
        self,
    ) -> None:
        state = view(seen={"new": {}})

        resolution = await resolve(state, ["new"])

        assert resolution.destination_for("new") == SELECTED["new"]
        assert state.reads == []

    async def test_a_namespace_not_seen_yet_is_read_once_and_decided_by_the_rules(self) -> None:
        state = view()

        resolution = await resolve(state, ["new"])

        assert resolution.destination_for("new") == SELECTED["new"]
        assert state.reads == ["new"] == resolution.read

    async def test_an_unselected_namespace_not_seen_yet_is_unmanaged_after_one_read(self) -> None:
        state = view()

        resolution = await resolve(state, ["plain"])

        assert resolution.destination_for("plain") is None
        assert state.reads == ["plain"]

    async def test_the_managed_label_a_creator_set_does_not_make_a_namespace_managed(
        self,
    ) -> None:
        state = view(cluster={"self-labelled": {MANAGED_LABEL: "true"}})

        resolution = await resolve(state, ["self-labelled"])

        assert resolution.destination_for("self-labelled") is None

    async def test_a_namespace_that_does_not_exist_is_unmanaged(self) -> None:
        state = view()

        assert (await resolve(state, ["missing"])).destination_for("missing") is None

    async def test_a_failed_read_is_undecided_not_unmanaged(self) -> None:
        state = view(read_error=ConnectionError("refused"))

        with pytest.raises(Undecided, match="could not be read"):
            await resolve(state, ["new"])

    async def test_a_labelled_namespace_before_the_integrations_are_loaded_is_undecided(
        self,
    ) -> None:
        state = view(loaded=False, cluster={"new": {MANAGED_LABEL: "true"}})

        with pytest.raises(Undecided, match="not loaded its QuayIntegrations"):
            await resolve(state, ["new"])

    async def test_an_unlabelled_namespace_before_the_integrations_are_loaded_is_unmanaged(
        self,
    ) -> None:
        state = view(loaded=False)

        assert (await resolve(state, ["new"])).destination_for("new") is None

    async def test_the_output_namespace_is_not_read_when_the_builds_own_is_unmanaged(
        self,
    ) -> None:
        state = view()

        resolution = await resolve(state, ["plain", "other"])

        assert state.reads == ["plain"]
        assert resolution.destination_for("other") is None

    async def test_both_namespaces_of_a_cross_namespace_output_are_resolved(self) -> None:
        state = view()

        resolution = await resolve(state, ["old", "other"])

        assert resolution.destination_for("other") == SELECTED["other"]
        assert state.reads == ["other"]
