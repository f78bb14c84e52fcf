"""Structural checks of Kubernetes manifests: the fields each kind needs, and that the pieces fit.

No API server can run here, so this is what stands between a typo in ``deploy/`` and a failed
``kubectl apply`` on a real cluster: every document needs ``apiVersion``, ``kind`` and
``metadata.name``; each kind needs the fields the API server requires of it; and across documents,
every reference must resolve (a binding's ServiceAccount, a Service's selector and target port, a
webhook's Service, the selectors of the NetworkPolicy and the PodDisruptionBudget). Pure: callers
load the YAML.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

Manifest = Mapping[str, Any]

#: Kinds that live in a namespace (everything else here is cluster-scoped).
NAMESPACED_KINDS = frozenset(
    {
        "ServiceAccount", "Secret", "ConfigMap", "Service", "Deployment", "StatefulSet",
        "NetworkPolicy", "PodDisruptionBudget", "Role", "RoleBinding", "ClusterServiceVersion",
        "PersistentVolumeClaim", "Job", "Route", "Ingress",
    }
)  # fmt: skip

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def describe(doc: Manifest) -> str:
    """Return ``Kind/namespace/name`` for messages."""
    meta = doc.get("metadata") or {}
    parts = [str(doc.get("kind", "?")), str(meta.get("namespace", "")), str(meta.get("name", "?"))]
    return "/".join(p for p in parts if p)


def _get(doc: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(doc, Mapping):
            return None
        doc = doc.get(part)
    return doc


def _need(doc: Manifest, *paths: str) -> list[str]:
    return [f"{describe(doc)}: missing {p}" for p in paths if _get(doc, p) in (None, "", [], {})]


def _selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, Any]) -> bool:
    if not selector:
        return False
    match = selector.get("matchLabels", selector)
    return all(labels.get(k) == v for k, v in match.items())


def _pod_spec_problems(doc: Manifest, template_path: str) -> list[str]:
    out = _need(doc, f"{template_path}.metadata.labels", f"{template_path}.spec.containers")
    labels = _get(doc, f"{template_path}.metadata.labels") or {}
    if not _selector_matches(_get(doc, "spec.selector"), labels):
        out.append(f"{describe(doc)}: spec.selector does not match the pod template's labels")
    for container in _get(doc, f"{template_path}.spec.containers") or []:
        name = container.get("name", "?")
        if not container.get("name") or not container.get("image"):
            out.append(f"{describe(doc)}: container {name} needs a name and an image")
            continue
        image = str(container["image"])
        if "@" not in image and (":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")):
            out.append(
                f"{describe(doc)}: container {name} image {image} is not pinned to a version"
            )
        port_names = [p.get("name") for p in container.get("ports", [])]
        for probe in ("livenessProbe", "readinessProbe"):
            port = _get(container, f"{probe}.httpGet.port")
            if isinstance(port, str) and port not in port_names:
                out.append(f"{describe(doc)}: {probe} names port {port}, which is not declared")
    return out


def _crd_problems(doc: Manifest) -> list[str]:
    out = _need(doc, "spec.group", "spec.names.kind", "spec.names.plural", "spec.scope")
    out += _need(doc, "spec.versions")
    name = _get(doc, "metadata.name")
    expected = f"{_get(doc, 'spec.names.plural')}.{_get(doc, 'spec.group')}"
    if name != expected:
        out.append(f"{describe(doc)}: metadata.name must be {expected}")
    versions = _get(doc, "spec.versions") or []
    if sum(1 for v in versions if v.get("storage")) != 1:
        out.append(f"{describe(doc)}: exactly one version must be the storage version")
    for version in versions:
        if not _get(version, "schema.openAPIV3Schema"):
            out.append(f"{describe(doc)}: version {version.get('name')} has no openAPIV3Schema")
    return out


def _rules_problems(doc: Manifest) -> list[str]:
    out = _need(doc, "rules")
    for index, rule in enumerate(doc.get("rules") or []):
        if "apiGroups" not in rule or not rule.get("resources") or not rule.get("verbs"):
            out.append(f"{describe(doc)}: rule {index} needs apiGroups, resources and verbs")
    return out


def _binding_problems(doc: Manifest) -> list[str]:
    out = _need(doc, "roleRef.apiGroup", "roleRef.kind", "roleRef.name", "subjects")
    for subject in doc.get("subjects") or []:
        if subject.get("kind") == "ServiceAccount" and not subject.get("namespace"):
            out.append(f"{describe(doc)}: ServiceAccount subject needs a namespace")
    return out


def _service_problems(doc: Manifest) -> list[str]:
    out = _need(doc, "spec.ports", "spec.selector")
    for port in _get(doc, "spec.ports") or []:
        if not isinstance(port.get("port"), int):
            out.append(f"{describe(doc)}: every port needs a numeric port")
    return out


def _webhook_problems(doc: Manifest) -> list[str]:
    out = _need(doc, "webhooks")
    for hook in doc.get("webhooks") or []:
        name = str(hook.get("name", ""))
        if name.count(".") < 2:
            out.append(f"{describe(doc)}: webhook name {name!r} must be a qualified name (a.b.c)")
        for field in ("clientConfig", "admissionReviewVersions", "sideEffects", "rules"):
            if not hook.get(field):
                out.append(f"{describe(doc)}: webhook {name} needs {field}")
        config = hook.get("clientConfig") or {}
        if bool(config.get("service")) == bool(config.get("url")):
            out.append(f"{describe(doc)}: webhook {name} needs exactly one of service and url")
    return out


def _statefulset_problems(doc: Manifest) -> list[str]:
    return _need(doc, "spec.serviceName") + _pod_spec_problems(doc, "spec.template")


def _pdb_problems(doc: Manifest) -> list[str]:
    out = _need(doc, "spec.selector")
    spec = doc.get("spec") or {}
    if ("minAvailable" in spec) == ("maxUnavailable" in spec):
        out.append(f"{describe(doc)}: set exactly one of minAvailable and maxUnavailable")
    return out


def _secret_problems(doc: Manifest) -> list[str]:
    if not doc.get("data") and not doc.get("stringData"):
        return [f"{describe(doc)}: a Secret needs data or stringData"]
    return []


_KIND_CHECKS: dict[str, Callable[[Manifest], list[str]]] = {
    "CustomResourceDefinition": _crd_problems,
    "ClusterRole": _rules_problems,
    "Role": _rules_problems,
    "ClusterRoleBinding": _binding_problems,
    "RoleBinding": _binding_problems,
    "Deployment": lambda d: _pod_spec_problems(d, "spec.template"),
    "StatefulSet": _statefulset_problems,
    "Service": _service_problems,
    "MutatingWebhookConfiguration": _webhook_problems,
    "NetworkPolicy": lambda d: _need(d, "spec.podSelector", "spec.policyTypes"),
    "PodDisruptionBudget": _pdb_problems,
    "Secret": _secret_problems,
}


def document_problems(doc: Any, *, require_namespace: bool = True) -> list[str]:
    """Return what is wrong with one manifest on its own (empty when it is fine).

    ``require_namespace=False`` for OLM bundles, whose objects OLM puts in the install namespace.
    """
    if not isinstance(doc, Mapping):
        return [f"a manifest must be a mapping, not {type(doc).__name__}"]
    out = _need(doc, "apiVersion", "kind", "metadata.name")
    name = _get(doc, "metadata.name")
    if isinstance(name, str) and not _DNS_SUBDOMAIN.match(name):
        out.append(f"{describe(doc)}: metadata.name {name!r} is not a DNS subdomain")
    namespace = _get(doc, "metadata.namespace")
    if require_namespace and doc.get("kind") in NAMESPACED_KINDS and not namespace:
        out.append(f"{describe(doc)}: a {doc.get('kind')} needs metadata.namespace")
    if namespace is not None and not _DNS_LABEL.match(str(namespace)):
        out.append(f"{describe(doc)}: metadata.namespace {namespace!r} is not a DNS label")
    check = _KIND_CHECKS.get(str(doc.get("kind")))
    return out + (check(doc) if check else [])


def _pods(docs: Sequence[Manifest]) -> list[Manifest]:
    return [d for d in docs if d.get("kind") in {"Deployment", "StatefulSet"}]


def _pods_in(docs: Sequence[Manifest], namespace: str, selector: Any) -> list[Manifest]:
    return [
        d
        for d in _pods(docs)
        if _get(d, "metadata.namespace") == namespace
        and _selector_matches(selector, _get(d, "spec.template.metadata.labels") or {})
    ]


def _container_port_names(pod_owner: Manifest) -> set[Any]:
    names: set[Any] = set()
    for container in _get(pod_owner, "spec.template.spec.containers") or []:
        for port in container.get("ports", []):
            names.update({port.get("name"), port.get("containerPort")})
    return names


def reference_problems(docs: Sequence[Manifest]) -> list[str]:
    """Return the references between ``docs`` that do not resolve.

    ``docs`` is one installable set (a kustomize build, or a bundle's objects).
    """
    out: list[str] = []
    present = {
        (d.get("kind"), _get(d, "metadata.namespace"), _get(d, "metadata.name")) for d in docs
    }
    namespaces = {n for k, _, n in present if k == "Namespace"}
    for doc in docs:
        namespace = _get(doc, "metadata.namespace")
        if namespace and namespaces and namespace not in namespaces:
            out.append(f"{describe(doc)}: namespace {namespace} is not created by this set")
        kind = doc.get("kind")
        if kind in {"ClusterRoleBinding", "RoleBinding"}:
            role = (_get(doc, "roleRef.kind"), None, _get(doc, "roleRef.name"))
            role_ns = (role[0], namespace, role[2])
            if role not in present and role_ns not in present:
                out.append(f"{describe(doc)}: roleRef {role[0]}/{role[2]} is not in this set")
            for subject in doc.get("subjects") or []:
                key = ("ServiceAccount", subject.get("namespace"), subject.get("name"))
                if subject.get("kind") == "ServiceAccount" and key not in present:
                    out.append(f"{describe(doc)}: subject ServiceAccount {key[1]}/{key[2]} missing")
        if kind in {"Deployment", "StatefulSet"}:
            account = _get(doc, "spec.template.spec.serviceAccountName")
            if account and ("ServiceAccount", namespace, account) not in present:
                out.append(f"{describe(doc)}: serviceAccountName {account} is not in this set")
        if kind == "Service":
            owners = _pods_in(docs, namespace, _get(doc, "spec.selector"))
            if not owners:
                out.append(f"{describe(doc)}: selector matches no pods of this set")
            for port in _get(doc, "spec.ports") or []:
                target = port.get("targetPort", port.get("port"))
                if owners and not any(target in _container_port_names(o) for o in owners):
                    out.append(f"{describe(doc)}: targetPort {target} is not a container port")
        if kind in {"NetworkPolicy", "PodDisruptionBudget"}:
            selector_path = "spec.podSelector" if kind == "NetworkPolicy" else "spec.selector"
            if not _pods_in(docs, namespace, _get(doc, selector_path)):
                out.append(f"{describe(doc)}: selector matches no pods of this set")
        if kind == "MutatingWebhookConfiguration":
            out += _webhook_service_problems(doc, docs)
    return out


def _webhook_service_problems(doc: Manifest, docs: Sequence[Manifest]) -> list[str]:
    out: list[str] = []
    for hook in doc.get("webhooks") or []:
        service = _get(hook, "clientConfig.service")
        if not service:
            continue
        matches = [
            d
            for d in docs
            if d.get("kind") == "Service"
            and _get(d, "metadata.name") == service.get("name")
            and _get(d, "metadata.namespace") == service.get("namespace")
        ]
        if not matches:
            out.append(f"{describe(doc)}: webhook {hook.get('name')} names a missing Service")
            continue
        port = service.get("port", 443)
        if not any(p.get("port") == port for p in _get(matches[0], "spec.ports") or []):
            out.append(f"{describe(doc)}: webhook {hook.get('name')} calls port {port}, not served")
    return out


def all_problems(docs: Iterable[Any]) -> list[str]:
    """Return every problem of every document, then of the references between them."""
    listed = list(docs)
    out = [p for doc in listed for p in document_problems(doc)]
    mappings = [d for d in listed if isinstance(d, Mapping)]
    return out + reference_problems(mappings)
