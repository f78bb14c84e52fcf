"""First-build latency: N projects requested at once, each followed at once by a Build (JSON).

Starts the simulator, the registry core and ``quay-bridge run`` with its webhook, and registers
deploy/base's MutatingWebhookConfiguration (both webhooks) with the simulator, as
``tests/webhook/test_first_build.py`` does. Then, from N threads at once, each requests a project
and creates a Build in it right away: that Build reaches the webhook before the controller has
provisioned the namespace, so the webhook holds it until the builder's push secret exists. Measured:
the ProjectRequest's latency (the Namespace webhook is on its path), the first Build's create
latency (the hold included), and then a second Build per namespace (the steady state, answered
from memory); plus the webhook's own histogram and how many admissions waited for provisioning,
from the operator's ``/metrics``, and how many first Builds needed the one namespace read (the
controller had not seen their namespace yet). Results go to stdout and
``bench/results/first-build-<N>.json``.

Usage: ``.venv/bin/python bench/first_build.py [-n 50]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import kubernetes.client
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devstack.cluster import build, deployed_configuration, install_integration  # noqa: E402
from devstack.operator import Operator, make_certificates  # noqa: E402
from devstack.registry import RegistryServer  # noqa: E402
from devstack.sim import SimServer, start_sim  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def _create_build(sim: SimServer, namespace: str) -> tuple[float, str]:
    custom = kubernetes.client.CustomObjectsApi(sim.api_client())
    body = build(namespace=namespace, name=f"httpd-example-{uuid.uuid4().hex[:6]}")
    started = time.perf_counter()
    try:
        created: Any = custom.create_namespaced_custom_object(
            "build.openshift.io", "v1", namespace, "builds", body
        )
    except kubernetes.client.ApiException as exc:  # a hold past its budget: the 503 denial
        return time.perf_counter() - started, f"denied ({exc.status})"
    return time.perf_counter() - started, str(created["spec"]["output"]["to"]["kind"])


def _project_then_build(sim: SimServer, namespace: str) -> dict[str, Any]:
    custom = kubernetes.client.CustomObjectsApi(sim.api_client())
    started = time.perf_counter()
    custom.create_cluster_custom_object(
        "project.openshift.io",
        "v1",
        "projectrequests",
        {"apiVersion": "project.openshift.io/v1", "kind": "ProjectRequest",
         "metadata": {"name": namespace}},
    )  # fmt: skip
    project = time.perf_counter() - started
    seconds, kind = _create_build(sim, namespace)
    return {"project_s": project, "build_s": seconds, "kind": kind}


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def _metrics(url: str) -> dict[str, float]:
    wanted = ("quay_bridge_admission", "quay_bridge_namespace_admission")
    samples = {}
    for line in requests.get(url, timeout=10).text.splitlines():
        if line.startswith(wanted) and "_created" not in line and "_bucket" not in line:
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def _mean_ms(now: dict[str, float], before: dict[str, float], which: str) -> float:
    """Mean seconds per admission between two scrapes of one histogram, in milliseconds."""
    name = f"quay_bridge_{which}_duration_seconds"
    count = now[f"{name}_count"] - before.get(f"{name}_count", 0.0)
    total = now[f"{name}_sum"] - before.get(f"{name}_sum", 0.0)
    return round(total / count * 1000, 2) if count else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50, help="projects at once (default 50)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="first-build-bench-"))
    sim = start_sim()
    registry = RegistryServer.start()
    operator = None
    try:
        api = install_integration(sim, registry)
        operator = Operator.start(sim.kubeconfig, cert_dir=make_certificates(workdir / "certs"))
        configuration = deployed_configuration(operator.webhook_url, operator.ca_file.read_bytes())
        kubernetes.client.AdmissionregistrationV1Api(api).create_mutating_webhook_configuration(
            configuration
        )
        names = [f"bench-{n}" for n in range(args.n)]
        with ThreadPoolExecutor(max_workers=args.n) as pool:
            first = list(pool.map(lambda name: _project_then_build(sim, name), names))
        after_first = _metrics(operator.metrics_url)
        with ThreadPoolExecutor(max_workers=args.n) as pool:
            second = list(pool.map(lambda name: _create_build(sim, name), names))
        after_second = _metrics(operator.metrics_url)
        reads = operator.log().count("not seen by the controller yet")
    finally:
        if operator is not None:
            operator.stop()
        registry.stop()
        sim.stop()
    result = {
        "benchmark": "first-build",
        "projects_at_once": args.n,
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "python": platform.python_version(),
        },
        "project_request": _summary([r["project_s"] for r in first]),
        "first_build_create": _summary([r["build_s"] for r in first]),
        "first_builds_rewritten": sum(r["kind"] == "DockerImage" for r in first),
        "first_builds_denied": sum(r["kind"].startswith("denied") for r in first),
        "first_builds_that_read_their_namespace": reads,
        "second_build_create": _summary([seconds for seconds, _ in second]),
        "second_builds_rewritten": sum(kind == "DockerImage" for _, kind in second),
        "second_builds_denied": sum(kind.startswith("denied") for _, kind in second),
        "webhook_first_build_mean_ms": _mean_ms(after_first, {}, "admission"),
        "webhook_second_build_mean_ms": _mean_ms(after_second, after_first, "admission"),
        "webhook_namespace_mean_ms": _mean_ms(after_first, {}, "namespace_admission"),
        "webhook_metrics_after_first": after_first,
        "webhook_metrics_after_second": after_second,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"first-build-{args.n}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
