"""The Quay and Kubernetes work for one namespace: org, robots, prototypes, Secrets, links, repos.

Each step reads first and writes only what the plans in :mod:`bridge.model.planning` ask for, so
running it again on a namespace that is in place costs reads only. A brand-new organization is known
to be empty, so it is filled without reading it back: org, then per service account a robot and its
prototype, then the repositories (after the prototypes, because Quay applies prototypes only when a
repository is created). An existing organization is observed (robots with tokens, prototypes) and
repaired; adopted repositories get explicit robot permissions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from bridge.controller.integrations import Integration
from bridge.controller.ports import ClusterApi, QuayApi
from bridge.controller.state import NamespaceRecord
from bridge.kube.caches import Caches
from bridge.kube.cluster import Conflict, Invalid, KubeError
from bridge.model import naming, planning
from bridge.model.naming import RobotNames
from bridge.model.operator_settings import OperatorSettings
from bridge.model.ownership import (
    OWNER_ROBOT,
    Claim,
    Ownership,
    Verdict,
    judge,
    owner_description,
    robot_description,
)
from bridge.model.spec import IntegrationSpec, Role
from bridge.quay import errors as qe
from vocabulary import MANAGED_LABEL

log = logging.getLogger(__name__)

#: The parts of a namespace's Quay side the periodic drift check reads, one per check.
CHECK_PARTS = ("robots", "prototypes", "repositories")


class NotOwnedError(Exception):
    """The namespace's organization exists but the bridge may not use it (see ``ownership``)."""

    def __init__(self, organization: str, ownership: Ownership) -> None:
        super().__init__(ownership.reason)
        self.organization = organization
        self.ownership = ownership


def _parts(integration: Integration) -> tuple[IntegrationSpec, QuayApi]:
    if integration.spec is None or integration.client is None:
        raise qe.QuayError(f"integration {integration.name} is not ready")
    return integration.spec, integration.client


def _robots(spec: IntegrationSpec, record: NamespaceRecord) -> list[tuple[RobotNames, Role]]:
    """Each service account's robot names (from the record) with its role (from the spec).

    The names were computed when the pass recorded them; an account added to the spec since then
    is left to the pass that the spec change asks for.
    """
    known = {robot.service_account: robot for robot in record.names.robots}
    return [(known[sa.name], sa.role) for sa in spec.service_accounts if sa.name in known]


class Provisioner:
    """Runs the per-namespace steps against Quay and the cluster."""

    def __init__(self, cluster: ClusterApi, settings: OperatorSettings) -> None:
        self.cluster = cluster
        self.settings = settings

    # --- Quay: organization, robots, prototypes --------------------------------------------

    async def ensure_quay(
        self, integration: Integration, record: NamespaceRecord, claim: Claim, *, observe: bool
    ) -> bool:
        """Put org, robots and prototypes in place; fill ``record.tokens``.

        A new organization's robots carry the owner marker (``bridge.model.ownership``); with no
        service accounts, the marker robot does. An existing one is
        used only when it is the namespace's (marker with its UID, pre-marker rule, or explicit
        adoption, which also rotates the robots' tokens so the previous holders' copies stop
        working).

        Returns True when the organization was created by this call (it is then known empty).
        Raises NameReserved while Quay still holds a deleted org's name, NotOwnedError when the
        existing organization is not the namespace's (nothing is written into it).
        """
        spec, client = _parts(integration)
        org = record.organization
        record.uid = claim.uid
        if observe:
            observed = await self._observe(client, org)
            if observed is not None:
                await self._take_over(client, spec, record, claim, *observed)
                record.quay_ready = True
                return False
        try:
            await client.create_organization(org)
        except qe.AlreadyExists:
            observed = await self._observe(client, org)
            if observed is None:
                raise
            await self._take_over(client, spec, record, claim, *observed)
            record.quay_ready = True
            return False
        if not spec.service_accounts:  # no robot to carry the marker: the marker robot does
            await client.create_robot(
                org, OWNER_ROBOT, owner_description(claim.namespace, claim.uid)
            )
        await asyncio.gather(
            *(self._new_robot(client, record, robot, role) for robot, role in _robots(spec, record))
        )
        created = True
        record.quay_ready = True
        return created

    async def _observe(self, client: QuayApi, org: str) -> tuple[list[Any], list[Any]] | None:
        """Read an org's robots (with tokens) and prototypes; None when the org does not exist.

        Raises NotOwnedError when the org exists but the bridge's Quay user is not its admin.
        """
        try:
            robots, prototypes = await asyncio.gather(
                client.list_robots(org), client.list_prototypes(org)
            )
        except (qe.Forbidden, qe.NotFound):
            # Quay answers 403 on a missing org's robots: was the org deleted behind our back?
            try:
                await client.get_organization(org)
            except qe.NotFound:
                return None
            except qe.Forbidden:
                pass  # it exists (a missing org is a 404 here) and is not ours to read
            raise NotOwnedError(
                org,
                Ownership(
                    Verdict.UNKNOWN,
                    f"Quay organization {org} exists but the integration's Quay user is not its "
                    "admin: it belongs to someone else and is left untouched",
                ),
            ) from None
        return list(robots), list(prototypes)

    async def owns(self, integration: Integration, org: str, claim: Claim) -> Ownership | None:
        """Whether ``org`` may be deleted for the namespace of ``claim``; None when it is gone."""
        _, client = _parts(integration)
        try:
            observed = await self._observe(client, org)
        except NotOwnedError as exc:
            return exc.ownership
        if observed is None:
            return None
        return judge(org, observed[0], claim)

    async def _take_over(
        self,
        client: QuayApi,
        spec: IntegrationSpec,
        record: NamespaceRecord,
        claim: Claim,
        robots: list[Any],
        prototypes: list[Any],
    ) -> None:
        """Repair an existing organization, once it is known to be the namespace's."""
        org = record.organization
        ownership = judge(org, robots, claim)
        if not ownership.usable:
            raise NotOwnedError(org, ownership)
        if ownership.needs_marker:
            full = f"{org}+{OWNER_ROBOT}"
            if any(robot.get("name") == full for robot in robots):
                await client.delete_robot(org, OWNER_ROBOT)
            await client.create_robot(
                org, OWNER_ROBOT, owner_description(claim.namespace, claim.uid)
            )
            log.info(
                "namespace %s: organization %s marked as its own (%s)",
                claim.namespace,
                org,
                ownership.reason,
            )
        robots = [robot for robot in robots if robot.get("name") != f"{org}+{OWNER_ROBOT}"]
        await self._repair(client, spec, record, robots, prototypes)
        if ownership.verdict is Verdict.ADOPT:
            # Whoever held the previous namespace's pull secrets must not keep pulling.
            await self.rotate_robots(client, spec, record)

    async def _new_robot(
        self, client: QuayApi, record: NamespaceRecord, names: RobotNames, role: Role
    ) -> None:
        sa = names.service_account
        description = robot_description(sa, record.namespace, record.uid)
        robot = await client.create_robot(record.organization, names.short, description)
        record.tokens[sa] = robot.get("token", "")
        await client.create_prototype(record.organization, names.full, role)

    async def _repair(
        self,
        client: QuayApi,
        spec: IntegrationSpec,
        record: NamespaceRecord,
        robots: list[Any],
        prototypes: list[Any],
    ) -> None:
        await self._repair_robots(client, spec, record, robots)
        await self._repair_prototypes(client, spec, record, prototypes)

    async def _repair_robots(
        self,
        client: QuayApi,
        spec: IntegrationSpec,
        record: NamespaceRecord,
        robots: list[Any],
    ) -> None:
        org = record.organization
        wanted = [names for names, _ in _robots(spec, record)]
        tokens = planning.tokens_of(robots)
        missing = set(planning.missing_robots([names.full for names in wanted], robots))

        async def robot(names: RobotNames) -> None:
            sa = names.service_account
            if names.full in missing:
                description = robot_description(sa, record.namespace, record.uid)
                created = await client.create_robot(org, names.short, description)
                record.tokens[sa] = created.get("token", "")
            elif names.full in tokens:
                record.tokens[sa] = tokens[names.full]
            else:
                record.tokens[sa] = (await client.get_robot(org, names.short)).get("token", "")

        await asyncio.gather(*(robot(names) for names in wanted))

    async def _repair_prototypes(
        self, client: QuayApi, spec: IntegrationSpec, record: NamespaceRecord, prototypes: list[Any]
    ) -> None:
        org = record.organization
        desired: dict[str, Role] = {names.full: role for names, role in _robots(spec, record)}
        plan = planning.plan_prototypes(desired, prototypes)
        await asyncio.gather(
            *(client.create_prototype(org, name, role) for name, role in plan.create),
            *(client.update_prototype(org, pid, role) for pid, role in plan.update),
            *(client.delete_prototype(org, pid) for pid in plan.delete),
        )

    async def check_part(
        self, integration: Integration, record: NamespaceRecord, part: str
    ) -> bool:
        """Read one part of a namespace's Quay side and repair it; False when the org is gone.

        The periodic drift check reads one part per check (``CHECK_PARTS`` in turn), one call:
        robots (missing ones created, changed tokens taken), prototypes (planned and fixed) or
        repositories (those gone are forgotten, so the pass creates them again).
        """
        spec, client = _parts(integration)
        org = record.organization
        try:
            if part == "robots":
                robots = [
                    robot
                    for robot in await client.list_robots(org)
                    if robot.get("name") != f"{org}+{OWNER_ROBOT}"
                ]
                await self._repair_robots(client, spec, record, robots)
            elif part == "prototypes":
                await self._repair_prototypes(
                    client, spec, record, list(await client.list_prototypes(org))
                )
            else:
                existing = set(await client.list_repositories(org))
                record.repositories = {
                    stream
                    for stream in record.repositories
                    if naming.repository_name(stream) in existing
                }
        except (qe.Forbidden, qe.NotFound):
            return False  # Quay answers 403 or 404 for a missing org's parts
        return True

    async def rotate(self, integration: Integration, record: NamespaceRecord) -> None:
        """Regenerate every robot token of the namespace (the old tokens stop working)."""
        spec, client = _parts(integration)
        await self.rotate_robots(client, spec, record)

    async def rotate_robots(
        self, client: QuayApi, spec: IntegrationSpec, record: NamespaceRecord
    ) -> None:
        """Regenerate the tokens of the namespace's robots and forget the Secrets written."""

        async def one(names: RobotNames) -> None:
            robot = await client.regenerate_robot(record.organization, names.short)
            record.tokens[names.service_account] = robot.get("token", "")

        await asyncio.gather(*(one(names) for names, _ in _robots(spec, record)))
        record.secrets.clear()

    async def delete_organization(self, integration: Integration, org: str) -> None:
        """Delete the org; an org that is already gone counts as deleted."""
        _, client = _parts(integration)
        try:
            await client.delete_organization(org)
        except qe.Forbidden:
            try:
                await client.get_organization(org)
            except qe.NotFound:
                return
            raise

    # --- repositories -----------------------------------------------------------------------

    async def ensure_repositories(
        self, integration: Integration, record: NamespaceRecord, streams: list[str], *, fresh: bool
    ) -> None:
        """Create (or adopt) a repository per ImageStream not yet known to be in place.

        ``fresh`` means the org was just created, so no repository can exist yet.
        """
        wanted = [s for s in streams if s not in record.repositories]
        if not wanted:
            return
        existing: set[str] = set()
        if not fresh:
            _, client = _parts(integration)
            existing = set(await client.list_repositories(record.organization))
        await asyncio.gather(
            *(self.ensure_repository(integration, record, s, exists=s in existing) for s in wanted)
        )

    async def ensure_repository(
        self,
        integration: Integration,
        record: NamespaceRecord,
        stream: str,
        *,
        exists: bool | None = None,
    ) -> None:
        """Create the repository of one ImageStream, or give robots rights on an existing one."""
        spec, client = _parts(integration)
        repo = naming.repository_name(stream)
        org = record.organization
        adopted = bool(exists)
        if not exists:
            try:
                await client.create_repository(
                    org, repo, f"ImageStream {record.namespace}/{stream}"
                )
            except qe.AlreadyExists:
                adopted = True
        if adopted:
            await self._grant(client, spec, record, repo)
        record.repositories.add(stream)

    async def _grant(
        self, client: QuayApi, spec: IntegrationSpec, record: NamespaceRecord, repo: str
    ) -> None:
        org = record.organization
        current = await client.list_user_permissions(org, repo)
        calls = []
        for names, role in _robots(spec, record):
            if current.get(names.full) != role:
                calls.append(client.set_user_permission(org, repo, names.full, role))
        await asyncio.gather(*calls)

    async def delete_repository(
        self, integration: Integration, record: NamespaceRecord, stream: str
    ) -> None:
        """Delete one repository (Quay answers 204 even when it is already gone)."""
        _, client = _parts(integration)
        await client.delete_repository(record.organization, naming.repository_name(stream))
        record.repositories.discard(stream)

    # --- Kubernetes: pull Secrets and ServiceAccount links ---------------------------------

    async def ensure_kube(
        self,
        integration: Integration,
        record: NamespaceRecord,
        caches: Caches,
        *,
        fresh_listing: bool = False,
    ) -> None:
        """Create or fix each pull Secret and link it into its ServiceAccount when it exists.

        Plans from the watch caches; with ``fresh_listing`` (resync) the namespace's Secrets and
        ServiceAccounts are listed first and the caches replaced.
        """
        spec, _ = _parts(integration)
        ns = record.namespace
        if fresh_listing:
            await self.relist(ns, caches)

        async def one(names: RobotNames) -> None:
            sa, secret = names.service_account, names.secret
            await self.ensure_secret(
                integration, record, sa, caches.secrets.get(ns, secret), caches
            )
            account = caches.accounts.get(ns, sa)
            if account is None:
                record.linked.discard(sa)
            else:
                await self.link(record, account, secret, caches)
                record.linked.add(sa)

        await asyncio.gather(*(one(names) for names, _ in _robots(spec, record)))

    async def relist(self, namespace: str, caches: Caches) -> None:
        """List the namespace's pull Secrets and ServiceAccounts and replace what is cached."""
        secrets, accounts = await asyncio.gather(
            self.cluster.list_secrets(namespace, MANAGED_LABEL),
            self.cluster.list_service_accounts(namespace),
        )
        caches.secrets.replace_namespace(namespace, secrets)
        caches.accounts.replace_namespace(namespace, accounts)

    async def ensure_secret(
        self,
        integration: Integration,
        record: NamespaceRecord,
        sa: str,
        observed: Mapping[str, Any] | None,
        caches: Caches | None = None,
    ) -> None:
        """Write the pull Secret of ``sa`` unless ``observed`` already carries the same login."""
        spec, _ = _parts(integration)
        names = record.names.robot(sa)
        name, robot = names.secret, names.full
        token = record.tokens.get(sa, "")
        if planning.secret_up_to_date(observed, spec.registry_host, robot, token):
            record.secrets.add(name)
            return
        body = planning.desired_secret(
            name, record.namespace, spec.registry_host, robot, token, integration.name
        )
        if observed is None:
            try:
                created = await self.cluster.create_secret(record.namespace, body)
                if caches is not None:
                    caches.secrets.put(created)
                record.secrets.add(name)
                return
            except KubeError as exc:
                if not isinstance(exc, Conflict):
                    raise
            observed = await self.cluster.read_secret(record.namespace, name)
            if planning.secret_up_to_date(observed, spec.registry_host, robot, token):
                record.secrets.add(name)
                return
        body["metadata"]["resourceVersion"] = (
            (observed or {}).get("metadata", {}).get("resourceVersion")
        )
        await self.cluster.replace_secret(record.namespace, name, body)
        record.secrets.add(name)

    async def link(
        self,
        record: NamespaceRecord,
        account: Mapping[str, Any],
        secret: str,
        caches: Caches | None = None,
    ) -> None:
        """Append ``secret`` to the SA's ``secrets`` and ``imagePullSecrets`` if missing.

        A JSON Patch guarded by a ``test`` on resourceVersion; on a conflict (someone, e.g.
        OpenShift adding its dockercfg Secret, wrote in between) the SA is read again and the patch
        planned again, so nobody's entries are lost.
        """
        name = account["metadata"]["name"]
        current: Mapping[str, Any] = account
        for _ in range(self.settings.link_attempts):
            ops = planning.link_patch(current, secret)
            if ops is None:
                return
            try:
                updated = await self.cluster.patch_service_account(record.namespace, name, ops)
            except KubeError as exc:
                if not isinstance(exc, (Conflict, Invalid)):
                    raise
            else:
                if caches is not None:
                    caches.accounts.put(updated)
                return
            current = await self.cluster.get_service_account(record.namespace, name)
            if caches is not None:
                caches.accounts.put(current)
        raise KubeError(409, f"could not link {secret} into {record.namespace}/{name}")
