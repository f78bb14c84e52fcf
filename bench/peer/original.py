"""The original Go operator (``github.com/quay/quay-bridge-operator``) as an operator under test.

It is a controller-runtime manager with three controllers: Namespaces (and the ImageStreams in
them, mapped to their Namespace), QuayIntegrations, and Builds. On plain Kubernetes it needs the
``build.openshift.io`` Build and ``image.openshift.io`` ImageStream kinds served, or its caches
never start; the real substrate installs them as CRDs (``install_kind``), the simulator serves
them itself. It runs as its own ServiceAccount with the rules its source declares for itself
(:data:`RULES`), its admission webhook off (``DISABLE_WEBHOOK``: the workload creates no Builds,
and our operator runs with ``--no-webhook`` too), leader election off (its default), and its
metrics and health endpoints on loopback. Its logger is set to errors only, as ours runs at
WARNING, so neither pays for a log line per namespace.

The binary is not built here: the Go module proxy does not serve this module (see
``bench/peer/README.md``), so it is taken from :func:`binary_path`.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from bench.convergence import OperatorSpec
from bench.substrates import BUILD_CRD, Substrate

#: The upstream commit measured (the tip of its main branch when this benchmark was written).
VERSION = "78a6944"
#: Its ServiceAccount, in the namespace of the Quay credentials Secret (deny-listed for both).
NAMESPACE = "quay-bridge"
ACCOUNT = "quay-bridge-original"
ENV_BINARY = "QUAY_BRIDGE_ORIGINAL_BINARY"

_EDIT = ["get", "list", "watch", "create", "update", "patch"]
#: What the original's controllers declare they need (their kubebuilder RBAC markers).
RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch", "update"]},
    {"apiGroups": [""], "resources": ["secrets", "serviceaccounts", "events"], "verbs": _EDIT},
    {
        "apiGroups": ["image.openshift.io"],
        "resources": ["imagestreams", "imagestreamimports"],
        "verbs": _EDIT,
    },
    {"apiGroups": ["build.openshift.io"], "resources": ["builds"], "verbs": _EDIT},
    {
        "apiGroups": ["quay.redhat.com"],
        "resources": ["quayintegrations"],
        "verbs": [*_EDIT, "delete"],
    },
    {
        "apiGroups": ["quay.redhat.com"],
        "resources": ["quayintegrations/status"],
        "verbs": ["get", "update", "patch"],
    },
    {
        "apiGroups": ["quay.redhat.com"],
        "resources": ["quayintegrations/finalizers"],
        "verbs": ["update"],
    },
]


class OriginalUnavailable(RuntimeError):
    """No binary of the original operator where the benchmark looks (the message says where)."""


def binary_path(override: str | None = None) -> Path:
    """Return the original operator's binary.

    It is ``override``, else ``$QUAY_BRIDGE_ORIGINAL_BINARY``, else
    ``${XDG_CACHE_HOME:-~/.cache}/quay-bridge/peer/<VERSION>/manager``.

    Raises:
        OriginalUnavailable: nothing executable there.
    """
    if override:
        path = Path(override)
    elif os.environ.get(ENV_BINARY):
        path = Path(os.environ[ENV_BINARY])
    else:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        path = cache / "quay-bridge" / "peer" / VERSION / "manager"
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise OriginalUnavailable(
            f"no executable original operator at {path}: put a build of"
            f" github.com/quay/quay-bridge-operator at {VERSION} there, or name one with"
            f" --original-binary or ${ENV_BINARY} (bench/peer/README.md says why it is not"
            " built here)"
        )
    return path


def install_openshift_kinds(substrate: Substrate) -> None:
    """Serve Build too: every substrate serves ImageStream already."""
    substrate.install_kind(BUILD_CRD)


def _prepare(substrate: Substrate) -> str:
    install_openshift_kinds(substrate)
    return substrate.grant(NAMESPACE, ACCOUNT, RULES)


def spec(binary: Path, integration: dict[str, Any]) -> OperatorSpec:
    """The original operator as the convergence workload runs it."""
    command = (
        f"{shlex.quote(str(binary))} --kubeconfig {{kubeconfig}}"
        " --metrics-bind-address 127.0.0.1:{metrics_port}"
        " --health-probe-bind-address 127.0.0.1:{probe_port}"
        " --zap-log-level error"
    )
    return OperatorSpec(
        command=command,
        env={"DISABLE_WEBHOOK": "true"},
        prepare=_prepare,
        ready_url="http://127.0.0.1:{probe_port}/readyz",
        integration=integration,
    )
