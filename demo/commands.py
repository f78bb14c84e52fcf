"""``quay-bridge demo``: the whole story on one machine, with every component really running.

It starts the registry core, the OpenShift simulator and the operator (with its webhook) as
processes on 127.0.0.1 (on ::1 only with ``--ipv6``) under a temporary work directory, plays what
an OpenShift user does (``demo.scenario``), reports each step as it happens, and stops everything
it started, also on failure or Ctrl-C. ``--keep`` leaves the stack up after the story and prints
how to reach it. ``--quay-url`` with ``--quay-token-file`` (or :data:`QUAY_URL_ENV` and
:data:`QUAY_TOKEN_FILE_ENV`) plays the story against an existing Quay with an org-admin OAuth
token instead of starting the registry core.
Exit status: 0 when every step held, 1 when one failed, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType

from commandline.parsing import ArgumentParser
from demo.access import KeptAccess, kept_access
from demo.reporting import Reporter, reporter_for
from demo.scenario import USERNAME, DemoConfig, Scenario
from devstack.stack import Stack

#: Environment variables giving ``--quay-url`` and ``--quay-token-file`` their defaults.
QUAY_URL_ENV = "QUAY_BRIDGE_DEMO_QUAY_URL"
QUAY_TOKEN_FILE_ENV = "QUAY_BRIDGE_DEMO_QUAY_TOKEN_FILE"


def parser() -> argparse.ArgumentParser:
    """Return the command line parser of ``quay-bridge demo``."""
    result = ArgumentParser(
        prog="quay-bridge demo",
        description="Start the registry core, the OpenShift simulator and the operator on "
        "loopback, then play oc new-project, oc new-app --template=httpd-example, the build "
        "pushing to Quay, and oc delete project.",
    )
    result.add_argument("--json", action="store_true", help="one JSON object per line")
    result.add_argument(
        "--keep",
        action="store_true",
        help="leave the stack running after the story (until Ctrl-C) and print how to use it",
    )
    result.add_argument("--workdir", type=Path, help="keep logs and data here (default: temp)")
    result.add_argument("--namespace", default="e2e-demo", help="project to create")
    result.add_argument(
        "--ipv6", action="store_true", help="run every component on ::1 only (IPv6 loopback)"
    )
    result.add_argument(
        "--screenshots",
        type=Path,
        metavar="DIR",
        help="save screenshots of the web UI's organization and robot pages in DIR "
        "(headless Chromium; before the project is deleted)",
    )
    result.add_argument(
        "--quay-url",
        default=os.environ.get(QUAY_URL_ENV, ""),
        metavar="URL",
        help=f"play against the existing Quay at URL instead of starting the registry core "
        f"(with --quay-token-file; default ${QUAY_URL_ENV})",
    )
    result.add_argument(
        "--quay-token-file",
        type=Path,
        default=os.environ.get(QUAY_TOKEN_FILE_ENV) or None,
        metavar="PATH",
        help=f"file holding an OAuth access token of an admin of that Quay's organizations, "
        f"used instead of user/initialize (default ${QUAY_TOKEN_FILE_ENV})",
    )
    return result


def check_arguments(args: argparse.Namespace) -> str | None:
    """Return what is wrong with the combination of options, or None."""
    if bool(args.quay_url) != bool(args.quay_token_file):
        return (
            "--quay-url and --quay-token-file go together (or "
            f"${QUAY_URL_ENV} and ${QUAY_TOKEN_FILE_ENV}): the existing Quay and an org-admin "
            "OAuth token for it"
        )
    if args.quay_url and not re.match(r"^https?://[^/\s]+/?$", args.quay_url):
        return (
            "--quay-url must be scheme and host only, e.g. https://quay.example.com, "
            f"not {args.quay_url!r}"
        )
    if args.quay_url and args.screenshots:
        return "--screenshots needs the registry core's web UI; it cannot be used with --quay-url"
    return None


def access(stack: Stack, config: DemoConfig, password: str) -> KeptAccess:
    """Return how to reach a kept stack, with the kubectl and skopeo this machine has."""
    assert stack.kubeconfig is not None
    beside = Path(sys.executable).parent / "kubectl"  # the one make demo installs into the venv
    kubectl = str(beside) if beside.exists() else shutil.which("kubectl")
    return kept_access(
        kubeconfig=stack.kubeconfig,
        registry_url=stack.registry_url or config.quay_url,
        metrics_url=stack.metrics_url,
        workdir=stack.workdir,
        namespace=config.namespace,
        organization=config.organization,
        repository=config.template,
        secret=f"builder-quay-{config.cluster_id}",
        kubectl=kubectl,
        skopeo=shutil.which("skopeo"),
        ui_username=USERNAME,
        ui_password=password,
    )


def _wait_for_interrupt() -> None:
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    """Run the demo with parsed arguments; return the exit status."""
    # SIGINT stops the demo (status 130) even when it was started with SIGINT ignored, as a
    # shell's background job is: `quay-bridge run` and `sim` handle it explicitly too.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    owned = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="quay-bridge-demo-")) if owned else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    stack = Stack(workdir, host="::1" if args.ipv6 else "127.0.0.1")
    config = DemoConfig(
        namespace=args.namespace,
        screenshots_dir=str(args.screenshots.resolve()) if args.screenshots else "",
        quay_url=args.quay_url.rstrip("/") if args.quay_token_file else "",
        quay_token_file=str(args.quay_token_file) if args.quay_token_file else "",
    )
    scenario = Scenario(stack, reporter, config)
    ok = interrupted = False
    try:
        # With --keep the project stays, so kubectl and skopeo have something to show.
        steps = {name for name, _, _ in scenario.steps()}
        ok = scenario.run(steps - {"delete-project"} if args.keep else None)
        if not ok:
            for component in stack.components.values():
                reporter.note(f"--- last lines of {component.log} ---\n{component.log_tail()}")
        reporter.summary(ok, scenario.records)
        if args.keep:
            reporter.note(f"--keep: project {config.namespace} was left in place")
            password = str(scenario.facts.get("_password", ""))
            kept = access(stack, config, password)
            reporter.kept(kept.fields(), kept.lines())
            _wait_for_interrupt()
        return 0 if ok else 1
    except KeyboardInterrupt:
        reporter.note("interrupted: stopping everything the demo started")
        interrupted = True
        return 130
    finally:
        scenario.close()
        stack.close()
        reporter.close()
        if owned and (ok or args.keep or interrupted):
            shutil.rmtree(workdir, ignore_errors=True)
        elif owned:
            print(f"logs kept in {workdir}", file=sys.stderr)


def main(argv: list[str]) -> int:
    """Entry point of ``quay-bridge demo``."""
    args = parser().parse_args(argv)
    problem = check_arguments(args)
    if problem:
        print(f"quay-bridge demo: {problem}", file=sys.stderr)
        return 2
    reporter = reporter_for(sys.stdout, json_output=args.json)
    return run(args, reporter)
