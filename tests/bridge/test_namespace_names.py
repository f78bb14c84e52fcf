"""A namespace's names, computed once from the spec's prefix and cluster ID (pure)."""

from __future__ import annotations

import pytest

from bridge.model import naming
from bridge.model.naming import NamespaceNames


def test_the_names_of_a_namespace_come_from_the_prefix_the_cluster_id_and_the_accounts() -> None:
    names = NamespaceNames.of("Apps", "East", "team", ["builder", "deployer"])
    assert names.organization == "apps_team"
    builder = names.robot("builder")
    assert (builder.short, builder.full, builder.secret) == (
        "builder",
        "apps_team+builder",
        "builder-quay-east",
    )
    assert [robot.service_account for robot in names.robots] == ["builder", "deployer"]
    assert names.by_secret("deployer-quay-east") == names.robot("deployer")
    assert names.by_secret("someone-elses-secret") is None
    with pytest.raises(KeyError):
        names.robot("default")


@pytest.mark.parametrize(
    ("namespace", "accounts"),
    [("a--b", ["builder"]), ("team", ["builder", "x"]), ("team", ["Bad..Name"])],
    ids=["organization", "too-short-robot", "invalid-robot"],
)
def test_a_name_quay_refuses_gives_the_same_error_as_the_rule_it_breaks(
    namespace: str, accounts: list[str]
) -> None:
    with pytest.raises(naming.InvalidQuayName) as raised:
        NamespaceNames.of("openshift", "openshift", namespace, accounts)
    with pytest.raises(naming.InvalidQuayName) as direct:
        organization = naming.organization_name("openshift", namespace)
        for account in accounts:
            naming.robot_full_name(organization, naming.robot_short_name(account))
    assert str(raised.value) == str(direct.value)


def test_the_names_are_a_frozen_value() -> None:
    names = NamespaceNames.of("openshift", "openshift", "team", ["builder"])
    with pytest.raises(AttributeError):
        names.organization = "other"  # type: ignore[misc]
    assert names == NamespaceNames.of("openshift", "openshift", "team", ["builder"])
