"""The catalogue of served resource types: built-in ones and those added by CRDs.

Discovery, URL parsing, the store and the watch code all ask this catalogue what a resource is
(its kind, scope, verbs, subresources), so adding a type in one place serves it everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
CREATE_ONLY = ("create",)


@dataclass(frozen=True)
class ResourceType:
    """One served resource (``group``/``version``/``plural``) and what it allows."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    from_crd: bool = False
    #: the CRD version's ``openAPIV3Schema`` (None: nothing is pruned, defaulted or validated)
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    #: the CRD version's ``additionalPrinterColumns``
    printer_columns: tuple[dict[str, Any], ...] = field(default=(), compare=False, hash=False)

    @property
    def api_version(self) -> str:
        """Return ``group/version`` (or ``version`` for the core group)."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        """Return the lower-cased kind, as discovery lists it."""
        return self.kind.lower()

    @property
    def key(self) -> tuple[str, str]:
        """Return the version-independent (group, plural) the store indexes by."""
        return (self.group, self.plural)

    @property
    def has_status(self) -> bool:
        """Return whether ``/status`` is a separate subresource (main writes then ignore status)."""
        return "status" in self.subresources


def _t(
    group: str, version: str, plural: str, kind: str, namespaced: bool, **kw: Any
) -> ResourceType:
    return ResourceType(group, version, plural, kind, namespaced, **kw)


#: The types every simulator serves; OpenShift kinds as the OpenShift API server serves them.
BUILTIN: tuple[ResourceType, ...] = (
    _t(
        "",
        "v1",
        "namespaces",
        "Namespace",
        False,
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        subresources=("status", "finalize"),
        short_names=("ns",),
    ),
    _t("", "v1", "serviceaccounts", "ServiceAccount", True, short_names=("sa",)),
    _t("", "v1", "secrets", "Secret", True),
    _t("", "v1", "configmaps", "ConfigMap", True, short_names=("cm",)),
    _t("", "v1", "events", "Event", True, short_names=("ev",)),
    _t("", "v1", "services", "Service", True, short_names=("svc",)),
    _t("", "v1", "pods", "Pod", True, subresources=("status",), short_names=("po",)),
    _t(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        True,
        subresources=("status",),
        short_names=("deploy",),
    ),
    _t(
        "",
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        True,
        subresources=("status",),
        short_names=("pvc",),
    ),
    _t(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        True,
        subresources=("status",),
        short_names=("sts",),
    ),
    _t(
        "networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, short_names=("netpol",)
    ),
    _t(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        True,
        subresources=("status",),
        short_names=("pdb",),
    ),
    _t("coordination.k8s.io", "v1", "leases", "Lease", True),
    _t("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    _t(
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "SubjectAccessReview",
        False,
        verbs=CREATE_ONLY,
    ),
    _t("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    _t("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _t("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _t(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        False,
    ),
    _t(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        False,
    ),
    _t(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        subresources=("status",),
        short_names=("crd", "crds"),
    ),
    _t(
        "quay.redhat.com",
        "v1",
        "quayintegrations",
        "QuayIntegration",
        False,
        subresources=("status",),
        short_names=("qi",),
        # a custom resource on a real cluster (its CRD is in crds/); served before it is applied
        from_crd=True,
    ),
    _t(
        "image.openshift.io",
        "v1",
        "imagestreams",
        "ImageStream",
        True,
        subresources=("status",),
        short_names=("is",),
    ),
    _t(
        "image.openshift.io",
        "v1",
        "imagestreamimports",
        "ImageStreamImport",
        True,
        verbs=CREATE_ONLY,
    ),
    _t(
        "image.openshift.io",
        "v1",
        "imagestreamtags",
        "ImageStreamTag",
        True,
        verbs=("get", "list"),
        short_names=("istag",),
    ),
    _t("image.openshift.io", "v1", "images", "Image", False),
    _t("build.openshift.io", "v1", "builds", "Build", True, subresources=("details",)),
    _t(
        "build.openshift.io",
        "v1",
        "buildconfigs",
        "BuildConfig",
        True,
        subresources=("instantiate",),
        short_names=("bc",),
    ),
    _t("project.openshift.io", "v1", "projectrequests", "ProjectRequest", False, verbs=CREATE_ONLY),
    _t(
        "project.openshift.io",
        "v1",
        "projects",
        "Project",
        False,
        verbs=("get", "list", "delete"),
    ),
    _t("template.openshift.io", "v1", "templates", "Template", True),
    _t("template.openshift.io", "v1", "processedtemplates", "Template", True, verbs=CREATE_ONLY),
    _t("route.openshift.io", "v1", "routes", "Route", True, subresources=("status",)),
    _t(
        "apps.openshift.io",
        "v1",
        "deploymentconfigs",
        "DeploymentConfig",
        True,
        subresources=("status",),
        short_names=("dc",),
    ),
)


@dataclass
class Catalogue:
    """The served types, looked up by (group, version, plural) and by (group, plural)."""

    by_gvr: dict[tuple[str, str, str], ResourceType] = field(default_factory=dict)

    @classmethod
    def builtin(cls) -> Catalogue:
        """Return a catalogue of the built-in types."""
        cat = cls()
        for rt in BUILTIN:
            cat.add(rt)
        return cat

    def add(self, rt: ResourceType) -> None:
        """Serve ``rt`` (replacing a type with the same group, version and plural)."""
        self.by_gvr[(rt.group, rt.version, rt.plural)] = rt

    def remove_crd(self, group: str, plural: str) -> None:
        """Stop serving every version of a CRD-defined type."""
        for key in [
            k for k, rt in self.by_gvr.items() if rt.from_crd and rt.key == (group, plural)
        ]:
            del self.by_gvr[key]

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        """Return the type served at ``group/version/plural``, if any."""
        return self.by_gvr.get((group, version, plural))

    def for_key(self, group: str, plural: str) -> ResourceType | None:
        """Return one served version of (group, plural), if any."""
        for rt in self.by_gvr.values():
            if rt.group == group and rt.plural == plural:
                return rt
        return None

    def groups(self) -> dict[str, list[str]]:
        """Return every served group (core is ``""``) with its versions, in first-served order."""
        out: dict[str, list[str]] = {}
        for rt in self.by_gvr.values():
            versions = out.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        """Return the types served in one group/version."""
        return [rt for rt in self.by_gvr.values() if rt.group == group and rt.version == version]


def types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """Return the resource types a CustomResourceDefinition serves (one per served version)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subs = tuple(sorted((version.get("subresources") or {}).keys()))
        out.append(
            ResourceType(
                group=str(spec.get("group", "")),
                version=str(version.get("name", "")),
                plural=str(names.get("plural", "")),
                kind=str(names.get("kind", "")),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                subresources=tuple(s for s in subs if s == "status"),
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                from_crd=True,
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
            )
        )
    return out
