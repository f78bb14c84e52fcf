"""In-memory stand-ins for the API server and Quay, for the controller's unit tests.

:class:`FakeCluster` satisfies ``bridge.controller.ports.ClusterApi`` and :class:`FakeQuay`
satisfies ``bridge.controller.ports.QuayApi``. Both keep real state and answer as their real
counterparts do for the calls the controller's parts make: resourceVersions move on every write,
JSON Patches are applied (a failed ``test`` is a 422), a namespace being deleted goes once its
finalizers are gone, Quay creates robots with tokens, keeps prototypes and repositories, and answers
a missing organization's robots with 403 as Quay does. Each records the writes it served, so a test
can assert what the controller wrote (or that it wrote nothing).
"""

from __future__ import annotations

import base64
import copy
import itertools
from collections.abc import Iterator
from typing import Any

import jsonpatch

from bridge.controller.composition import compose
from bridge.controller.integrations import Integration
from bridge.controller.state import BridgeState
from bridge.kube.cluster import KubeError
from bridge.metrics import Metrics
from bridge.model.operator_settings import OperatorSettings
from bridge.model.quay_records import Prototype, Robot
from bridge.model.spec import Role
from bridge.quay import errors as qe
from vocabulary import MANAGED_LABEL

Key = tuple[str, str, str]  # (kind, namespace, name); namespace "" for cluster-scoped kinds


class FakeCluster:
    """An in-memory API server: Namespaces, ServiceAccounts, Secrets, ImageStreams, CRs."""

    def __init__(self, groups: set[str] | None = None) -> None:
        self.objects: dict[Key, dict[str, Any]] = {}
        self.groups = groups if groups is not None else {"image.openshift.io", "build.openshift.io"}
        self.events: list[dict[str, Any]] = []
        #: (verb, kind, namespace, name) of every write served, Events and statuses included
        self.writes: list[tuple[str, str, str, str]] = []
        #: (verb, kind, namespace) of every namespaced read served: gets and lists
        self.reads: list[tuple[str, str, str]] = []
        self._versions = itertools.count(1)

    # --- test-side set-up -------------------------------------------------------------------

    def put(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """Store ``body`` as the API server would after a create (a fresh resourceVersion)."""
        stored = copy.deepcopy(body)
        meta = stored.setdefault("metadata", {})
        meta["resourceVersion"] = str(next(self._versions))
        meta.setdefault("uid", f"uid-{meta['name']}")
        self.objects[(kind, meta.get("namespace") or "", meta["name"])] = stored
        return copy.deepcopy(stored)

    def add_namespace(self, name: str, **labels: str) -> dict[str, Any]:
        """A namespace with its three usual ServiceAccounts, as OpenShift makes them."""
        body = self.put("Namespace", {"metadata": {"name": name, "labels": labels}})
        for account in ("builder", "default", "deployer"):
            self.put("ServiceAccount", {"metadata": {"name": account, "namespace": name}})
        return body

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A stored object (a copy), or None."""
        found = self.objects.get((kind, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    def listed(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        """Copies of the stored objects of ``kind`` in ``namespace``."""
        return [
            copy.deepcopy(body)
            for (k, ns, _), body in sorted(self.objects.items())
            if k == kind and ns == namespace
        ]

    def delete(self, kind: str, namespace: str, name: str) -> None:
        """Remove an object behind the controller's back."""
        self.objects.pop((kind, namespace, name), None)

    def start_deleting_namespace(self, name: str) -> dict[str, Any]:
        """Set ``deletionTimestamp`` as a namespace DELETE does while finalizers remain."""
        body = self.objects[("Namespace", "", name)]
        body["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        body["metadata"]["resourceVersion"] = str(next(self._versions))
        return copy.deepcopy(body)

    def reasons(self) -> list[str]:
        """The reasons of the Events posted, in order."""
        return [event["reason"] for event in self.events]

    # --- ClusterApi -------------------------------------------------------------------------

    def _found(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        found = self.objects.get((kind, namespace, name))
        if found is None:
            raise KubeError(404, f"{kind} {namespace}/{name} not found")
        return found

    def _patch(
        self, kind: str, namespace: str, name: str, operations: list[dict[str, Any]]
    ) -> dict[str, Any]:
        current = self._found(kind, namespace, name)
        try:
            patched = jsonpatch.apply_patch(current, operations)
        except jsonpatch.JsonPatchTestFailed as exc:
            raise KubeError(422, f"the JSON Patch test failed: {exc}") from None
        except (jsonpatch.JsonPatchConflict, jsonpatch.JsonPointerException) as exc:
            raise KubeError(422, f"the JSON Patch does not apply: {exc}") from None
        patched["metadata"]["resourceVersion"] = str(next(self._versions))
        self.writes.append(("patch", kind, namespace, name))
        meta = patched["metadata"]
        if kind == "Namespace" and meta.get("deletionTimestamp") and not meta.get("finalizers"):
            del self.objects[(kind, namespace, name)]  # the last finalizer released it
        else:
            self.objects[(kind, namespace, name)] = patched
        return copy.deepcopy(patched)

    async def get_namespace(self, name: str) -> dict[str, Any]:
        return copy.deepcopy(self._found("Namespace", "", name))

    async def list_namespaces(self) -> list[dict[str, Any]]:
        return self.listed("Namespace", "")

    async def patch_namespace(self, name: str, operations: list[dict[str, Any]]) -> dict[str, Any]:
        return self._patch("Namespace", "", name, operations)

    async def get_service_account(self, namespace: str, name: str) -> dict[str, Any]:
        self.reads.append(("get", "ServiceAccount", namespace))
        return copy.deepcopy(self._found("ServiceAccount", namespace, name))

    async def list_service_accounts(self, namespace: str) -> list[dict[str, Any]]:
        self.reads.append(("list", "ServiceAccount", namespace))
        return self.listed("ServiceAccount", namespace)

    async def patch_service_account(
        self, namespace: str, name: str, operations: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return self._patch("ServiceAccount", namespace, name, operations)

    async def list_secrets(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        self.reads.append(("list", "Secret", namespace))
        key, _, value = label_selector.partition("=")
        return [
            body
            for body in self.listed("Secret", namespace)
            if key in (labels := body["metadata"].get("labels") or {})
            and (not value or labels[key] == value)
        ]

    async def read_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.reads.append(("get", "Secret", namespace))
        return self.get("Secret", namespace, name)

    async def create_secret(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        name = body["metadata"]["name"]
        if ("Secret", namespace, name) in self.objects:
            raise KubeError(409, f"secret {namespace}/{name} already exists")
        self.writes.append(("create", "Secret", namespace, name))
        return self.put(
            "Secret", {**body, "metadata": {**body["metadata"], "namespace": namespace}}
        )

    async def replace_secret(self, namespace: str, name: str, body: dict[str, Any]) -> None:
        current = self._found("Secret", namespace, name)
        wanted = (body.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != current["metadata"]["resourceVersion"]:
            raise KubeError(409, f"secret {namespace}/{name} was modified")
        self.writes.append(("replace", "Secret", namespace, name))
        self.put("Secret", {**body, "metadata": {**body["metadata"], "namespace": namespace}})

    async def read_secret_key(self, namespace: str, name: str, key: str) -> str | None:
        data = self._found("Secret", namespace, name).get("data") or {}
        return base64.b64decode(data[key]).decode() if key in data else None

    async def secret_keys(self, namespace: str, name: str) -> list[str]:
        return sorted(self._found("Secret", namespace, name).get("data") or {})

    async def read_configmap_key(self, namespace: str, name: str, key: str) -> str | None:
        data = self._found("ConfigMap", namespace, name).get("data") or {}
        value = data.get(key)
        return None if value is None else str(value)

    async def list_image_streams(self, namespace: str) -> list[dict[str, Any]]:
        self.reads.append(("list", "ImageStream", namespace))
        return self.listed("ImageStream", namespace)

    async def list_integrations(self) -> list[dict[str, Any]]:
        return self.listed("QuayIntegration", "")

    async def patch_integration_status(self, name: str, status: dict[str, Any]) -> None:
        body = self._found("QuayIntegration", "", name)
        body["status"] = {**(body.get("status") or {}), **copy.deepcopy(status)}
        self.writes.append(("patch", "QuayIntegration/status", "", name))

    async def api_groups(self) -> set[str]:
        return set(self.groups)

    async def post_event(
        self,
        involved: dict[str, Any],
        reason: str,
        message: str,
        *,
        warning: bool = False,
    ) -> None:
        meta = involved.get("metadata") or {}
        self.events.append(
            {
                "kind": involved.get("kind"),
                "name": meta.get("name"),
                "reason": reason,
                "message": message,
                "type": "Warning" if warning else "Normal",
            }
        )
        self.writes.append(("create", "Event", "default", reason))


class FakeOrganization:
    """One organization's robots, prototypes and repositories."""

    def __init__(self, admin: str) -> None:
        self.admin = admin
        #: short name -> robot (full name, description, token)
        self.robots: dict[str, Robot] = {}
        self.prototypes: dict[str, Prototype] = {}
        #: repository -> user or robot -> role
        self.repositories: dict[str, dict[str, str]] = {}


class FakeQuay:
    """An in-memory Quay acting as one user, with Quay's answers to the bridge's calls."""

    def __init__(self, user: str = "bridge") -> None:
        self.user = user
        self.token = "t0"
        self.organizations: dict[str, FakeOrganization] = {}
        #: organization names Quay still holds after a deletion (creating one is refused)
        self.reserved: set[str] = set()
        #: while set, every call fails with this error (an outage, a rejected token)
        self.failing: qe.QuayError | None = None
        #: the names of the calls served, in order
        self.calls: list[str] = []
        self.closed = False
        self._ids: Iterator[int] = itertools.count(1)

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.failing is not None:
            raise self.failing

    def writes(self) -> list[str]:
        """The calls served that change something in Quay."""
        reads = ("get_", "list_")
        return [name for name in self.calls if not name.startswith(reads)]

    def _org(self, org: str) -> FakeOrganization:
        found = self.organizations.get(org)
        if found is None:
            # Quay answers 403 for the parts of an organization that does not exist.
            raise qe.Forbidden(f"no access to organization {org}", status=403)
        if found.admin != self.user:
            raise qe.Forbidden(f"{self.user} is not an admin of {org}", status=403)
        return found

    def _token(self) -> str:
        return f"token-{next(self._ids)}"

    def set_token(self, token: str) -> None:
        self.token = token

    async def close(self) -> None:
        self.closed = True

    async def get_user(self) -> dict[str, Any]:
        self._call("get_user")
        return {"username": self.user}

    async def get_organization(self, org: str) -> dict[str, Any]:
        self._call("get_organization")
        if org not in self.organizations:
            raise qe.NotFound(f"organization {org} not found", status=404)
        return {"name": org}

    async def create_organization(self, org: str, email: str | None = None) -> None:
        self._call("create_organization")
        if org in self.reserved:
            raise qe.NameReserved(f"organization name {org} is reserved", status=400)
        if org in self.organizations:
            raise qe.AlreadyExists(f"organization {org} already exists", status=400)
        self.organizations[org] = FakeOrganization(self.user)

    async def delete_organization(self, org: str) -> None:
        self._call("delete_organization")
        self._org(org)
        del self.organizations[org]

    async def list_robots(self, org: str, *, with_tokens: bool = True) -> list[Robot]:
        self._call("list_robots")
        return [dict(robot) for robot in self._org(org).robots.values()]  # type: ignore[misc]

    async def get_robot(self, org: str, short: str) -> Robot:
        self._call("get_robot")
        robot = self._org(org).robots.get(short)
        if robot is None:
            raise qe.RobotMissing(f"robot {org}+{short} not found", status=400)
        return Robot(**robot)

    async def create_robot(self, org: str, short: str, description: str = "") -> Robot:
        self._call("create_robot")
        robots = self._org(org).robots
        if short in robots:
            raise qe.AlreadyExists(f"robot {org}+{short} already exists", status=400)
        robots[short] = Robot(name=f"{org}+{short}", description=description, token=self._token())
        return Robot(**robots[short])

    async def delete_robot(self, org: str, short: str) -> None:
        self._call("delete_robot")
        self._org(org).robots.pop(short, None)

    async def regenerate_robot(self, org: str, short: str) -> Robot:
        self._call("regenerate_robot")
        robot = self._org(org).robots[short]
        robot["token"] = self._token()
        return Robot(**robot)

    async def list_prototypes(self, org: str) -> list[Prototype]:
        self._call("list_prototypes")
        return [Prototype(**prototype) for prototype in self._org(org).prototypes.values()]

    async def create_prototype(self, org: str, robot_full_name: str, role: Role) -> Prototype:
        self._call("create_prototype")
        identifier = f"p{next(self._ids)}"
        prototype = Prototype(
            id=identifier,
            role=role,
            delegate={"name": robot_full_name, "kind": "user", "is_robot": True},
            activating_user=None,
        )
        self._org(org).prototypes[identifier] = prototype
        return prototype

    async def update_prototype(self, org: str, prototype_id: str, role: Role) -> Prototype:
        self._call("update_prototype")
        prototype = self._org(org).prototypes[prototype_id]
        prototype["role"] = role
        return prototype

    async def delete_prototype(self, org: str, prototype_id: str) -> None:
        self._call("delete_prototype")
        self._org(org).prototypes.pop(prototype_id, None)

    async def create_repository(self, org: str, repo: str, description: str = "") -> None:
        self._call("create_repository")
        found = self._org(org)
        if repo in found.repositories:
            raise qe.AlreadyExists(f"repository {org}/{repo} already exists", status=400)
        # Quay applies the organization's prototypes to a new repository.
        found.repositories[repo] = {
            p["delegate"]["name"]: p["role"] for p in found.prototypes.values()
        }

    async def delete_repository(self, org: str, repo: str) -> None:
        self._call("delete_repository")
        self._org(org).repositories.pop(repo, None)

    async def list_repositories(self, org: str) -> list[str]:
        self._call("list_repositories")
        return sorted(self._org(org).repositories)

    async def list_user_permissions(self, org: str, repo: str) -> dict[str, str]:
        self._call("list_user_permissions")
        return dict(self._org(org).repositories[repo])

    async def set_user_permission(self, org: str, repo: str, user: str, role: Role) -> None:
        self._call("set_user_permission")
        self._org(org).repositories[repo][user] = role


#: Short retries and loops, so a test sees a retry happen without waiting for it.
QUICK = OperatorSettings(
    status_interval=0.01, health_interval=0.05, retry_first=0.001, retry_cap=0.01
)
QUAY_TOKEN = "quay-oauth-token"


class Bench:
    """The controller's parts wired as ``compose`` wires them, on a fake cluster and Quay.

    ``active`` plays the peering decision; :meth:`inform` plays the informers' first listing.
    """

    def __init__(self, *, settings: OperatorSettings = QUICK) -> None:
        self.cluster = FakeCluster()
        self.quay = FakeQuay()
        self.metrics = Metrics()
        self.state = BridgeState()
        self.active = True
        self.parts = compose(
            self.cluster,
            self.metrics,
            self.state,
            settings,
            is_active=lambda: self.active,
            connect=self._connect,
        )
        self.view = self.parts.view
        self.scheduler = self.parts.scheduler
        self.reconciler = self.parts.reconciler
        self.loops = self.parts.loops
        self.router = self.parts.router

    def _connect(self, base_url: str, token: str, **_: Any) -> FakeQuay:
        self.quay.set_token(token)
        return self.quay

    async def add_integration(self, name: str = "quay", **spec: Any) -> Integration:
        """Create a QuayIntegration and its credentials Secret, and hand it to the router."""
        token = base64.b64encode(QUAY_TOKEN.encode()).decode()
        self.cluster.put(
            "Secret",
            {"metadata": {"name": "quay-token", "namespace": "ops"}, "data": {"token": token}},
        )
        body = self.cluster.put(
            "QuayIntegration",
            {
                "metadata": {"name": name, "generation": 1},
                "spec": {
                    "clusterID": "openshift",
                    "credentialsSecret": {"name": "quay-token", "namespace": "ops"},
                    "quayHostname": "https://quay.example.com",
                    **spec,
                },
            },
        )
        await self.router.on_integration("ADDED", body)
        self.view.integrations_listed = True
        await self.scheduler.idle()
        return self.view.integrations[name]

    async def inform(self) -> None:
        """Hand every object the cluster holds to the router, as the informers' lists do."""
        for key, body in sorted(self.cluster.objects.items()):
            kind = key[0]
            if kind == "ServiceAccount":
                await self.router.on_service_account("ADDED", copy.deepcopy(body))
            elif kind == "Secret" and (body["metadata"].get("labels") or {}).get(MANAGED_LABEL):
                # the informer lists pull Secrets only (by label)
                await self.router.on_secret("ADDED", copy.deepcopy(body))
            elif kind == "ImageStream":
                await self.router.on_image_stream("ADDED", copy.deepcopy(body))
        for body in self.cluster.listed("Namespace", ""):
            await self.router.on_namespace("ADDED", body)
        await self.scheduler.idle()

    async def provisioned(self, namespace: str, **labels: str) -> None:
        """Create ``namespace`` and let the controller provision it."""
        self.cluster.add_namespace(namespace, **labels)
        await self.inform()

    async def stop(self) -> None:
        """Cancel the loops and passes still running."""
        await self.scheduler.stop(also=self.loops.cancel_all())
