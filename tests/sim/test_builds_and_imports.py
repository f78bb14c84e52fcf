"""Builds, push secrets, real pushes and ImageStreamImport against the registry core over /v2.

One registry core (``devstack/registry.py``, Quay-style token auth) and one simulator
serve the module; builds push a generated image to it and imports resolve tags from it.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import kubernetes.client
import pytest
import requests
from kubernetes.client.exceptions import ApiException

from devstack.registry import RegistryServer, registry_server
from devstack.sim import SimServer, sim_server
from devstack.waiting import wait_until

B = ("build.openshift.io", "v1")
IMG = ("image.openshift.io", "v1")


@pytest.fixture(scope="module")
def quay() -> Iterator[RegistryServer]:
    with registry_server() as server:
        yield server


@pytest.fixture(scope="module")
def sim(quay: RegistryServer) -> Iterator[SimServer]:
    with sim_server("--registry", quay.url, "--delay", "build-running=0.05") as server:
        yield server


def custom(api: Any) -> kubernetes.client.CustomObjectsApi:
    return kubernetes.client.CustomObjectsApi(api)


def core(api: Any) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(api)


def docker_secret(api: Any, ns: str, name: str, host: str, user: str, password: str) -> None:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    config = {"auths": {host: {"auth": auth}}}
    core(api).create_namespaced_secret(
        ns,
        {
            "metadata": {"name": name},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()},
        },
    )


def builder_ready(api: Any, ns: str) -> Any:
    def ready() -> Any:
        try:
            sa = core(api).read_namespaced_service_account("builder", ns)
        except ApiException:
            return None
        return sa.image_pull_secrets and sa

    return wait_until(ready)


def link(api: Any, ns: str, secret: str) -> None:
    core(api).patch_namespaced_service_account(
        "builder", ns, {"imagePullSecrets": [{"name": secret}], "secrets": [{"name": secret}]}
    )


def build_body(name: str, to: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "build.openshift.io/v1",
        "kind": "Build",
        "metadata": {"name": name},
        "spec": {
            "serviceAccount": "builder",
            "source": {"type": "Git", "git": {"uri": "https://example.com/app.git"}},
            "strategy": {"type": "Docker", "dockerStrategy": {}},
            "output": {"to": to},
        },
    }


def get_build(api: Any, ns: str, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = custom(api).get_namespaced_custom_object(*B, ns, "builds", name)
    return obj


def phases_of(
    sim: SimServer, ns: str, name: str, until: tuple[str, ...] = ("Complete", "Failed")
) -> list[str]:
    """Watch one build from the start and return the phases it went through."""
    phases: list[str] = []
    with requests.get(
        f"{sim.url}/apis/build.openshift.io/v1/namespaces/{ns}/builds",
        params={
            "watch": "true",
            "resourceVersion": "1",
            "fieldSelector": f"metadata.name={name}",
            "timeoutSeconds": "15",
        },
        stream=True,
        timeout=20,
    ) as resp:
        for line in resp.iter_lines():
            phase = json.loads(line)["object"]["status"].get("phase")
            if not phases or phases[-1] != phase:
                phases.append(phase)
            if phase in until:
                break
    return phases


@pytest.fixture
def ns(sim: SimServer) -> str:
    name = f"b-{uuid.uuid4().hex[:6]}"
    core(sim.api_client()).create_namespace({"metadata": {"name": name}})
    return name


class TestBuildController:
    def test_a_build_goes_new_pending_running_complete_and_really_pushes_with_the_matching_secret(
        self, sim: SimServer, quay: RegistryServer, ns: str
    ) -> None:
        api = sim.api_client()
        builder_ready(api, ns)
        docker_secret(api, ns, "builder-quay", quay.host, quay.username, quay.password)
        link(api, ns, "builder-quay")
        target = f"{quay.host}/{quay.username}/app-{ns}:latest"
        custom(api).create_namespaced_custom_object(
            *B, ns, "builds", build_body("b1", {"kind": "DockerImage", "name": target})
        )
        assert phases_of(sim, ns, "b1") == ["New", "Pending", "Running", "Complete"]
        build = get_build(api, ns, "b1")
        assert build["spec"]["output"]["pushSecret"] == {"name": "builder-quay"}
        assert build["status"]["outputDockerImageReference"] == target
        digest = build["status"]["output"]["to"]["imageDigest"]
        assert digest.startswith("sha256:")
        assert [c["type"] for c in build["status"]["conditions"] if c["status"] == "True"] == [
            "Complete"
        ]
        # the pushed image is really in the registry: an import resolves the tag to the same digest
        isi = custom(api).create_namespaced_custom_object(
            *IMG,
            ns,
            "imagestreamimports",
            {
                "apiVersion": "image.openshift.io/v1",
                "kind": "ImageStreamImport",
                "metadata": {"name": "app"},
                "spec": {
                    "import": True,
                    "images": [
                        {"from": {"kind": "DockerImage", "name": target}, "to": {"name": "latest"}}
                    ],
                },
            },
        )
        assert isi["status"]["images"][0]["status"]["status"] == "Success"
        assert isi["status"]["images"][0]["image"]["metadata"]["name"] == digest

    def test_a_push_refused_by_the_registry_fails_the_build(
        self, sim: SimServer, quay: RegistryServer, ns: str
    ) -> None:
        api = sim.api_client()
        builder_ready(api, ns)
        docker_secret(api, ns, "bad-creds", quay.host, quay.username, "wrong-password")
        link(api, ns, "bad-creds")
        target = f"{quay.host}/{quay.username}/refused:latest"
        custom(api).create_namespaced_custom_object(
            *B, ns, "builds", build_body("b2", {"kind": "DockerImage", "name": target})
        )
        assert phases_of(sim, ns, "b2")[-1] == "Failed"
        build = get_build(api, ns, "b2")
        assert build["status"]["reason"] == "PushImageToRegistryFailed"
        assert build["spec"]["output"]["pushSecret"] == {"name": "bad-creds"}

    def test_without_a_host_match_the_first_docker_secret_is_the_push_secret(
        self, sim: SimServer, ns: str
    ) -> None:
        api = sim.api_client()
        sa = builder_ready(api, ns)
        first = sa.image_pull_secrets[0].name
        target = "registry.invalid:5000/org/app:latest"
        custom(api).create_namespaced_custom_object(
            *B, ns, "builds", build_body("b3", {"kind": "DockerImage", "name": target})
        )
        wait_until(
            lambda: get_build(api, ns, "b3")["status"].get("phase") in ("Failed", "Complete")
        )
        assert get_build(api, ns, "b3")["spec"]["output"]["pushSecret"] == {"name": first}

    def test_an_image_stream_tag_output_waits_for_its_stream_then_updates_it(
        self, sim: SimServer, ns: str
    ) -> None:
        api = sim.api_client()
        builder_ready(api, ns)
        custom(api).create_namespaced_custom_object(
            *B, ns, "builds", build_body("b4", {"kind": "ImageStreamTag", "name": "web:latest"})
        )
        stuck = wait_until(lambda: (b := get_build(api, ns, "b4"))["status"].get("reason") and b)
        assert stuck["status"]["phase"] == "New"
        assert stuck["status"]["reason"] == "InvalidOutputReference"
        custom(api).create_namespaced_custom_object(
            *IMG,
            ns,
            "imagestreams",
            {
                "apiVersion": "image.openshift.io/v1",
                "kind": "ImageStream",
                "metadata": {"name": "web"},
            },
        )
        done = wait_until(
            lambda: (b := get_build(api, ns, "b4"))["status"].get("phase") == "Complete" and b
        )
        assert (
            done["status"]["outputDockerImageReference"]
            == f"image-registry.openshift-image-registry.svc:5000/{ns}/web:latest"
        )
        stream = custom(api).get_namespaced_custom_object(*IMG, ns, "imagestreams", "web")
        assert (
            stream["status"]["tags"][0]["items"][0]["image"]
            == done["status"]["output"]["to"]["imageDigest"]
        )


class TestBuildRules:
    def test_a_docker_image_output_with_a_namespace_is_422(self, sim: SimServer, ns: str) -> None:
        body = build_body(
            "bad", {"kind": "DockerImage", "name": "quay.example.com/o/r:t", "namespace": ns}
        )
        with pytest.raises(ApiException) as err:
            custom(sim.api_client()).create_namespaced_custom_object(*B, ns, "builds", body)
        assert err.value.status == 422
        assert "namespace is not valid when used with a 'DockerImage'" in err.value.body

    def test_the_spec_is_immutable_except_the_push_secret(self, sim: SimServer, ns: str) -> None:
        api = sim.api_client()
        body = build_body("imm", {"kind": "DockerImage", "name": "quay.example.com/o/r:t"})
        body["status"] = {"phase": "New"}
        builds = custom(api)
        builds.create_namespaced_custom_object(*B, ns, "builds", body)
        builds.patch_namespaced_custom_object(
            *B, ns, "builds", "imm", {"spec": {"output": {"pushSecret": {"name": "x"}}}}
        )
        with pytest.raises(ApiException) as err:
            builds.patch_namespaced_custom_object(
                *B, ns, "builds", "imm", {"spec": {"serviceAccount": "other"}}
            )
        assert err.value.status == 422
        assert "spec is immutable" in err.value.body


class TestBuildConfigs:
    def test_a_config_change_trigger_instantiates_build_1_once(
        self, sim: SimServer, ns: str
    ) -> None:
        api = sim.api_client()
        bc = {
            "apiVersion": "build.openshift.io/v1",
            "kind": "BuildConfig",
            "metadata": {"name": "app", "labels": {"app": "app"}},
            "spec": {
                **build_body("x", {"kind": "DockerImage", "name": "registry.invalid/o/app:latest"})[
                    "spec"
                ],
                "triggers": [{"type": "ConfigChange"}],
            },
        }
        custom(api).create_namespaced_custom_object(*B, ns, "buildconfigs", bc)
        build = wait_until(
            lambda: next(
                iter(custom(api).list_namespaced_custom_object(*B, ns, "builds")["items"]), None
            )
        )
        assert build["metadata"]["name"] == "app-1"
        assert build["metadata"]["labels"]["openshift.io/build-config.name"] == "app"
        assert build["metadata"]["annotations"]["openshift.io/build.number"] == "1"
        assert build["metadata"]["ownerReferences"][0]["kind"] == "BuildConfig"
        assert build["status"]["config"]["name"] == "app"
        time.sleep(0.3)
        assert len(custom(api).list_namespaced_custom_object(*B, ns, "builds")["items"]) == 1
        created = requests.post(
            f"{sim.url}/apis/build.openshift.io/v1/namespaces/{ns}/buildconfigs/app/instantiate",
            json={
                "kind": "BuildRequest",
                "apiVersion": "build.openshift.io/v1",
                "metadata": {"name": "app"},
            },
            timeout=5,
        )
        assert created.status_code == 201
        assert created.json()["metadata"]["name"] == "app-2"


def isi_body(name: str, source: str, **meta: str) -> dict[str, Any]:
    return {
        "apiVersion": "image.openshift.io/v1",
        "kind": "ImageStreamImport",
        "metadata": {"name": name, **meta},
        "spec": {
            "import": True,
            "images": [
                {
                    "from": {"kind": "DockerImage", "name": source},
                    "to": {"name": "latest"},
                    "referencePolicy": {"type": "Source"},
                }
            ],
        },
    }


class TestImageStreamImport:
    @pytest.fixture
    def pushed(self, sim: SimServer, quay: RegistryServer, ns: str) -> str:
        api = sim.api_client()
        builder_ready(api, ns)
        docker_secret(api, ns, "quay-push", quay.host, quay.username, quay.password)
        link(api, ns, "quay-push")
        target = f"{quay.host}/{quay.username}/imp-{ns}:v1"
        custom(api).create_namespaced_custom_object(
            *B, ns, "builds", build_body("src", {"kind": "DockerImage", "name": target})
        )
        wait_until(lambda: get_build(api, ns, "src")["status"].get("phase") == "Complete")
        return target

    def test_an_import_creates_the_stream_with_a_spec_tag_and_a_digest_status_item(
        self, sim: SimServer, ns: str, pushed: str
    ) -> None:
        api = sim.api_client()
        isi = custom(api).create_namespaced_custom_object(
            *IMG, ns, "imagestreamimports", isi_body("imp", pushed)
        )
        image = isi["status"]["images"][0]
        assert image["status"]["status"] == "Success"
        digest = image["image"]["metadata"]["name"]
        stream = isi["status"]["import"]
        assert stream["spec"]["tags"][0]["from"] == {"kind": "DockerImage", "name": pushed}
        item = stream["status"]["tags"][0]["items"][0]
        assert item["image"] == digest
        assert item["dockerImageReference"] == pushed.rsplit(":", 1)[0] + "@" + digest
        assert "openshift.io/image.dockerRepositoryCheck" in stream["metadata"]["annotations"]
        tag = custom(api).get_namespaced_custom_object(*IMG, ns, "imagestreamtags", "imp:latest")
        assert tag["image"]["metadata"]["name"] == digest

    def test_an_import_with_wrong_credentials_reports_unauthorized(
        self, sim: SimServer, quay: RegistryServer, ns: str, pushed: str
    ) -> None:
        api = sim.api_client()
        core(api).delete_namespaced_secret("quay-push", ns)
        docker_secret(api, ns, "quay-wrong", quay.host, quay.username, "nope")
        isi = custom(api).create_namespaced_custom_object(
            *IMG, ns, "imagestreamimports", isi_body("unauth", pushed)
        )
        status = isi["status"]["images"][0]["status"]
        assert (status["status"], status["reason"], status["code"]) == (
            "Failure",
            "Unauthorized",
            401,
        )
        assert status["message"] == f'you may not have access to the container image "{pushed}"'
        condition = isi["status"]["import"]["status"]["tags"][0]["conditions"][0]
        assert (condition["type"], condition["status"], condition["reason"]) == (
            "ImportSuccess",
            "False",
            "Unauthorized",
        )

    def test_an_import_of_a_missing_tag_reports_not_found(
        self, sim: SimServer, ns: str, pushed: str
    ) -> None:
        api = sim.api_client()
        missing = pushed.rsplit(":", 1)[0] + ":nope"
        isi = custom(api).create_namespaced_custom_object(
            *IMG, ns, "imagestreamimports", isi_body("nf", missing)
        )
        status = isi["status"]["images"][0]["status"]
        assert (status["reason"], status["code"]) == ("NotFound", 404)
        assert status["message"] == f'dockerimage.image.openshift.io "{missing}" not found'

    def test_an_import_with_a_stale_resource_version_is_409_and_a_missing_stream_with_one_is_404(
        self, sim: SimServer, ns: str, pushed: str
    ) -> None:
        api = sim.api_client()
        first = custom(api).create_namespaced_custom_object(
            *IMG, ns, "imagestreamimports", isi_body("rv", pushed)
        )
        rv = first["status"]["import"]["metadata"]["resourceVersion"]
        custom(api).create_namespaced_custom_object(
            *IMG, ns, "imagestreamimports", isi_body("rv", pushed, resourceVersion=rv)
        )
        with pytest.raises(ApiException) as err:
            custom(api).create_namespaced_custom_object(
                *IMG, ns, "imagestreamimports", isi_body("rv", pushed, resourceVersion=rv)
            )
        assert err.value.status == 409
        with pytest.raises(ApiException) as err:
            custom(api).create_namespaced_custom_object(
                *IMG, ns, "imagestreamimports", isi_body("absent", pushed, resourceVersion=rv)
            )
        assert err.value.status == 404

    def test_an_import_without_import_true_resolves_and_stores_nothing(
        self, sim: SimServer, ns: str, pushed: str
    ) -> None:
        api = sim.api_client()
        body = isi_body("dry", pushed)
        body["spec"]["import"] = False
        isi = custom(api).create_namespaced_custom_object(*IMG, ns, "imagestreamimports", body)
        assert isi["status"]["images"][0]["status"]["status"] == "Success"
        assert "import" not in isi["status"]
        with pytest.raises(ApiException) as err:
            custom(api).get_namespaced_custom_object(*IMG, ns, "imagestreams", "dry")
        assert err.value.status == 404

    def test_a_non_docker_image_source_is_422(self, sim: SimServer, ns: str) -> None:
        body = isi_body("x", "quay.example.com/o/r:t")
        body["spec"]["images"][0]["from"]["kind"] = "ImageStreamTag"
        with pytest.raises(ApiException) as err:
            custom(sim.api_client()).create_namespaced_custom_object(
                *IMG, ns, "imagestreamimports", body
            )
        assert err.value.status == 422
