"""The watch caches keep the latest state of each object, and only the fields the bridge reads."""

from __future__ import annotations

from typing import Any

from bridge.kube.caches import Caches
from bridge.model import planning


def account(version: str, *secrets: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": "builder",
            "namespace": "team",
            "uid": "u-1",
            "resourceVersion": version,
            "annotations": {"big": "x" * 4096},
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:secrets": {}}}],
        },
        "secrets": [{"name": s} for s in secrets],
        "imagePullSecrets": [{"name": s} for s in secrets],
    }


def test_a_cached_service_account_keeps_its_links_and_version_but_not_the_rest() -> None:
    caches = Caches()
    caches.accounts.put(account("7", "builder-dockercfg-x", "builder-quay-openshift"))
    kept = caches.accounts.get("team", "builder")
    assert kept is not None
    assert kept["metadata"] == {
        "name": "builder",
        "namespace": "team",
        "uid": "u-1",
        "resourceVersion": "7",
    }
    assert planning.is_linked(kept, "builder-quay-openshift")
    assert planning.link_patch(kept, "builder-quay-openshift") is None
    assert set(kept) == {"metadata", "secrets", "imagePullSecrets"}


def test_an_older_version_never_replaces_a_newer_one() -> None:
    caches = Caches()
    caches.accounts.put(account("9", "new"))
    caches.accounts.put(account("8", "old"))
    kept = caches.accounts.get("team", "builder")
    assert kept is not None and kept["secrets"] == [{"name": "new"}]


def test_a_cached_pull_secret_keeps_its_login_and_labels() -> None:
    caches = Caches()
    body = planning.desired_secret("s", "team", "quay.example.com", "org+builder", "T", "quay")
    body["metadata"]["resourceVersion"] = "3"
    body["metadata"]["managedFields"] = [{"manager": "quay-bridge"}]
    caches.secrets.put(body)
    kept = caches.secrets.get("team", "s")
    assert kept is not None
    assert planning.secret_up_to_date(kept, "quay.example.com", "org+builder", "T")
    assert Caches.is_pull_secret(kept)
    assert "managedFields" not in kept["metadata"]
