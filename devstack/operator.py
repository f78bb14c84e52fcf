"""The operator (``quay-bridge run``) as a process, with or without its admission webhook.

``Operator.start(kubeconfig)`` runs it ``--no-webhook``; with ``cert_dir`` (made by
:func:`make_certificates`, i.e. ``quay-bridge certs generate``) it serves its webhook on loopback
too. Either way it is ready when its metrics server answers ``/readyz``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from devstack.ports import authority, free_port, listen_options
from devstack.processes import START_TIMEOUT, Process, StartError, cli


def make_certificates(
    out: Path,
    host: str = "127.0.0.1",
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Path:
    """Make the webhook's CA and serving certificate for ``host`` in ``out``; return ``out``."""
    argv = cli(
        "certs", "generate",
        "--service", "quay-bridge-webhook",
        "--namespace", "quay-bridge",
        "--out", str(out),
        "--ip", host,
        "--dns", "localhost",
    )  # fmt: skip
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if done.returncode != 0 or not (out / "ca.crt").exists():
        raise StartError(f"certs generate failed ({done.returncode}): {done.stderr[-2000:]}")
    return out


@dataclass
class Operator:
    """A running ``quay-bridge run``.

    Attributes:
        process: the process.
        base_url: its metrics server (``/metrics``, ``/healthz``, ``/readyz``).
        webhook_url: its admission endpoint, ``""`` without a webhook.
        ca_file: the CA of the webhook's serving certificate, None without a webhook.
    """

    process: Process
    base_url: str
    webhook_url: str = ""
    ca_file: Path | None = None
    owned_dir: Path | None = None

    @property
    def metrics_url(self) -> str:
        """Its Prometheus page."""
        return self.base_url + "/metrics"

    @property
    def log_path(self) -> str:
        """Its log file."""
        return str(self.process.log)

    def log(self) -> str:
        """Its whole log."""
        return self.process.log_text()

    @classmethod
    def start(
        cls,
        kubeconfig: str | Path,
        *extra: str,
        cert_dir: Path | None = None,
        host: str = "127.0.0.1",
        webhook_port: int | None = None,
        metrics_port: int | None = None,
        log: Path | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = START_TIMEOUT,
    ) -> Operator:
        """Start the operator and wait until ``/readyz`` answers.

        Args:
            kubeconfig: the API server to work on.
            extra: more ``quay-bridge run`` options; ``--standalone`` is added unless they ask
                for ``--peering``.
            cert_dir: the webhook's certificates; without them it runs ``--no-webhook``.
            host: ``127.0.0.1`` or ``::1``: where the webhook and metrics servers listen.
            webhook_port: a known webhook port (a restart in the same place).
            metrics_port: a known metrics port (likewise).
            log: its log file (default: in a temporary directory removed on :meth:`stop`).
            env: variables added to its environment.
            cwd: its working directory.
            timeout: seconds it may take to become ready.
        """
        owned = None
        if log is None:
            owned = Path(tempfile.mkdtemp(prefix="operator-"))
            log = owned / "operator.log"
        metrics = authority(host, metrics_port or free_port(host))
        argv = cli(
            "run",
            "--kubeconfig", str(kubeconfig),
            *listen_options(host, extra, "--metrics-host"),
            "--metrics-port", metrics.rpartition(":")[2],
        )  # fmt: skip
        if "--peering" not in extra:
            argv.append("--standalone")
        webhook_url = ""
        if cert_dir is None:
            argv.append("--no-webhook")
        else:
            port = webhook_port or free_port(host)
            argv += ["--webhook-host", host, "--webhook-port", str(port)]
            argv += ["--cert-dir", str(cert_dir)]
            webhook_url = f"https://{authority(host, port)}/admissionwebhook"
        argv += extra
        process = Process("operator", argv, log, env=env, cwd=cwd)
        operator = cls(
            process,
            f"http://{metrics}",
            webhook_url,
            None if cert_dir is None else cert_dir / "ca.crt",
            owned,
        )
        try:
            process.start()
            process.await_ready(
                lambda: requests.get(f"{operator.base_url}/readyz", timeout=2).status_code == 200,
                "the operator answering /readyz",
                timeout,
            )
        except BaseException:
            operator.stop()
            raise
        return operator

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL after 10 s); remove a log directory made for it."""
        self.process.stop()
        if self.owned_dir is not None:
            shutil.rmtree(self.owned_dir, ignore_errors=True)
            self.owned_dir = None

    def kill(self) -> None:
        """Kill it at once, as a crash would."""
        self.process.kill()


@contextmanager
def operator_process(
    kubeconfig: str | Path, *extra: str, cert_dir: Path | None = None, **options: Any
) -> Iterator[Operator]:
    """Run the operator for the duration of a ``with`` block (options as :meth:`Operator.start`)."""
    operator = Operator.start(kubeconfig, *extra, cert_dir=cert_dir, **options)
    try:
        yield operator
    finally:
        operator.stop()
