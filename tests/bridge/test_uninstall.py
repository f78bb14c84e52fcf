"""Uninstalling in either order leaves no namespace stuck (docs/install.md, "Uninstalling").

Real simulator, registry core, operator and kubectl. The order that keeps everything clean deletes
the QuayIntegrations while the operator runs (``test_operator_integrations`` shows that this
releases the namespaces and keeps the Quay data). Here, the other order: the operator is gone
first, a namespace it managed is deleted and hangs on the finalizer, and the documented
``deploy/release-namespaces.sh`` releases it and every other managed namespace, touching nothing
in Quay. Also: the system namespaces stay out even when an allow list names them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from devstack.registry import RegistryServer
from devstack.waiting import wait_until
from tests.bridge.conftest import Cluster
from tests.bridge.test_operator_integrations import marked

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "release-namespaces.sh"
KUBECTL = str(Path(sys.executable).parent / "kubectl")


def release(cluster: Cluster) -> str:
    env = {**os.environ, "KUBECTL": KUBECTL, "KUBECONFIG": cluster.sim.kubeconfig}
    result = subprocess.run(
        ["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


class TestUninstallingTheOperatorFirst:
    def test_the_release_script_frees_stuck_and_managed_namespaces_and_keeps_quay_data(
        self, ready_integration: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        cluster = ready_integration
        operator = operator_factory()
        for name in ("kept", "deleted-late"):
            cluster.new_project(name)
        for name in ("kept", "deleted-late"):
            wait_until(lambda n=name: marked(cluster, n) == (True, True), timeout=20)
        operator.stop()  # what `kubectl delete -k deploy/base` does before the integration goes

        cluster.core.delete_namespace("deleted-late")
        stuck = cluster.get_namespace("deleted-late")
        assert stuck is not None and stuck["metadata"].get("deletionTimestamp")
        assert stuck["status"]["phase"] == "Terminating"

        output = release(cluster)
        assert "released namespace/kept" in output
        assert "released namespace/deleted-late" in output
        wait_until(lambda: cluster.get_namespace("deleted-late") is None, timeout=20)
        assert marked(cluster, "kept") == (False, False)
        for org in ("openshift_kept", "openshift_deleted-late"):
            assert registry.get(f"/api/v1/organization/{org}").ok
        assert "0 namespaces released" in release(cluster)  # running it again changes nothing


class TestSystemNamespaces:
    def test_an_allowlisted_system_namespace_is_not_managed_and_the_log_says_so(
        self, cluster: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        cluster.secret("openshift-operators", "quay-token", {"token": registry.token})
        cluster.integration("quay", registry, allowlistNamespaces=["kube-public", "app"])
        operator = operator_factory()
        cluster.new_project("app")
        wait_until(lambda: marked(cluster, "app") == (True, True), timeout=20)
        assert marked(cluster, "kube-public") == (False, False)
        assert registry.get("/api/v1/organization/openshift_kube-public").status_code == 404
        assert "allowlistNamespaces names kube-public, which quay-bridge never manages" in (
            operator.log()
        )
