"""ImageStream server fields, ImageStreamTags, templates (oc new-app) and build cancellation."""

from __future__ import annotations

import uuid

import kubernetes.client
import pytest
import requests
from kubernetes.client.exceptions import ApiException

from devstack.sim import SimServer, sim_server
from devstack.waiting import wait_until

IMG = ("image.openshift.io", "v1")
BLD = ("build.openshift.io", "v1")


def custom(sim: SimServer) -> kubernetes.client.CustomObjectsApi:
    return kubernetes.client.CustomObjectsApi(sim.api_client())


class TestImageStreams:
    def test_server_fields_generations_and_status_kept_by_main_writes(
        self, sim: SimServer, namespace: str
    ) -> None:
        api = custom(sim)
        body = {
            "apiVersion": "image.openshift.io/v1",
            "kind": "ImageStream",
            "metadata": {"name": "s"},
            "spec": {
                "tags": [{"name": "a", "from": {"kind": "DockerImage", "name": "q.io/o/a:1"}}]
            },
            "status": {"dockerImageRepository": "ignored"},
        }
        created = api.create_namespaced_custom_object(*IMG, namespace, "imagestreams", body)
        assert (
            created["status"]["dockerImageRepository"]
            == f"image-registry.openshift-image-registry.svc:5000/{namespace}/s"
        )
        assert created["metadata"]["generation"] == 1
        assert created["spec"]["tags"][0]["generation"] == 1
        api.patch_namespaced_custom_object_status(
            *IMG,
            namespace,
            "imagestreams",
            "s",
            {
                "status": {
                    "tags": [
                        {
                            "tag": "a",
                            "items": [
                                {
                                    "image": "sha256:" + "1" * 64,
                                    "dockerImageReference": "q.io/o/a@sha256:" + "1" * 64,
                                    "generation": 1,
                                    "created": "2026-01-01T00:00:00Z",
                                }
                            ],
                        }
                    ]
                }
            },
        )
        patched = api.patch_namespaced_custom_object(
            *IMG,
            namespace,
            "imagestreams",
            "s",
            [
                {
                    "op": "add",
                    "path": "/spec/tags/-",
                    "value": {"name": "b", "from": {"kind": "DockerImage", "name": "q.io/o/b:1"}},
                }
            ],
            _content_type="application/json-patch+json",
        )
        assert patched["metadata"]["generation"] == 2
        assert [t["generation"] for t in patched["spec"]["tags"]] == [1, 2]
        assert patched["status"]["tags"][0]["tag"] == "a"
        tag = api.get_namespaced_custom_object(*IMG, namespace, "imagestreamtags", "s:a")
        assert tag["image"]["metadata"]["name"] == "sha256:" + "1" * 64
        with pytest.raises(ApiException) as err:
            api.get_namespaced_custom_object(*IMG, namespace, "imagestreamtags", "s:b")
        assert err.value.status == 404


class TestTemplates:
    def test_new_app_httpd_example_processes_the_template_and_its_build_config_builds_once(
        self, sim: SimServer
    ) -> None:
        api = custom(sim)
        ns = f"app-{uuid.uuid4().hex[:6]}"
        api.create_cluster_custom_object(
            "project.openshift.io",
            "v1",
            "projectrequests",
            {
                "apiVersion": "project.openshift.io/v1",
                "kind": "ProjectRequest",
                "metadata": {"name": ns},
            },
        )
        template = api.get_namespaced_custom_object(
            "template.openshift.io", "v1", "openshift", "templates", "httpd-example"
        )
        processed = api.create_namespaced_custom_object(
            "template.openshift.io", "v1", ns, "processedtemplates", template
        )
        kinds = [o["kind"] for o in processed["objects"]]
        assert kinds == ["Service", "Route", "ImageStream", "BuildConfig", "DeploymentConfig"]
        bc = processed["objects"][3]
        assert bc["spec"]["output"]["to"] == {
            "kind": "ImageStreamTag",
            "name": "httpd-example:latest",
        }
        assert bc["spec"]["strategy"]["sourceStrategy"]["from"]["name"] == "httpd:2.4-el8"
        assert len(bc["spec"]["triggers"][2]["github"]["secret"]) == 40
        assert bc["metadata"]["labels"] == {"template": "httpd-example", "app": "httpd-example"}
        paths = {
            "Service": "api/v1",
            "Route": "apis/route.openshift.io/v1",
            "ImageStream": "apis/image.openshift.io/v1",
            "BuildConfig": "apis/build.openshift.io/v1",
            "DeploymentConfig": "apis/apps.openshift.io/v1",
        }
        plural = {
            "Service": "services",
            "Route": "routes",
            "ImageStream": "imagestreams",
            "BuildConfig": "buildconfigs",
            "DeploymentConfig": "deploymentconfigs",
        }
        for obj in processed["objects"]:
            resp = requests.post(
                f"{sim.url}/{paths[obj['kind']]}/namespaces/{ns}/{plural[obj['kind']]}",
                json=obj,
                timeout=5,
            )
            assert resp.status_code == 201, resp.text
        build = wait_until(
            lambda: (
                (b := api.get_namespaced_custom_object(*BLD, ns, "builds", "httpd-example-1"))
                and b.get("status", {}).get("phase") == "Complete"
                and b
            )
        )
        assert (
            build["status"]["outputDockerImageReference"]
            == f"image-registry.openshift-image-registry.svc:5000/{ns}/httpd-example:latest"
        )
        assert build["spec"]["output"]["pushSecret"]["name"].startswith("builder-dockercfg-")
        assert len(api.list_namespaced_custom_object(*BLD, ns, "builds")["items"]) == 1


class TestCancellation:
    def test_a_cancelled_build_ends_cancelled(self) -> None:
        with sim_server("--delay", "build-running=1", "--delay", "build-complete=1") as sim:
            api = custom(sim)
            kubernetes.client.CoreV1Api(sim.api_client()).create_namespace(
                {"metadata": {"name": "c"}}
            )
            wait_until(
                lambda: (
                    "builder"
                    in {
                        s.metadata.name
                        for s in kubernetes.client.CoreV1Api(sim.api_client())
                        .list_namespaced_service_account("c")
                        .items
                    }
                )
            )
            body = {
                "apiVersion": "build.openshift.io/v1",
                "kind": "Build",
                "metadata": {"name": "b"},
                "spec": {
                    "strategy": {"type": "Docker", "dockerStrategy": {}},
                    "output": {"to": {"kind": "DockerImage", "name": "registry.invalid/o/r:t"}},
                },
            }
            api.create_namespaced_custom_object(*BLD, "c", "builds", body)
            wait_until(
                lambda: (
                    api.get_namespaced_custom_object(*BLD, "c", "builds", "b")["status"]["phase"]
                    == "Pending"
                )
            )
            api.patch_namespaced_custom_object(
                *BLD, "c", "builds", "b", {"status": {"cancelled": True}}
            )
            done = wait_until(
                lambda: (
                    (b := api.get_namespaced_custom_object(*BLD, "c", "builds", "b"))["status"][
                        "phase"
                    ]
                    == "Cancelled"
                    and b
                )
            )
            assert done["status"]["reason"] == "CancelledBuild"
