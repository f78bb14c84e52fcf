"""CRD schemas (pruning, defaults, validation, fieldValidation), Tables and OpenAPI, with kubectl.

The QuayIntegration CRD of ``crds/`` is applied to a real simulator process; the messages are
kube-apiserver's.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.sim import SimServer, sim_server
from tests.support import kubectls

REPO = Path(__file__).resolve().parents[2]
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
PATTERN = "^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$"


@pytest.fixture(scope="module")
def sim() -> Any:
    with sim_server() as server:
        kubectl(server, "apply", "-f", str(REPO / "crds" / "quayintegration.yaml"))
        yield server


def kubectl(
    sim: SimServer, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [kubectls.pinned(), "--kubeconfig", sim.kubeconfig, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def qi(name: str, **spec: Any) -> dict[str, Any]:
    body = {
        "clusterID": "east",
        "credentialsSecret": {"name": "creds", "namespace": "quay-bridge"},
        "quayHostname": "https://quay.example.com",
        **spec,
    }
    return {
        "apiVersion": "quay.redhat.com/v1",
        "kind": "QuayIntegration",
        "metadata": {"name": name},
        "spec": body,
    }


def post(sim: SimServer, body: Any, query: str = "") -> requests.Response:
    return requests.post(
        f"{sim.url}/apis/quay.redhat.com/v1/quayintegrations{query}", json=body, timeout=10
    )


def test_defaults_are_filled_and_unknown_fields_pruned_with_a_warning(sim: SimServer) -> None:
    answer = post(sim, qi("defaults", resyncPeriodSecond=5), "?fieldValidation=Warn")
    assert answer.status_code == 201, answer.text
    assert answer.headers["Warning"] == '299 - "unknown field \\"spec.resyncPeriodSecond\\""'
    spec = answer.json()["spec"]
    assert "resyncPeriodSecond" not in spec
    assert spec["resyncPeriodSeconds"] == 600
    assert spec["credentialsSecret"]["key"] == "token"
    assert spec["serviceAccounts"][0] == {"name": "builder", "role": "write"}


def test_strict_refuses_unknown_fields(sim: SimServer) -> None:
    answer = post(sim, qi("strict", resyncPeriodSecond=5, other=1), "?fieldValidation=Strict")
    assert answer.status_code == 400
    assert answer.json()["message"] == (
        'QuayIntegration in version "v1" cannot be handled as a QuayIntegration: strict decoding '
        'error: unknown field "spec.other", unknown field "spec.resyncPeriodSecond"'
    )


def test_ignore_drops_silently(sim: SimServer) -> None:
    answer = post(sim, qi("ignore", resyncPeriodSecond=5), "?fieldValidation=Ignore")
    assert answer.status_code == 201 and "Warning" not in answer.headers


def test_validation_messages_are_kube_apiservers(sim: SimServer) -> None:
    answer = post(sim, qi("invalid", clusterID="bad id"))
    assert answer.status_code == 422
    status = answer.json()
    assert status["message"] == (
        'QuayIntegration.quay.redhat.com "invalid" is invalid: spec.clusterID: Invalid value: '
        f"\"bad id\": spec.clusterID in body should match '{PATTERN}'"
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "bad id": '
            f"spec.clusterID in body should match '{PATTERN}'",
            "field": "spec.clusterID",
        }
    ]
    body = qi("required")
    del body["spec"]["quayHostname"]
    status = post(sim, body).json()
    assert status["message"] == (
        'QuayIntegration.quay.redhat.com "required" is invalid: spec.quayHostname: Required value'
    )
    body = qi("defaulted")
    del body["spec"]["clusterID"]
    created = post(sim, body)
    assert created.status_code == 201
    assert created.json()["spec"]["clusterID"] == "openshift"
    status = post(sim, qi("typed", resyncPeriodSeconds="often")).json()
    assert status["details"]["causes"][0]["reason"] == "FieldValueTypeInvalid"
    assert 'spec.resyncPeriodSeconds in body must be of type integer: "string"' in status["message"]


def test_status_subresource_is_validated_and_kept_apart(sim: SimServer) -> None:
    assert post(sim, qi("withstatus")).status_code == 201
    url = f"{sim.url}/apis/quay.redhat.com/v1/quayintegrations/withstatus"
    patched = requests.patch(
        url + "/status",
        json={"status": {"unknownThing": 1}, "spec": {"clusterID": "west"}},
        headers={"Content-Type": "application/merge-patch+json"},
        timeout=10,
    )
    assert patched.status_code == 200
    assert patched.json()["spec"]["clusterID"] == "east"


def test_kubectl_get_prints_the_crd_columns_and_explain_works(sim: SimServer) -> None:
    kubectl(sim, "apply", "-f", "-", stdin=json.dumps(qi("shown", clusterID="west-1")))
    out = kubectl(sim, "get", "qi", "shown").stdout.splitlines()
    assert out[0].split() == [
        "NAME",
        "READY",
        "REASON",
        "CLUSTER",
        "ID",
        "QUAY",
        "MANAGED",
        "NAMESPACES",
        "AGE",
    ]
    assert out[1].split()[:3] == ["shown", "west-1", "https://quay.example.com"]
    explained = kubectl(sim, "explain", "quayintegration.spec")
    assert explained.returncode == 0, explained.stderr
    assert "quayHostname\t<string> -required-" in explained.stdout
    assert "clusterID\t<string>\n" in explained.stdout
    field = kubectl(sim, "explain", "quayintegration.spec.credentialsSecret.key")
    assert "FIELD: key <string>" in field.stdout


def test_kubectl_apply_warns_and_strict_fails(sim: SimServer) -> None:
    body = json.dumps(qi("typo", resyncPeriodSecond=5))
    strict = kubectl(sim, "apply", "-f", "-", stdin=body)
    assert strict.returncode != 0
    assert 'strict decoding error: unknown field "spec.resyncPeriodSecond"' in strict.stderr
    warn = kubectl(sim, "apply", "--validate=warn", "-f", "-", stdin=body)
    assert warn.returncode == 0
    assert 'Warning: unknown field "spec.resyncPeriodSecond"' in warn.stderr


def test_builtin_tables(sim: SimServer) -> None:
    ns = f"tb-{uuid.uuid4().hex[:6]}"
    kubectl(sim, "create", "namespace", ns)
    kubectl(
        sim,
        "-n",
        ns,
        "create",
        "secret",
        "generic",
        "s",
        "--from-literal=a=b",
        "--from-literal=c=d",
    )
    table = requests.get(
        f"{sim.url}/api/v1/namespaces/{ns}/secrets/s", headers={"Accept": TABLE}, timeout=10
    ).json()
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Type", "Data", "Age"]
    assert table["rows"][0]["cells"][:3] == ["s", "Opaque", 2]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    namespaces = requests.get(f"{sim.url}/api/v1/namespaces", headers={"Accept": TABLE}, timeout=10)
    columns = [c["name"] for c in namespaces.json()["columnDefinitions"]]
    assert columns == ["Name", "Status", "Age"]
    out = kubectl(sim, "get", "ns", ns).stdout.split()
    assert out[:4] == ["NAME", "STATUS", "AGE", ns]


def test_openapi_v3_carries_the_crd_schema(sim: SimServer) -> None:
    root = requests.get(f"{sim.url}/openapi/v3", timeout=10).json()
    assert "apis/quay.redhat.com/v1" in root["paths"]
    doc = requests.get(f"{sim.url}/openapi/v3/apis/quay.redhat.com/v1", timeout=10).json()
    schema = doc["components"]["schemas"]["com.redhat.quay.v1.QuayIntegration"]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "quay.redhat.com", "version": "v1", "kind": "QuayIntegration"}
    ]
    assert "clusterID" in schema["properties"]["spec"]["properties"]
    v2 = requests.get(f"{sim.url}/openapi/v2", timeout=10).json()
    assert "com.redhat.quay.v1.QuayIntegration" in v2["definitions"]


def test_deploy_base_applies_strictly_without_unknown_fields(sim: SimServer) -> None:
    applied = kubectl(sim, "apply", "--server-side=false", "-k", str(REPO / "deploy" / "base"))
    assert "unknown field" not in applied.stderr
    deployment = json.loads(
        kubectl(sim, "-n", "quay-bridge", "get", "deployment", "quay-bridge", "-o", "json").stdout
    )
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert "httpGet" in container["livenessProbe"]
    assert "secret" in deployment["spec"]["template"]["spec"]["volumes"][0]


def test_kubectl_get_prints_openshift_columns(sim: SimServer) -> None:
    ns = f"oc-{uuid.uuid4().hex[:6]}"
    kubectl(sim, "create", "namespace", ns)
    stream = {
        "apiVersion": "image.openshift.io/v1",
        "kind": "ImageStream",
        "metadata": {"name": "app", "namespace": ns},
    }
    kubectl(sim, "apply", "-f", "-", stdin=json.dumps(stream))
    lines = kubectl(sim, "-n", ns, "get", "is").stdout.splitlines()
    assert lines[0].split() == ["NAME", "IMAGE", "REPOSITORY", "TAGS", "UPDATED"]
    assert lines[1].split()[:2] == [
        "app",
        f"image-registry.openshift-image-registry.svc:5000/{ns}/app",
    ]
    build = {
        "apiVersion": "build.openshift.io/v1",
        "kind": "Build",
        "metadata": {"name": "b-1", "namespace": ns},
        "spec": {
            "strategy": {"type": "Docker", "dockerStrategy": {}},
            "source": {"type": "Git", "git": {"uri": "https://example.com/x.git"}},
            "output": {"to": {"kind": "DockerImage", "name": "127.0.0.1:1/x/y:latest"}},
        },
    }
    kubectl(sim, "apply", "-f", "-", stdin=json.dumps(build))
    lines = kubectl(sim, "-n", ns, "get", "builds").stdout.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "FROM", "STATUS", "STARTED", "DURATION"]
    assert lines[1].split()[:3] == ["b-1", "Docker", "Git"]
