"""``SubjectAccessReview``: the API server's answer to "may this user do that?", from stored RBAC.

The simulator authenticates nobody and authorizes every request (its clients are tests and the
operator on loopback), but it answers ``POST /apis/authorization.k8s.io/v1/subjectaccessreviews``
the way kube-apiserver's RBAC authorizer does for the user and groups named in the review: allowed
when a RoleBinding in the review's namespace or a ClusterRoleBinding binds one of them (User,
Group, or ServiceAccount subject) to a Role or ClusterRole with a rule matching the verb, API group,
resource (``resource/subresource``, ``*`` wildcards) and, when the rule lists any, the name.
``system:masters`` and ``system:admin`` are allowed everything, as on a real cluster.

It also creates the RBAC objects OpenShift has and the bridge's reviews depend on: ClusterRole
``system:image-builder`` (push into the namespace's ImageStreams), and in every new namespace the
RoleBinding ``system:image-builders`` that grants it to the namespace's ``builder`` service
account, as OpenShift's default role bindings controller does. Other default roles (``admin``,
``edit``, ...) are not created; tests bind what they need.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from sim.errors import ApiError, invalid
from sim.machinery import NS_KEY, Machinery, Obj, Request
from sim.store import Event, Key

log = logging.getLogger(__name__)

RBAC = "rbac.authorization.k8s.io"
ROLE_KEY: Key = (RBAC, "roles")
CLUSTER_ROLE_KEY: Key = (RBAC, "clusterroles")
BINDING_KEY: Key = (RBAC, "rolebindings")
CLUSTER_BINDING_KEY: Key = (RBAC, "clusterrolebindings")
SUPERUSERS = frozenset({"system:admin"})
SUPERGROUPS = frozenset({"system:masters"})
CONTROLLER = Request(user="system:serviceaccount:openshift-infra:default-rolebindings-controller")

#: What OpenShift's ``system:image-builder`` ClusterRole grants (the push rights of a builder).
IMAGE_BUILDER_RULES: list[Obj] = [
    {
        "apiGroups": ["", "image.openshift.io"],
        "resources": ["imagestreams/layers"],
        "verbs": ["get", "update"],
    },
    {"apiGroups": ["", "image.openshift.io"], "resources": ["imagestreams"], "verbs": ["create"]},
    {"apiGroups": ["build.openshift.io"], "resources": ["builds/details"], "verbs": ["update"]},
    {"apiGroups": ["build.openshift.io"], "resources": ["builds"], "verbs": ["get"]},
]


def _names(values: Any) -> list[str]:
    return [str(v) for v in values] if isinstance(values, list) else []


def _matches(allowed: list[str], value: str) -> bool:
    return "*" in allowed or value in allowed


def rule_allows(rule: Obj, attributes: Obj) -> bool:
    """Whether one PolicyRule covers the review's resource attributes (RBAC's ``RuleAllows``)."""
    verb = str(attributes.get("verb") or "")
    group = str(attributes.get("group") or "")
    resource = str(attributes.get("resource") or "")
    subresource = str(attributes.get("subresource") or "")
    name = str(attributes.get("name") or "")
    full = f"{resource}/{subresource}" if subresource else resource
    resources = _names(rule.get("resources"))
    resource_ok = (
        "*" in resources
        or full in resources
        or (bool(subresource) and f"*/{subresource}" in resources)
    )
    names = _names(rule.get("resourceNames"))
    return (
        _matches(_names(rule.get("verbs")), verb)
        and _matches(_names(rule.get("apiGroups")), group)
        and resource_ok
        and (not names or name in names)
    )


def subject_matches(subject: Obj, binding_namespace: str, user: str, groups: set[str]) -> bool:
    """Whether a binding's subject is the user, one of its groups, or its service account."""
    kind, name = subject.get("kind"), str(subject.get("name") or "")
    if kind == "User":
        return name == user
    if kind == "Group":
        return name in groups
    if kind == "ServiceAccount":
        namespace = str(subject.get("namespace") or binding_namespace)
        return user == f"system:serviceaccount:{namespace}:{name}"
    return False


class Authorization:
    """Answers SubjectAccessReviews and keeps the default image-builder role and bindings."""

    def __init__(self, m: Machinery) -> None:
        self.m = m
        m.hooks.creators[("authorization.k8s.io", "subjectaccessreviews")] = self.review
        m.store.listeners.append(self.on_event)

    async def preload(self) -> None:
        """Create ClusterRole ``system:image-builder`` (every OpenShift cluster has it)."""
        if self.m.store.get(CLUSTER_ROLE_KEY, "", "system:image-builder") is None:
            await self.m.create_object(
                self.m.rt(RBAC, "clusterroles"),
                "",
                {"metadata": {"name": "system:image-builder"}, "rules": IMAGE_BUILDER_RULES},
                Request(user="system:admin"),
            )

    def on_event(self, key: Key, event: Event) -> None:
        """Bind ``system:image-builder`` to the ``builder`` service account of a new namespace."""
        if key == NS_KEY and event.type == "ADDED":
            self.m.spawn(self._bind_builders(str(event.obj["metadata"]["name"])))

    async def _bind_builders(self, namespace: str) -> None:
        # Asynchronous, as OpenShift's controller is: with the service accounts' delay.
        delay = self.m.settings.projects.service_accounts
        if delay:
            await asyncio.sleep(delay)
        namespace_body = self.m.store.get(NS_KEY, "", namespace)
        if namespace_body is None or namespace_body["metadata"].get("deletionTimestamp"):
            return
        if self.m.store.get(BINDING_KEY, namespace, "system:image-builders") is not None:
            return
        body = {
            "metadata": {"name": "system:image-builders"},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "system:image-builder"},
            "subjects": [{"kind": "ServiceAccount", "name": "builder", "namespace": namespace}],
        }
        try:
            await self.m.create_object(self.m.rt(RBAC, "rolebindings"), namespace, body, CONTROLLER)
        except ApiError as exc:
            log.debug("no system:image-builders binding in %s: %s", namespace, exc.message)

    async def review(self, _ns: str, body: Obj, _req: Request) -> tuple[int, Obj]:
        """Answer one SubjectAccessReview (201, nothing stored)."""
        spec = body.get("spec")
        if not isinstance(spec, dict):
            raise invalid(
                "SubjectAccessReview", "authorization.k8s.io", "", [("spec", "Required value")]
            )
        user = str(spec.get("user") or "")
        groups = set(_names(spec.get("groups")))
        attributes = spec.get("resourceAttributes")
        if not user and not groups:
            raise invalid(
                "SubjectAccessReview",
                "authorization.k8s.io",
                "",
                [("spec.user", "at least one of user or group")],
            )
        if not isinstance(attributes, dict):
            raise invalid(
                "SubjectAccessReview",
                "authorization.k8s.io",
                "",
                [("spec.resourceAttributes", "Required value (non-resource reviews unsupported)")],
            )
        allowed, reason = self._decide(user, groups, attributes)
        answer = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": {"allowed": allowed, **({"reason": reason} if reason else {})},
        }
        return 201, answer

    def _decide(self, user: str, groups: set[str], attributes: Obj) -> tuple[bool, str]:
        if user in SUPERUSERS or groups & SUPERGROUPS:
            return True, "superuser"
        namespace = str(attributes.get("namespace") or "")
        for binding, binding_namespace in self._bindings(namespace):
            subjects = binding.get("subjects") or []
            if not any(
                isinstance(s, dict) and subject_matches(s, binding_namespace, user, groups)
                for s in subjects
            ):
                continue
            for rule in self._rules(binding, binding_namespace):
                if isinstance(rule, dict) and rule_allows(rule, attributes):
                    kind = "RoleBinding" if binding_namespace else "ClusterRoleBinding"
                    where = f"{binding_namespace}/" if binding_namespace else ""
                    return True, f'RBAC: allowed by {kind} "{where}{binding["metadata"]["name"]}"'
        return False, ""

    def _bindings(self, namespace: str) -> Iterable[tuple[Obj, str]]:
        for binding in self.m.store.iter(CLUSTER_BINDING_KEY, None):
            yield binding, ""
        if namespace:
            for binding in self.m.store.iter(BINDING_KEY, namespace):
                yield binding, namespace

    def _rules(self, binding: Obj, namespace: str) -> list[Any]:
        ref = binding.get("roleRef") or {}
        name = str(ref.get("name") or "")
        if ref.get("kind") == "ClusterRole":
            role = self.m.store.get(CLUSTER_ROLE_KEY, "", name)
        elif ref.get("kind") == "Role" and namespace:
            role = self.m.store.get(ROLE_KEY, namespace, name)
        else:
            role = None
        rules = (role or {}).get("rules")
        return rules if isinstance(rules, list) else []
