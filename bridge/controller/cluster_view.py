"""What the controller knows of the cluster, shared by its parts: integrations, namespaces, records.

One :class:`ClusterView` is made by the composition root (``bridge.controller.composition``) and
handed to each part. It holds the loaded QuayIntegrations, the latest body of every namespace, the
watch caches, the namespace records (``bridge.controller.state``), and which integrations' statuses
changed; it answers which integration owns a namespace (recording overlaps as conflicts). It does no
I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge.controller.integrations import Integration
from bridge.controller.state import BridgeState, NamespaceRecord
from bridge.kube.caches import Caches
from bridge.model import selection
from bridge.model.naming import NamespaceNames
from bridge.model.spec import IntegrationSpec

MCS_ANNOTATION = "openshift.io/sa.scc.mcs"
PROJECT_ANNOTATIONS = ("openshift.io/display-name", "openshift.io/description")


def meta_of(body: dict[str, Any]) -> dict[str, Any]:
    """The metadata of a body (a copy of the top level; empty when absent)."""
    return dict(body.get("metadata") or {})


def namespace_ref(body: dict[str, Any]) -> dict[str, Any]:
    """The namespace of ``body`` as an Event's involved object."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta_of(body)}


def is_waiting_project(body: dict[str, Any]) -> bool:
    """True for an OpenShift project whose SCC annotations are not set yet (process it later)."""
    annotations = meta_of(body).get("annotations") or {}
    is_project = all(key in annotations for key in PROJECT_ANNOTATIONS)
    return is_project and MCS_ANNOTATION not in annotations


def names_for(spec: IntegrationSpec, namespace: str) -> NamespaceNames:
    """The names of ``namespace`` under ``spec``; raises ``naming.InvalidQuayName``."""
    return NamespaceNames.of(
        spec.prefix, spec.cluster_id, namespace, [sa.name for sa in spec.service_accounts]
    )


class ClusterView:
    """The controller's in-memory knowledge, and the ownership rules that read it."""

    def __init__(
        self,
        state: BridgeState,
        *,
        never_managed: frozenset[str],
        is_active: Callable[[], bool],
    ) -> None:
        self.state = state
        #: Never managed, whatever an integration selects: the operator's own namespace.
        self.never_managed = never_managed
        self._is_active = is_active
        self.integrations: dict[str, Integration] = {}
        self.namespaces: dict[str, dict[str, Any]] = {}
        self.caches = Caches()
        #: Whether the API server serves ImageStreams (no repositories per stream otherwise).
        self.images_available = True
        #: True once every QuayIntegration is known: only then may a namespace that none of
        #: them selects be disowned (a failed listing must not look like "no integrations").
        self.integrations_listed = False
        #: Integrations whose status may have changed since it was last written.
        self.status_dirty: set[str] = set()

    @property
    def active(self) -> bool:
        """Whether this replica may write (always, unless another peer is the active one)."""
        return self._is_active()

    def take_dirty(self) -> set[str]:
        """The integrations whose status may have changed, forgotten here."""
        dirty, self.status_dirty = self.status_dirty, set()
        return dirty

    def specs(self) -> dict[str, IntegrationSpec]:
        """The valid specs by integration name."""
        return {n: i.spec for n, i in self.integrations.items() if i.spec is not None}

    def integration_of(self, record: NamespaceRecord | None) -> Integration | None:
        """The integration a namespace record belongs to, if it is still loaded."""
        return None if record is None else self.integrations.get(record.integration)

    def owner(self, namespace: str, body: dict[str, Any]) -> Integration | None:
        """Return the one integration managing ``namespace``; record overlaps as conflicts."""
        labels = meta_of(body).get("labels") or {}
        names = selection.claimants(self.specs(), namespace, labels, self.never_managed)
        for integration in self.integrations.values():
            others = [n for n in names if n != integration.name]
            had = namespace in integration.conflicts
            if integration.name in names and others:
                integration.conflicts[namespace] = others
                self.status_dirty.add(integration.name)
            elif had:
                del integration.conflicts[namespace]
                self.status_dirty.add(integration.name)
        if len(names) != 1:
            return None
        return self.integrations[names[0]]

    def unclaimed(self, namespace: str, body: dict[str, Any]) -> bool:
        """True when no integration selects ``namespace``, and that is known for certain.

        Not while an integration's spec is invalid (it may select the namespace once fixed),
        nor before the integrations have been listed, nor for a conflict (several claim it).
        """
        if not self.integrations_listed:
            return False
        if any(i.spec is None for i in self.integrations.values()):
            return False
        labels = meta_of(body).get("labels") or {}
        return not selection.claimants(self.specs(), namespace, labels, self.never_managed)

    def remember_namespace(self, body: dict[str, Any]) -> None:
        """Keep ``body`` as the namespace's latest, unless a newer one is known."""
        name = meta_of(body).get("name")
        if not name:
            return
        known = self.namespaces.get(name)
        if known is None or int(meta_of(known).get("resourceVersion") or 0) <= int(
            meta_of(body).get("resourceVersion") or 0
        ):
            self.namespaces[name] = body

    def record_for(
        self, integration: Integration, spec: IntegrationSpec, names: NamespaceNames
    ) -> NamespaceRecord:
        """The namespace's record, new when its integration or organization changed."""
        namespace = names.namespace
        record = self.state.records.get(namespace)
        if (
            record is None
            or record.integration != integration.name
            or record.organization != names.organization
        ):
            record = NamespaceRecord(
                namespace=namespace,
                integration=integration.name,
                names=names,
                registry_host=spec.registry_host,
                insecure_registry=spec.insecure_registry,
                scheduled_import=spec.scheduled_image_stream_import,
            )
            self.state.records[namespace] = record
            self.status_dirty.add(integration.name)
        else:
            record.names = names
        return record

    def unmanage(self, namespace: str) -> None:
        """Drop the namespace's record and any invalid-name report about it."""
        record = self.state.records.pop(namespace, None)
        if record is not None:
            self.status_dirty.add(record.integration)
        for integration in self.integrations.values():
            if integration.invalid_names.pop(namespace, None) is not None:
                self.status_dirty.add(integration.name)

    def drop_conflicts(self, namespace: str) -> None:
        """Forget every conflict recorded about ``namespace`` (it is gone)."""
        for integration in self.integrations.values():
            if integration.conflicts.pop(namespace, None) is not None:
                self.status_dirty.add(integration.name)
