"""Which namespaces an integration manages, and which namespaces several integrations claim.

Pure. The rules, in order: the deny list always wins; a namespace on the allow list is selected even
if it is a system namespace; with a non-empty allow list nothing else is selected; otherwise every
namespace but the built-in system ones (``default``, ``openshift``, ``management-infra``,
``openshift-*``, ``kube-*``, as the original operator). The label selector, when set, must match as
well. A namespace chosen by two integrations is a conflict: it is reported and managed by neither.
The operator's own namespace is never managed, whatever the lists say (``never``): its Secrets
(the Quay token, the Build decision key) must not sit next to pull secrets a tenant reads.
"""

from __future__ import annotations

from collections.abc import Mapping

from bridge.settings import IntegrationSpec, LabelSelector

SYSTEM_NAMESPACES = frozenset({"default", "openshift", "management-infra"})
SYSTEM_PREFIXES = ("openshift-", "kube-")


def is_system_namespace(name: str) -> bool:
    """Return whether ``name`` is one of the built-in exclusions."""
    return name in SYSTEM_NAMESPACES or name.startswith(SYSTEM_PREFIXES)


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
    if namespace in spec.denylist_namespaces:
        return False
    if spec.allowlist_namespaces:
        if namespace not in spec.allowlist_namespaces:
            return False
    elif is_system_namespace(namespace):
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
