"""The QuayIntegration CRD: structural, faithful to docs/architecture.md, accepting and rejecting.

The schema is checked with ``tools.structural_schema`` (no API server can run here), which applies
defaults and validates as the API server does for custom resources.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from bridge.model.spec import IntegrationSpec
from tests.packaging.manifests import ROOT, crd, crd_schema, load_documents
from tools import structural_schema

SAMPLES = sorted((ROOT / "deploy" / "samples").glob("quayintegration*.yaml"))

MINIMAL: dict[str, Any] = {
    "apiVersion": "quay.redhat.com/v1",
    "kind": "QuayIntegration",
    "metadata": {"name": "quay"},
    "spec": {
        "clusterID": "openshift",
        "quayHostname": "https://quay.example.com",
        "credentialsSecret": {"name": "quay-integration", "namespace": "openshift-operators"},
    },
}


def _architecture_table(heading: str) -> list[str]:
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split(heading, 1)[1]
    return re.findall(r"^\| `(\w+)` \|", section.split("\n\n", 2)[1], flags=re.MULTILINE)


def _with(path: str, value: Any) -> dict[str, Any]:
    """MINIMAL with the dotted ``path`` set to ``value`` (or removed when value is ``...``)."""
    document = copy.deepcopy(MINIMAL)
    *parents, last = path.split(".")
    node = document
    for part in parents:
        node = node.setdefault(part, {})
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return document


def _violations(document: Any) -> list[str]:
    return [str(v) for v in structural_schema.validate(crd_schema(), document)]


class TestTheCrdItself:
    def test_is_a_structural_schema_whose_defaults_validate(self) -> None:
        assert structural_schema.structural_problems(crd_schema()) == []

    def test_is_cluster_scoped_v1_with_short_name_qi_and_a_status_subresource(self) -> None:
        spec = crd()["spec"]
        assert (spec["group"], spec["scope"], spec["names"]["kind"]) == (
            "quay.redhat.com", "Cluster", "QuayIntegration"
        )  # fmt: skip
        assert spec["names"]["shortNames"] == ["qi"]
        (version,) = spec["versions"]
        assert version["name"] == "v1" and version["served"] and version["storage"]
        assert version["subresources"] == {"status": {}}

    def test_has_exactly_the_spec_fields_of_the_architecture_contract(self) -> None:
        documented = _architecture_table("Spec (every field")
        assert len(documented) == 18
        assert sorted(crd_schema()["properties"]["spec"]["properties"]) == sorted(documented)

    def test_has_exactly_the_status_fields_of_the_architecture_contract(self) -> None:
        text = (ROOT / "docs" / "architecture.md").read_text()
        line = text.split("Status: ", 1)[1].split("\n\n", 1)[0]
        conditions, rest = line.split("),", 1)
        documented = ["conditions", *re.findall(r"`(\w+)`", rest.split(".\n", 1)[0])]
        status = crd_schema()["properties"]["status"]["properties"]
        assert sorted(status) == sorted(set(documented))
        condition_fields = set(status["conditions"]["items"]["properties"])
        assert condition_fields == {"type", *re.findall(r"`(\w+)`", conditions.split(";", 1)[1])}

    def test_requires_credentials_secret_and_quay_hostname(self) -> None:
        assert sorted(crd_schema()["properties"]["spec"]["required"]) == [
            "credentialsSecret", "quayHostname"
        ]  # fmt: skip

    def test_cluster_id_defaults_to_openshift_in_the_schema_and_the_code(self) -> None:
        assert (
            crd_schema()["properties"]["spec"]["properties"]["clusterID"]["default"] == "openshift"
        )
        spec = IntegrationSpec.model_validate(
            {"credentialsSecret": {"name": "t", "namespace": "n"}, "quayHostname": "https://q"}
        )
        assert spec.cluster_id == "openshift" and spec.prefix == "openshift"

    @pytest.mark.parametrize(
        ("column", "path"),
        [
            ("Ready", '.status.conditions[?(@.type=="Ready")].status'),
            ("Cluster ID", ".spec.clusterID"),
            ("Reason", '.status.conditions[?(@.type=="Ready")].reason'),
            ("Quay", ".spec.quayHostname"),
            ("Managed namespaces", ".status.managedNamespaces"),
            ("Age", ".metadata.creationTimestamp"),
        ],
    )
    def test_prints_its_columns_from_fields_the_schema_has(self, column: str, path: str) -> None:
        (version,) = crd()["spec"]["versions"]
        columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
        assert columns[column] == path
        if path.startswith(".metadata"):
            return
        node = crd_schema()
        for part in re.sub(r"\[.*?\]", "", path).strip(".").split("."):
            node = node["properties"][part]
            node = node.get("items", node)


class TestTheSchemaAccepts:
    @pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
    def test_every_sample(self, path: Any) -> None:
        (document,) = load_documents(path)
        assert _violations(document) == []

    @pytest.mark.parametrize(
        ("path", "value"),
        [
            ("spec.clusterID", "OpenShift"),
            ("spec.clusterID", "east-1"),
            ("spec.clusterID", "a.b_c-d"),
            ("spec.clusterID", "x" * 63),
            ("spec.quayHostname", "http://localhost:8080"),
            ("spec.quayHostname", "https://quay.example.com/"),
            ("spec.quayHostname", "https://10.0.0.1:8443"),
            ("spec.quayHostname", "https://[::1]:8443"),
            ("spec.credentialsSecret.key", "quay.token"),
            ("spec.namespaceSelector", {"matchExpressions": [{"key": "a", "operator": "Exists"}]}),
            ("spec.caBundle", {"kind": "Secret", "name": "ca", "namespace": "quay-bridge"}),
            ("spec.serviceAccounts", [{"name": "pipeline", "role": "write"}]),
            ("spec.serviceAccounts", []),
            ("spec.robotTokenRotationSeconds", 3600),
            (
                "status",
                {
                    "conditions": [
                        {
                            "type": "Ready", "status": "True", "reason": "Synced", "message": "",
                            "lastTransitionTime": "2026-11-22T02:00:00Z", "observedGeneration": 3,
                        }
                    ],
                    "managedNamespaces": 12, "failedNamespaces": 0, "observedGeneration": 3,
                    "lastSync": "2026-11-22T02:00:00Z", "message": "12 namespaces in sync",
                },
            ),
        ],
    )  # fmt: skip
    def test_a_valid_variant(self, path: str, value: Any) -> None:
        assert _violations(_with(path, value)) == []


class TestTheSchemaRejects:
    @pytest.mark.parametrize(
        ("path", "value", "expected"),
        [
            ("spec.credentialsSecret", ..., "spec.credentialsSecret: required"),
            ("spec.credentialsSecret.name", ..., "spec.credentialsSecret.name: required"),
            ("spec.credentialsSecret.namespace", ..., "namespace: required"),
            ("spec.credentialsSecret.name", "Not_A_Name", "does not match"),
            ("spec.quayHostname", ..., "spec.quayHostname: required"),
            ("spec.quayHostname", "quay.example.com", "does not match"),
            ("spec.quayHostname", "https://quay.example.com/path", "does not match"),
            ("spec.quayHostname", "ftp://quay.example.com", "does not match"),
            ("spec.quayHostname", "https://quay example.com", "does not match"),
            ("spec.quayHostname", "https://", "does not match"),
            ("spec.clusterID", "", "shorter than"),
            ("spec.clusterID", "-openshift", "does not match"),
            ("spec.clusterID", "openshift-", "does not match"),
            ("spec.clusterID", "open__shift", "does not match"),
            ("spec.clusterID", "open shift", "does not match"),
            ("spec.clusterID", "cluster/1", "does not match"),
            ("spec.clusterID", "x" * 64, "longer than"),
            ("spec.clusterID", 42, "must be of type string"),
            ("spec.organizationPrefix", "bad prefix", "does not match"),
            ("spec.insecureRegistry", "yes", "must be of type boolean"),
            ("spec.organizationDeletionPolicy", "Orphan", "is not one of"),
            ("spec.repositoryDeletionPolicy", "delete", "is not one of"),
            ("spec.resyncPeriodSeconds", 10, "less than the minimum"),
            ("spec.robotTokenRotationSeconds", -1, "less than the minimum"),
            ("spec.namespaceDeletionDeadlineSeconds", 2**31, "does not fit format int32"),
            ("spec.serviceAccounts", [{"name": "builder", "role": "owner"}], "is not one of"),
            ("spec.serviceAccounts", [{"role": "read"}], "name: required"),
            ("spec.serviceAccounts", [{"name": "Bad_SA", "role": "read"}], "does not match"),
            ("spec.serviceAccounts", [{"name": "ci--bot", "role": "read"}], "does not match"),
            ("spec.serviceAccounts", [{"name": "ci_bot", "role": "read"}], "does not match"),
            ("spec.serviceAccounts", [{"name": "x", "role": "read"}], "shorter than"),
            (
                "spec.serviceAccounts",
                [{"name": "a", "role": "read"}, {"name": "a", "role": "write"}],
                "duplicate",
            ),
            ("spec.allowlistNamespaces", ["a", "a"], "duplicate"),
            ("spec.denylistNamespaces", "a", "must be of type array"),
            ("spec.caBundle", {"kind": "Pod", "name": "ca", "namespace": "x"}, "is not one of"),
            ("spec.caBundle", {"kind": "Secret", "name": "ca"}, "namespace: required"),
            (
                "spec.namespaceSelector",
                {"matchExpressions": [{"key": "a", "operator": "Near"}]},
                "is not one of",
            ),
            ("spec.quayHost", "https://quay.example.com", "unknown field"),
            ("status.conditions", [{"type": "Ready", "status": "Yes"}], "is not one of"),
            ("status.lastSync", "yesterday", "date-time"),
            ("status.managedNamespaces", -1, "less than the minimum"),
            ("spec", ..., "spec: required"),
        ],
    )
    def test_a_broken_variant(self, path: str, value: Any, expected: str) -> None:
        violations = _violations(_with(path, value))
        assert any(expected in v for v in violations), violations


class TestTheSchemaDefaults:
    def test_a_minimal_integration_gets_the_documented_defaults(self) -> None:
        spec = structural_schema.apply_defaults(crd_schema(), MINIMAL)["spec"]
        assert spec == {
            **MINIMAL["spec"],
            "credentialsSecret": {**MINIMAL["spec"]["credentialsSecret"], "key": "token"},
            "insecureRegistry": False,
            "scheduledImageStreamImport": False,
            "allowlistNamespaces": [],
            "denylistNamespaces": [],
            "serviceAccounts": [
                {"name": "builder", "role": "write"},
                {"name": "default", "role": "read"},
                {"name": "deployer", "role": "read"},
            ],
            "organizationDeletionPolicy": "Delete",
            "repositoryDeletionPolicy": "Retain",
            "resyncPeriodSeconds": 600,
            "quayResyncPeriodSeconds": 3600,
            "robotTokenRotationSeconds": 0,
            "namespaceDeletionDeadlineSeconds": 300,
        }

    def test_the_ca_bundle_key_defaults_to_ca_crt(self) -> None:
        document = _with("spec.caBundle", {"kind": "ConfigMap", "name": "ca", "namespace": "x"})
        spec = structural_schema.apply_defaults(crd_schema(), document)["spec"]
        assert spec["caBundle"]["key"] == "ca.crt"

    def test_the_full_sample_spells_out_exactly_the_defaults(self) -> None:
        (sample,) = load_documents(ROOT / "deploy" / "samples" / "quayintegration.yaml")
        minimal = {**sample, "spec": {k: sample["spec"][k] for k in MINIMAL["spec"]}}
        minimal["spec"]["credentialsSecret"] = {
            k: v for k, v in sample["spec"]["credentialsSecret"].items() if k != "key"
        }
        assert structural_schema.apply_defaults(crd_schema(), minimal) == sample
