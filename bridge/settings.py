"""Pydantic models of the QuayIntegration spec, with the defaults of the CRD.

The CRD in ``crds/quayintegration.yaml`` validates what the API server accepts; these models are
what the controller works with, so they repeat the defaults (an object written before a default
existed, or through a server that does not apply defaults, still gets them) and add the checks the
controller relies on. Field names follow the CR (camelCase aliases); attributes are snake_case.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Role = Literal["read", "write", "admin"]

_ID = r"^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$"
_URL = re.compile(r"^https?://[^/\s]+/?$")


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class SecretKeyRef(_Model):
    """Where the Quay OAuth token lives: a key of a Secret."""

    name: str = Field(min_length=1)
    namespace: str = Field(min_length=1)
    key: str = "token"


class CABundleRef(_Model):
    """A Secret or ConfigMap key holding the PEM CA bundle that verifies Quay's certificate."""

    kind: Literal["Secret", "ConfigMap"]
    name: str = Field(min_length=1)
    namespace: str = Field(min_length=1)
    key: str = "ca.crt"


#: A name that is both a ServiceAccount name (DNS-1123 subdomain) and a Quay robot short name
#: (``[a-z0-9]+`` runs joined by single separators, at least two characters): the CRD's pattern.
SERVICE_ACCOUNT_NAME = re.compile(r"^(?=.{2,253}$)[a-z0-9]+([.-][a-z0-9]+)*$")


class ServiceAccountRole(_Model):
    """One service account that gets a robot, a pull secret, and the robot's role on the org."""

    name: str = Field(min_length=1)
    role: Role

    @field_validator("name")
    @classmethod
    def _robot_name(cls, value: str) -> str:
        if not SERVICE_ACCOUNT_NAME.match(value):
            raise ValueError(
                f"{value[:80]!r} cannot name both a ServiceAccount and a Quay robot: 2-253"
                " lower-case letters and digits, separated by single '-' or '.'"
            )
        return value


class LabelRequirement(_Model):
    """One ``matchExpressions`` entry of a label selector."""

    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: tuple[str, ...] = ()


class LabelSelector(_Model):
    """A Kubernetes label selector (all of its terms must hold)."""

    match_labels: dict[str, str] = Field(default_factory=dict, alias="matchLabels")
    match_expressions: tuple[LabelRequirement, ...] = Field(default=(), alias="matchExpressions")


DEFAULT_SERVICE_ACCOUNTS = (
    ServiceAccountRole(name="builder", role="write"),
    ServiceAccountRole(name="default", role="read"),
    ServiceAccountRole(name="deployer", role="read"),
)


class IntegrationSpec(_Model):
    """``spec`` of a QuayIntegration; see docs/architecture.md for every field's meaning."""

    cluster_id: str = Field(default="openshift", alias="clusterID", pattern=_ID, max_length=63)
    credentials_secret: SecretKeyRef = Field(alias="credentialsSecret")
    quay_hostname: str = Field(alias="quayHostname")
    organization_prefix: str | None = Field(
        default=None, alias="organizationPrefix", pattern=_ID, max_length=63
    )
    insecure_registry: bool = Field(default=False, alias="insecureRegistry")
    scheduled_image_stream_import: bool = Field(default=False, alias="scheduledImageStreamImport")
    allowlist_namespaces: tuple[str, ...] = Field(default=(), alias="allowlistNamespaces")
    denylist_namespaces: tuple[str, ...] = Field(default=(), alias="denylistNamespaces")
    namespace_selector: LabelSelector | None = Field(default=None, alias="namespaceSelector")
    ca_bundle: CABundleRef | None = Field(default=None, alias="caBundle")
    service_accounts: tuple[ServiceAccountRole, ...] = Field(
        default=DEFAULT_SERVICE_ACCOUNTS, alias="serviceAccounts"
    )
    organization_deletion_policy: Literal["Delete", "Retain"] = Field(
        default="Delete", alias="organizationDeletionPolicy"
    )
    repository_deletion_policy: Literal["Retain", "Delete"] = Field(
        default="Retain", alias="repositoryDeletionPolicy"
    )
    resync_period_seconds: int = Field(default=600, ge=30, alias="resyncPeriodSeconds")
    robot_token_rotation_seconds: int = Field(default=0, ge=0, alias="robotTokenRotationSeconds")
    namespace_deletion_deadline_seconds: int = Field(
        default=300, ge=0, alias="namespaceDeletionDeadlineSeconds"
    )

    @field_validator("service_accounts")
    @classmethod
    def _unique(cls, value: tuple[ServiceAccountRole, ...]) -> tuple[ServiceAccountRole, ...]:
        names = [account.name for account in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"service account names must be unique; listed twice: {twice}")
        return value

    @field_validator("quay_hostname")
    @classmethod
    def _url(cls, value: str) -> str:
        if not _URL.match(value):
            raise ValueError(
                "quayHostname must be a URL with scheme and host only, e.g. https://quay.example.com"
            )
        netloc = urlsplit(value).netloc
        host = netloc.rsplit("@", 1)[-1]
        if not host.startswith("[") and host.count(":") > 1:
            raise ValueError(
                f"quayHostname {value}: an IPv6 address must be in brackets, "
                "e.g. https://[fd00::10]:8443"
            )
        try:
            _ = urlsplit(value).port
        except ValueError:
            raise ValueError(
                f"quayHostname {value}: the port is not a number from 0 to 65535"
            ) from None
        return value

    @property
    def base_url(self) -> str:
        """Quay's URL without a trailing slash."""
        return self.quay_hostname.rstrip("/")

    @property
    def registry_host(self) -> str:
        """``host[:port]`` of Quay, as used in image references and dockerconfigjson keys."""
        return urlsplit(self.quay_hostname).netloc

    @property
    def prefix(self) -> str:
        """The organization prefix: ``organizationPrefix`` or else ``clusterID``, lower-cased."""
        return (self.organization_prefix or self.cluster_id).lower()


def parse_spec(spec: dict[str, Any] | None) -> IntegrationSpec:
    """Validate a CR's ``spec``; raise ValueError with one readable line per problem."""
    try:
        return IntegrationSpec.model_validate(spec or {})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "spec"
            problems.append(f"spec.{where}: {error['msg']}")
        raise ValueError("; ".join(problems)) from None
