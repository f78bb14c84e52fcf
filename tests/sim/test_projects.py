"""OpenShift project creation: the synchronous ProjectRequest, then the staged async set-up."""

from __future__ import annotations

import time
from typing import Any

import kubernetes.client
import pytest
import requests
from kubernetes.client.exceptions import ApiException

from devstack.sim import sim_server
from devstack.waiting import wait_until


def core(api: Any) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(api)


def request_project(api: Any, name: str, **fields: str) -> dict[str, Any]:
    custom = kubernetes.client.CustomObjectsApi(api)
    body = {
        "apiVersion": "project.openshift.io/v1",
        "kind": "ProjectRequest",
        "metadata": {"name": name},
        **fields,
    }
    project: dict[str, Any] = custom.create_cluster_custom_object(
        "project.openshift.io", "v1", "projectrequests", body
    )
    return project


def sa_names(api: Any, ns: str) -> set[str]:
    return {sa.metadata.name for sa in core(api).list_namespaced_service_account(ns).items}


def first_seen(url: str, name: str, timeout: float = 10.0) -> dict[str, float]:
    """Poll the raw API every 20 ms; return when the mcs annotation and each SA were first seen."""
    seen: dict[str, float] = {}
    scc_keys_seen: list[set[str]] = []
    start = time.monotonic()
    with requests.Session() as http:
        while time.monotonic() - start < timeout and len(seen) < 4:
            ns = http.get(f"{url}/api/v1/namespaces/{name}", timeout=5).json()
            keys = {
                k
                for k in ns["metadata"].get("annotations", {})
                if k.startswith("openshift.io/sa.scc.")
            }
            scc_keys_seen.append(keys)
            if "openshift.io/sa.scc.mcs" in keys:
                seen.setdefault("mcs", time.monotonic())
            for sa in http.get(f"{url}/api/v1/namespaces/{name}/serviceaccounts", timeout=5).json()[
                "items"
            ]:
                seen.setdefault(sa["metadata"]["name"], time.monotonic())
            time.sleep(0.02)
    every = {
        "openshift.io/sa.scc.mcs",
        "openshift.io/sa.scc.uid-range",
        "openshift.io/sa.scc.supplemental-groups",
    }
    assert all(keys in (set(), every) for keys in scc_keys_seen), "the sa.scc.* keys arrived apart"
    return seen


class TestProjectRequest:
    def test_a_project_request_answers_at_once_with_openshift_annotations_and_finalizers(
        self,
    ) -> None:
        slow = ["scc", "origin", "service-accounts", "dockercfg"]
        with sim_server(*[a for step in slow for a in ("--delay", f"{step}=1.5")]) as sim:
            api = sim.api_client()
            core(api).list_namespace()  # the client's first typed call loads its models (seconds)
            project = request_project(api, "p1", displayName="P One")
            assert project["kind"] == "Project"
            ns = core(api).read_namespace("p1")
            annotations = ns.metadata.annotations
            assert annotations["openshift.io/display-name"] == "P One"
            assert annotations["openshift.io/description"] == ""
            assert annotations["openshift.io/requester"] == "kube:admin"
            assert "openshift.io/sa.scc.mcs" not in annotations
            assert ns.spec.finalizers == ["openshift.io/origin", "kubernetes"]
            assert ns.metadata.labels["kubernetes.io/metadata.name"] == "p1"
            assert sa_names(api, "p1") == set()
            rbs = (
                kubernetes.client.RbacAuthorizationV1Api(api)
                .list_namespaced_role_binding("p1")
                .items
            )
            assert [rb.role_ref.name for rb in rbs] == ["admin"]

            ns = wait_until(
                lambda: (
                    (n := core(api).read_namespace("p1")).spec.finalizers == ["kubernetes"] and n
                )
            )
            ns = wait_until(
                lambda: (
                    "openshift.io/sa.scc.mcs"
                    in ((n := core(api).read_namespace("p1")).metadata.annotations or {})
                    and n
                )
            )
            uid_range = ns.metadata.annotations["openshift.io/sa.scc.uid-range"]
            assert uid_range.endswith("/10000")
            assert ns.metadata.annotations["openshift.io/sa.scc.supplemental-groups"] == uid_range
            wait_until(lambda: sa_names(api, "p1") == {"default", "builder", "deployer"})

    @pytest.mark.parametrize("name", ["openshift", "kube-system", "openshift-x", "kubernetes-y"])
    def test_reserved_project_names_are_forbidden(self, api: Any, name: str) -> None:
        with pytest.raises(ApiException) as err:
            request_project(api, name)
        assert err.value.status == 403

    def test_requesting_an_existing_project_is_409(self, api: Any, namespace: str) -> None:
        with pytest.raises(ApiException) as err:
            request_project(api, namespace)
        assert err.value.status == 409

    def test_projects_are_a_view_of_namespaces_and_deleting_one_deletes_the_namespace(
        self, api: Any
    ) -> None:
        request_project(api, "view-me")
        custom = kubernetes.client.CustomObjectsApi(api)
        got = custom.get_cluster_custom_object("project.openshift.io", "v1", "projects", "view-me")
        assert got["kind"] == "Project" and got["metadata"]["name"] == "view-me"
        custom.delete_cluster_custom_object("project.openshift.io", "v1", "projects", "view-me")
        wait_until(
            lambda: "view-me" not in {n.metadata.name for n in core(api).list_namespace().items}
        )


class TestStagedSetup:
    @pytest.mark.parametrize(
        ("delays", "first"),
        [
            (["--delay", "scc=0.1", "--delay", "service-accounts=0.8"], "scc"),
            (["--delay", "scc=0.8", "--delay", "service-accounts=0.1"], "sa"),
        ],
        ids=["service accounts after mcs", "mcs after service accounts"],
    )
    def test_the_scc_annotations_arrive_in_one_write_in_the_configured_order(
        self, delays: list[str], first: str
    ) -> None:
        with sim_server(*delays) as sim:
            requests.post(
                f"{sim.url}/apis/project.openshift.io/v1/projectrequests",
                json={"metadata": {"name": "staged"}},
                timeout=5,
            ).raise_for_status()
            seen = first_seen(sim.url, "staged")
            assert set(seen) == {"mcs", "default", "builder", "deployer"}
            first_sa = min(seen["default"], seen["builder"], seen["deployer"])
            assert (seen["mcs"] < first_sa) == (first == "scc")

    def test_a_plain_namespace_gets_only_the_kubernetes_finalizer_and_the_async_parts(
        self, api: Any, namespace: str
    ) -> None:
        ns = core(api).read_namespace(namespace)
        assert ns.spec.finalizers == ["kubernetes"]
        assert "openshift.io/display-name" not in (ns.metadata.annotations or {})
        wait_until(
            lambda: (
                "openshift.io/sa.scc.mcs"
                in (core(api).read_namespace(namespace).metadata.annotations or {})
            )
        )
        wait_until(lambda: sa_names(api, namespace) == {"default", "builder", "deployer"})


class TestServiceAccounts:
    def test_each_service_account_gets_a_linked_dockercfg_secret_in_the_4_16_layout(
        self, api: Any, namespace: str
    ) -> None:
        def linked() -> Any:
            sa = core(api).read_namespaced_service_account("builder", namespace)
            ref = (sa.metadata.annotations or {}).get(
                "openshift.io/internal-registry-pull-secret-ref"
            )
            return ref and sa

        sa = wait_until(linked)
        ref = sa.metadata.annotations["openshift.io/internal-registry-pull-secret-ref"]
        assert ref.startswith("builder-dockercfg-") and len(ref) == len("builder-dockercfg-") + 5
        assert [s.name for s in sa.secrets] == [ref]
        assert [s.name for s in sa.image_pull_secrets] == [ref]
        secret = core(api).read_namespaced_secret(ref, namespace)
        assert secret.type == "kubernetes.io/dockercfg"
        assert (
            secret.metadata.annotations["openshift.io/internal-registry-auth-token.service-account"]
            == "builder"
        )
        assert secret.metadata.owner_references[0].name == "builder"
        names = {s.metadata.name for s in core(api).list_namespaced_secret(namespace).items}
        assert not any("-token-" in n for n in names)

    def test_a_deleted_service_account_is_recreated(self, api: Any, namespace: str) -> None:
        wait_until(lambda: "builder" in sa_names(api, namespace))
        old_uid = core(api).read_namespaced_service_account("builder", namespace).metadata.uid
        core(api).delete_namespaced_service_account("builder", namespace)
        sa = wait_until(
            lambda: (
                "builder" in sa_names(api, namespace)
                and core(api).read_namespaced_service_account("builder", namespace)
            )
        )
        assert sa.metadata.uid != old_uid

    def test_a_deleted_pull_secret_is_recreated_and_relinked_keeping_other_entries(
        self, api: Any, namespace: str
    ) -> None:
        def ref_of() -> str | None:
            sa = core(api).read_namespaced_service_account("builder", namespace)
            return (sa.metadata.annotations or {}).get(
                "openshift.io/internal-registry-pull-secret-ref"
            )

        old_ref = wait_until(ref_of)
        core(api).create_namespaced_secret(
            namespace,
            {
                "metadata": {"name": "builder-quay-c1"},
                "type": "kubernetes.io/dockerconfigjson",
                "data": {".dockerconfigjson": "e30="},
            },
        )
        core(api).patch_namespaced_service_account(
            "builder",
            namespace,
            [
                {"op": "add", "path": "/secrets/-", "value": {"name": "builder-quay-c1"}},
                {"op": "add", "path": "/imagePullSecrets/-", "value": {"name": "builder-quay-c1"}},
            ],
        )
        core(api).delete_namespaced_secret(old_ref, namespace)
        new_ref = wait_until(lambda: (r := ref_of()) != old_ref and r)
        sa = core(api).read_namespaced_service_account("builder", namespace)
        assert [s.name for s in sa.secrets] == [new_ref, "builder-quay-c1"]
        assert [s.name for s in sa.image_pull_secrets] == [new_ref, "builder-quay-c1"]


def test_an_operator_and_the_pull_secret_controller_never_erase_each_others_entries(
    api: Any,
) -> None:
    """Both sides write the ServiceAccount guarded by its resourceVersion; both entries survive."""
    ns = "race"
    core(api).create_namespace({"metadata": {"name": ns}})
    sa = wait_until(
        lambda: (
            "builder" in sa_names(api, ns)
            and core(api).read_namespaced_service_account("builder", ns)
        )
    )
    # append as the bridge does: JSON Patch with a test on resourceVersion, retried on 409/422
    for _ in range(50):
        sa = core(api).read_namespaced_service_account("builder", ns)
        names = [s.name for s in sa.image_pull_secrets or []]
        ops: list[dict[str, Any]] = [
            {
                "op": "test",
                "path": "/metadata/resourceVersion",
                "value": sa.metadata.resource_version,
            }
        ]
        if sa.image_pull_secrets is None:
            ops.append(
                {"op": "add", "path": "/imagePullSecrets", "value": [{"name": "builder-quay-c1"}]}
            )
        elif "builder-quay-c1" not in names:
            ops.append(
                {"op": "add", "path": "/imagePullSecrets/-", "value": {"name": "builder-quay-c1"}}
            )
        try:
            core(api).patch_namespaced_service_account("builder", ns, ops)
            break
        except ApiException as exc:
            assert exc.status in (409, 422)
    final = wait_until(
        lambda: (
            (s := core(api).read_namespaced_service_account("builder", ns)).metadata.annotations
            and "openshift.io/internal-registry-pull-secret-ref" in s.metadata.annotations
            and s
        )
    )
    ref = final.metadata.annotations["openshift.io/internal-registry-pull-secret-ref"]
    assert {s.name for s in final.image_pull_secrets} == {ref, "builder-quay-c1"}
