"""Names the bridge gives Quay and Kubernetes objects, and Quay's rules for them.

Pure functions only. Quay namespaces (organizations, users, robot short names) must match
``^([a-z0-9]+(?:[._-][a-z0-9]+)*)$`` and be 2-255 characters; a Kubernetes namespace such as
``a--b`` is valid in Kubernetes and not in Quay, so the bridge checks before it calls and reports
the name instead of crashing or letting Quay fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

QUAY_NAMESPACE = re.compile(r"^([a-z0-9]+(?:[._-][a-z0-9]+)*)$")
QUAY_REPOSITORY = re.compile(r"^(?=.{0,255}$)[a-z0-9][\.a-z0-9_-]*(?:\/[a-z0-9][\.a-z0-9_-]*)*$")
MAX_QUAY_NAME = 255


class InvalidQuayName(ValueError):
    """A name Quay would reject; the message says which rule it breaks."""


def check_quay_namespace(name: str, what: str = "organization") -> str:
    """Return ``name`` if Quay accepts it as an org/user/robot short name; raise InvalidQuayName."""
    if len(name) < 2 or len(name) > MAX_QUAY_NAME:
        raise InvalidQuayName(f"{what} name {name!r} must be 2 to {MAX_QUAY_NAME} characters long")
    if not QUAY_NAMESPACE.match(name):
        raise InvalidQuayName(
            f"{what} name {name!r} is not valid in Quay: lower-case letters and digits,"
            " separated by single '.', '_' or '-'"
        )
    return name


def organization_name(prefix: str, namespace: str) -> str:
    """Return the org of ``namespace``: ``<prefix>_<namespace>`` lower-cased and checked."""
    name = f"{prefix}_{namespace}".lower()
    return check_quay_namespace(name)


def robot_full_name(org: str, short: str) -> str:
    """Return ``<org>+<short>``; raise InvalidQuayName if the short name or length is wrong."""
    check_quay_namespace(short, "robot")
    full = f"{org}+{short}"
    if len(full) > MAX_QUAY_NAME:
        raise InvalidQuayName(f"robot name {full!r} is longer than {MAX_QUAY_NAME} characters")
    return full


def robot_short_name(service_account: str) -> str:
    """Return the robot short name for a service account (same name; Quay's rules still apply)."""
    return check_quay_namespace(service_account, "robot")


def secret_name(service_account: str, cluster_id: str) -> str:
    """Return the pull Secret name of a service account: ``<sa>-quay-<clusterID>`` (lower-cased)."""
    return f"{service_account}-quay-{cluster_id}".lower()


def repository_name(image_stream: str) -> str:
    """Return the Quay repository of an ImageStream (same name), checked against Quay's rule."""
    if not QUAY_REPOSITORY.match(image_stream):
        raise InvalidQuayName(f"repository name {image_stream!r} is not valid in Quay")
    return image_stream


@dataclass(frozen=True)
class RobotNames:
    """The names one service account's robot and pull Secret carry."""

    service_account: str
    #: the robot's short name in its organization (``robot_short_name``)
    short: str
    #: ``<org>+<short>``, as Quay names the robot in logins and permissions
    full: str
    #: the pull Secret holding the robot's login (``secret_name``)
    secret: str


@dataclass(frozen=True)
class NamespaceNames:
    """Every name a managed namespace's Quay and Kubernetes objects carry, computed once.

    Built by :meth:`of` from the integration's prefix and cluster ID and the namespace, so no
    caller puts a name together on its own; building it checks every name against Quay's rules,
    so a namespace whose names Quay would refuse is found before any call is made.
    """

    namespace: str
    organization: str
    robots: tuple[RobotNames, ...]

    @classmethod
    def of(
        cls, prefix: str, cluster_id: str, namespace: str, service_accounts: Iterable[str]
    ) -> NamespaceNames:
        """The names of ``namespace``; raise InvalidQuayName naming the first rule broken."""
        organization = organization_name(prefix, namespace)
        robots = []
        for account in service_accounts:
            short = robot_short_name(account)
            robots.append(
                RobotNames(
                    service_account=account,
                    short=short,
                    full=robot_full_name(organization, short),
                    secret=secret_name(account, cluster_id),
                )
            )
        return cls(namespace, organization, tuple(robots))

    def robot(self, service_account: str) -> RobotNames:
        """The names of ``service_account``'s robot; KeyError for an account not in the spec."""
        for robot in self.robots:
            if robot.service_account == service_account:
                return robot
        raise KeyError(service_account)

    def by_secret(self, secret: str) -> RobotNames | None:
        """The robot whose pull Secret is called ``secret``; None when no account's is."""
        return next((robot for robot in self.robots if robot.secret == secret), None)
