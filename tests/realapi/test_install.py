"""deploy/base and the QuayIntegration CRD on a real API server: one apply, validation, columns."""

from __future__ import annotations

import json
import re

import pytest

from devstack.operator import Operator
from devstack.registry import RegistryServer
from tests.realapi.conftest import Installed, integration_body


def test_one_apply_of_deploy_base_succeeds_on_a_fresh_server(installed: Installed) -> None:
    assert installed.apply.returncode == 0, installed.apply.stderr
    crds = installed.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions") or {}
    names = {item["metadata"]["name"] for item in crds["items"]}
    assert {"quayintegrations.quay.redhat.com", "clusterkopfpeerings.kopf.dev"} <= names
    assert installed.service_account("quay-bridge", "quay-bridge") is not None
    assert installed.get("/apis/rbac.authorization.k8s.io/v1/clusterroles/quay-bridge") is not None
    # A second apply changes nothing and still succeeds.
    again = installed.kube.kubectl("apply", "-k", "deploy/base", check=False)
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"clusterID": "bad id"}, 'spec.clusterID: Invalid value: "bad id"'),
        (
            {"quayHostname": "quay.example.com"},
            'spec.quayHostname: Invalid value: "quay.example.com"',
        ),
        ({"resyncPeriodSeconds": 5}, "spec.resyncPeriodSeconds: Invalid value: 5"),
    ],
)
def test_an_invalid_integration_is_refused_with_the_crds_message(
    installed: Installed, change: dict[str, object], message: str
) -> None:
    assert installed.apply.returncode == 0, installed.apply.stderr
    body = integration_body("invalid", "https://quay.example.com", **change)
    result = installed.kube.kubectl("apply", "-f", "-", input=json.dumps(body), check=False)
    assert result.returncode != 0
    assert "is invalid" in result.stderr
    assert message in result.stderr
    assert installed.get("/apis/quay.redhat.com/v1/quayintegrations/invalid") is None


def columns(table: str) -> list[dict[str, str]]:
    """Split kubectl's table by the header's column starts (an empty cell stays empty)."""
    header, *rows = table.splitlines()
    names = re.findall(r"\S+(?: \S+)*", header)
    starts = [header.index(name) for name in names]
    ends = [*starts[1:], None]
    return [
        {name: row[start:end].strip() for name, start, end in zip(names, starts, ends, strict=True)}
        for row in rows
    ]


def test_kubectl_get_qi_shows_the_printer_columns(
    integrated: Installed, registry: RegistryServer, operator: Operator
) -> None:
    # The operator has written the status (the fixture waits for Ready): REASON comes from it.
    table = integrated.kube.kubectl("get", "qi").stdout
    [row] = [row for row in columns(table) if row["NAME"] == "real"]
    assert list(row) == [
        "NAME",
        "READY",
        "REASON",
        "CLUSTER ID",
        "QUAY",
        "MANAGED NAMESPACES",
        "AGE",
    ]
    assert row["REASON"] == "Ready"
    assert row["CLUSTER ID"] == "kube"
    assert row["QUAY"] == registry.url
    assert row["AGE"]
