"""Which namespaces an integration manages, and which namespaces several integrations claim.

Pure. The rules, in order: a system namespace is never selected (``default``, ``openshift``,
``management-infra``, ``openshift-*``, ``kube-*``: the original operator's built-in exclusions;
OpenShift refuses project requests for the ``openshift-`` and ``kube-`` prefixes, keeping them for
the platform); the deny list always wins; with a non-empty allow list nothing else is selected.
The label selector, when set, must match as well. A namespace chosen by two integrations is a
conflict: it is reported and managed by neither.

System namespaces stay out even when an allow list names them, unlike the original: a finalizer,
robot Secrets and patched service accounts in the cluster's own namespaces would tie the platform's
upgrades and uninstalls to the bridge, and a Build there is not a tenant's. An allow list naming one
is logged (:func:`ignored_in_allowlist`), and a namespace managed before is released, with its Quay
data kept, like any namespace that leaves a selection. The operator's own namespace is never managed
either, whatever the lists say (``never``): its Secrets (the Quay token, the Build decision key)
must not sit next to pull secrets a tenant reads.
"""

from __future__ import annotations

from collections.abc import Mapping

from bridge.model.spec import IntegrationSpec, LabelSelector

SYSTEM_NAMESPACES = frozenset({"default", "openshift", "management-infra"})
SYSTEM_PREFIXES = ("openshift-", "kube-")


#: The rule in words, for log lines and docs.
SYSTEM_RULE = "default, openshift, management-infra, openshift-* and kube-*"


def is_system_namespace(name: str) -> bool:
    """Return whether ``name`` is one of the namespaces the bridge never manages."""
    return name in SYSTEM_NAMESPACES or name.startswith(SYSTEM_PREFIXES)


def ignored_in_allowlist(spec: IntegrationSpec) -> list[str]:
    """Return the system namespaces ``spec``'s allow list names (they are never selected)."""
    return [name for name in spec.allowlist_namespaces if is_system_namespace(name)]


def selector_matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """Return whether ``labels`` satisfy every term of a Kubernetes label selector."""
    for key, wanted in selector.match_labels.items():
        if labels.get(key) != wanted:
            return False
    for requirement in selector.match_expressions:
        present = requirement.key in labels
        value = labels.get(requirement.key)
        if requirement.operator == "In" and value not in requirement.values:
            return False
        if requirement.operator == "NotIn" and present and value in requirement.values:
            return False
        if requirement.operator == "Exists" and not present:
            return False
        if requirement.operator == "DoesNotExist" and present:
            return False
    return True


def selects(spec: IntegrationSpec, namespace: str, labels: Mapping[str, str]) -> bool:
    """Return whether the integration ``spec`` manages ``namespace``."""
    if is_system_namespace(namespace) or namespace in spec.denylist_namespaces:
        return False
    if spec.allowlist_namespaces and namespace not in spec.allowlist_namespaces:
        return False
    if spec.namespace_selector is not None:
        return selector_matches(spec.namespace_selector, labels)
    return True


def claimants(
    specs: Mapping[str, IntegrationSpec],
    namespace: str,
    labels: Mapping[str, str],
    never: frozenset[str] = frozenset(),
) -> list[str]:
    """Return the names of every integration selecting ``namespace``, sorted.

    ``never``: namespaces no integration may manage (the operator's own).
    """
    if namespace in never:
        return []
    return sorted(name for name, spec in specs.items() if selects(spec, namespace, labels))
