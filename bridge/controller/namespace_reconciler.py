"""The namespace pass: organization, robots, prototypes, Secrets, links, repositories.

A pass reads what it needs (the watch caches, Quay where not known) and writes only what differs;
a namespace whose inputs have not changed since its last successful pass is skipped outright (its
fingerprint, kept by the scheduler). A passive replica (``bridge.kube.peering``) only observes, from
the caches. Deletion and disowning are the releaser's (``bridge.controller.namespace_release``); the
Quay and Kubernetes steps are the provisioner's (``bridge.controller.provisioning``).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import Any

from bridge.controller.cluster_view import (
    ClusterView,
    is_waiting_project,
    meta_of,
    names_for,
    namespace_ref,
)
from bridge.controller.integrations import Integration
from bridge.controller.namespace_patching import NamespacePatcher
from bridge.controller.namespace_release import NamespaceReleaser
from bridge.controller.ports import ClusterApi
from bridge.controller.provisioning import CHECK_PARTS, NotOwnedError, Provisioner
from bridge.controller.scheduler import Fingerprint, Scheduler
from bridge.kube.cluster import KubeError
from bridge.metrics import Metrics
from bridge.model import naming, planning
from bridge.model.ownership import claim_of
from bridge.quay import errors as qe
from vocabulary import FINALIZER, INTEGRATION_LABEL, ROTATE_ANNOTATION, ROTATED_ANNOTATION

log = logging.getLogger(__name__)


class NamespaceReconciler:
    """Runs the per-namespace pass, and keeps what the next pass of each namespace must do."""

    def __init__(
        self,
        cluster: ClusterApi,
        view: ClusterView,
        scheduler: Scheduler,
        provisioner: Provisioner,
        releaser: NamespaceReleaser,
        patcher: NamespacePatcher,
        metrics: Metrics,
    ) -> None:
        self.cluster = cluster
        self.view = view
        self.scheduler = scheduler
        self.provisioner = provisioner
        self.releaser = releaser
        self.patcher = patcher
        self.metrics = metrics
        #: Namespaces whose next pass reads Quay in full (a spec change affecting Quay).
        self._observe: set[str] = set()
        #: Namespaces whose next pass lists their Secrets, ServiceAccounts and streams afresh.
        self._relist: set[str] = set()
        #: Namespaces whose next pass regenerates their robot tokens.
        self._rotate: set[str] = set()
        #: Namespace -> the part of its Quay side the next pass checks (``Provisioner.check_part``).
        self._check: dict[str, str] = {}
        #: Namespace -> how many periodic Quay checks it had, and when Quay was last read for it.
        self._check_turn: dict[str, int] = defaultdict(int)
        self._quay_checked: dict[str, float] = {}
        #: namespaces whose last reconcile failure was told in a QuayProvisioningFailed Event
        self._reported_failing: set[str] = set()
        #: (what, namespace, ...) of the refusals already told (``_refuse``)
        self._told: set[tuple[str, ...]] = set()

    # --- what the next pass does ------------------------------------------------------------

    def request_observe(self, namespace: str) -> None:
        """Let the next pass read the namespace's Quay side in full."""
        self._observe.add(namespace)

    def request_relist(self, namespace: str) -> None:
        """Let the next pass list the namespace's objects instead of trusting the caches."""
        self._relist.add(namespace)

    def request_rotation(self, namespace: str) -> None:
        """Let the next pass regenerate the namespace's robot tokens."""
        self._rotate.add(namespace)

    def plan_resync(self, namespace: str, quay_due_after: float) -> None:
        """Prepare a resync pass: relist the cluster side; check one Quay part when it is due.

        The Quay side is read only when its last read is ``quay_due_after`` seconds old, one part
        (``CHECK_PARTS``) per check in turn.
        """
        record = self.view.state.records.get(namespace)
        if record is None or not record.quay_ready:
            return
        checked = self._quay_checked.get(namespace)
        if checked is None or time.monotonic() - checked >= quay_due_after:
            turn = self._check_turn[namespace]
            self._check_turn[namespace] = turn + 1
            self._check[namespace] = CHECK_PARTS[turn % len(CHECK_PARTS)]
        self._relist.add(namespace)

    def forget(self, namespace: str) -> None:
        """Drop everything known about a namespace that is gone."""
        self.view.unmanage(namespace)
        self.scheduler.forget(namespace)
        self._observe.discard(namespace)
        self._relist.discard(namespace)
        self._rotate.discard(namespace)
        self._check.pop(namespace, None)
        self._check_turn.pop(namespace, None)
        self._quay_checked.pop(namespace, None)
        self._reported_failing.discard(namespace)
        self._told = {told for told in self._told if told[1] != namespace}
        self.view.drop_conflicts(namespace)

    # --- the pass ---------------------------------------------------------------------------

    async def reconcile_safely(self, namespace: str) -> None:
        """One pass of ``namespace`` that never raises: failures are reported and retried."""
        started = time.monotonic()
        outcome = "ok"
        record = self.view.state.records.get(namespace)
        failure: str | None = None
        try:
            await self._reconcile(namespace)
            self.scheduler.succeeded(namespace)
        except qe.NameReserved as exc:
            outcome = "name_reserved"
            failure = f"organization name still reserved in Quay, retrying: {exc}"
            self.scheduler.retry_later(namespace)
        except qe.QuayError as exc:
            outcome = "quay_error"
            failure = str(exc)
            integration = self.view.integration_of(record)
            if integration is not None:
                integration.note_quay_error(exc)
            self.scheduler.retry_later(namespace)
        except KubeError as exc:
            outcome = "kube_error"
            failure = f"Kubernetes API: {exc}"
            self.scheduler.retry_later(namespace)
        except Exception as exc:
            outcome = "error"
            log.exception("reconcile of namespace %s failed", namespace)
            failure = f"{type(exc).__name__}: {exc}"
            self.scheduler.retry_later(namespace)
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
        integration = self.view.integration_of(self.view.state.records.get(namespace))
        body = self.view.namespaces.get(namespace)
        if integration is None or not integration.usable or body is None:
            return
        if namespace in self._reported_failing:
            return
        self._reported_failing.add(namespace)
        await self.cluster.post_event(
            namespace_ref(body),
            "QuayProvisioningFailed",
            f"{message}; the bridge retries on its own (the operator's log and the"
            f" QuayIntegration {integration.name}'s status say more)",
            warning=True,
        )

    def _fail(self, namespace: str, message: str) -> None:
        log.warning("namespace %s: %s", namespace, message)
        record = self.view.state.records.get(namespace)
        if record is not None:
            record.error = message[:500]
            self.view.status_dirty.add(record.integration)
        self.scheduler.invalidate(namespace)

    @staticmethod
    def _fingerprint(body: dict[str, Any], integration: Integration) -> Fingerprint:
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
        revision = self.scheduler.revision(namespace)
        body = self.view.namespaces.get(namespace)
        if body is None:
            self.forget(namespace)
            return
        if not self.view.active:
            await self._observe_passively(namespace, body)
            return
        if meta_of(body).get("deletionTimestamp"):
            await self.releaser.finalize(namespace, body)
            return
        integration = self.view.owner(namespace, body)
        if integration is None or integration.spec is None:
            if self.view.unclaimed(namespace, body):
                await self.releaser.disown(namespace, body)
            self.view.unmanage(namespace)
            return
        spec = integration.spec
        if is_waiting_project(body):
            return
        try:
            names = names_for(spec, namespace)
        except naming.InvalidQuayName as exc:
            await self._report_invalid(integration, namespace, body, str(exc))
            return
        integration.invalid_names.pop(namespace, None)
        record = self.view.record_for(integration, spec, names)
        if not integration.usable:
            record.error = f"integration {integration.name} is not ready"
            return
        observe = namespace in self._observe
        fingerprint = self._fingerprint(body, integration)
        if (
            not observe
            and namespace not in self._relist
            and namespace not in self._rotate
            and namespace not in self._check
            and record.quay_ready
            and record.error is None
            and self.scheduler.unchanged(namespace, fingerprint)
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
        await self.patcher.annotate(namespace, body, {ROTATED_ANNOTATION: marker})
        relist = observe or namespace in self._relist
        self._relist.discard(namespace)
        caches = self.view.caches
        await self.provisioner.ensure_kube(integration, record, caches, fresh_listing=relist)
        if self.view.images_available:
            if relist:
                listed = await self.cluster.list_image_streams(namespace)
                caches.streams.replace_namespace(namespace, listed)
            streams = [
                name
                for name in caches.streams.names(namespace)
                if not meta_of(caches.streams.get(namespace, name) or {}).get("deletionTimestamp")
            ]
            if observe or created:
                record.repositories.clear()  # re-check each against Quay's listing
            await self.provisioner.ensure_repositories(integration, record, streams, fresh=created)
        record.error = None
        self.view.status_dirty.add(integration.name)
        current = self.view.namespaces.get(namespace, body)
        self.scheduler.remember(namespace, self._fingerprint(current, integration), revision)
        if created or namespace in self._reported_failing:
            robots = [robot.full for robot in names.robots]
            await self._tell_provisioned(current, names.organization, robots, recovered=not created)

    async def _tell_provisioned(
        self, body: dict[str, Any], org: str, robots: list[str], *, recovered: bool
    ) -> None:
        """Say on the namespace that its Quay organization, robots and pull Secrets are in place.

        Posted when the organization was created, and after a run of failures (recovered); a
        resync that finds everything in place posts nothing.
        """
        self._reported_failing.discard(str(meta_of(body).get("name")))
        await self.cluster.post_event(
            namespace_ref(body),
            "QuayProvisioningRecovered" if recovered else "QuayProvisioned",
            f"{'in place again' if recovered else 'provisioned'}: Quay organization {org},"
            f" robot accounts {', '.join(robots) or 'none'}, their pull Secrets linked to the"
            " ServiceAccounts",
        )

    async def _observe_passively(self, namespace: str, body: dict[str, Any]) -> None:
        """Keep the webhook's view of ``namespace`` from the watch caches, writing nothing.

        The active replica provisions; this one only learns from the watches which pull Secrets
        exist and which ServiceAccounts are linked, so its webhook can rewrite Builds too.
        """
        integration = self.view.owner(namespace, body)
        spec = integration.spec if integration is not None else None
        if integration is None or spec is None or meta_of(body).get("deletionTimestamp"):
            self.view.unmanage(namespace)
            return
        if is_waiting_project(body):
            return
        try:
            names = names_for(spec, namespace)
        except naming.InvalidQuayName:
            self.view.unmanage(namespace)
            return
        if namespace in self._relist:
            self._relist.discard(namespace)
            await self.provisioner.relist(namespace, self.view.caches)
        record = self.view.record_for(integration, spec, names)
        record.secrets.clear()
        record.linked.clear()
        for robot in names.robots:
            observed = self.view.caches.secrets.get(namespace, robot.secret)
            labels = meta_of(observed or {}).get("labels") or {}
            if observed is None or labels.get(INTEGRATION_LABEL) != integration.name:
                continue
            record.secrets.add(robot.secret)
            account = self.view.caches.accounts.get(namespace, robot.service_account)
            if account is not None and planning.is_linked(account, robot.secret):
                record.linked.add(robot.service_account)

    async def _report_not_owned(
        self, integration: Integration, namespace: str, body: dict[str, Any], exc: NotOwnedError
    ) -> None:
        """Count the namespace as failed, forget its destination, say why once (Warning Event).

        Nothing is written into the organization, and without a record the webhook rewrites no
        Build of the namespace to push there. Said again for another UID or another reason.
        """
        why = str(exc)
        self.scheduler.invalidate(namespace)
        uid = str(meta_of(body).get("uid") or "")
        await self._refuse(
            integration,
            body,
            why,
            told=("not owned", namespace, uid, why),
            logged="namespace %s: %s",
            reason="QuayOrganizationNotOwned",
            message=why,
        )

    async def _report_invalid(
        self, integration: Integration, namespace: str, body: dict[str, Any], why: str
    ) -> None:
        await self._refuse(
            integration,
            body,
            why,
            told=("invalid", namespace),
            logged="namespace %s cannot have a Quay organization: %s",
            reason="InvalidQuayName",
            message=f"no Quay organization for this namespace: {why}",
        )

    async def _refuse(
        self,
        integration: Integration,
        body: dict[str, Any],
        why: str,
        *,
        told: tuple[str, ...],
        logged: str,
        reason: str,
        message: str,
    ) -> None:
        """Count a namespace the bridge will not provision as failed; say why once per ``told``."""
        namespace = told[1]
        integration.invalid_names[namespace] = why
        self.view.status_dirty.add(integration.name)
        self.view.state.records.pop(namespace, None)
        if told in self._told:
            return
        self._told.add(told)
        log.warning(logged, namespace, why)
        await self.cluster.post_event(namespace_ref(body), reason, message, warning=True)
