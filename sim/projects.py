"""OpenShift projects: ProjectRequest, the Project view, and the asynchronous project set-up.

The synchronous part (docs/reference/openshift.md#projectrequest-synchronous) answers
``ProjectRequest``; the asynchronous part (docs/reference/openshift.md#asynchronous-project-set-up
and #service-account-pull-secrets) runs as independent simulated controllers after configurable
delays: the ``sa.scc.*`` annotations in one write, removal of the ``openshift.io/origin`` spec
finalizer, ServiceAccounts ``default``/``builder``/``deployer`` (re-created if deleted), and per-SA
``<sa>-dockercfg-xxxxx`` secrets linked into ``secrets`` and ``imagePullSecrets`` with
resourceVersion-guarded writes (the 4.16 layout; a deleted managed secret is re-created and
re-linked). Every write goes through the machinery, so each one is a watch event an operator sees.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets as random_secrets
from typing import Any

from sim import dockercfg
from sim.cloning import clone
from sim.errors import ApiError, already_exists, forbidden, not_found
from sim.machinery import NS_KEY, Machinery, Obj, Request, random_suffix
from sim.store import Event, Key

log = logging.getLogger("sim.projects")
SA_KEY: Key = ("", "serviceaccounts")
SECRET_KEY: Key = ("", "secrets")
PROJECT_KEY: Key = ("project.openshift.io", "projects")
FORBIDDEN_NAMES = ("openshift", "kubernetes", "kube")
FORBIDDEN_PREFIXES = ("openshift-", "kubernetes-", "kube-")
MANAGED_SAS = ("default", "builder", "deployer")
SA_ANNOTATION = "openshift.io/internal-registry-auth-token.service-account"
REF_ANNOTATION = "openshift.io/internal-registry-pull-secret-ref"
CONTROLLER = Request(user="system:serviceaccount:openshift-infra:openshift-controller-manager")


def project_of(ns: Obj) -> Obj:
    """Return the Project view of a Namespace."""
    return {
        "kind": "Project",
        "apiVersion": "project.openshift.io/v1",
        "metadata": clone(ns["metadata"]),
        "spec": clone(ns.get("spec") or {}),
        "status": clone(ns.get("status") or {}),
    }


class Projects:
    """ProjectRequest handling and the simulated project controllers."""

    def __init__(self, m: Machinery) -> None:
        self.m = m
        self.t = m.settings.projects
        self._blocks = itertools.count(1)
        self.internal_hosts = [
            m.settings.internal_registry,
            m.settings.internal_registry.replace(".svc:", ".svc.cluster.local:"),
        ]
        m.hooks.creators[("project.openshift.io", "projectrequests")] = self.request
        m.hooks.readers[PROJECT_KEY] = self.read_projects
        m.hooks.deleters[PROJECT_KEY] = self.delete_project
        m.store.listeners.append(self.on_event)

    # -- synchronous part ----------------------------------------------------------------------

    async def request(self, _ns: str, body: Obj, req: Request) -> tuple[int, Obj]:
        """Create a project as OpenShift's ProjectRequest does and return the Project (201)."""
        name = str((body.get("metadata") or {}).get("name") or "")
        if name in FORBIDDEN_NAMES or name.startswith(FORBIDDEN_PREFIXES):
            raise forbidden(
                "projectrequests",
                "project.openshift.io",
                name,
                f"cannot request a project starting with {name.split('-')[0]!r}",
            )
        if self.m.store.get(NS_KEY, "", name) is not None:
            raise already_exists("projects", "project.openshift.io", name)
        ns_body = {
            "metadata": {
                "name": name,
                "annotations": {
                    "openshift.io/description": str(body.get("description") or ""),
                    "openshift.io/display-name": str(body.get("displayName") or ""),
                    "openshift.io/requester": req.user,
                },
            },
            "spec": {"finalizers": ["openshift.io/origin", "kubernetes"]},
        }
        ns = await self.m.create_object(self.m.rt("", "namespaces"), "", ns_body, req)
        try:
            await self.m.create_object(
                self.m.rt("rbac.authorization.k8s.io", "rolebindings"),
                name,
                {
                    "metadata": {"name": "admin"},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": "admin",
                    },
                    "subjects": [
                        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": req.user}
                    ],
                },
                req,
            )
        except ApiError:
            await self.m.delete(self.m.rt("", "namespaces"), "", name)
            raise
        return 201, project_of(ns)

    def read_projects(self, _ns: str | None, name: str | None) -> list[Obj]:
        """Return Project views of one or all namespaces."""
        if name is not None:
            ns = self.m.store.get(NS_KEY, "", name)
            return [project_of(ns)] if ns else []
        return [project_of(ns) for ns in self.m.store.iter(NS_KEY, None)]

    async def delete_project(self, name: str, req: Request) -> Obj:
        """Delete the project's namespace (``oc delete project``)."""
        if self.m.store.get(NS_KEY, "", name) is None:
            raise not_found("projects", "project.openshift.io", name)
        await self.m.delete(self.m.rt("", "namespaces"), "", name, None, req)
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "group": "project.openshift.io", "kind": "projects"},
        }

    # -- asynchronous part ---------------------------------------------------------------------

    def on_event(self, key: Key, event: Event) -> None:
        """Start the controllers that react to a change."""
        meta = event.obj["metadata"]
        if key == NS_KEY and event.type == "ADDED":
            name = meta["name"]
            self.m.spawn(self._later(self.t.scc_annotations, self.allocate_scc(name)))
            if "openshift.io/origin" in (event.obj.get("spec") or {}).get("finalizers", []):
                self.m.spawn(
                    self._later(self.t.origin_finalizer, self.remove_origin_finalizer(name))
                )
            for sa in MANAGED_SAS:
                self.m.spawn(
                    self._later(self.t.service_accounts, self.ensure_service_account(name, sa))
                )
        elif key == SA_KEY and event.type == "ADDED":
            self.m.spawn(
                self._later(
                    self.t.dockercfg_secrets,
                    self.ensure_pull_secret(meta["namespace"], meta["name"]),
                )
            )
        elif key == SA_KEY and event.type == "DELETED" and meta["name"] in MANAGED_SAS:
            self.m.spawn(
                self._later(
                    self.t.service_accounts,
                    self.ensure_service_account(meta["namespace"], meta["name"]),
                )
            )
        elif (
            key == SECRET_KEY
            and event.type == "DELETED"
            and SA_ANNOTATION in (meta.get("annotations") or {})
        ):
            sa = meta["annotations"][SA_ANNOTATION]
            self.m.spawn(
                self._later(
                    self.t.dockercfg_secrets, self.ensure_pull_secret(meta["namespace"], sa)
                )
            )

    async def _later(self, delay: float, coro: Any) -> None:
        if delay:
            await asyncio.sleep(delay)
        try:
            await coro
        except ApiError as exc:
            log.debug("project controller step gave up: %s", exc.message)

    def _live(self, namespace: str) -> Obj | None:
        ns = self.m.store.get(NS_KEY, "", namespace)
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return None
        return ns

    async def allocate_scc(self, name: str) -> None:
        """Write the three ``openshift.io/sa.scc.*`` annotations at once (skipped if present)."""
        ns = self._live(name)
        if ns is None or "openshift.io/sa.scc.uid-range" in (
            ns["metadata"].get("annotations") or {}
        ):
            return
        block = next(self._blocks)
        uid_range = f"{1000000000 + block * 10000}/10000"
        a, b = divmod(block, 1024)
        mcs = f"s0:c{a + 1 + b // 32},c{b % 32}"
        patch = {
            "metadata": {
                "annotations": {
                    "openshift.io/sa.scc.uid-range": uid_range,
                    "openshift.io/sa.scc.supplemental-groups": uid_range,
                    "openshift.io/sa.scc.mcs": mcs,
                }
            }
        }
        await self.m.patch(
            self.m.rt("", "namespaces"),
            "",
            name,
            "application/merge-patch+json",
            patch,
            req=CONTROLLER,
        )

    async def remove_origin_finalizer(self, name: str) -> None:
        """Drop ``openshift.io/origin`` from the spec finalizers (a ``finalize`` write)."""
        ns = self.m.store.get(NS_KEY, "", name)
        if ns is None:
            return
        finalizers = [
            f for f in (ns.get("spec") or {}).get("finalizers", []) if f != "openshift.io/origin"
        ]
        body = {**ns, "spec": {**ns.get("spec", {}), "finalizers": finalizers}}
        await self.m.replace(self.m.rt("", "namespaces"), "", name, body, "finalize", CONTROLLER)

    async def ensure_service_account(self, namespace: str, name: str) -> None:
        """Create a ServiceAccount if the namespace is live and it is missing."""
        if self._live(namespace) is None or self.m.store.get(SA_KEY, namespace, name) is not None:
            return
        try:
            await self.m.create_object(
                self.m.rt("", "serviceaccounts"),
                namespace,
                {"metadata": {"name": name}},
                CONTROLLER,
            )
        except ApiError as exc:
            if exc.code != 409:
                raise

    async def ensure_pull_secret(self, namespace: str, sa_name: str) -> None:
        """Give a ServiceAccount its internal-registry pull secret and link it (4.16 layout)."""
        for _ in range(20):
            if self._live(namespace) is None:
                return
            sa = self.m.store.get(SA_KEY, namespace, sa_name)
            if sa is None:
                return
            ref = (sa["metadata"].get("annotations") or {}).get(REF_ANNOTATION)
            if not ref or self.m.store.get(SECRET_KEY, namespace, ref) is None:
                ref = await self._create_pull_secret(namespace, sa)
            try:
                await self._link(namespace, sa, ref)
                return
            except ApiError as exc:
                if exc.code != 409:
                    raise
                await asyncio.sleep(0.01)

    async def _create_pull_secret(self, namespace: str, sa: Obj) -> str:
        sa_name = sa["metadata"]["name"]
        token = random_secrets.token_urlsafe(24)
        body = {
            "metadata": {
                "name": f"{sa_name}-dockercfg-{random_suffix()}",
                "annotations": {
                    SA_ANNOTATION: sa_name,
                    "openshift.io/internal-registry-auth-token.binding": "bound",
                },
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "ServiceAccount",
                        "name": sa_name,
                        "uid": sa["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "type": "kubernetes.io/dockercfg",
            "data": {
                ".dockercfg": dockercfg.dockercfg_data(
                    {h: ("<token>", token) for h in self.internal_hosts}
                )
            },
        }
        created = await self.m.create_object(self.m.rt("", "secrets"), namespace, body, CONTROLLER)
        return str(created["metadata"]["name"])

    async def _link(self, namespace: str, sa: Obj, ref: str) -> None:
        old_ref = (sa["metadata"].get("annotations") or {}).get(REF_ANNOTATION)
        new = clone(sa)
        new["metadata"].setdefault("annotations", {})[REF_ANNOTATION] = ref
        for field in ("secrets", "imagePullSecrets"):
            items = list(new.get(field) or [])
            names = [i.get("name") for i in items]
            if ref in names:
                continue
            if old_ref in names:
                items[names.index(old_ref)] = {"name": ref}
            else:
                items.append({"name": ref})
            new[field] = items
        await self.m.replace(
            self.m.rt("", "serviceaccounts"), namespace, sa["metadata"]["name"], new, req=CONTROLLER
        )
