"""Which Quay organizations the bridge made, and for which namespace: the owner marker.

The bridge must never write into, hand out or delete an organization it did not make for the
namespace at hand: not one an admin made by hand under the same Quay user, and not one it made for
an earlier namespace of the same name (``organizationDeletionPolicy: Retain`` keeps it). So the
robots it creates in an organization carry a marker in their description naming the namespace and
its UID (:func:`robot_description`): the pull-secret robots it makes anyway for a new organization,
so the marker costs no Quay call of its own. The marker lives in Quay itself, so it survives
operator restarts, a lost or restored API server and a second cluster view; it is read from the
robot listing the bridge makes anyway (descriptions are in the listing; ``unstructured_metadata``
is not, on real Quay).

A robot :data:`OWNER_ROBOT` whose description names the namespace and UID
(:func:`owner_description`) is the marker where no pull-secret robot can carry it: an organization
adopted or recognised from before the marker (its robots' descriptions cannot be changed in Quay
without deleting them, which would drop their permissions), or an integration with no service
accounts. It has no permissions and no prototype; its token is never used; it takes precedence over
the robots' markers. ``quaybridge_owner`` can never be a service account's robot: ServiceAccount
names have no ``_``.

Organizations made before the marker existed (upgrades) are recognised by what the bridge made in
them (:func:`judge`, ``LEGACY``) and marked. Anything else is adopted only when an admin says so
with the namespace annotation ``vocabulary.ADOPT_ANNOTATION`` set to the organization's name (a
Namespace's annotations can be changed by cluster admins, not by a project's admin). Pure: no I/O.
"""

from __future__ import annotations

import datetime
import email.utils
import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from vocabulary import ADOPT_ANNOTATION

OWNER_ROBOT: Final = "quaybridge_owner"
#: What the bridge wrote on its robots before the owner marker existed.
ROBOT_DESCRIPTION: Final = "quay-bridge: pull secret of service account {sa} in namespace {ns}"
#: Quay stores at most this many characters of a robot's description.
DESCRIPTION_LIMIT: Final = 255
_OWNER = re.compile(
    r"^quay-bridge: owner of this organization for namespace (?P<ns>[a-z0-9.-]+) "
    r"\(uid (?P<uid>[0-9A-Za-z-]+)\)"
)
_ROBOT_OWNER = re.compile(
    r"^quay-bridge: pull secret for namespace (?P<ns>[a-z0-9.-]+) \(uid (?P<uid>[0-9A-Za-z-]+)\)"
    r" of service account "
)


def robot_description(service_account: str, namespace: str, uid: str) -> str:
    """A pull-secret robot's description, carrying the owner marker first.

    The marker (namespace and UID) comes before the service account's name, so cutting the text
    to Quay's limit for a very long service account name never cuts the marker.
    """
    text = (
        f"quay-bridge: pull secret for namespace {namespace} (uid {uid}) "
        f"of service account {service_account}"
    )
    return text[:DESCRIPTION_LIMIT]


def owner_description(namespace: str, uid: str) -> str:
    """The marker robot's description (well below Quay's 255 characters)."""
    return (
        f"quay-bridge: owner of this organization for namespace {namespace} (uid {uid}); "
        "no permissions, do not delete"
    )


@dataclass(frozen=True)
class Claim:
    """What the namespace says about itself, as the API server has it now.

    Attributes:
        namespace: its name.
        uid: its ``metadata.uid`` (a re-created namespace has a new one).
        created: its ``creationTimestamp``, when known.
        finalized: whether it carries the bridge's finalizer (the bridge managed it before).
        adopt: the value of :data:`ADOPT_ANNOTATION`, empty when absent.
    """

    namespace: str
    uid: str
    created: datetime.datetime | None
    finalized: bool
    adopt: str = ""


class Verdict(enum.Enum):
    """Whether the bridge may use an existing organization for a namespace."""

    OWNED = "owned"  # its marker names this namespace's UID
    ADOPT = "adopt"  # not ours (or another namespace's), but an admin asked to adopt it
    LEGACY = "legacy"  # made by the bridge for this namespace before the marker existed
    FOREIGN = "foreign"  # made by the bridge for an earlier namespace of the same name
    UNKNOWN = "unknown"  # not made by the bridge


@dataclass(frozen=True)
class Ownership:
    """The verdict and, for an organization the bridge may not use, why (for Events)."""

    verdict: Verdict
    reason: str

    @property
    def usable(self) -> bool:
        """Whether the bridge may write into the organization (and, by policy, delete it)."""
        return self.verdict in (Verdict.OWNED, Verdict.ADOPT, Verdict.LEGACY)

    @property
    def needs_marker(self) -> bool:
        """Whether the owner marker must be (re)written for this namespace."""
        return self.verdict in (Verdict.ADOPT, Verdict.LEGACY)


def owner_of(robots: Iterable[Mapping[str, Any]], organization: str) -> tuple[str, str] | None:
    """Return ``(namespace, uid)`` from the organization's owner marker, if it has one.

    The :data:`OWNER_ROBOT` marker wins; without it, the markers the pull-secret robots carry,
    which must all name the same namespace and UID (``("", "")`` when they disagree).
    """
    robots = list(robots)
    full = f"{organization}+{OWNER_ROBOT}"
    for robot in robots:
        if robot.get("name") == full:
            match = _OWNER.match(str(robot.get("description") or ""))
            return (match["ns"], match["uid"]) if match else ("", "")
    owners: set[tuple[str, str]] = set()
    for robot in robots:
        org, _, short = str(robot.get("name") or "").partition("+")
        match = _ROBOT_OWNER.match(str(robot.get("description") or ""))
        if org == organization and short and match:
            owners.add((match["ns"], match["uid"]))
    if not owners:
        return None
    return owners.pop() if len(owners) == 1 else ("", "")


def _made_for(robot: Mapping[str, Any], organization: str, namespace: str) -> bool:
    """Whether ``robot`` is a pull-secret robot the bridge made for ``namespace``."""
    org, _, short = str(robot.get("name") or "").partition("+")
    expected = ROBOT_DESCRIPTION.format(sa=short, ns=namespace)
    return org == organization and bool(short) and robot.get("description") == expected


def _created(robot: Mapping[str, Any]) -> datetime.datetime | None:
    text = robot.get("created")
    if not isinstance(text, str) or not text:
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=datetime.UTC)


def judge(organization: str, robots: Iterable[Mapping[str, Any]], claim: Claim) -> Ownership:
    """Decide whether ``organization`` (which exists) may serve the namespace of ``claim``.

    Order: the owner marker naming this namespace's UID (owned, even while an adoption annotation
    is still there, so adopting happens once); the admin's explicit adoption; a marker naming
    another namespace or UID (foreign);
    then, with no marker, the pre-marker rule: the namespace already carries the bridge's
    finalizer, and every robot of the organization is a pull-secret robot the bridge makes for this
    namespace (its exact description), created after the namespace was (so not for a namespace of
    the same name that was deleted with its organization retained). A robot someone added by hand
    makes the rule fail: the admin then adopts explicitly.
    """
    robots = list(robots)
    adopt_hint = (
        f"; to hand it to this namespace, a cluster admin annotates the namespace with "
        f"{ADOPT_ANNOTATION}={organization}"
    )
    owner = owner_of(robots, organization)
    if owner == (claim.namespace, claim.uid):
        return Ownership(Verdict.OWNED, "the owner marker names this namespace")
    if claim.adopt == organization:
        return Ownership(Verdict.ADOPT, f"adopted by annotation {ADOPT_ANNOTATION}")
    if owner is not None:
        namespace, uid = owner
        return Ownership(
            Verdict.FOREIGN,
            f"Quay organization {organization} belongs to an earlier namespace {namespace or '?'} "
            f"(uid {uid or '?'}), not to this one (uid {claim.uid}): it was kept by "
            f"organizationDeletionPolicy Retain or made for another cluster, and its images are "
            f"not handed over{adopt_hint}",
        )
    ours = bool(robots) and all(_made_for(robot, organization, claim.namespace) for robot in robots)
    if ours and claim.finalized and claim.created is not None:
        times = [_created(robot) for robot in robots]
        if all(t is not None and t >= claim.created.replace(microsecond=0) for t in times):
            return Ownership(Verdict.LEGACY, "made by quay-bridge for this namespace (no marker)")
    return Ownership(
        Verdict.UNKNOWN,
        f"Quay organization {organization} exists but quay-bridge did not create it for this "
        f"namespace; it is left untouched (never written nor deleted){adopt_hint}",
    )


def claim_of(body: Mapping[str, Any], finalizer: str) -> Claim:
    """Read a Namespace's :class:`Claim` from its body."""
    meta = body.get("metadata") or {}
    created: datetime.datetime | None = None
    stamp = meta.get("creationTimestamp")
    if isinstance(stamp, str):
        try:
            created = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            created = None
    annotations = meta.get("annotations") or {}
    adopt = annotations.get(ADOPT_ANNOTATION) if isinstance(annotations, Mapping) else None
    return Claim(
        namespace=str(meta.get("name") or ""),
        uid=str(meta.get("uid") or ""),
        created=created,
        finalized=finalizer in (meta.get("finalizers") or []),
        adopt=adopt.strip() if isinstance(adopt, str) else "",
    )
