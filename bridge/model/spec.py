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
                "accepts 2-253 lower-case letters and digits, separated by single '-' or '.'"
                f" (it names both a ServiceAccount and a Quay robot; given: {value[:80]!r})"
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


class QuayClientSettings(_Model):
    """``spec.quayClient``: how hard the bridge may press on Quay (``bridge.quay.client``)."""

    max_concurrency: int = Field(default=16, ge=1, le=256, alias="maxConcurrency")
    timeout_seconds: int = Field(default=30, ge=1, le=600, alias="timeoutSeconds")
    attempts: int = Field(default=4, ge=1, le=10)


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
    quay_resync_period_seconds: int = Field(default=3600, ge=60, alias="quayResyncPeriodSeconds")
    robot_token_rotation_seconds: int = Field(default=0, ge=0, alias="robotTokenRotationSeconds")
    namespace_deletion_deadline_seconds: int = Field(
        default=300, ge=0, alias="namespaceDeletionDeadlineSeconds"
    )
    quay_client: QuayClientSettings = Field(default_factory=QuayClientSettings, alias="quayClient")

    @field_validator("service_accounts")
    @classmethod
    def _unique(cls, value: tuple[ServiceAccountRole, ...]) -> tuple[ServiceAccountRole, ...]:
        names = [account.name for account in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"lists each name once; listed twice: {', '.join(twice)}")
        return value

    @field_validator("quay_hostname")
    @classmethod
    def _url(cls, value: str) -> str:
        if not _URL.match(value):
            raise ValueError(
                f"accepts the URL of Quay with its scheme and host only (an optional port, no"
                f" path), e.g. https://quay.example.com (given: {value[:80]!r})"
            )
        netloc = urlsplit(value).netloc
        host = netloc.rsplit("@", 1)[-1]
        if not host.startswith("[") and host.count(":") > 1:
            raise ValueError(
                "accepts an IPv6 address only in brackets, e.g. https://[fd00::10]:8443"
                f" (given: {value[:80]!r})"
            )
        try:
            _ = urlsplit(value).port
        except ValueError:
            raise ValueError(
                f"accepts a port that is a number from 0 to 65535 (given: {value[:80]!r})"
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


#: What the patterned fields accept, in words (the API server's own message quotes the regex).
_ACCEPTED = {
    "clusterID": "letters and digits, in runs joined by single '.', '_' or '-' (e.g. openshift)",
    "organizationPrefix": "letters and digits, in runs joined by single '.', '_' or '-'",
}


def _where(loc: tuple[int | str, ...]) -> str:
    """``spec.serviceAccounts[0].name`` for pydantic's ``("serviceAccounts", 0, "name")``."""
    path = "spec"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _field(loc: tuple[int | str, ...]) -> str:
    names = [part for part in loc if isinstance(part, str)]
    return names[-1] if names else ""


def _in_words(error: Any) -> str:
    """One pydantic error as a sentence: what the field accepts, never a regex or a class name."""
    kind, ctx, loc = error["type"], error.get("ctx") or {}, tuple(error["loc"])
    given = error.get("input")
    shown = ""
    if isinstance(given, str):
        shown = f" (given: {given[:80]!r})"
    elif isinstance(given, int | float):
        shown = f" (given: {given})"
    if kind == "missing":
        return "is required"
    if kind == "value_error":
        return str(ctx.get("error") or error["msg"]).removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        accepted = _ACCEPTED.get(_field(loc), "a value of the documented form")
        return f"accepts {accepted}{shown}"
    if kind == "string_too_long":
        return f"accepts at most {ctx.get('max_length')} characters{shown}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "literal_error":
        return f"accepts {ctx.get('expected')}{shown}"
    if kind in {"greater_than_equal", "greater_than"}:
        return f"accepts a whole number of at least {ctx.get('ge', ctx.get('gt'))}{shown}"
    if kind in {"int_parsing", "int_type", "int_from_float"}:
        return f"accepts a whole number{shown}"
    if kind in {"bool_parsing", "bool_type"}:
        return f"accepts true or false{shown}"
    if kind == "string_type":
        return f"accepts text{shown}"
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return "accepts an object with named fields"
    if kind in {"list_type", "tuple_type"}:
        return "accepts a list"
    return str(error["msg"]).removeprefix("Value error, ")


def parse_spec(spec: dict[str, Any] | None) -> IntegrationSpec:
    """Validate a CR's ``spec``; raise ValueError with one readable sentence per problem.

    Each sentence names the field (``spec.serviceAccounts[0].name``) and what it accepts, in words:
    this text becomes the ``SpecValid`` condition's message, read by an admin, not a developer.
    """
    try:
        return IntegrationSpec.model_validate(spec or {})
    except ValidationError as exc:
        problems = [f"{_where(tuple(e['loc']))} {_in_words(e)}" for e in exc.errors()]
        raise ValueError("; ".join(problems)) from None
