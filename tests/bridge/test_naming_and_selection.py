"""Names Quay accepts, and which integration selects which namespace."""

from __future__ import annotations

import pytest

from bridge.model import naming, selection
from bridge.model.spec import parse_spec


class TestOrganizationNames:
    @pytest.mark.parametrize(
        ("prefix", "namespace", "org"),
        [
            ("openshift", "e2e-demo", "openshift_e2e-demo"),
            ("OpenShift", "E2E", "openshift_e2e"),
            ("c1.prod", "team-a", "c1.prod_team-a"),
        ],
    )
    def test_org_is_prefix_underscore_namespace_lower_cased(
        self, prefix: str, namespace: str, org: str
    ) -> None:
        assert naming.organization_name(prefix, namespace) == org

    @pytest.mark.parametrize("namespace", ["a--b", "x-", "-x", "a._b", "a" * 300])
    def test_names_quay_rejects_raise_a_clear_error(self, namespace: str) -> None:
        with pytest.raises(naming.InvalidQuayName, match=r"not valid in Quay|characters long"):
            naming.organization_name("openshift", namespace)

    @pytest.mark.parametrize("name", ["a", "A1", "a--b", "ab.", "a" * 256])
    def test_quay_namespace_rule_rejects_edge_cases(self, name: str) -> None:
        with pytest.raises(naming.InvalidQuayName):
            naming.check_quay_namespace(name)

    @pytest.mark.parametrize("name", ["ab", "a.b-c_d", "a" * 255])
    def test_quay_namespace_rule_accepts_valid_names(self, name: str) -> None:
        assert naming.check_quay_namespace(name) == name

    def test_robot_full_name_joins_org_and_short_name_with_plus(self) -> None:
        assert (
            naming.robot_full_name("openshift_e2e-demo", "builder") == "openshift_e2e-demo+builder"
        )

    def test_robot_full_name_longer_than_255_is_refused(self) -> None:
        with pytest.raises(naming.InvalidQuayName, match="longer than 255"):
            naming.robot_full_name("o" * 250, "builder")

    def test_secret_name_is_sa_quay_cluster_id(self) -> None:
        assert naming.secret_name("builder", "openshift") == "builder-quay-openshift"

    @pytest.mark.parametrize(("stream", "ok"), [("httpd-example", True), ("Bad", False)])
    def test_repository_names_follow_quay_rule(self, stream: str, ok: bool) -> None:
        if ok:
            assert naming.repository_name(stream) == stream
        else:
            with pytest.raises(naming.InvalidQuayName):
                naming.repository_name(stream)


def spec(**extra: object) -> object:
    base: dict[str, object] = {
        "clusterID": "openshift",
        "credentialsSecret": {"name": "quay", "namespace": "ops"},
        "quayHostname": "https://quay.example.com",
    }
    base.update(extra)
    return parse_spec(base)


class TestNamespaceSelection:
    @pytest.mark.parametrize(
        ("namespace", "selected"),
        [
            ("e2e-demo", True),
            ("default", False),
            ("openshift", False),
            ("management-infra", False),
            ("openshift-monitoring", False),
            ("kube-system", False),
            ("kubernetes-x", True),
        ],
    )
    def test_built_in_exclusions_apply_without_lists(self, namespace: str, selected: bool) -> None:
        assert selection.selects(spec(), namespace, {}) is selected  # type: ignore[arg-type]

    def test_allowlist_limits_selection(self) -> None:
        s = spec(allowlistNamespaces=["a"])
        assert selection.selects(s, "a", {})  # type: ignore[arg-type]
        assert not selection.selects(s, "b", {})  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "namespace", ["kube-public", "kube-system", "openshift-operators", "default", "openshift"]
    )
    def test_system_namespaces_are_never_selected_even_when_allowlisted(
        self, namespace: str
    ) -> None:
        s = spec(allowlistNamespaces=[namespace, "a"])
        assert not selection.selects(s, namespace, {})  # type: ignore[arg-type]
        assert selection.ignored_in_allowlist(s) == [namespace]  # type: ignore[arg-type]
        assert selection.selects(s, "a", {})  # type: ignore[arg-type]

    def test_denylist_wins_over_allowlist(self) -> None:
        s = spec(allowlistNamespaces=["a"], denylistNamespaces=["a"])
        assert not selection.selects(s, "a", {})  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("selector", "labels", "selected"),
        [
            ({"matchLabels": {"team": "a"}}, {"team": "a"}, True),
            ({"matchLabels": {"team": "a"}}, {"team": "b"}, False),
            (
                {"matchExpressions": [{"key": "t", "operator": "In", "values": ["x"]}]},
                {"t": "x"},
                True,
            ),
            ({"matchExpressions": [{"key": "t", "operator": "In", "values": ["x"]}]}, {}, False),
            ({"matchExpressions": [{"key": "t", "operator": "NotIn", "values": ["x"]}]}, {}, True),
            ({"matchExpressions": [{"key": "t", "operator": "Exists"}]}, {"t": ""}, True),
            ({"matchExpressions": [{"key": "t", "operator": "DoesNotExist"}]}, {"t": ""}, False),
        ],
    )
    def test_label_selector_must_match(
        self, selector: dict[str, object], labels: dict[str, str], selected: bool
    ) -> None:
        s = spec(namespaceSelector=selector)
        assert selection.selects(s, "ns", labels) is selected  # type: ignore[arg-type]

    def test_overlapping_integrations_are_both_claimants(self) -> None:
        specs = {"b": spec(), "a": spec(allowlistNamespaces=["ns"])}
        assert selection.claimants(specs, "ns", {}) == ["a", "b"]  # type: ignore[arg-type]
        assert selection.claimants(specs, "other", {}) == ["b"]  # type: ignore[arg-type]


class TestSpecParsing:
    def test_defaults_follow_the_architecture_table(self) -> None:
        s = parse_spec(
            {
                "clusterID": "OpenShift",
                "credentialsSecret": {"name": "q", "namespace": "ops"},
                "quayHostname": "https://quay.example.com:8443/",
            }
        )
        assert s.credentials_secret.key == "token"
        assert [(a.name, a.role) for a in s.service_accounts] == [
            ("builder", "write"),
            ("default", "read"),
            ("deployer", "read"),
        ]
        assert s.organization_deletion_policy == "Delete"
        assert s.repository_deletion_policy == "Retain"
        assert s.resync_period_seconds == 600
        assert s.namespace_deletion_deadline_seconds == 300
        assert s.prefix == "openshift"
        assert s.registry_host == "quay.example.com:8443"
        assert s.base_url == "https://quay.example.com:8443"

    def test_organization_prefix_wins_over_cluster_id(self) -> None:
        s = spec(organizationPrefix="Team1")
        assert s.prefix == "team1"  # type: ignore[attr-defined]

    @pytest.mark.parametrize(
        ("patch", "message"),
        [
            (
                {"quayHostname": "quay.example.com"},
                "spec.quayHostname accepts the URL of Quay with its scheme and host only (an"
                " optional port, no path), e.g. https://quay.example.com"
                " (given: 'quay.example.com')",
            ),
            (
                {"clusterID": "bad id"},
                "spec.clusterID accepts letters and digits, in runs joined by single '.', '_' or"
                " '-' (e.g. openshift) (given: 'bad id')",
            ),
            (
                {"resyncPeriodSeconds": 5},
                "spec.resyncPeriodSeconds accepts a whole number of at least 30 (given: 5)",
            ),
            ({"credentialsSecret": {"name": "x"}}, "spec.credentialsSecret.namespace is required"),
            (
                {"serviceAccounts": [{"name": "Builder", "role": "owner"}]},
                "spec.serviceAccounts[0].name accepts 2-253 lower-case letters and digits,"
                " separated by single '-' or '.' (it names both a ServiceAccount and a Quay robot;"
                " given: 'Builder'); spec.serviceAccounts[0].role accepts 'read', 'write' or"
                " 'admin' (given: 'owner')",
            ),
            (
                {"organizationDeletionPolicy": "Keep", "insecureRegistry": "maybe"},
                "spec.insecureRegistry accepts true or false (given: 'maybe');"
                " spec.organizationDeletionPolicy accepts 'Delete' or 'Retain' (given: 'Keep')",
            ),
        ],
    )
    def test_bad_specs_give_one_sentence_in_words_per_problem(
        self, patch: dict[str, object], message: str
    ) -> None:
        with pytest.raises(ValueError) as raised:
            spec(**patch)
        assert str(raised.value) == message
        assert "Value error" not in message and "^" not in message
