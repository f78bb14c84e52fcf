"""Operator convergence benchmark: N namespaces x 3 ServiceAccounts x 2 ImageStreams, JSON results.

Operator-agnostic: it starts the OpenShift simulator (with ``--request-log``) and the registry core,
creates the QuayIntegration CRD, the credentials Secret and one QuayIntegration, then runs the
operator given by ``--operator-cmd`` (default: ours, ``quay-bridge run --no-webhook``), whose
placeholders ``{kubeconfig}``, ``{metrics_port}`` and ``{quay_url}`` are filled in. It then
measures:

- convergence: seconds from the first ``ProjectRequest`` until every pull Secret
  ``<sa>-quay-<clusterID>`` exists and every ServiceAccount lists it in ``secrets`` and
  ``imagePullSecrets``; Quay calls by endpoint (the registry core's ``/metrics``), Kubernetes writes
  by resource (the simulator's request log, the benchmark's own requests excluded by User-Agent);
  the operator's CPU seconds and peak RSS (``/proc``);
- change storm: every ImageStream relabelled; the Quay calls and Secret writes it caused;
- late ServiceAccounts: the ``deployer`` ServiceAccount deleted in M namespaces (OpenShift
  re-creates it at once, without the bridge's entries); the delay until each new one is linked and
  the Quay calls made meanwhile.

The simulator runs with ``--immediate`` (OpenShift's own delays at zero), so the numbers are the
operator's. Results go to stdout and ``bench/results/convergence-<N>.json``.

With ``--apiserver real`` the same workload runs on a real kube-apiserver, kube-controller-manager
and etcd (``bench/substrates.py``): the operator acts as its ServiceAccount with RBAC on, the
benchmark plays OpenShift's part (the ``builder`` and ``deployer`` accounts, ImageStream as a CRD),
and the operator's writes come from the API server's audit log. Results then go to
``bench/results/convergence-<N>-real.json``.

``run()`` takes any :class:`OperatorSpec` (how to prepare the server for an operator, start it and
tell that it is up), so ``bench/peer/`` measures the original Go operator with this same workload.

With ``--quay-cost`` the registry core runs its Quay cost model (``--quay-cost-seconds`` per call,
``--quay-cost-workers`` at once; one ImageStream per namespace): the results add convergence
against the time Quay was busy, connection errors, failed reconciles, duplicate creates and the
steady state's Quay calls per namespace per hour, in
``bench/results/convergence-<N>-quay-cost.json``.

Usage: ``.venv/bin/python bench/convergence.py [-n 200] [--apiserver sim|real] [--operator-cmd C]
[--late 20] [--late-timeout 30] [--quay-cost [--quay-cost-seconds 0.25] [--quay-cost-workers 1]]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.substrates import Api, Substrate, credentials_secret, start_substrate  # noqa: E402
from devstack.ports import free_port  # noqa: E402
from devstack.processes import Process  # noqa: E402
from devstack.registry import RegistryServer  # noqa: E402
from devstack.waiting import NOT_YET, poll_until, wait_until_steady  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CLUSTER_ID = "openshift"
SAS = ("builder", "default", "deployer")
#: Seconds the Quay call counts may take to stop moving after a phase (a bound, not a pause).
SETTLE_TIMEOUT = 300.0
DEFAULT_OPERATOR = (
    f"{shlex.quote(sys.executable)} -m quaybridge_cli run --no-webhook --standalone"
    " --kubeconfig {kubeconfig} --metrics-host 127.0.0.1 --metrics-port {metrics_port}"
    " --log-level WARNING"
)


@dataclass(frozen=True)
class OperatorSpec:
    """How to run one operator under test on a substrate.

    ``command`` is a template: ``{kubeconfig}``, ``{metrics_port}``, ``{probe_port}`` and
    ``{quay_url}`` are filled in. ``prepare`` readies the API server for this operator (kinds it
    watches, its RBAC) and returns the kubeconfig it acts with; by default the substrate's own.
    The operator is up when ``ready_url`` (a template like ``command``) answers 200, or, without
    one, when it has written the integration's status; at most 15 s is waited either way.
    """

    command: str
    env: Mapping[str, str] = field(default_factory=dict)
    prepare: Callable[[Substrate], str] | None = None
    ready_url: str | None = None
    #: extra QuayIntegration ``spec`` fields (the same for every operator of a comparison)
    integration: Mapping[str, Any] = field(default_factory=dict)


def quay_calls(registry_url: str) -> Counter[str]:
    """Requests the registry core served, by 'METHOD route' (Quay API only)."""
    text = requests.get(registry_url + "/metrics", timeout=10).text
    counts: Counter[str] = Counter()
    pattern = re.compile(r"^quay_registry_requests_total\{(.*)\} ([0-9.e+]+)$")
    for line in text.splitlines():
        match = pattern.match(line)
        if not match:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if labels.get("route", "").startswith("/api/"):
            counts[f"{labels['method']} {labels['route']}"] += int(float(match.group(2)))
    return counts


def quay_server_seconds(registry_url: str) -> float:
    """Total time the registry core spent answering Quay API requests (its latency histogram)."""
    text = requests.get(registry_url + "/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("quay_registry_request_seconds_sum{") and 'route="/api/' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def quay_cost(registry_url: str) -> dict[str, float]:
    """The cost model's report (``serve --quay-cost``): calls checked, workers' busy time."""
    return dict(requests.get(registry_url + "/quay-cost", timeout=10).json())


def statuses(registry_url: str, method: str, route: str) -> Counter[str]:
    """Answers the registry core gave to one Quay API route, by status."""
    text = requests.get(registry_url + "/metrics", timeout=10).text
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        if not line.startswith("quay_registry_requests_total{"):
            continue
        head, _, value = line.rpartition(" ")
        labels = dict(re.findall(r'(\w+)="([^"]*)"', head))
        if labels.get("route") == route and labels.get("method") == method:
            counts[labels["status"]] += int(float(value))
    return counts


def operator_metric(url: str, name: str, **wanted: str) -> float:
    """Sum of the operator's samples of ``name`` whose labels include ``wanted``."""
    total = 0.0
    for line in requests.get(url, timeout=10).text.splitlines():
        if not line.startswith(name + "{"):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{key}="{item}"' in head for key, item in wanted.items()):
            total += float(value)
    return total


def duplicate_creates(registry_url: str, namespaces: int) -> int:
    """Writes the registry core saw made twice.

    A second create shows as Quay's "already exists" (organizations, robots, repositories) or as
    more prototypes created than there are robots to delegate to.
    """
    return (
        statuses(registry_url, "POST", "/api/v1/organization/")["400"]
        + statuses(registry_url, "PUT", "/api/v1/organization/{orgname}/robots/{shortname}")["400"]
        + statuses(registry_url, "POST", "/api/v1/repository")["400"]
        + max(
            0,
            statuses(registry_url, "POST", "/api/v1/organization/{orgname}/prototypes")["200"]
            - namespaces * len(SAS),
        )
    )


def proc_usage(pid: int) -> tuple[float, float]:
    """(CPU seconds, peak RSS in MB) of a process and its children, from /proc."""
    cpu, peak = 0.0, 0.0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    tick = os.sysconf("SC_CLK_TCK")
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / tick
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        except (OSError, IndexError, ValueError):
            continue
    return cpu, peak


class LinkWatch:
    """Follows ServiceAccounts and Secrets by list-then-watch and notes when all are in place.

    A watch costs the simulator one encoded event per change, where polling would list thousands
    of objects ten times a second on the same two cores as the operator under test; it also gives
    the moment of convergence to within one event rather than one polling interval.
    """

    def __init__(self, api: Api, namespaces: set[str]) -> None:
        self.api = api
        self.namespaces = namespaces
        self.linked: set[tuple[str, str]] = set()
        self.secrets: set[tuple[str, str]] = set()
        self.changed = threading.Condition()
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._follow, args=(kind,), daemon=True)
            for kind in ("serviceaccounts", "secrets")
        ]

    def start(self) -> None:
        """Start following both kinds (call before creating the namespaces)."""
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        """Stop at the next event (the threads are daemons)."""
        self.stopping.set()

    def state(self) -> tuple[int, int]:
        """(linked ServiceAccounts, existing pull Secrets) over the benchmark's namespaces."""
        with self.changed:
            return len(self.linked), len(self.secrets)

    def wait(self, target: tuple[int, int], timeout: float) -> bool:
        """Block until the state equals ``target``; False after ``timeout`` seconds."""
        with self.changed:
            return self.changed.wait_for(lambda: self.state() == target, timeout)

    def _apply(self, kind: str, event_type: str, body: dict[str, Any]) -> None:
        meta = body.get("metadata") or {}
        namespace, name = meta.get("namespace"), meta.get("name")
        if namespace not in self.namespaces:
            return
        key = (namespace, name)
        if kind == "secrets":
            present = event_type != "DELETED" and name in {f"{sa}-quay-{CLUSTER_ID}" for sa in SAS}
            target = self.secrets
        else:
            secret = f"{name}-quay-{CLUSTER_ID}"
            lists = [body.get("secrets") or [], body.get("imagePullSecrets") or []]
            present = (
                event_type != "DELETED"
                and name in SAS
                and all(any(e.get("name") == secret for e in entries) for entries in lists)
            )
            target = self.linked
        with self.changed:
            if present:
                target.add(key)
            else:
                target.discard(key)
            self.changed.notify_all()

    def _follow(self, kind: str) -> None:
        session = self.api.new_session()
        while not self.stopping.is_set():
            listing = session.get(f"{self.api.url}/api/v1/{kind}", timeout=60).json()
            for item in listing["items"]:
                self._apply(kind, "ADDED", item)
            version = listing["metadata"]["resourceVersion"]
            url = f"{self.api.url}/api/v1/{kind}?watch=1&resourceVersion={version}"
            try:
                with session.get(url, stream=True, timeout=(10, 600)) as reply:
                    for line in reply.iter_lines():
                        if self.stopping.is_set():
                            return
                        if not line:
                            continue
                        event = json.loads(line)
                        if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                            self._apply(kind, event["type"], event["object"])
            except requests.RequestException:
                continue


def settle(registry_url: str, seconds: float) -> Counter[str]:
    """Wait until the Quay call counts stop moving for ``seconds``; return them."""
    return wait_until_steady(
        lambda: quay_calls(registry_url), seconds, SETTLE_TIMEOUT, "the Quay calls", interval=0.25
    )


#: Steady state runs with the shortest periods the CRD allows, then scales to the defaults.
STEADY_RESYNC, STEADY_QUAY_RESYNC, DEFAULT_QUAY_RESYNC = 30, 60, 3600


def steady_state(
    server: Substrate, registry_url: str, n: int, seconds: float, log_offset: int
) -> dict[str, Any]:
    """Quay calls while nothing changes, per namespace per hour; the Kubernetes requests meanwhile.

    The periods are cut to the CRD's minimums (resync 30 s, Quay check 60 s) so that a short
    window sees several checks; per-namespace calls scale with the Quay check period, so the rate
    at the default (3600 s) is the measured rate times 60/3600. The integration's own credential
    probe (``GET /api/v1/user/``, once per resync whatever the namespaces) is counted apart. The
    operator's Kubernetes reads and writes in the window are counted from ``log_offset`` of the
    server's log; the namespaced lists are also given per namespace per resync.
    """
    api = server.api
    api.call(
        "PATCH",
        "/apis/quay.redhat.com/v1/quayintegrations/bench",
        {
            "spec": {
                "resyncPeriodSeconds": STEADY_RESYNC,
                "quayResyncPeriodSeconds": STEADY_QUAY_RESYNC,
            }
        },
        "application/merge-patch+json",
    )
    _, log_offset = server.reads(log_offset)  # the spec change's own requests are not counted
    before = quay_calls(registry_url)
    time.sleep(seconds)
    calls = delta(quay_calls(registry_url), before)
    reads, _ = server.reads(log_offset)
    writes, _ = server.writes(log_offset)
    probes = calls.pop("GET /api/v1/user/", 0)
    per_namespace_hour = sum(calls.values()) / n / seconds * 3600
    # Each resync starts with the credential check: the probes count the resyncs in the window
    # (fewer than window / period, since a resync still spreading its namespaces is not restarted).
    resyncs = max(probes, 1)
    namespaced = ("list secrets", "list serviceaccounts", "list imagestreams")
    return {
        "window_seconds": seconds,
        "resync_period_seconds": STEADY_RESYNC,
        "quay_resync_period_seconds": STEADY_QUAY_RESYNC,
        "quay_calls_by_endpoint": calls,
        "credential_probes": probes,
        "calls_per_namespace_per_hour_measured": round(per_namespace_hour, 2),
        "calls_per_namespace_per_hour_at_defaults": round(
            per_namespace_hour * STEADY_QUAY_RESYNC / DEFAULT_QUAY_RESYNC, 3
        ),
        "kubernetes_reads_by_request": dict(sorted(reads.items())),
        "kubernetes_writes_by_resource": dict(sorted(writes.items())),
        "namespaced_lists_per_namespace_per_resync": {
            request: round(reads[request] / n / resyncs, 2) for request in namespaced
        },
    }


def delta(after: Counter[str], before: Counter[str]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in sorted(after) if after[k] - before[k]}


def _ready(url: str) -> bool:
    return requests.get(url, timeout=2).status_code == 200


def run(
    n: int,
    operator_cmd: str | OperatorSpec,
    late: int,
    timeout: float,
    apiserver: str,
    *,
    late_timeout: float = 30.0,
    late_workers: int = 1,
    cost: tuple[float, int] | None = None,
    streams: tuple[str, ...] = ("frontend", "backend"),
    steady_seconds: float = 0.0,
) -> dict[str, Any]:
    """Run the workload once on a fresh API server and registry core; return the results.

    ``late_workers`` late-ServiceAccount cases run at once (1: one after the other), each waiting
    at most ``late_timeout`` seconds for the new account to be linked. ``cost`` runs the registry
    core with its Quay cost model (seconds per call, workers); ``steady_seconds`` > 0 also
    measures the steady state's Quay calls.
    """
    spec = operator_cmd if isinstance(operator_cmd, OperatorSpec) else OperatorSpec(operator_cmd)
    workdir = Path(tempfile.mkdtemp(prefix="bench-convergence-"))
    server = start_substrate(apiserver, workdir)
    cost_args: tuple[str, ...] = ()
    if cost is not None:
        cost_args = ("--quay-cost", "--quay-cost-seconds", str(cost[0]))
        cost_args += ("--quay-cost-workers", str(cost[1]))
    registry = RegistryServer.start(extra_args=cost_args)
    operator: Process | None = None
    try:
        api = server.api
        credentials = server.credentials_namespace
        api.call(
            "POST", f"/api/v1/namespaces/{credentials}/secrets", credentials_secret(registry.token)
        )
        api.call(
            "POST",
            "/apis/quay.redhat.com/v1/quayintegrations",
            {
                "apiVersion": "quay.redhat.com/v1",
                "kind": "QuayIntegration",
                "metadata": {"name": "bench"},
                "spec": {
                    "clusterID": CLUSTER_ID,
                    "credentialsSecret": {"name": "quay-token", "namespace": credentials},
                    "quayHostname": registry.url,
                    **spec.integration,
                },
            },
        )
        kubeconfig = spec.prepare(server) if spec.prepare else server.operator_kubeconfig
        values = {
            "kubeconfig": shlex.quote(kubeconfig),
            "metrics_port": str(free_port()),
            "probe_port": str(free_port()),
            "quay_url": registry.url,
        }
        operator = Process.spawn(
            "operator",
            shlex.split(spec.command.format(**values)),
            workdir / "operator.log",
            env=spec.env,
            cwd=ROOT,
        )
        time.sleep(0.2)
        # The operator is up when its readiness URL answers, or when it has reported the
        # integration's status (or after 15 s).
        ready_url = spec.ready_url
        if ready_url is not None:
            url = ready_url.format(**values)
            poll_until(lambda: _ready(url), 15, interval=0.1, tolerate=NOT_YET)
        else:
            poll_until(
                lambda: bool(
                    api.call("GET", "/apis/quay.redhat.com/v1/quayintegrations/bench").get("status")
                ),
                15,
                interval=0.1,
            )
        operator.check()
        time.sleep(0.5)
        quay_before = settle(registry.url, 0.5)
        quay_at_start = quay_before
        server_before = quay_server_seconds(registry.url)
        _, log_offset = server.writes(0)
        cpu_before, rss_at_start = proc_usage(operator.pid)
        sim_cpu_before, _ = proc_usage(server.server_pid)
        registry_cpu_before, _ = proc_usage(registry.process.pid)
        cost_before = quay_cost(registry.url) if cost is not None else {}
        repos_before = statuses(registry.url, "POST", "/api/v1/repository")["201"]
        namespaces = {f"bench-{i:04d}" for i in range(n)}

        def create(ns: str) -> None:
            server.create_project(ns)
            for stream in streams:
                api.call(
                    "POST",
                    f"/apis/image.openshift.io/v1/namespaces/{ns}/imagestreams",
                    {
                        "apiVersion": "image.openshift.io/v1",
                        "kind": "ImageStream",
                        "metadata": {"name": stream},
                    },
                )

        watch = LinkWatch(api, namespaces)
        watch.start()
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(create, sorted(namespaces)))
        created_after = time.monotonic() - started
        target = (n * len(SAS), n * len(SAS))
        converged = watch.wait(target, timeout)
        convergence = time.monotonic() - started
        state = watch.state()
        watch.stop()
        repos_wanted = repos_before + n * len(streams)
        repos_done = bool(
            poll_until(
                lambda: statuses(registry.url, "POST", "/api/v1/repository")["201"] >= repos_wanted,
                max(1.0, timeout - convergence),
                interval=0.05,
            )
        )
        repositories_seconds = time.monotonic() - started
        cost_at_convergence = quay_cost(registry.url) if cost is not None else {}
        quay_after = settle(registry.url, 1.5)
        writes, log_offset = server.writes(log_offset)
        cpu_after, peak = proc_usage(operator.pid)
        sim_cpu_after, _ = proc_usage(server.server_pid)
        registry_cpu_after, _ = proc_usage(registry.process.pid)
        calls = delta(quay_after, quay_before)
        provisioning = {
            "namespaces": n,
            "converged": converged,
            "seconds": round(convergence, 3),
            "seconds_creating_objects": round(created_after, 3),
            "linked_service_accounts": state[0],
            "pull_secrets": state[1],
            "quay_calls": sum(calls.values()),
            "quay_calls_per_namespace": round(sum(calls.values()) / n, 2),
            "quay_calls_by_endpoint": calls,
            "quay_server_seconds": round(quay_server_seconds(registry.url) - server_before, 2),
            "kubernetes_writes": sum(writes.values()),
            "kubernetes_writes_by_resource": dict(sorted(writes.items())),
            "operator_cpu_seconds": round(cpu_after - cpu_before, 2),
            # The other two servers share the same cores; their CPU bounds what is reachable.
            f"{'simulator' if apiserver == 'sim' else 'api_server'}_cpu_seconds": round(
                sim_cpu_after - sim_cpu_before, 2
            ),
            "registry_cpu_seconds": round(registry_cpu_after - registry_cpu_before, 2),
            "image_streams_per_namespace": len(streams),
            "repositories_created": repos_done,
            "seconds_until_every_repository": round(repositories_seconds, 3),
        }
        cost_result: dict[str, Any] = {}
        if cost is not None:
            operator_metrics = f"http://127.0.0.1:{values['metrics_port']}/metrics"
            busy = cost_at_convergence["quay_seconds"] - cost_before["quay_seconds"]
            done = max(convergence, repositories_seconds)
            cost_result = {
                "seconds_per_call": cost[0],
                "workers": cost[1],
                "convergence_seconds": round(done, 3),
                "quay_busy_seconds": round(busy, 3),
                "convergence_over_quay_busy": round(done / busy, 3) if busy else None,
                "quay_calls_per_namespace": round(sum(calls.values()) / n, 2),
                "operator_connection_errors": operator_metric(
                    operator_metrics, "quay_bridge_quay_calls_total", outcome="connection_error"
                ),
                "failed_namespace_reconciles": sum(
                    operator_metric(
                        operator_metrics, "quay_bridge_reconciles_total", outcome=outcome
                    )
                    for outcome in ("quay_error", "error")
                ),
                "failed_repository_steps": operator_metric(
                    operator_metrics,
                    "quay_bridge_reconciles_total",
                    kind="imagestream",
                    outcome="error",
                ),
                "duplicate_creates": duplicate_creates(registry.url, n),
            }

        # A spec change that affects nothing in Quay: no Quay call expected.
        quay_before = quay_after
        api.call(
            "PATCH",
            "/apis/quay.redhat.com/v1/quayintegrations/bench",
            {"spec": {"repositoryDeletionPolicy": "Delete", "scheduledImageStreamImport": True}},
            "application/merge-patch+json",
        )
        quay_after = settle(registry.url, 3.0)
        spec_change = {
            "fields": ["repositoryDeletionPolicy", "scheduledImageStreamImport"],
            "quay_calls": sum(delta(quay_after, quay_before).values()),
            "quay_calls_by_endpoint": delta(quay_after, quay_before),
        }
        # Change storm: relabel every ImageStream.
        quay_before = quay_after

        def relabel(ns: str) -> None:
            for stream in streams:
                api.call(
                    "PATCH",
                    f"/apis/image.openshift.io/v1/namespaces/{ns}/imagestreams/{stream}",
                    {"metadata": {"labels": {"storm": "1"}}},
                    "application/merge-patch+json",
                )

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(relabel, sorted(namespaces)))
        quay_after = settle(registry.url, 2.0)
        time.sleep(0.5)
        writes, log_offset = server.writes(log_offset)
        storm = {
            "imagestreams_relabelled": len(streams) * n,
            "quay_calls": sum(delta(quay_after, quay_before).values()),
            "quay_calls_by_endpoint": delta(quay_after, quay_before),
            "secret_writes": writes.get("secrets", 0),
            "kubernetes_writes_by_resource": dict(sorted(writes.items())),
        }

        # Late ServiceAccounts: delete deployer; OpenShift re-creates it without our entries.
        quay_before = quay_after
        chosen = sorted(namespaces)[: min(late, n)]
        delays: list[float] = []

        def late_case(ns: str) -> None:
            path = f"/api/v1/namespaces/{ns}/serviceaccounts/deployer"
            old_uid = api.call("GET", path)["metadata"]["uid"]
            server.replace_deployer(ns)
            gone = time.monotonic()
            secret = f"deployer-quay-{CLUSTER_ID}"

            def relinked() -> bool:
                try:
                    body = api.call("GET", path)
                except RuntimeError:
                    return False
                if body["metadata"]["uid"] == old_uid:
                    return False
                lists = [body.get("secrets") or [], body.get("imagePullSecrets") or []]
                return all(any(e.get("name") == secret for e in entries) for entries in lists)

            if poll_until(relinked, late_timeout, interval=0.01):
                delays.append(time.monotonic() - gone)

        with ThreadPoolExecutor(max_workers=max(1, late_workers)) as pool:
            list(pool.map(late_case, chosen))
        quay_after = settle(registry.url, 1.0)
        writes, log_offset = server.writes(log_offset)
        cpu_end, peak = proc_usage(operator.pid)
        late_result = {
            "service_accounts": len(chosen),
            "linked": len(delays),
            "waited_seconds_at_most": late_timeout,
            "link_delay_seconds_max": round(max(delays), 3) if delays else None,
            "link_delay_seconds_median": round(sorted(delays)[len(delays) // 2], 3)
            if delays
            else None,
            "quay_calls": sum(delta(quay_after, quay_before).values()),
            "kubernetes_writes_by_resource": dict(sorted(writes.items())),
        }
        steady: dict[str, Any] = {}
        if steady_seconds > 0:
            steady = steady_state(server, registry.url, n, steady_seconds, log_offset)
            quay_after = quay_calls(registry.url)
        everything = delta(quay_after, quay_at_start)
        return {
            "quay_cost": cost_result,
            "spec_change_without_quay_effect": spec_change,
            "steady_state": steady,
            "benchmark": "convergence",
            "apiserver": apiserver,
            # Every Quay call of the three phases: a call that came after a phase's counts had
            # settled (a retry, say) shows up here even if no phase counted it.
            "quay_calls_in_all_phases": everything,
            "operator_cmd": spec.command if spec.command != DEFAULT_OPERATOR else "quay-bridge run",
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "provisioning": provisioning,
            "change_storm": storm,
            "late_service_accounts": late_result,
            "operator": {
                "cpu_seconds_total": round(cpu_end, 2),
                "peak_rss_mb": round(peak, 1),
                "peak_rss_mb_before_the_namespaces": round(rss_at_start, 1),
            },
        }
    finally:
        if operator is not None:
            operator.stop()
        registry.stop()
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--namespaces", type=int, default=200)
    parser.add_argument("--operator-cmd", default=DEFAULT_OPERATOR)
    parser.add_argument("--late", type=int, default=20, help="late ServiceAccount cases")
    parser.add_argument("--timeout", type=float, default=180.0, help="convergence timeout (s)")
    parser.add_argument(
        "--late-timeout", type=float, default=30.0, help="wait per late ServiceAccount (s)"
    )
    parser.add_argument(
        "--apiserver",
        choices=("sim", "real"),
        default="sim",
        help="the simulator, or a real kube-apiserver (devstack/realapi.py)",
    )
    parser.add_argument(
        "--quay-cost",
        action="store_true",
        help="run the registry core with its Quay cost model (one ImageStream per namespace)",
    )
    parser.add_argument("--quay-cost-seconds", type=float, default=0.25)
    parser.add_argument("--quay-cost-workers", type=int, default=1)
    parser.add_argument(
        "--steady-seconds",
        type=float,
        default=None,
        help="steady-state window (default 150 with --quay-cost, else none)",
    )
    args = parser.parse_args()
    cost = (args.quay_cost_seconds, args.quay_cost_workers) if args.quay_cost else None
    steady = args.steady_seconds if args.steady_seconds is not None else (150.0 if cost else 0.0)
    result = run(
        args.namespaces,
        args.operator_cmd,
        args.late,
        args.timeout,
        args.apiserver,
        late_timeout=args.late_timeout,
        cost=cost,
        streams=("frontend",) if cost else ("frontend", "backend"),
        steady_seconds=steady,
    )
    text = json.dumps(result, indent=2)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    suffix = "" if args.apiserver == "sim" else f"-{args.apiserver}"
    suffix += "-quay-cost" if cost else ""
    (RESULTS / f"convergence-{args.namespaces}{suffix}.json").write_text(text + "\n")
    return 0 if result["provisioning"]["converged"] else 1


if __name__ == "__main__":
    sys.exit(main())
