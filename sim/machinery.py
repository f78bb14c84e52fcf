"""The API machinery: the verbs of a Kubernetes API server on top of the store.

Every write, from an HTTP client or from a simulated OpenShift controller, goes through here:
server-filled metadata (uid, creationTimestamp, generation, resourceVersion, generateName), the
mutating admission chain, per-resource defaulting and validation hooks, optimistic concurrency
(409 on a stale resourceVersion), ``/status`` separation, finalizers with ``deletionTimestamp``, and
namespace deletion. OpenShift behaviours plug in through :class:`Hooks`; they live in their own
modules and never reach into the store directly for writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sim import builtins, crdschema, fielderrors, protobuf
from sim.cloning import clone
from sim.errors import (
    ApiError,
    already_exists,
    bad_request,
    conflict,
    invalid,
    method_not_allowed,
    not_found,
)
from sim.patching import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_PATCH,
    PatchError,
    PatchTestFailed,
    apply_patch,
)
from sim.resources import Catalogue, ResourceType, types_from_crd
from sim.selectors import all_of, field_matcher, label_matcher
from sim.settings import Settings
from sim.store import Event, Key, Store

Obj = dict[str, Any]
NS_KEY: Key = ("", "namespaces")
CRD_KEY: Key = ("apiextensions.k8s.io", "customresourcedefinitions")
_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"


@functools.lru_cache(maxsize=1)
def _timestamp(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))


def now() -> str:
    """Return the current time as Kubernetes writes timestamps (whole seconds, UTC).

    Every write stamps objects; formatting each second once keeps that off the write path.
    """
    return _timestamp(int(time.time()))


def random_suffix(n: int = 5) -> str:
    """Return ``n`` characters as Kubernetes' generateName appends them."""
    return "".join(random.choice(_SUFFIX_CHARS) for _ in range(n))


@dataclass(frozen=True)
class Request:
    """Who asks and how: the user name and whether the write is a dry run."""

    user: str = "kube:admin"
    dry_run: bool = False
    groups: tuple[str, ...] = ("system:authenticated",)
    #: ``fieldValidation`` of a client's request: Strict (400 on unknown fields), Warn (warnings)
    #: or Ignore; empty for the simulator's own writes (built-in kinds are then not checked)
    field_validation: str = ""
    #: warnings for the answer's ``Warning`` headers (filled when ``field_validation`` is Warn)
    warnings: list[str] = field(default_factory=list)


#: Mutating admission: (operation, type, subresource, namespace, object, old, request) -> object
Admission = Callable[[str, ResourceType, str, str, Obj, Obj | None, Request], Awaitable[Obj]]
#: Per-resource defaulting/validation: (object, old object or None); may modify it, may raise
Check = Callable[[Obj, Obj | None], None]
#: A create handled by a behaviour instead of the store (ProjectRequest, ImageStreamImport, ...)
Creator = Callable[[str, Obj, Request], Awaitable[tuple[int, Obj]]]
#: A subresource handled by a behaviour: (method, namespace, name, body, request) -> (code, body)
SubHandler = Callable[[str, str, str, Obj | None, Request], Awaitable[tuple[int, Obj]]]
#: Read-only virtual resources: (namespace or None, name or None) -> object(s)
Reader = Callable[[str | None, str | None], list[Obj]]


@dataclass
class Hooks:
    """Where OpenShift behaviours attach to the machinery, by (group, plural)."""

    prepare: dict[Key, list[Check]] = field(default_factory=dict)
    validate: dict[Key, list[Check]] = field(default_factory=dict)
    creators: dict[Key, Creator] = field(default_factory=dict)
    subresources: dict[tuple[Key, str], SubHandler] = field(default_factory=dict)
    readers: dict[Key, Reader] = field(default_factory=dict)
    deleters: dict[Key, Callable[[str, Request], Awaitable[Obj]]] = field(default_factory=dict)


def validate_metadata(rt: ResourceType, meta: Obj) -> None:
    """Refuse names, label/annotation maps and finalizers Kubernetes would refuse (422)."""
    builtins.check_metadata(rt, meta)


#: kinds whose API server strategy never sets ``metadata.generation`` (kube-apiserver sets it
#: for workloads, policies, webhook configurations and custom resources, not for these)
NO_GENERATION: frozenset[Key] = frozenset(
    [
        ("", p)
        for p in (
            "namespaces",
            "secrets",
            "configmaps",
            "serviceaccounts",
            "events",
            "services",
            "persistentvolumeclaims",
        )
    ]
    + [
        ("rbac.authorization.k8s.io", p)
        for p in ("roles", "rolebindings", "clusterroles", "clusterrolebindings")
    ]
    + [("coordination.k8s.io", "leases")]
)


def _set_generation(rt: ResourceType, meta: Obj, value: int) -> None:
    if rt.key in NO_GENERATION:
        meta.pop("generation", None)
    else:
        meta["generation"] = value


def _no_new_finalizers(rt: ResourceType, new: Obj, current: Obj) -> None:
    """Refuse finalizers added to an object being deleted, as kube-apiserver does (422)."""
    if not current["metadata"].get("deletionTimestamp"):
        return
    old = set(current["metadata"].get("finalizers") or ())
    added = [f for f in new["metadata"].get("finalizers") or () if f not in old]
    if added:
        listed = ", ".join(fielderrors.go_quote(f) for f in added)
        error = fielderrors.forbidden(
            "metadata.finalizers",
            "no new finalizers can be added if the object is being deleted, found new "
            f"finalizers []string{{{listed}}}",
        )
        # the API server runs the metadata update checks twice and reports the error twice
        raise fielderrors.invalid(rt.kind, rt.group, current["metadata"]["name"], [error, error])


def _go_json_type(value: Any) -> str:
    """Name a JSON value as Go's decoder names it in ``cannot unmarshal <type>``."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _spec_part(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _same_content(a: Obj, b: Obj) -> bool:
    ma = {
        k: v
        for k, v in a.get("metadata", {}).items()
        if k not in ("resourceVersion", "managedFields")
    }
    mb = {
        k: v
        for k, v in b.get("metadata", {}).items()
        if k not in ("resourceVersion", "managedFields")
    }
    return ma == mb and {k: v for k, v in a.items() if k != "metadata"} == {
        k: v for k, v in b.items() if k != "metadata"
    }


def _namespace_defaults(obj: Obj, old: Obj | None) -> None:
    """Fill what kube-apiserver fills on every namespace: name label, spec finalizer, phase."""
    meta = obj["metadata"]
    meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
    if old is None:
        spec = obj.setdefault("spec", {})
        if "kubernetes" not in spec.setdefault("finalizers", []):
            spec["finalizers"].append("kubernetes")
        obj["status"] = {"phase": "Active"}


class Machinery:
    """The API verbs over one store; the HTTP layer and the controllers both call these."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalogue = Catalogue.builtin()
        self.store = Store(settings.history_limit)
        self.hooks = Hooks()
        self.admission: Admission | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self._ns_changed = asyncio.Event()
        self.store.listeners.append(self._on_event)
        self.hooks.prepare[NS_KEY] = [_namespace_defaults]
        builtins.install(self.hooks.prepare, self.hooks.validate)

    # -- helpers -------------------------------------------------------------------------------

    def spawn(self, coro: Awaitable[Any]) -> None:
        """Run a background coroutine owned by the simulator (cancelled on shutdown)."""
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def shutdown(self) -> None:
        """Cancel background work and end every watch."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.store.close_all()

    def rt(self, group: str, plural: str) -> ResourceType:
        """Return the served type of (group, plural); raise 404 if it is not served."""
        rt = self.catalogue.for_key(group, plural)
        if rt is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return rt

    def check_namespace(
        self, rt: ResourceType, namespace: str, *, for_create: bool, name: str = ""
    ) -> None:
        """Raise 404 when a namespaced request names a missing namespace (403 if terminating)."""
        if not rt.namespaced:
            return
        ns = self.store.get(NS_KEY, "", namespace)
        if ns is None:
            raise not_found("namespaces", "", namespace)
        if for_create and ns["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                "Forbidden",
                f'{rt.plural} "{name}" is forbidden: '
                f"unable to create new content in namespace "
                f"{namespace} because it is being terminated",
                details={
                    "name": name,
                    "group": rt.group,
                    "kind": rt.plural,
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "message": f"namespace {namespace} is being terminated",
                            "field": "metadata.namespace",
                        }
                    ],
                },
            )

    def _run(
        self, table: dict[Key, list[Check]], rt: ResourceType, obj: Obj, old: Obj | None
    ) -> None:
        for check in table.get(rt.key, ()):
            check(obj, old)

    async def _admit(
        self, op: str, rt: ResourceType, sub: str, ns: str, obj: Obj, old: Obj | None, req: Request
    ) -> Obj:
        if self.admission is None:
            return obj
        return await self.admission(op, rt, sub, ns, obj, old, req)

    def _decode(self, rt: ResourceType, obj: Obj, req: Request) -> None:
        """Do what decoding a body does on a cluster: prune unknown fields, fill defaults.

        Unknown fields (undeclared in a CRD's schema, or in a built-in kind's protobuf schema)
        fail a Strict request with 400, become warnings for Warn, and are dropped.
        """
        unknown: list[str] = []
        if rt.from_crd:
            if rt.schema is not None:
                unknown = crdschema.prune(obj, rt.schema)
                crdschema.default(obj, rt.schema)
        elif req.field_validation:
            schemas = protobuf.schemas()
            if schemas is not None:
                unknown = schemas.prune_unknown(obj)
        if not unknown:
            return
        texts = [f'unknown field "{path}"' for path in unknown]
        if req.field_validation == "Strict":
            raise bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                "strict decoding error: " + ", ".join(texts)
            )
        if req.field_validation == "Warn":
            req.warnings.extend(texts)

    def _validate_schema(self, rt: ResourceType, obj: Obj) -> None:
        if rt.schema is None:
            return
        errors = crdschema.validate(obj, rt.schema)
        if errors:
            raise fielderrors.invalid(rt.kind, rt.group, obj["metadata"].get("name", ""), errors)

    # -- reads ---------------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        """Return one object or raise 404."""
        reader = self.hooks.readers.get(rt.key)
        if reader is not None:
            found = reader(namespace if rt.namespaced else None, name)
            if not found:
                raise not_found(rt.plural, rt.group, name)
            return self._versioned(rt, found[0])
        obj = self.store.get(rt.key, namespace if rt.namespaced else "", name)
        if obj is None:
            raise not_found(rt.plural, rt.group, name)
        return self._versioned(rt, obj)

    def _versioned(self, rt: ResourceType, obj: Obj) -> Obj:
        if obj.get("apiVersion") == rt.api_version:
            return obj
        return {**obj, "apiVersion": rt.api_version}

    def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Obj:
        """Return a ``<Kind>List`` of the objects that pass the selectors."""
        matcher = all_of(label_matcher(label_selector), field_matcher(field_selector))
        reader = self.hooks.readers.get(rt.key)
        if reader is not None:
            source = sorted(
                reader(namespace, None),
                key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]),
            )
        else:
            source = self.store.sorted_objects(rt.key, namespace)
        if matcher is not None:
            source = [o for o in source if matcher(o)]
        version = rt.api_version
        items = [
            o if o.get("apiVersion") == version else {**o, "apiVersion": version} for o in source
        ]
        return {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": str(self.store.rv)},
            "items": items,
        }

    # -- create --------------------------------------------------------------------------------

    async def create(
        self, rt: ResourceType, namespace: str, body: Obj, req: Request | None = None
    ) -> tuple[int, Obj]:
        """Create an object (201) or run the behaviour that owns this create."""
        req = req or Request(self.settings.username)
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        if "create" not in rt.verbs:
            raise method_not_allowed()
        creator = self.hooks.creators.get(rt.key)
        if creator is not None:
            if rt.namespaced:
                self.check_namespace(rt, namespace, for_create=True)
            return await creator(namespace, clone(body), req)
        return 201, await self.create_object(rt, namespace, body, req)

    async def create_object(self, rt: ResourceType, namespace: str, body: Obj, req: Request) -> Obj:
        """Store a new object after admission, defaulting and validation; return it."""
        obj = clone(body)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        if rt.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        self.check_namespace(rt, namespace, for_create=True, name=str(meta.get("name") or ""))
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise fielderrors.invalid(
                    rt.kind,
                    rt.group,
                    "",
                    [fielderrors.required("metadata.name", "name or generateName is required")],
                )
            if not isinstance(meta["generateName"], str):
                raise invalid(
                    rt.kind,
                    rt.group,
                    "",
                    [("metadata.generateName", "Invalid value: must be a string")],
                )
            meta["name"] = meta["generateName"] + random_suffix()
        name = meta["name"]
        if rt.key == NS_KEY:
            # kube-apiserver labels the namespace before validating it (the label is checked too)
            meta["labels"] = {**(meta.get("labels") or {}), "kubernetes.io/metadata.name": name}
        validate_metadata(rt, meta)
        ns_key = namespace if rt.namespaced else ""
        if self.store.get(rt.key, ns_key, name) is not None:
            raise already_exists(rt.plural, rt.group, name)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        for server_field in (
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
        ):
            meta.pop(server_field, None)
        if rt.has_status:
            obj.pop("status", None)
        self._decode(rt, obj, req)
        obj = await self._admit("CREATE", rt, "", namespace, obj, None, req)
        meta = obj["metadata"]
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        _set_generation(rt, meta, 1)
        if meta.get("name") != name:
            raise bad_request("admission may not change the object's name")
        self._run(self.hooks.prepare, rt, obj, None)
        self._run(self.hooks.validate, rt, obj, None)
        self._validate_schema(rt, obj)
        if self.store.get(rt.key, ns_key, name) is not None:
            raise already_exists(rt.plural, rt.group, name)
        if req.dry_run:
            return obj
        stored = self.store.put(rt.key, obj, None)
        if rt.key == CRD_KEY:
            self._serve_crd(stored)
        return stored

    # -- update / patch ------------------------------------------------------------------------

    async def replace(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Obj,
        sub: str = "",
        req: Request | None = None,
    ) -> Obj:
        """Replace an object (PUT), or only its status when ``sub`` is ``status``."""
        req = req or Request(self.settings.username)
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        meta = body.get("metadata") or {}
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        if meta.get("name") not in (None, name):
            raise bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL "
                f"({name})"
            )
        current = self._current(rt, namespace, name)
        rv = meta.get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise conflict(rt.plural, rt.group, name)
        return await self._update(rt, namespace, current, clone(body), sub, req)

    async def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        patch: Any,
        sub: str = "",
        req: Request | None = None,
    ) -> Obj:
        """Patch an object with the patch type named by ``content_type``."""
        req = req or Request(self.settings.username)
        current = self._current(rt, namespace, name)
        if rt.from_crd and content_type == STRATEGIC_PATCH:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json-patch+json, application/merge-patch+json, "
                "application/apply-patch+yaml",
            )
        if content_type == JSON_PATCH and not isinstance(patch, list):
            raise bad_request(
                "error decoding patch: json: cannot unmarshal object into Go value of type "
                "[]handlers.jsonPatchOp"
            )
        if content_type in (MERGE_PATCH, STRATEGIC_PATCH) and not isinstance(patch, dict):
            raise bad_request(
                f"error decoding patch: json: cannot unmarshal {_go_json_type(patch)} into Go "
                "value of type map[string]interface {}"
            )
        try:
            new = apply_patch(content_type, current, patch)
        except PatchTestFailed as exc:
            # kube-apiserver words every JSON-patch failure (a failed test, a missing path) so
            raise ApiError(
                422, "Invalid", "the server rejected our request due to an error in our request"
            ) from exc
        except PatchError as exc:
            if "unsupported patch type" in str(exc):
                raise ApiError(415, "UnsupportedMediaType", "415: Unsupported Media Type") from exc
            raise ApiError(
                422, "Invalid", "the server rejected our request due to an error in our request"
            ) from exc
        if not isinstance(new, dict) or not isinstance(new.get("metadata"), dict):
            raise bad_request("the patched object is not a Kubernetes object")
        if new["metadata"].get("name", name) != name:
            raise bad_request(
                f"the name of the object ({new['metadata'].get('name')}) does not match the "
                f"name on the URL ({name})"
            )
        rv = new["metadata"].get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise conflict(rt.plural, rt.group, name)
        return await self._update(rt, namespace, current, new, sub, req)

    def _current(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        if "update" not in rt.verbs and "patch" not in rt.verbs:
            raise method_not_allowed()
        self.check_namespace(rt, namespace, for_create=False)
        current = self.store.get(rt.key, namespace if rt.namespaced else "", name)
        if current is None:
            raise not_found(rt.plural, rt.group, name)
        return current

    async def _update(
        self, rt: ResourceType, namespace: str, current: Obj, new: Obj, sub: str, req: Request
    ) -> Obj:
        name = current["metadata"]["name"]
        if sub in ("", "status"):
            # decoding comes first: unknown fields are reported even where the write keeps the
            # stored value (a main-resource write's status)
            new["apiVersion"], new["kind"] = rt.api_version, rt.kind
            self._decode(rt, new, req)
        if sub == "status":
            if not rt.has_status:
                raise not_found(rt.plural, rt.group, name)
            merged = clone(current)
            if "status" in new:
                merged["status"] = new["status"]
            else:
                merged.pop("status", None)
            new = merged
        elif sub == "finalize":
            merged = clone(current)
            merged["spec"] = {
                **merged.get("spec", {}),
                "finalizers": (new.get("spec") or {}).get("finalizers") or [],
            }
            new = merged
        elif sub:
            raise not_found(rt.plural, rt.group, name)
        else:
            if rt.has_status:
                if "status" in current:
                    new["status"] = clone(current["status"])
                else:
                    new.pop("status", None)
            if rt.key == NS_KEY:
                new["spec"] = clone(current.get("spec", {}))
        meta = new.setdefault("metadata", {})
        old_meta = current["metadata"]
        for fixed in (
            "name",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ):
            if fixed in old_meta:
                meta[fixed] = old_meta[fixed]
            else:
                meta.pop(fixed, None)
        if rt.namespaced:
            meta["namespace"] = namespace
        meta["resourceVersion"] = old_meta["resourceVersion"]
        _set_generation(rt, meta, old_meta.get("generation", 1))
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        validate_metadata(rt, meta)
        _no_new_finalizers(rt, new, current)
        if not sub:
            new = await self._admit("UPDATE", rt, sub, namespace, new, current, req)
            meta = new["metadata"]
        if _spec_part(new) != _spec_part(current):
            _set_generation(rt, meta, old_meta.get("generation", 1) + 1)
        self._run(self.hooks.prepare, rt, new, current)
        self._run(self.hooks.validate, rt, new, current)
        self._validate_schema(rt, new)
        if _same_content(new, current):
            return current
        if req.dry_run:
            return new
        if (
            meta.get("deletionTimestamp")
            and not meta.get("finalizers")
            and self._releasable(rt, new)
        ):
            # the write that removes the last finalizer deletes the object: one DELETED event
            gone = self.store.remove(rt.key, namespace if rt.namespaced else "", name, final=new)
            if rt.key == CRD_KEY and gone is not None:
                self._unserve_crd(gone)
            return gone or new
        stored = self.store.put(rt.key, new, current)
        if rt.key == CRD_KEY:
            self._serve_crd(stored)
        return stored

    def write_as_server(self, rt: ResourceType, new: Obj, old: Obj | None) -> Obj:
        """Store a server-side change (no admission, no status separation); return it.

        OpenShift's own registries write this way, for example an import's spec+status update.
        """
        meta = new["metadata"]
        if old is None:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", now())
            _set_generation(rt, meta, 1)
        else:
            _set_generation(
                rt,
                meta,
                old["metadata"].get("generation", 1)
                + (1 if _spec_part(new) != _spec_part(old) else 0),
            )
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        self._run(self.hooks.prepare, rt, new, old)
        if old is not None and _same_content(new, old):
            return old
        return self.store.put(rt.key, new, old)

    def _releasable(self, rt: ResourceType, obj: Obj) -> bool:
        return rt.key != NS_KEY or not (obj.get("spec") or {}).get("finalizers")

    # -- delete --------------------------------------------------------------------------------

    async def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        options: Obj | None = None,
        req: Request | None = None,
    ) -> Obj:
        """Delete an object at once, or set ``deletionTimestamp`` while finalizers remain."""
        req = req or Request(self.settings.username)
        if "delete" not in rt.verbs:
            raise method_not_allowed()
        deleter = self.hooks.deleters.get(rt.key)
        if deleter is not None:
            return await deleter(name, req)
        current = self._current_for_delete(rt, namespace, name)
        pre = (options or {}).get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != current["metadata"].get("uid"):
            raise conflict(
                rt.kind,
                rt.group,
                name,
                f"the UID in the precondition ({pre['uid']}) does not match the UID in record "
                f"({current['metadata'].get('uid')}). The object might have been deleted and then "
                "recreated",
            )
        if (
            pre.get("resourceVersion")
            and pre["resourceVersion"] != current["metadata"]["resourceVersion"]
        ):
            raise conflict(
                rt.kind,
                rt.group,
                name,
                f"the ResourceVersion in the precondition ({pre['resourceVersion']}) does not "
                f"match the ResourceVersion in record ({current['metadata']['resourceVersion']})."
                " The object might have been modified",
            )
        ns_key = namespace if rt.namespaced else ""
        meta = current["metadata"]
        if meta.get("finalizers") or (rt.key == NS_KEY):
            if meta.get("deletionTimestamp"):
                return current
            new = clone(current)
            new["metadata"]["deletionTimestamp"] = now()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            if rt.key == NS_KEY:
                new.setdefault("status", {})["phase"] = "Terminating"
            if req.dry_run:
                return new
            stored = self.store.put(rt.key, new, current)
            if rt.key == NS_KEY:
                self.spawn(self._terminate_namespace(name))
            return stored
        if req.dry_run:
            return current
        gone = self.store.remove(rt.key, ns_key, name)
        if rt.key == CRD_KEY and gone is not None:
            self._unserve_crd(gone)
        return gone or current

    def _current_for_delete(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        self.check_namespace(rt, namespace, for_create=False)
        current = self.store.get(rt.key, namespace if rt.namespaced else "", name)
        if current is None:
            raise not_found(rt.plural, rt.group, name)
        return current

    async def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        label_selector: str | None,
        field_selector: str | None,
    ) -> Obj:
        """Delete every object that passes the selectors; return the list of them."""
        listed = self.list(rt, namespace, label_selector, field_selector)
        for obj in listed["items"]:
            try:
                await self.delete(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            except ApiError as exc:
                if exc.code != 404:
                    raise
        return listed

    # -- namespaces and CRDs -------------------------------------------------------------------

    def _on_event(self, key: Key, event: Event) -> None:
        if key != NS_KEY:
            self._ns_changed.set()

    async def _terminate_namespace(self, name: str) -> None:
        """Delete everything in a terminating namespace, then drop its ``kubernetes`` finalizer."""
        while True:
            for key in self.store.keys_in_namespace(name):
                rt = self.catalogue.for_key(*key)
                if rt is None:
                    continue
                for obj in list(self.store.iter(key, name)):
                    if not obj["metadata"].get("deletionTimestamp"):
                        with contextlib.suppress(ApiError):
                            await self.delete(rt, name, obj["metadata"]["name"])
            if not self.store.keys_in_namespace(name):
                break
            self._ns_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ns_changed.wait(), timeout=0.5)
        ns = self.store.get(NS_KEY, "", name)
        if ns is None:
            return
        finalizers = [
            f for f in (ns.get("spec") or {}).get("finalizers") or [] if f != "kubernetes"
        ]
        rt = self.rt("", "namespaces")
        await self.replace(
            rt,
            "",
            name,
            {**ns, "spec": {**ns.get("spec", {}), "finalizers": finalizers}},
            "finalize",
        )

    def _serve_crd(self, crd: Obj) -> None:
        spec = crd.get("spec") or {}
        group, plural = spec.get("group", ""), (spec.get("names") or {}).get("plural", "")
        self.catalogue.remove_crd(group, plural)
        for rt in types_from_crd(crd):
            self.catalogue.add(rt)
        if not crd["metadata"].get("deletionTimestamp"):
            status = {
                "acceptedNames": spec.get("names") or {},
                "storedVersions": [
                    v["name"] for v in spec.get("versions") or [] if v.get("storage")
                ],
                "conditions": [
                    {
                        "type": "NamesAccepted",
                        "status": "True",
                        "reason": "NoConflicts",
                        "message": "no conflicts found",
                        "lastTransitionTime": now(),
                    },
                    {
                        "type": "Established",
                        "status": "True",
                        "reason": "InitialNamesAccepted",
                        "message": "the initial names have been accepted",
                        "lastTransitionTime": now(),
                    },
                ],
            }
            if crd.get("status", {}).get("acceptedNames") != status["acceptedNames"]:
                updated = clone(crd)
                updated["status"] = status
                self.store.put(CRD_KEY, updated, crd)

    def _unserve_crd(self, crd: Obj) -> None:
        spec = crd.get("spec") or {}
        group, plural = spec.get("group", ""), (spec.get("names") or {}).get("plural", "")
        builtin = self.catalogue.for_key(group, plural)
        if builtin is not None and builtin.from_crd:
            self.catalogue.remove_crd(group, plural)
