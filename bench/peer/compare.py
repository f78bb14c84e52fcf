"""Our operator and the original Go operator, the same convergence workload, alternating, one run.

Each round runs both operators, in alternating order (ours first in odd rounds, the original
first in even ones, so a machine that slows down or speeds up during the run weighs on both).
Every operator run gets a fresh API server and a fresh registry core, started the same way
(``bench/convergence.py``'s ``run``): on ``--apiserver real`` etcd, kube-apiserver and
kube-controller-manager from ``devstack/realapi.py``, RBAC on, each operator acting as its
own ServiceAccount. A fresh server per run rather than one shared server: a second operator on a
shared server would find the first one's namespaces, namespace finalizers (the original's can only
be removed by the original), Events and etcd history, and waiting for the namespace controller to
clear them would still leave the history.

Both operators get the same QuayIntegration: the workload's, with the credentials namespace
deny-listed (the original would otherwise retry that namespace, which has no ``builder`` or
``deployer``, and its retries would count as workload calls). Both servers serve the Build and
ImageStream kinds (the original's caches need them). The original's late ServiceAccounts are
waited for ``--late-timeout`` seconds each, all at once (it watches no ServiceAccounts).

Writes every run and a summary to ``bench/results/peer-<N>-<apiserver>.json`` and prints the
summary as a Markdown table.

Usage: ``.venv/bin/python bench/peer/compare.py [-n 50] [--rounds 3] [--apiserver real|sim]
[--original-binary PATH] [--late 5] [--late-timeout 15] [--table-from RESULTS.json]``
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.convergence import DEFAULT_OPERATOR, RESULTS, OperatorSpec, run  # noqa: E402
from bench.peer import original  # noqa: E402
from bench.substrates import BUILD_CRD, Substrate  # noqa: E402

OPERATORS = ("quay-bridge", "original")


def ours(integration: dict[str, Any]) -> OperatorSpec:
    """Our operator as ``bench/convergence.py`` runs it, on a server that also serves Builds."""

    def prepare(substrate: Substrate) -> str:
        substrate.install_kind(BUILD_CRD)
        return substrate.operator_kubeconfig

    return OperatorSpec(command=DEFAULT_OPERATOR, prepare=prepare, integration=integration)


def figures(result: dict[str, Any]) -> dict[str, Any]:
    """The comparison's figures from one ``run`` result."""
    provisioning = result["provisioning"]
    late = result["late_service_accounts"]
    storm = result["change_storm"]
    n = provisioning["namespaces"]
    return {
        "converged": provisioning["converged"],
        "convergence_seconds": provisioning["seconds"],
        "seconds_creating_objects": provisioning["seconds_creating_objects"],
        "quay_calls_per_namespace": provisioning["quay_calls_per_namespace"],
        "kubernetes_writes_per_namespace": round(provisioning["kubernetes_writes"] / n, 2),
        "late_linked": f"{late['linked']} of {late['service_accounts']}"
        f" within {late['waited_seconds_at_most']:g} s",
        "late_link_seconds_median": late["link_delay_seconds_median"],
        "late_link_seconds_max": late["link_delay_seconds_max"],
        "late_waited_seconds_at_most": late["waited_seconds_at_most"],
        "late_quay_calls": late["quay_calls"],
        "storm_quay_calls_per_namespace": round(storm["quay_calls"] / n, 2),
        "storm_secret_writes_per_namespace": round(storm["secret_writes"] / n, 2),
        "operator_cpu_seconds_provisioning": provisioning["operator_cpu_seconds"],
        "operator_cpu_seconds_total": result["operator"]["cpu_seconds_total"],
        "operator_peak_rss_mb": result["operator"]["peak_rss_mb"],
        "api_server_cpu_seconds_provisioning": provisioning.get(
            "api_server_cpu_seconds", provisioning.get("simulator_cpu_seconds")
        ),
        "registry_cpu_seconds_provisioning": provisioning["registry_cpu_seconds"],
    }


def _span(values: list[Any]) -> str:
    """The range over the rounds for numbers; the distinct values otherwise (a dash for none)."""
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numbers) != len(values) or not numbers:
        distinct = list(dict.fromkeys("\u2013" if v is None else str(v) for v in values))
        return " / ".join(distinct)
    low, high = min(numbers), max(numbers)
    return f"{low:g}" if low == high else f"{low:g}\u2013{high:g}"


ROWS: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
    ("every Secret present, every ServiceAccount linked (s)", lambda f: f["convergence_seconds"]),
    ("of which the benchmark creating the objects (s)", lambda f: f["seconds_creating_objects"]),
    ("Quay calls per namespace", lambda f: f["quay_calls_per_namespace"]),
    ("Kubernetes writes per namespace", lambda f: f["kubernetes_writes_per_namespace"]),
    ("late ServiceAccounts linked", lambda f: f["late_linked"]),
    ("late ServiceAccount linked after (s, median)", lambda f: f["late_link_seconds_median"]),
    ("Quay calls for the late ServiceAccounts", lambda f: f["late_quay_calls"]),
    ("change storm: Quay calls per namespace", lambda f: f["storm_quay_calls_per_namespace"]),
    ("change storm: Secret writes per namespace", lambda f: f["storm_secret_writes_per_namespace"]),
    ("operator CPU while provisioning (s)", lambda f: f["operator_cpu_seconds_provisioning"]),
    ("operator CPU, whole run (s)", lambda f: f["operator_cpu_seconds_total"]),
    ("operator peak RSS (MB)", lambda f: f["operator_peak_rss_mb"]),
    ("API server CPU while provisioning (s)", lambda f: f["api_server_cpu_seconds_provisioning"]),
]


def table(runs: list[dict[str, Any]]) -> str:
    """A Markdown table: one row per figure, ranges over the rounds, one column per operator."""
    lines = ["| | quay-bridge | original Go operator |", "|---|---|---|"]
    for label, pick in ROWS:
        cells = [
            _span([pick(r["figures"]) for r in runs if r["operator"] == name]) for name in OPERATORS
        ]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--namespaces", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--apiserver", choices=("real", "sim"), default="real")
    parser.add_argument("--original-binary", default=None, help="the original operator's binary")
    parser.add_argument("--late", type=int, default=5, help="late ServiceAccount cases")
    parser.add_argument(
        "--late-timeout", type=float, default=15.0, help="wait per late ServiceAccount (s)"
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="convergence timeout (s)")
    parser.add_argument(
        "--table-from", default=None, help="print the table of an earlier results file and stop"
    )
    args = parser.parse_args()
    if args.table_from:
        earlier = json.loads(Path(args.table_from).read_text())
        for entry in earlier["runs"]:
            entry["figures"] = figures(entry["result"])
        print(table(earlier["runs"]))
        return 0
    try:
        binary = original.binary_path(args.original_binary)
    except original.OriginalUnavailable as error:
        print(f"bench/peer: {error}", file=sys.stderr)
        return 2
    integration: dict[str, Any] = {"denylistNamespaces": [original.NAMESPACE]}
    specs = {"quay-bridge": ours(integration), "original": original.spec(binary, integration)}
    runs: list[dict[str, Any]] = []
    started = time.time()
    for round_number in range(1, args.rounds + 1):
        order = OPERATORS if round_number % 2 else tuple(reversed(OPERATORS))
        for name in order:
            print(f"round {round_number}: {name}", file=sys.stderr, flush=True)
            result = run(
                args.namespaces,
                specs[name],
                args.late,
                args.timeout,
                args.apiserver,
                late_timeout=args.late_timeout,
                late_workers=args.late,
            )
            runs.append(
                {
                    "round": round_number,
                    "operator": name,
                    "figures": figures(result),
                    "result": result,
                }
            )
    summary = table(runs)
    output = {
        "benchmark": "peer",
        "apiserver": args.apiserver,
        "namespaces": args.namespaces,
        "rounds": args.rounds,
        "original_version": original.VERSION,
        "original_binary": str(binary),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
        "machine": {"python": platform.python_version()},
        "table": summary,
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"peer-{args.namespaces}-{args.apiserver}.json"
    path.write_text(json.dumps(output, indent=2) + "\n")
    print(summary)
    print(f"results: {path.relative_to(ROOT)}", file=sys.stderr)
    return 0 if all(r["figures"]["converged"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
