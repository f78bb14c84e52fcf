"""The pure ownership rules: which existing Quay organization may serve which namespace."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from bridge.model.ownership import (
    OWNER_ROBOT,
    ROBOT_DESCRIPTION,
    Claim,
    Verdict,
    claim_of,
    judge,
    owner_description,
    owner_of,
    robot_description,
)
from vocabulary import ADOPT_ANNOTATION

ORG = "openshift_team"
UID = "0b0c5a3e-1111-4e5e-9a5a-2f4c1f2d3e4f"
CREATED = datetime.datetime(2026, 12, 1, 10, 0, 0, tzinfo=datetime.UTC)
LATER = "Tue, 01 Dec 2026 10:00:05 -0000"
EARLIER = "Mon, 30 Nov 2026 09:00:00 -0000"


def claim(**changes: Any) -> Claim:
    values: dict[str, Any] = {
        "namespace": "team",
        "uid": UID,
        "created": CREATED,
        "finalized": True,
        "adopt": "",
    }
    values.update(changes)
    return Claim(**values)


def robot(short: str, description: str, created: str | None = LATER) -> dict[str, Any]:
    return {"name": f"{ORG}+{short}", "description": description, "created": created}


def bridge_robots(created: str | None = LATER) -> list[dict[str, Any]]:
    return [
        robot(sa, ROBOT_DESCRIPTION.format(sa=sa, ns="team"), created)
        for sa in ("builder", "default", "deployer")
    ]


def marker(uid: str = UID, namespace: str = "team") -> dict[str, Any]:
    return robot(OWNER_ROBOT, owner_description(namespace, uid))


class TestTheOwnerMarker:
    def test_names_the_namespace_and_uid_within_quays_description_limit(self) -> None:
        description = owner_description("n" * 63, UID)
        assert len(description) <= 255
        assert owner_of([robot(OWNER_ROBOT, description)], ORG) == ("n" * 63, UID)

    def test_of_this_namespace_uid_means_owned(self) -> None:
        verdict = judge(ORG, [marker(), *bridge_robots()], claim())
        assert verdict.verdict is Verdict.OWNED and verdict.usable and not verdict.needs_marker

    def test_of_another_uid_is_a_retained_org_of_an_earlier_namespace(self) -> None:
        verdict = judge(ORG, [marker(uid="old-uid"), *bridge_robots()], claim())
        assert verdict.verdict is Verdict.FOREIGN and not verdict.usable
        assert "old-uid" in verdict.reason and UID in verdict.reason
        assert ADOPT_ANNOTATION in verdict.reason

    def test_of_another_namespace_name_is_foreign_too(self) -> None:
        assert judge(ORG, [marker(namespace="other")], claim()).verdict is Verdict.FOREIGN

    def test_with_a_description_edited_out_of_shape_is_not_ours(self) -> None:
        verdict = judge(ORG, [robot(OWNER_ROBOT, "made by hand")], claim())
        assert verdict.verdict is Verdict.FOREIGN and not verdict.usable


def marked_robots(uid: str = UID, namespace: str = "team") -> list[dict[str, Any]]:
    """The pull-secret robots the bridge makes in a new organization, each carrying the marker."""
    return [
        robot(sa, robot_description(sa, namespace, uid))
        for sa in ("builder", "default", "deployer")
    ]


class TestTheMarkerOnThePullSecretRobots:
    def test_of_this_namespace_uid_means_owned_without_a_marker_robot(self) -> None:
        verdict = judge(ORG, marked_robots(), claim())
        assert verdict.verdict is Verdict.OWNED and not verdict.needs_marker

    def test_one_robot_left_still_proves_it(self) -> None:
        assert judge(ORG, marked_robots()[:1], claim()).verdict is Verdict.OWNED

    def test_of_another_uid_is_a_retained_org_of_an_earlier_namespace(self) -> None:
        verdict = judge(ORG, marked_robots(uid="old-uid"), claim())
        assert verdict.verdict is Verdict.FOREIGN and "old-uid" in verdict.reason

    def test_robots_that_disagree_prove_nothing(self) -> None:
        robots = [*marked_robots()[:2], *marked_robots(uid="old-uid")[2:]]
        assert owner_of(robots, ORG) == ("", "")
        assert judge(ORG, robots, claim()).verdict is Verdict.FOREIGN

    def test_the_marker_robot_wins_over_them_after_an_adoption(self) -> None:
        robots = [marker(), *marked_robots(uid="old-uid")]
        assert judge(ORG, robots, claim()).verdict is Verdict.OWNED

    def test_a_robot_of_another_organization_in_the_listing_is_ignored(self) -> None:
        other = {"name": "openshift_x+builder", "description": robot_description("b", "team", UID)}
        assert judge(ORG, [other], claim()).verdict is Verdict.UNKNOWN

    def test_a_very_long_service_account_name_never_cuts_the_marker(self) -> None:
        description = robot_description("s" * 253, "n" * 63, UID)
        assert len(description) == 255
        assert owner_of([robot("s" * 253, description)], ORG) == ("n" * 63, UID)

    def test_a_hand_made_robot_with_a_look_alike_text_elsewhere_is_not_a_marker(self) -> None:
        text = "ci robot; see quay-bridge: pull secret for namespace team (uid " + UID + ")"
        assert judge(ORG, [robot("ci", text)], claim()).verdict is Verdict.UNKNOWN


class TestAnOrganizationWithoutMarker:
    def test_made_by_hand_is_unknown_and_never_used(self) -> None:
        verdict = judge(ORG, [robot("ci", "")], claim())
        assert verdict.verdict is Verdict.UNKNOWN and not verdict.usable
        assert "did not create it" in verdict.reason

    def test_empty_is_unknown(self) -> None:
        assert judge(ORG, [], claim()).verdict is Verdict.UNKNOWN

    def test_made_by_the_bridge_before_the_marker_for_this_namespace_is_legacy(self) -> None:
        verdict = judge(ORG, bridge_robots(), claim())
        assert verdict.verdict is Verdict.LEGACY and verdict.usable and verdict.needs_marker

    def test_whose_robots_predate_the_namespace_belonged_to_an_earlier_one(self) -> None:
        assert judge(ORG, bridge_robots(EARLIER), claim()).verdict is Verdict.UNKNOWN

    def test_with_robots_of_unknown_age_is_not_claimed_automatically(self) -> None:
        assert judge(ORG, bridge_robots(None), claim()).verdict is Verdict.UNKNOWN

    def test_is_legacy_only_for_a_namespace_the_bridge_already_finalized(self) -> None:
        assert judge(ORG, bridge_robots(), claim(finalized=False)).verdict is Verdict.UNKNOWN

    def test_with_a_robot_added_by_hand_fails_safe(self) -> None:
        robots = [*bridge_robots(), robot("ci", "our CI")]
        assert judge(ORG, robots, claim()).verdict is Verdict.UNKNOWN

    def test_with_robots_of_another_namespace_is_unknown(self) -> None:
        robots = [robot("builder", ROBOT_DESCRIPTION.format(sa="builder", ns="other"))]
        assert judge(ORG, robots, claim()).verdict is Verdict.UNKNOWN


class TestExplicitAdoption:
    @pytest.mark.parametrize("robots", [[], [robot("ci", "")], [marker(uid="old-uid")]])
    def test_of_exactly_this_org_wins(self, robots: list[dict[str, Any]]) -> None:
        verdict = judge(ORG, robots, claim(adopt=ORG))
        assert verdict.verdict is Verdict.ADOPT and verdict.usable and verdict.needs_marker

    def test_happens_once_the_marker_names_the_namespace_the_annotation_changes_nothing(
        self,
    ) -> None:
        verdict = judge(ORG, [marker(), *bridge_robots()], claim(adopt=ORG))
        assert verdict.verdict is Verdict.OWNED and not verdict.needs_marker

    def test_naming_another_org_adopts_nothing(self) -> None:
        assert judge(ORG, [robot("ci", "")], claim(adopt="openshift_x")).verdict is Verdict.UNKNOWN


class TestAClaimFromANamespace:
    def test_reads_uid_creation_finalizer_and_adoption(self) -> None:
        body = {
            "metadata": {
                "name": "team",
                "uid": UID,
                "creationTimestamp": "2026-12-01T10:00:00Z",
                "finalizers": ["quay.redhat.com/quayintegrations"],
                "annotations": {ADOPT_ANNOTATION: f" {ORG} "},
            }
        }
        assert claim_of(body, "quay.redhat.com/quayintegrations") == claim(adopt=ORG)

    @pytest.mark.parametrize("body", [{}, {"metadata": None}, {"metadata": {"annotations": []}}])
    def test_from_a_garbled_body_claims_nothing(self, body: dict[str, Any]) -> None:
        found = claim_of(body, "f")
        assert (found.uid, found.adopt, found.finalized) == ("", "", False)
