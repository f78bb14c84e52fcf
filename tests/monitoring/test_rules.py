"""deploy/monitoring: the alerts and the dashboard, checked by Prometheus' own tools and the code.

``promtool`` (Debian's ``prometheus`` package; ``make test`` installs it) checks the
PrometheusRule's rules and runs their unit tests (``rules_test.yaml``), the dashboard's queries
are checked by the same parser, and every metric named anywhere must be one the operator or the
webhook really exports (their registries are built here from the code, not from a list).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge.metrics import Metrics
from webhook.metrics import AdmissionMetrics

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
DASHBOARD = MONITORING / "dashboards" / "quay-bridge.json"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: apt-get install prometheus (make test does)"
)


def rule_spec() -> dict[str, Any]:
    document = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    assert document["kind"] == "PrometheusRule"
    return dict(document["spec"])


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def exported() -> set[str]:
    """Every sample name the operator's and the webhook's registries expose."""
    metrics = Metrics()
    AdmissionMetrics(metrics.registry)
    names = {"up"}
    for family in metrics.registry.collect():
        names |= {sample.name for sample in family.samples}
        names.add(family.name)
    # Labelled families expose no sample until first used: add the suffixes of their type.
    for family in metrics.registry.collect():
        if family.type == "histogram":
            names |= {f"{family.name}_{s}" for s in ("bucket", "count", "sum")}
        if family.type == "counter":
            names.add(f"{family.name}_total")
    return names


@needs_promtool
class TestWithPromtool:
    def test_the_rules_pass_promtools_check(self, tmp_path: Path) -> None:
        (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule_spec()))
        result = promtool("check", "rules", "rules.yaml", cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout

    def test_the_rules_unit_tests_pass(self, tmp_path: Path) -> None:
        (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule_spec()))
        shutil.copy(Path(__file__).with_name("rules_test.yaml"), tmp_path / "rules_test.yaml")
        result = promtool("test", "rules", "rules_test.yaml", cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr

    def test_a_wrong_expectation_fails_the_unit_tests(self, tmp_path: Path) -> None:
        (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule_spec()))
        wrong = Path(__file__).with_name("rules_test.yaml").read_text()
        wrong = wrong.replace("integration: broken", "integration: quay", 1)
        (tmp_path / "rules_test.yaml").write_text(wrong)
        result = promtool("test", "rules", "rules_test.yaml", cwd=tmp_path)
        output = result.stdout + result.stderr
        assert result.returncode != 0 and "QuayBridgeIntegrationNotReady" in output

    def test_every_dashboard_query_parses(self, tmp_path: Path) -> None:
        rules = [
            {"record": f"dashboard:query_{index}", "expr": expr}
            for index, expr in enumerate(dashboard_queries())
        ]
        (tmp_path / "dashboard.yaml").write_text(
            yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]})
        )
        result = promtool("check", "rules", "dashboard.yaml", cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr


class TestMetricNames:
    def test_every_metric_the_rules_and_dashboard_name_is_exported(self) -> None:
        recorded = {
            rule["record"] for g in rule_spec()["groups"] for rule in g["rules"] if "record" in rule
        }
        texts = [rule["expr"] for g in rule_spec()["groups"] for rule in g["rules"]]
        texts += dashboard_queries()
        named = {
            name
            for text in texts
            for name in re.findall(r"\b(quay_bridge[:\w]*|up)\b(?=\s*[{(\[)]|\s*[=<>]|\s*$)", text)
        }
        assert named, "no metric found: the pattern is wrong"
        assert named - recorded <= exported(), sorted(named - recorded - exported())

    def test_each_required_alert_exists(self) -> None:
        alerts = {rule.get("alert") for g in rule_spec()["groups"] for rule in g["rules"]}
        assert {
            "QuayBridgeIntegrationNotReady",
            "QuayBridgeNamespacesFailing",
            "QuayBridgeQuayErrors",
            "QuayBridgeQuaySlow",
            "QuayBridgeWebhookDenials",
            "QuayBridgeWebhookSlow",
            "QuayBridgeNoActiveReplica",
            "QuayBridgeDown",
        } <= alerts


class TestTheKustomization:
    def test_it_builds_the_monitors_and_the_consoles_dashboard_configmap(self) -> None:
        kubectl = shutil.which("kubectl") or str(
            Path(shutil.which("python") or "").parent / "kubectl"
        )
        output = subprocess.run(
            [kubectl, "kustomize", str(MONITORING)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        objects = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(output)}
        assert ("ServiceMonitor", "quay-bridge") in objects
        assert ("PrometheusRule", "quay-bridge") in objects
        configmap = objects[("ConfigMap", "grafana-dashboard-quay-bridge")]
        assert configmap["metadata"]["namespace"] == "openshift-config-managed"
        assert configmap["metadata"]["labels"]["console.openshift.io/dashboard"] == "true"
        assert json.loads(configmap["data"]["quay-bridge.json"]) == json.loads(
            DASHBOARD.read_text()
        )

    def test_the_service_monitor_scrapes_the_port_the_service_names(self) -> None:
        monitor = yaml.safe_load((MONITORING / "servicemonitor.yaml").read_text())
        service = yaml.safe_load((ROOT / "deploy" / "base" / "service.yaml").read_text())
        ports = {port["name"] for port in service["spec"]["ports"]}
        assert monitor["spec"]["endpoints"][0]["port"] in ports
        labels = service["metadata"]["labels"]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert labels[monitor["spec"]["jobLabel"]] == "quay-bridge"  # the job the rules select
