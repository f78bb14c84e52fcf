"""``quay-bridge run``: its command line, and the metrics and health endpoints it serves."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import requests

from devstack.registry import RegistryServer
from devstack.waiting import wait_until
from tests.bridge.conftest import Cluster
from tests.bridge.metrics import metric_total


class TestCommandLine:
    def test_a_missing_kubeconfig_is_a_clear_error(self, tmp_path: Any) -> None:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "quaybridge_cli",
                "run",
                "--no-webhook",
                "--kubeconfig",
                str(tmp_path / "nope"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2
        assert "kubeconfig" in result.stderr and "does not exist" in result.stderr
        assert "Traceback" not in result.stderr

    def test_help_lists_the_options_of_the_contract(self) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "quaybridge_cli", "run", "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0
        for option in (
            "--kubeconfig",
            "--no-webhook",
            "--webhook-host",
            "--webhook-port",
            "--cert-dir",
            "--metrics-port",
            "--standalone",
            "--peering",
        ):
            assert option in result.stdout


class TestEndpoints:
    def test_metrics_count_reconciles_quay_calls_and_managed_namespaces(
        self, ready_integration: Cluster, registry: RegistryServer, operator_factory: Any
    ) -> None:
        cluster = ready_integration
        operator = operator_factory()
        base = operator.metrics_url.rsplit("/", 1)[0]
        assert requests.get(base + "/healthz", timeout=5).ok
        assert requests.get(base + "/readyz", timeout=5).ok
        cluster.new_project("metered")
        wait_until(lambda: cluster.linked("metered", "builder", "builder-quay-openshift"), 20)

        def page() -> str:
            return requests.get(operator.metrics_url, timeout=5).text

        wait_until(
            lambda: metric_total(page(), "quay_bridge_managed_namespaces", integration="quay") >= 1,
            timeout=10,
        )
        text = page()
        assert metric_total(text, "quay_bridge_reconciles_total", kind="namespace") >= 1
        assert (
            metric_total(
                text,
                "quay_bridge_quay_calls_total",
                endpoint="organization/",
                method="POST",
                outcome="201",
            )
            >= 1
        )
        assert metric_total(text, "quay_bridge_kubernetes_writes_total", resource="secrets") >= 3
        assert metric_total(text, "quay_bridge_quay_call_duration_seconds_count") >= 1
        assert registry.token not in text
