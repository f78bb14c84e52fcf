"""Desired state versus observed state, turned into the smallest set of Quay and Kubernetes actions.

Pure: every function takes what the controller observed (Quay's robots and prototypes, a Secret, a
ServiceAccount) and returns what to change, or nothing when all is in place, so a reconcile that
finds everything right makes no write. Quay quirks shape the plans: prototypes are read before they
are written because Quay stores duplicates, prototypes come before repositories because Quay applies
them only when a repository is created, and an adopted repository gets explicit robot permissions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bridge.model import dockercfg
from bridge.model.quay_records import Prototype, Robot
from bridge.model.spec import IntegrationSpec, Role
from vocabulary import FINALIZER, INTEGRATION_LABEL, MANAGED_LABEL


@dataclass(frozen=True)
class PrototypePlan:
    """Prototype changes for one org: create these, set these roles, drop these duplicates."""

    create: tuple[tuple[str, Role], ...] = ()
    update: tuple[tuple[str, Role], ...] = ()
    delete: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """True when the org's prototypes are already right."""
        return not (self.create or self.update or self.delete)


#: Spec fields whose change can alter what is (or should be) in Quay for a namespace already in
#: place: another Quay or Quay user, other robots or roles. Organization names (clusterID,
#: organizationPrefix) give namespaces new records, which are provisioned as new ones anyway.
QUAY_FIELDS = ("quay_hostname", "credentials_secret", "service_accounts")


def quay_affected(old: IntegrationSpec | None, new: IntegrationSpec | None) -> bool:
    """Whether a spec change needs Quay to be read again for the namespaces in place."""
    if old is None or new is None:
        return True
    return any(getattr(old, name) != getattr(new, name) for name in QUAY_FIELDS)


def connection_changed(old: IntegrationSpec | None, new: IntegrationSpec | None) -> bool:
    """Whether a spec change needs a new Quay client (TLS or client settings)."""
    if old is None or new is None:
        return True
    fields = ("ca_bundle", "insecure_registry", "quay_client")
    return any(getattr(old, name) != getattr(new, name) for name in fields)


def plan_prototypes(desired: Mapping[str, Role], observed: Sequence[Prototype]) -> PrototypePlan:
    """Compare the wanted ``{robot full name: role}`` with the org's prototypes.

    Only generic prototypes (no activating user) whose delegate is one of our robots are ours; every
    other prototype is left alone. Duplicates of ours (Quay allows them) are deleted, keeping one.
    """
    create: list[tuple[str, Role]] = []
    update: list[tuple[str, Role]] = []
    delete: list[str] = []
    seen: dict[str, Prototype] = {}
    for prototype in observed:
        delegate = prototype.get("delegate") or {}
        name = delegate.get("name", "")
        if prototype.get("activating_user") or delegate.get("kind") != "user":
            continue
        if name not in desired:
            continue
        if name in seen:
            delete.append(str(prototype.get("id", "")))
            continue
        seen[name] = prototype
    for robot, role in desired.items():
        found = seen.get(robot)
        if found is None:
            create.append((robot, role))
        elif found.get("role") != role:
            update.append((str(found.get("id", "")), role))
    return PrototypePlan(tuple(create), tuple(update), tuple(delete))


def tokens_of(robots: Iterable[Robot]) -> dict[str, str]:
    """Return ``{robot full name: token}`` for the robots whose token Quay returned."""
    return {r["name"]: r["token"] for r in robots if r.get("name") and r.get("token")}


def missing_robots(desired_full_names: Iterable[str], observed: Iterable[Robot]) -> list[str]:
    """Return the wanted robot full names Quay does not have."""
    present = {r.get("name") for r in observed}
    return [name for name in desired_full_names if name not in present]


def desired_secret(
    name: str,
    namespace: str,
    registry_host: str,
    robot: str,
    token: str,
    integration: str,
) -> dict[str, Any]:
    """Return the pull Secret body for one robot."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": dockercfg.SECRET_TYPE,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {MANAGED_LABEL: "true", INTEGRATION_LABEL: integration},
        },
        "data": dockercfg.secret_data(registry_host, robot, token),
    }


def secret_up_to_date(
    observed: Mapping[str, Any] | None, registry_host: str, robot: str, token: str
) -> bool:
    """Return whether an existing Secret already carries this robot's login for this host."""
    if not observed or observed.get("type") != dockercfg.SECRET_TYPE:
        return False
    return dockercfg.read_login(observed.get("data"), registry_host) == (robot, token)


def link_patch(service_account: Mapping[str, Any], secret: str) -> list[dict[str, Any]] | None:
    """Return JSON Patch ops linking ``secret`` as mountable and pull secret, or None if linked.

    The patch starts with a ``test`` on ``metadata.resourceVersion`` so a concurrent writer
    (OpenShift adding its own ``<sa>-dockercfg-*`` entries) makes it fail with 422 instead of being
    overwritten; the caller re-reads and plans again.
    Existing entries are never touched: the ops only append.
    """
    metadata = service_account.get("metadata") or {}
    ops: list[dict[str, Any]] = [
        {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": metadata.get("resourceVersion"),
        }
    ]
    for field_name in ("secrets", "imagePullSecrets"):
        entries = service_account.get(field_name)
        if entries is None:
            ops.append({"op": "add", "path": f"/{field_name}", "value": [{"name": secret}]})
        elif not any(isinstance(e, dict) and e.get("name") == secret for e in entries):
            ops.append({"op": "add", "path": f"/{field_name}/-", "value": {"name": secret}})
    return ops if len(ops) > 1 else None


def is_linked(service_account: Mapping[str, Any], secret: str) -> bool:
    """Return whether ``secret`` is in both the SA's ``secrets`` and ``imagePullSecrets``."""
    return link_patch(service_account, secret) is None


def namespace_patch(
    namespace: Mapping[str, Any], extra_annotations: Mapping[str, str] | None = None
) -> list[dict[str, Any]] | None:
    """Return JSON Patch ops adding our finalizer, managed label and annotations, or None.

    Guarded by a ``test`` on resourceVersion, like every list append the bridge makes.
    """
    metadata = namespace.get("metadata") or {}
    ops: list[dict[str, Any]] = [
        {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": metadata.get("resourceVersion"),
        }
    ]
    finalizers = metadata.get("finalizers")
    if finalizers is None:
        ops.append({"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]})
    elif FINALIZER not in finalizers:
        ops.append({"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER})
    labels = metadata.get("labels")
    if labels is None:
        ops.append({"op": "add", "path": "/metadata/labels", "value": {MANAGED_LABEL: "true"}})
    elif labels.get(MANAGED_LABEL) != "true":
        ops.append(
            {"op": "add", "path": f"/metadata/labels/{_escape(MANAGED_LABEL)}", "value": "true"}
        )
    annotations = metadata.get("annotations")
    wanted = dict(extra_annotations or {})
    if wanted:
        if annotations is None:
            ops.append({"op": "add", "path": "/metadata/annotations", "value": wanted})
        else:
            for key, value in wanted.items():
                if annotations.get(key) != value:
                    ops.append(
                        {
                            "op": "add",
                            "path": f"/metadata/annotations/{_escape(key)}",
                            "value": value,
                        }
                    )
    return ops if len(ops) > 1 else None


def release_patch(namespace: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """Return JSON Patch ops removing our finalizer (guarded by resourceVersion), or None."""
    metadata = namespace.get("metadata") or {}
    finalizers = list(metadata.get("finalizers") or [])
    if FINALIZER not in finalizers:
        return None
    return [
        {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": metadata.get("resourceVersion"),
        },
        {"op": "remove", "path": f"/metadata/finalizers/{finalizers.index(FINALIZER)}"},
    ]


def disown_patch(namespace: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """Return JSON Patch ops removing our finalizer and managed label, or None if neither is set.

    For a namespace no integration selects any more: nothing of ours should then block its
    deletion or make the webhook rewrite its Builds. Guarded by a ``test`` on resourceVersion.
    """
    metadata = namespace.get("metadata") or {}
    ops: list[dict[str, Any]] = []
    finalizers = list(metadata.get("finalizers") or [])
    if FINALIZER in finalizers:
        ops.append({"op": "remove", "path": f"/metadata/finalizers/{finalizers.index(FINALIZER)}"})
    if MANAGED_LABEL in (metadata.get("labels") or {}):
        ops.append({"op": "remove", "path": f"/metadata/labels/{_escape(MANAGED_LABEL)}"})
    if not ops:
        return None
    test = {
        "op": "test",
        "path": "/metadata/resourceVersion",
        "value": metadata.get("resourceVersion"),
    }
    return [test, *ops]


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
