"""The kubeconfig a simulator writes so that kubectl, kopf and the kubernetes client find it.

The simulator serves plain HTTP on loopback and accepts any token: the kubeconfig carries a fixed
token only because some clients refuse a user without credentials.
"""

from __future__ import annotations

from typing import Any

import yaml


def kubeconfig(url: str, namespace: str = "default", user: str = "kube:admin") -> dict[str, Any]:
    """Return a kubeconfig document pointing at ``url``."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "quay-bridge-sim", "cluster": {"server": url}}],
        "users": [{"name": user, "user": {"token": "sim-token"}}],
        "contexts": [
            {
                "name": "quay-bridge-sim",
                "context": {"cluster": "quay-bridge-sim", "user": user, "namespace": namespace},
            }
        ],
        "current-context": "quay-bridge-sim",
        "preferences": {},
    }


def write_kubeconfig(path: str, url: str) -> None:
    """Write a kubeconfig for ``url`` to ``path``."""
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(kubeconfig(url), fh, sort_keys=False)
