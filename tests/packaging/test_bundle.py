"""The OLM bundle: generated, never hand-edited, and a faithful translation of crds/ and deploy/."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.packaging.manifests import ROOT, crd_schema, load_documents
from tools import dockerfile_lint, image_name, make_bundle, manifest_checks, structural_schema

BUNDLE = ROOT / "bundle"
CSV_PATH = BUNDLE / "manifests" / "quay-bridge.clusterserviceversion.yaml"


@pytest.fixture(scope="module")
def csv() -> dict[str, Any]:
    (document,) = load_documents(CSV_PATH)
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def owned(csv: dict[str, Any]) -> dict[str, Any]:
    crds = csv["spec"]["customresourcedefinitions"]["owned"]
    found: dict[str, Any] = next(c for c in crds if c["name"] == "quayintegrations.quay.redhat.com")
    return found


def _base(kind: str) -> dict[str, Any]:
    (found,) = [
        d for d in make_bundle.kustomize_resources(ROOT / "deploy/base") if d["kind"] == kind
    ]
    return found


class TestTheCommittedBundle:
    def test_equals_a_fresh_generation(self) -> None:
        assert make_bundle.stale_files(BUNDLE, make_bundle.build(ROOT)) == []

    def test_check_mode_passes_on_the_committed_bundle(self) -> None:
        assert make_bundle.main(["--check"]) == 0

    def test_generation_is_deterministic(self) -> None:
        assert make_bundle.build(ROOT) == make_bundle.build(ROOT)

    def test_has_the_csv_the_crds_the_policies_and_the_annotations(self) -> None:
        files = sorted(str(p.relative_to(BUNDLE)) for p in BUNDLE.rglob("*") if p.is_file())
        assert files == [
            "bundle.Dockerfile",
            "manifests/clusterkopfpeerings.kopf.dev.crd.yaml",
            "manifests/quay-bridge.clusterserviceversion.yaml",
            "manifests/quay-bridge.networkpolicy.yaml",
            "manifests/quay-bridge.poddisruptionbudget.yaml",
            "manifests/quayintegration.yaml",
            "metadata/annotations.yaml",
        ]

    def test_carries_the_crd_byte_for_byte(self) -> None:
        copied = (BUNDLE / "manifests" / "quayintegration.yaml").read_bytes()
        assert copied == (ROOT / "crds" / "quayintegration.yaml").read_bytes()

    @pytest.mark.parametrize("path", sorted(BUNDLE.rglob("*.yaml")), ids=lambda p: p.name)
    def test_every_manifest_is_structurally_valid(self, path: Path) -> None:
        for document in load_documents(path):
            if "annotations" in document and "kind" not in document:
                continue  # metadata/annotations.yaml is not an object
            problems = manifest_checks.document_problems(document, require_namespace=False)
            assert problems == []

    def test_annotations_name_the_package_channel_and_layout(self) -> None:
        (annotations,) = load_documents(BUNDLE / "metadata" / "annotations.yaml")
        prefix = "operators.operatorframework.io.bundle."
        assert annotations["annotations"] == {
            f"{prefix}mediatype.v1": "registry+v1",
            f"{prefix}manifests.v1": "manifests/",
            f"{prefix}metadata.v1": "metadata/",
            f"{prefix}package.v1": "quay-bridge",
            f"{prefix}channels.v1": "stable-0.x",
            f"{prefix}channel.default.v1": "stable-0.x",
        }

    def test_the_bundle_image_carries_the_annotations_as_labels_and_both_directories(self) -> None:
        (annotations,) = load_documents(BUNDLE / "metadata" / "annotations.yaml")
        instructions = dockerfile_lint.parse((BUNDLE / "bundle.Dockerfile").read_text())
        assert [(i.keyword, i.arguments) for i in instructions if i.keyword != "LABEL"] == [
            ("FROM", "scratch"),
            ("COPY", "manifests /manifests/"),
            ("COPY", "metadata /metadata/"),
        ]
        (label,) = [i.arguments for i in instructions if i.keyword == "LABEL"]
        labels = dict(pair.split("=", 1) for pair in label.split())
        assert labels == annotations["annotations"]


class TestTheGeneratorNoticesDrift:
    def test_a_hand_edit_of_the_csv_is_reported(self, tmp_path: Path) -> None:
        copy = tmp_path / "bundle"
        shutil.copytree(BUNDLE, copy)
        edited = copy / "manifests" / "quay-bridge.clusterserviceversion.yaml"
        edited.write_text(edited.read_text().replace("replicas: 2", "replicas: 3"))
        stale = make_bundle.stale_files(copy, make_bundle.build(ROOT))
        assert len(stale) == 1 and "-          replicas: 3" in stale[0]

    def test_an_extra_or_missing_file_is_reported(self, tmp_path: Path) -> None:
        copy = tmp_path / "bundle"
        shutil.copytree(BUNDLE, copy)
        (copy / "manifests" / "extra.yaml").write_text("{}\n")
        (copy / "metadata" / "annotations.yaml").unlink()
        stale = make_bundle.stale_files(copy, make_bundle.build(ROOT))
        assert any("extra.yaml: not generated" in s for s in stale)
        assert any("annotations.yaml" in s for s in stale)

    def test_writing_into_an_empty_directory_reproduces_the_bundle(self, tmp_path: Path) -> None:
        assert make_bundle.main(["--out", str(tmp_path)]) == 0
        assert make_bundle.stale_files(BUNDLE, make_bundle.build(ROOT)) == []
        assert make_bundle.stale_files(tmp_path, make_bundle.build(ROOT)) == []

    def test_a_bundle_for_older_olm_leaves_only_the_network_policy_out(
        self, tmp_path: Path
    ) -> None:
        assert make_bundle.main(["--out", str(tmp_path), "--no-network-policy"]) == 0
        stale = make_bundle.stale_files(tmp_path, make_bundle.build(ROOT))
        assert len(stale) == 1
        assert stale[0].startswith("--- manifests/quay-bridge.networkpolicy.yaml")

    def test_a_kustomization_with_patches_is_refused_rather_than_misread(
        self, tmp_path: Path
    ) -> None:
        (tmp_path / "kustomization.yaml").write_text(
            yaml.safe_dump({"resources": [], "patches": [{"path": "p.yaml"}]})
        )
        with pytest.raises(ValueError, match="patches"):
            make_bundle.kustomize_resources(tmp_path)


def _covered(field: str, paths: list[str]) -> bool:
    return any(p == field or p.startswith((f"{field}.", f"{field}[")) for p in paths)


class TestTheConsoleForm:
    def test_spec_descriptors_cover_every_spec_field(self, owned: dict[str, Any]) -> None:
        paths = [d["path"] for d in owned["specDescriptors"]]
        fields = crd_schema()["properties"]["spec"]["properties"]
        assert [f for f in fields if not _covered(f, paths)] == []

    def test_spec_descriptors_cover_every_nested_field_of_the_object_fields(
        self, owned: dict[str, Any]
    ) -> None:
        paths = {d["path"] for d in owned["specDescriptors"]}
        for field in ("credentialsSecret", "caBundle"):
            for sub in crd_schema()["properties"]["spec"]["properties"][field]["properties"]:
                assert f"{field}.{sub}" in paths
        for sub in ("name", "role"):
            assert f"serviceAccounts[0].{sub}" in paths

    def test_status_descriptors_cover_every_status_field(self, owned: dict[str, Any]) -> None:
        paths = [d["path"] for d in owned["statusDescriptors"]]
        fields = crd_schema()["properties"]["status"]["properties"]
        assert sorted(paths) == sorted(fields)

    @pytest.mark.parametrize(
        ("path", "x_descriptor"),
        [
            ("clusterID", "urn:alm:descriptor:com.tectonic.ui:text"),
            ("quayHostname", "urn:alm:descriptor:com.tectonic.ui:text"),
            ("credentialsSecret.name", "urn:alm:descriptor:io.kubernetes:Secret"),
            ("insecureRegistry", "urn:alm:descriptor:com.tectonic.ui:booleanSwitch"),
            ("scheduledImageStreamImport", "urn:alm:descriptor:com.tectonic.ui:booleanSwitch"),
            ("resyncPeriodSeconds", "urn:alm:descriptor:com.tectonic.ui:number"),
            ("serviceAccounts[0].name", "urn:alm:descriptor:com.tectonic.ui:arrayFieldGroup:"
                                        "serviceAccounts"),
        ],
    )  # fmt: skip
    def test_a_field_gets_its_widget(
        self, owned: dict[str, Any], path: str, x_descriptor: str
    ) -> None:
        descriptor = next(d for d in owned["specDescriptors"] if d["path"] == path)
        assert x_descriptor in descriptor["x-descriptors"]

    @pytest.mark.parametrize(
        "path",
        ["caBundle.kind", "serviceAccounts[0].role", "organizationDeletionPolicy",
         "repositoryDeletionPolicy"],
    )  # fmt: skip
    def test_a_select_offers_exactly_the_schema_enum(
        self, owned: dict[str, Any], path: str
    ) -> None:
        prefix = "urn:alm:descriptor:com.tectonic.ui:select:"
        descriptor = next(d for d in owned["specDescriptors"] if d["path"] == path)
        options = [
            x.removeprefix(prefix) for x in descriptor["x-descriptors"] if x.startswith(prefix)
        ]
        node = crd_schema()["properties"]["spec"]
        for part in path.replace("[0]", "").split("."):
            node = node["properties"][part]
            node = node.get("items", node)
        assert options == node["enum"]

    def test_every_descriptor_has_a_name_and_a_description(self, owned: dict[str, Any]) -> None:
        for descriptor in owned["specDescriptors"] + owned["statusDescriptors"]:
            assert descriptor["displayName"] and descriptor["description"], descriptor["path"]

    def test_the_example_is_the_sample_and_valid(self, csv: dict[str, Any]) -> None:
        examples = json.loads(csv["metadata"]["annotations"]["alm-examples"])
        (sample,) = load_documents(ROOT / "deploy" / "samples" / "quayintegration.yaml")
        assert examples[0] == sample
        assert structural_schema.validate(crd_schema(), examples[0]) == []

    def test_every_owned_crd_has_an_example_the_peering_one_from_the_base(
        self, csv: dict[str, Any]
    ) -> None:
        examples = json.loads(csv["metadata"]["annotations"]["alm-examples"])
        owned = csv["spec"]["customresourcedefinitions"]["owned"]
        assert sorted(e["kind"] for e in examples) == sorted(c["kind"] for c in owned)
        (peering,) = [e for e in examples if e["kind"] == "ClusterKopfPeering"]
        (container,) = _base("Deployment")["spec"]["template"]["spec"]["containers"]
        assert f"--peering={peering['metadata']['name']}" in container["args"]


class TestTheOperatorHubListing:
    def test_the_icon_is_the_projects_svg(self, csv: dict[str, Any]) -> None:
        (icon,) = csv["spec"]["icon"]
        assert icon["mediatype"] == "image/svg+xml"
        svg = (ROOT / make_bundle.ICON).read_bytes()
        assert base64.b64decode(icon["base64data"]) == svg
        assert svg.startswith(b"<svg ")

    def test_names_maintainers_with_an_address(self, csv: dict[str, Any]) -> None:
        assert csv["spec"]["maintainers"] == make_bundle.MAINTAINERS
        for maintainer in csv["spec"]["maintainers"]:
            assert re.fullmatch(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", maintainer["email"])

    def test_links_to_the_images_repository(self, csv: dict[str, Any]) -> None:
        (link,) = csv["spec"]["links"]
        assert link == {
            "name": "Container image",
            "url": "https://quay.io/repository/quay-bridge/quay-bridge",
        }

    def test_the_channel_follows_the_stable_minor_line_convention(
        self, csv: dict[str, Any]
    ) -> None:
        major = csv["spec"]["version"].split(".")[0]
        (annotations,) = load_documents(BUNDLE / "metadata" / "annotations.yaml")
        channel = annotations["annotations"]["operators.operatorframework.io.bundle.channels.v1"]
        assert channel == f"stable-{major}.x"
        assert csv["spec"]["maturity"] == "alpha"


class TestTheInstallStrategy:
    def test_grants_exactly_the_cluster_roles_rules(self, csv: dict[str, Any]) -> None:
        (permissions,) = csv["spec"]["install"]["spec"]["clusterPermissions"]
        assert permissions["serviceAccountName"] == _base("ServiceAccount")["metadata"]["name"]
        assert permissions["rules"] == _base("ClusterRole")["rules"]

    def test_runs_the_base_deployment_with_olms_certificate(self, csv: dict[str, Any]) -> None:
        (deployment,) = csv["spec"]["install"]["spec"]["deployments"]
        base = _base("Deployment")
        assert deployment["name"] == base["metadata"]["name"]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        (base_container,) = base["spec"]["template"]["spec"]["containers"]
        assert f"--cert-dir={make_bundle.OLM_CERT_DIR}" in container["args"]
        assert [a for a in container["args"] if not a.startswith("--cert-dir")] == [
            a for a in base_container["args"] if not a.startswith("--cert-dir")
        ]
        volumes = [v["name"] for v in deployment["spec"]["template"]["spec"]["volumes"]]
        assert volumes == ["tmp"]
        for key in ("image", "securityContext", "resources", "livenessProbe", "readinessProbe"):
            assert container[key] == base_container[key]
        assert deployment["spec"]["replicas"] == base["spec"]["replicas"]

    def test_defines_the_webhooks_from_the_mutating_webhook_configuration(
        self, csv: dict[str, Any]
    ) -> None:
        definitions = csv["spec"]["webhookdefinitions"]
        hooks = _base("MutatingWebhookConfiguration")["webhooks"]
        assert [d["generateName"] for d in definitions] == [
            "quayintegration.quay.redhat.com",
            "namespaces.quay-bridge.quay.redhat.com",
        ]
        for definition, hook in zip(definitions, hooks, strict=True):
            assert definition["generateName"] == hook["name"]
            assert definition["rules"] == hook["rules"]
            assert definition["webhookPath"] == hook["clientConfig"]["service"]["path"]
            assert (definition["containerPort"], definition["targetPort"]) == (443, 9443)
            assert definition["sideEffects"] == hook["sideEffects"]
            # OLM cannot scope the Build webhook to managed namespaces; the Namespace webhook is
            # Ignore everywhere, so that creating a namespace never depends on the operator.
            assert definition["failurePolicy"] == "Ignore"
            assert definition["deploymentName"] == _base("Deployment")["metadata"]["name"]
        assert [d["rules"][0]["resources"] for d in definitions] == [["builds"], ["namespaces"]]

    def test_supports_only_all_namespaces(self, csv: dict[str, Any]) -> None:
        modes = {m["type"]: m["supported"] for m in csv["spec"]["installModes"]}
        assert modes == {
            "OwnNamespace": False, "SingleNamespace": False,
            "MultiNamespace": False, "AllNamespaces": True,
        }  # fmt: skip

    def test_names_the_image_and_the_version(self, csv: dict[str, Any]) -> None:
        (container,) = _base("Deployment")["spec"]["template"]["spec"]["containers"]
        assert container["image"] == image_name.reference(ROOT)
        assert csv["metadata"]["annotations"]["containerImage"] == container["image"]
        assert csv["spec"]["relatedImages"] == [
            {"name": "quay-bridge", "image": container["image"]}
        ]
        assert csv["metadata"]["name"] == f"quay-bridge.v{csv['spec']['version']}"
        assert container["image"].endswith(f":{csv['spec']['version']}")
