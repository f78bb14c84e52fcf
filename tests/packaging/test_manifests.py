"""Every manifest parses and is structurally valid, alone and as an installable set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.packaging.manifests import ROOT, kustomize, load_documents, manifest_files
from tools import image_name, manifest_checks


class TestEveryManifestFile:
    @pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(ROOT)))
    def test_parses_and_has_what_its_kind_requires(self, path: Path) -> None:
        documents = load_documents(path)
        assert documents, f"{path} holds no document"
        # The manifests name the image `quay-bridge`; deploy/image pins it, as kustomize applies it.
        image_name.apply(documents, image_name.component_images(ROOT))
        problems = [p for d in documents for p in manifest_checks.document_problems(d)]
        assert problems == []

    def test_the_project_image_is_named_only_through_deploy_image(self) -> None:
        named = {
            container["image"]
            for path in manifest_files()
            for document in load_documents(path)
            if isinstance(document, dict)
            for container in document.get("spec", {})
            .get("template", {})
            .get("spec", {})
            .get("containers", [])
        }
        assert image_name.NAME in named
        assert not [image for image in named if "quay-bridge/quay-bridge" in image]

    def test_every_file_is_listed_in_a_kustomization_or_is_a_documented_extra(self) -> None:
        listed: set[Path] = set()
        for kustomization in [*ROOT.glob("deploy/**/kustomization.yaml")]:
            (document,) = load_documents(kustomization)
            for resource in document.get("resources", []):
                listed.add((kustomization.parent / resource).resolve())
        extras = {ROOT / "deploy/samples/quayintegration-private-ca.yaml"}
        for path in manifest_files():
            if path.parts[len(ROOT.parts)] == "deploy" and path not in extras:
                assert path.resolve() in listed, f"{path} is in no kustomization"


class TestTheKustomizeBuilds:
    @pytest.mark.parametrize("directory", ["deploy/base", "deploy/samples", "deploy/registry-core"])
    def test_build_into_a_consistent_set(self, directory: str) -> None:
        if not (ROOT / directory / "kustomization.yaml").exists():
            pytest.skip(f"{directory} is not written yet")
        documents = kustomize(directory)
        assert documents
        assert manifest_checks.all_problems(documents) == []

    def test_the_base_installs_what_issue_8_lists(self) -> None:
        kinds = sorted({d["kind"] for d in kustomize("deploy/base")})
        assert kinds == sorted(
            [
                "ClusterRole", "ClusterRoleBinding",
                "CustomResourceDefinition", "Deployment", "MutatingWebhookConfiguration",
                "Namespace", "NetworkPolicy", "PodDisruptionBudget", "Service", "ServiceAccount",
            ]
        )  # fmt: skip


def _base(kind: str, name: str | None = None) -> dict[str, Any]:
    documents: list[dict[str, Any]] = [
        d
        for path in sorted((ROOT / "deploy/base").glob("*.yaml"))
        if path.name not in {"kustomization.yaml", "mutatingwebhookconfiguration.yaml"}
        for d in load_documents(path)
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(documents) == 1, f"{kind} {name}: {len(documents)} found"
    return documents[0]


class TestTheOperatorDeployment:
    def test_runs_two_replicas_with_kopf_peering_on_the_peering_object(self) -> None:
        deployment = _base("Deployment")
        assert deployment["spec"]["replicas"] == 2
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        # The operator creates the peering object itself (deploy/base carries only its CRD).
        peering = "quay-bridge"
        assert container["args"][0] == "run"
        assert f"--peering={peering}" in container["args"]
        assert {"name": "POD_ID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in (
            container["env"]
        )

    def test_is_non_root_read_only_without_capabilities_and_with_seccomp(self) -> None:
        pod = _base("Deployment")["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        security = container["securityContext"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert security["runAsNonRoot"] is True
        assert "runAsUser" not in security, "OpenShift's restricted SCC picks the UID"
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert "add" not in security["capabilities"]
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"

    def test_probes_health_and_readiness_on_the_metrics_port_8080(self) -> None:
        (container,) = _base("Deployment")["spec"]["template"]["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"webhook": 9443, "metrics": 8080}
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        for probe in ("livenessProbe", "readinessProbe"):
            assert ports[container[probe]["httpGet"]["port"]] == 8080
        assert "--metrics-port=8080" in container["args"]
        assert "--webhook-port=9443" in container["args"]

    def test_requests_and_limits_resources(self) -> None:
        (container,) = _base("Deployment")["spec"]["template"]["spec"]["containers"]
        assert set(container["resources"]) == {"requests", "limits"}
        assert set(container["resources"]["requests"]) == {"cpu", "memory"}
        assert "memory" in container["resources"]["limits"]

    def test_mounts_the_certificate_secret_at_the_cert_dir(self) -> None:
        pod = _base("Deployment")["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        cert_dir = next(a.split("=", 1)[1] for a in container["args"] if a.startswith("--cert-dir"))
        mount = next(m for m in container["volumeMounts"] if m["mountPath"] == cert_dir)
        volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
        service = _base("Service", "quay-bridge-webhook")
        annotation = "service.beta.openshift.io/serving-cert-secret-name"
        assert volume["secret"]["secretName"] == service["metadata"]["annotations"][annotation]


class TestTheServiceAndPolicies:
    def test_the_webhook_service_maps_443_to_9443(self) -> None:
        service = _base("Service", "quay-bridge-webhook")
        ports = {p["port"]: p["targetPort"] for p in service["spec"]["ports"]}
        assert ports[443] == "webhook"

    def test_the_network_policy_admits_only_the_webhook_and_metrics_ports(self) -> None:
        policy = _base("NetworkPolicy")["spec"]
        assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
        ingress_ports = {p["port"] for rule in policy["ingress"] for p in rule["ports"]}
        assert ingress_ports == {9443, 8080}
        assert all("ports" in rule for rule in policy["ingress"])

    def test_the_network_policy_lets_out_dns_the_api_server_and_quay_only(self) -> None:
        policy = _base("NetworkPolicy")["spec"]
        egress_ports = {
            (p["protocol"], p["port"]) for rule in policy["egress"] for p in rule["ports"]
        }
        assert egress_ports == {
            ("UDP", 53), ("TCP", 53), ("UDP", 5353), ("TCP", 5353),
            ("TCP", 443), ("TCP", 6443), ("TCP", 80),
        }  # fmt: skip
        assert all("ports" in rule for rule in policy["egress"])

    def test_the_disruption_budget_keeps_one_replica(self) -> None:
        assert _base("PodDisruptionBudget")["spec"]["minAvailable"] == 1


class TestTheChecksCatchBrokenManifests:
    @pytest.mark.parametrize(
        ("document", "expected"),
        [
            ({"kind": "Namespace", "metadata": {"name": "x"}}, "missing apiVersion"),
            ({"apiVersion": "v1", "kind": "Namespace", "metadata": {}}, "missing metadata.name"),
            ({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "Bad_Name"}}, "DNS"),
            ({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a"}}, "needs"),
            (
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a", "namespace": "b"}},
                "data or stringData",
            ),
            (
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                    "metadata": {"name": "r"}, "rules": [{"apiGroups": [""], "resources": ["x"]}],
                },
                "verbs",
            ),
            (
                {
                    "apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": "d", "namespace": "n"},
                    "spec": {
                        "selector": {"matchLabels": {"app": "a"}},
                        "template": {
                            "metadata": {"labels": {"app": "b"}},
                            "spec": {"containers": [{"name": "c", "image": "i:1"}]},
                        },
                    },
                },
                "does not match",
            ),
            (
                {
                    "apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": "d", "namespace": "n"},
                    "spec": {
                        "selector": {"matchLabels": {"app": "a"}},
                        "template": {
                            "metadata": {"labels": {"app": "a"}},
                            "spec": {"containers": [{"name": "c", "image": "i:latest"}]},
                        },
                    },
                },
                "not pinned",
            ),
            (
                {
                    "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                    "metadata": {"name": "p", "namespace": "n"},
                    "spec": {"selector": {"matchLabels": {"a": "b"}}},
                },
                "exactly one of",
            ),
            (
                {
                    "apiVersion": "admissionregistration.k8s.io/v1",
                    "kind": "MutatingWebhookConfiguration", "metadata": {"name": "m"},
                    "webhooks": [{"name": "short", "clientConfig": {"url": "https://x"}}],
                },
                "qualified name",
            ),
        ],
    )  # fmt: skip
    def test_a_broken_document_is_reported(self, document: dict[str, Any], expected: str) -> None:
        problems = manifest_checks.document_problems(document)
        assert any(expected in p for p in problems), problems

    def test_a_service_selecting_no_pod_is_reported(self) -> None:
        service = _base("Service", "quay-bridge-webhook")
        broken = {**service, "spec": {**service["spec"], "selector": {"app": "nothing"}}}
        problems = manifest_checks.reference_problems([broken, _base("Deployment")])
        assert any("matches no pods" in p for p in problems)

    def test_a_binding_to_a_missing_service_account_is_reported(self) -> None:
        problems = manifest_checks.reference_problems(
            [_base("ClusterRoleBinding"), _base("ClusterRole")]
        )
        assert any("subject ServiceAccount" in p for p in problems)


class TestTheImageName:
    """tools/image_name applies deploy/image as kustomize does (kubectl's kustomize referees)."""

    @pytest.mark.parametrize("directory", ["deploy/base", "deploy/registry-core"])
    def test_kustomize_gives_every_project_container_the_name_tools_read(
        self, directory: str
    ) -> None:
        images = {
            container["image"]
            for document in kustomize(directory)
            if document["kind"] in {"Deployment", "StatefulSet"}
            for container in document["spec"]["template"]["spec"]["containers"]
        }
        assert image_name.reference(ROOT) in images
        assert image_name.NAME not in images

    @pytest.mark.parametrize(
        ("reference", "entry", "expected"),
        [
            ("quay-bridge", {"newName": "r.example.com/q", "newTag": "1.2"}, "r.example.com/q:1.2"),
            ("quay-bridge:0.1", {"newTag": "0.2"}, "quay-bridge:0.2"),
            ("quay-bridge:0.1", {"digest": "sha256:ab", "newTag": "x"}, "quay-bridge@sha256:ab"),
            ("quay-bridge", {"newName": "localhost:5000/qb"}, "localhost:5000/qb"),
            ("other:1", {"newName": "elsewhere"}, "other:1"),
        ],
    )  # fmt: skip
    def test_renames_as_kustomize_does(
        self, reference: str, entry: dict[str, str], expected: str
    ) -> None:
        assert image_name.rename(reference, [{"name": "quay-bridge", **entry}]) == expected

    def test_a_registry_port_is_not_taken_for_a_tag(self) -> None:
        entry = {"name": "localhost:5000/qb", "newTag": "2"}
        assert image_name.rename("localhost:5000/qb", [entry]) == "localhost:5000/qb:2"
