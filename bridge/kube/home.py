"""The operator's own namespace: where its shared Secrets live, and which it never manages.

``POD_NAMESPACE`` (set from the downward API in ``deploy/base``), else the namespace of the pod's
service account, else ``quay-bridge`` (the namespace ``deploy/base`` installs into).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

DEFAULT_NAMESPACE: Final = "quay-bridge"
SERVICE_ACCOUNT_NAMESPACE: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def own_namespace() -> str:
    """Return the operator's namespace (see the module docstring for the order)."""
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or DEFAULT_NAMESPACE
    except OSError:
        return DEFAULT_NAMESPACE
