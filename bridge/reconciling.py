"""The namespace reconcile: organization, robots, prototypes, Secrets, links, repositories.

A pass reads what it needs (the watch caches, Quay where not known) and writes only what differs;
a namespace whose inputs have not changed since its last successful pass is skipped outright (its
fingerprint). A passive replica (``bridge.peering``) only observes, from the caches.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from bridge import naming, planning
from bridge import quay_errors as qe
from bridge.cluster import KubeError
from bridge.finalizing import Finalizing
from bridge.integrations import Integration
from bridge.ownership import claim_of
from bridge.provisioning import NotOwnedError
from bridge.scheduling import (
    is_waiting_project,
    meta_of,
)
from vocabulary import FINALIZER, INTEGRATION_LABEL, ROTATE_ANNOTATION, ROTATED_ANNOTATION

log = logging.getLogger(__name__)


class Reconciling(Finalizing):
    """Runs the per-namespace reconcile."""

    async def _reconcile_safely(self, namespace: str) -> None:
        started = time.monotonic()
        outcome = "ok"
        record = self.state.records.get(namespace)
        failure: str | None = None
        try:
            await self._reconcile(namespace)
            self._retries.pop(namespace, None)
        except qe.NameReserved as exc:
            outcome = "name_reserved"
            failure = f"organization name still reserved in Quay, retrying: {exc}"
            self._retry_later(namespace)
        except qe.QuayError as exc:
            outcome = "quay_error"
            failure = str(exc)
            integration = self.integrations.get(record.integration) if record else None
            if integration is not None:
                integration.note_quay_error(exc)
            self._retry_later(namespace)
        except KubeError as exc:
            outcome = "kube_error"
            failure = f"Kubernetes API: {exc}"
            self._retry_later(namespace)
        except Exception as exc:
            outcome = "error"
            log.exception("reconcile of namespace %s failed", namespace)
            failure = f"{type(exc).__name__}: {exc}"
            self._retry_later(namespace)
        finally:
            self.metrics.reconciles.labels("namespace", outcome).inc()
            self.metrics.reconcile_seconds.labels("namespace").observe(time.monotonic() - started)
        if failure is not None:
            self._fail(namespace, failure)
            await self._tell_failure(namespace, failure)

    async def _tell_failure(self, namespace: str, message: str) -> None:
        """Post one QuayProvisioningFailed Warning on the namespace per run of failures.

        Only while its integration is ready: when the integration is not, every namespace waits
        for it and the integration's own IntegrationNotReady Event says why, once. The retries
        that follow post nothing; the first success after them posts QuayProvisioningRecovered.
        """
        record = self.state.records.get(namespace)
        integration = self.integrations.get(record.integration) if record else None
        body = self.namespaces.get(namespace)
        if integration is None or not integration.usable or body is None:
            return
        if namespace in self._reported_failing:
            return
        self._reported_failing.add(namespace)
        await self.cluster.post_event(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": meta_of(body)},
            "QuayProvisioningFailed",
            f"{message}; the bridge retries on its own (the operator's log and the"
            f" QuayIntegration {integration.name}'s status say more)",
            warning=True,
        )

    def _fail(self, namespace: str, message: str) -> None:
        log.warning("namespace %s: %s", namespace, message)
        record = self.state.records.get(namespace)
        if record is not None:
            record.error = message[:500]
            self._status_dirty.add(record.integration)
        self._invalidate(namespace)

    def _fingerprint(self, body: dict[str, Any], integration: Integration) -> tuple[Any, ...]:
        meta = meta_of(body)
        annotations = meta.get("annotations") or {}
        return (
            integration.name,
            id(integration.spec),
            tuple(sorted((meta.get("labels") or {}).items())),
            is_waiting_project(body),
            meta.get("deletionTimestamp"),
            FINALIZER in (meta.get("finalizers") or []),
            annotations.get(ROTATE_ANNOTATION),
            annotations.get(ROTATED_ANNOTATION),
            integration.annotations.get(ROTATE_ANNOTATION),
        )

    async def _reconcile(self, namespace: str) -> None:
        changes = self._changes[namespace]
        body = self.namespaces.get(namespace)
        if body is None:
            self._forget(namespace)
            return
        if not self.active:
            await self._observe_passively(namespace, body)
            return
        if meta_of(body).get("deletionTimestamp"):
            await self._finalize(namespace, body)
            return
        integration = self.owner(namespace, body)
        if integration is None or integration.spec is None:
            if self._unclaimed(namespace, body):
                await self._disown(namespace, body)
            self._unmanage(namespace)
            return
        spec = integration.spec
        if is_waiting_project(body):
            return
        try:
            org = naming.organization_name(spec.prefix, namespace)
            for sa in spec.service_accounts:
                naming.robot_full_name(org, naming.robot_short_name(sa.name))
        except naming.InvalidQuayName as exc:
            await self._report_invalid(integration, namespace, body, str(exc))
            return
        integration.invalid_names.pop(namespace, None)
        record = self._record_for(namespace, integration, spec, org)
        if not integration.usable:
            record.error = f"integration {integration.name} is not ready"
            return
        observe = namespace in self._observe
        fingerprint = self._fingerprint(body, integration)
        if (
            not observe
            and namespace not in self._rotate
            and namespace not in self._check
            and record.quay_ready
            and record.error is None
            and self._fingerprints.get(namespace) == fingerprint
        ):
            return
        self._observe.discard(namespace)
        annotations = meta_of(body).get("annotations") or {}
        marker = (
            f"{integration.annotations.get(ROTATE_ANNOTATION, '')}/"
            f"{annotations.get(ROTATE_ANNOTATION, '')}"
        )
        recorded = annotations.get(ROTATED_ANNOTATION)
        created = False
        # A namespace that already carries our finalizer was provisioned before (an operator
        # restart): read Quay and the cluster rather than write, so nothing in place is rewritten.
        provisioned_before = FINALIZER in (meta_of(body).get("finalizers") or [])
        if not record.quay_ready and provisioned_before:
            self._relist.add(namespace)
        part = self._check.pop(namespace, None)
        if not record.quay_ready or observe:
            part = None  # Quay is read in full here
            self._quay_checked[namespace] = time.monotonic()
            try:
                created = await self.provisioner.ensure_quay(
                    integration,
                    record,
                    claim_of(body, FINALIZER),
                    observe=record.quay_ready or provisioned_before,
                )
            except NotOwnedError as exc:
                await self._report_not_owned(integration, namespace, body, exc)
                return
        if part is not None:
            self._quay_checked[namespace] = time.monotonic()
            if not await self.provisioner.check_part(integration, record, part):
                record.quay_ready = False
                raise qe.NotFound(
                    f"organization {record.organization} is gone from Quay; creating it again"
                )
        rotate_requested = namespace in self._rotate
        self._rotate.discard(namespace)
        if not created and (rotate_requested or (recorded is not None and recorded != marker)):
            await self.provisioner.rotate(integration, record)
            self.metrics.reconciles.labels("rotation", "ok").inc()
        await self._patch_namespace(namespace, body, {ROTATED_ANNOTATION: marker})
        relist = observe or namespace in self._relist
        self._relist.discard(namespace)
        await self.provisioner.ensure_kube(integration, record, self.caches, fresh_listing=relist)
        if self.images_available:
            if relist:
                listed = await self.cluster.list_image_streams(namespace)
                self.caches.streams.replace_namespace(namespace, listed)
            names = [
                name
                for name in self.caches.streams.names(namespace)
                if not meta_of(self.caches.streams.get(namespace, name) or {}).get(
                    "deletionTimestamp"
                )
            ]
            if observe or created:
                record.repositories.clear()  # re-check each against Quay's listing
            await self.provisioner.ensure_repositories(integration, record, names, fresh=created)
        record.error = None
        self._status_dirty.add(integration.name)
        current = self.namespaces.get(namespace, body)
        if self._changes[namespace] == changes:
            self._fingerprints[namespace] = self._fingerprint(current, integration)
        if created or namespace in self._reported_failing:
            robots = [
                naming.robot_full_name(org, naming.robot_short_name(sa.name))
                for sa in spec.service_accounts
            ]
            await self._tell_provisioned(current, org, robots, recovered=not created)

    async def _tell_provisioned(
        self, body: dict[str, Any], org: str, robots: list[str], *, recovered: bool
    ) -> None:
        """Say on the namespace that its Quay organization, robots and pull Secrets are in place.

        Posted when the organization was created, and after a run of failures (recovered); a
        resync that finds everything in place posts nothing.
        """
        self._reported_failing.discard(str(meta_of(body).get("name")))
        await self.cluster.post_event(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": meta_of(body)},
            "QuayProvisioningRecovered" if recovered else "QuayProvisioned",
            f"{'in place again' if recovered else 'provisioned'}: Quay organization {org},"
            f" robot accounts {', '.join(robots) or 'none'}, their pull Secrets linked to the"
            " ServiceAccounts",
        )

    async def _patch_namespace(
        self, namespace: str, body: dict[str, Any], annotations: dict[str, str]
    ) -> None:
        current = self.namespaces.get(namespace, body)
        if not await self._patch_namespace_with(
            namespace, current, lambda ns: planning.namespace_patch(ns, annotations)
        ):
            raise KubeError(404, f"namespace {namespace} is gone")

    async def _observe_passively(self, namespace: str, body: dict[str, Any]) -> None:
        """Keep the webhook's view of ``namespace`` from the watch caches, writing nothing.

        The active replica provisions; this one only learns from the watches which pull Secrets
        exist and which ServiceAccounts are linked, so its webhook can rewrite Builds too.
        """
        integration = self.owner(namespace, body)
        spec = integration.spec if integration is not None else None
        if integration is None or spec is None or meta_of(body).get("deletionTimestamp"):
            self._unmanage(namespace)
            return
        if is_waiting_project(body):
            return
        try:
            org = naming.organization_name(spec.prefix, namespace)
        except naming.InvalidQuayName:
            self._unmanage(namespace)
            return
        if namespace in self._relist:
            self._relist.discard(namespace)
            await self.provisioner.relist(namespace, self.caches)
        record = self._record_for(namespace, integration, spec, org)
        record.secrets.clear()
        record.linked.clear()
        for sa in spec.service_accounts:
            secret = naming.secret_name(sa.name, spec.cluster_id)
            observed = self.caches.secrets.get(namespace, secret)
            labels = meta_of(observed or {}).get("labels") or {}
            if observed is None or labels.get(INTEGRATION_LABEL) != integration.name:
                continue
            record.secrets.add(secret)
            account = self.caches.accounts.get(namespace, sa.name)
            if account is not None and planning.is_linked(account, secret):
                record.linked.add(sa.name)

    async def _report_not_owned(
        self, integration: Integration, namespace: str, body: dict[str, Any], exc: NotOwnedError
    ) -> None:
        """Count the namespace as failed, forget its destination, say why once (Warning Event).

        Nothing is written into the organization, and without a record the webhook rewrites no
        Build of the namespace to push there.
        """
        why = str(exc)
        integration.invalid_names[namespace] = why
        self._status_dirty.add(integration.name)
        self.state.records.pop(namespace, None)
        self._invalidate(namespace)
        key = (namespace, str(meta_of(body).get("uid") or ""), why)
        if key not in self._reported_not_owned:
            self._reported_not_owned.add(key)
            log.warning("namespace %s: %s", namespace, why)
            await self.cluster.post_event(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": meta_of(body)},
                "QuayOrganizationNotOwned",
                why,
                warning=True,
            )

    async def _report_invalid(
        self, integration: Integration, namespace: str, body: dict[str, Any], why: str
    ) -> None:
        integration.invalid_names[namespace] = why
        self._status_dirty.add(integration.name)
        self.state.records.pop(namespace, None)
        if namespace not in self._reported_invalid:
            self._reported_invalid.add(namespace)
            log.warning("namespace %s cannot have a Quay organization: %s", namespace, why)
            await self.cluster.post_event(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": meta_of(body)},
                "InvalidQuayName",
                f"no Quay organization for this namespace: {why}",
                warning=True,
            )
