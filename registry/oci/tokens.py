"""Registry bearer tokens: the claims Quay puts in them and the checks the data endpoints make.

Pure. `/v2/auth` builds claims with `issue_claims` (iss `quay`, aud = the `service` the client sent,
nbf = iat, exp = iat + 3600, `access` in the order asked, Quay's `context` block); the data
endpoints turn a verified token back into a `TokenAccess` with `check_claims`, which enforces Quay's
validator: aud equals the server hostname, the issuer matches, the lifetime is at most 3660 s, and
the token is within its validity window.

Beyond Quay, every token minted for a caller names the credential it was minted for (the private
`credential` claim, see `account_credential` and `oauth_credential`); the data endpoints compare it
with the live credential on every request, so a deleted or regenerated robot, a deleted user or
org, or a revoked OAuth token stops working at once rather than when the token expires.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from registry.oci.scopes import Scope

ISSUER = "quay"
LIFETIME_SECONDS = 3600
MAX_LIFETIME_SECONDS = 3660
CLOCK_SKEW_SECONDS = 30
ANONYMOUS = "(anonymous)"
CREDENTIAL_CLAIM = "credential"
"""The private claim binding a token to the credential that obtained it (not a Quay claim)."""

EntityKind = Literal["robot", "user", "oauthtoken", "anonymous"]

# Which token action satisfies which need: Quay maps push to write and * to admin, and a read
# permission is satisfied by any of read, write, admin.
_IMPLIED: dict[str, frozenset[str]] = {
    "pull": frozenset({"pull", "push", "*"}),
    "push": frozenset({"push", "*"}),
    "*": frozenset({"*"}),
}


class ClaimsError(ValueError):
    """Claims that fail Quay's validator (wrong audience or issuer, expired, too long-lived)."""


@dataclass(frozen=True)
class Identity:
    """Who asked for a token, as the `sub` and `context` claims describe them."""

    kind: EntityKind
    username: str | None = None
    """Robot full name (`org+short`) or user name; None for anonymous."""
    reference: str | None = None
    """The OAuth token's id for `oauthtoken`; the username otherwise."""

    @property
    def subject(self) -> str:
        """The `sub` claim."""
        return self.username or ANONYMOUS


ANONYMOUS_IDENTITY = Identity("anonymous")


@dataclass(frozen=True)
class Grant:
    """One `access` entry: the repository as requested and the actions granted (maybe none)."""

    name: str
    actions: tuple[str, ...]


def _context(identity: Identity, grants: Iterable[Grant]) -> dict[str, Any]:
    roots = {grant.name: "$disabled" for grant in grants}
    apostille = {"com.apostille.roots": roots, "com.apostille.root": "$disabled"}
    if identity.kind == "anonymous" or identity.username is None:
        return apostille
    context: dict[str, Any] = {"version": 2, "entity_kind": identity.kind}
    if identity.kind == "oauthtoken":
        reference = identity.reference or identity.username
        context |= {"entity_reference": reference, "kind": "oauth", "oauth": reference}
    else:
        context |= {"entity_reference": identity.reference or identity.username, "kind": "user"}
    context["user"] = identity.username
    return context | apostille


def account_credential(account_id: int, account_uuid: str, secret_hash: str | None) -> str:
    """The `credential` claim of a token obtained with an account's own secret.

    The account's row id tells a re-created robot or user of the same name from the old one; the
    digest covers the account's uuid (rotated when a robot's token is regenerated) and its password
    hash (changed with the password), so either change makes older tokens dead. Only a digest is
    put in the token: its claims are readable by whoever holds it.
    """
    material = f"{account_uuid}\0{secret_hash or ''}".encode()
    return f"account:{account_id}:{hashlib.sha256(material).hexdigest()[:32]}"


def oauth_credential(token_uuid: str) -> str:
    """The `credential` claim of a token obtained with an OAuth access token (`$oauthtoken`)."""
    return f"oauth:{token_uuid}"


def issue_claims(
    identity: Identity,
    service: str,
    grants: list[Grant],
    now: int,
    credential: str | None = None,
) -> dict[str, Any]:
    """The claims of a token for `identity`, in Quay's key order, then `credential` if given."""
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": service,
        "nbf": now,
        "iat": now,
        "exp": now + LIFETIME_SECONDS,
        "sub": identity.subject,
        "access": [
            {"type": "repository", "name": grant.name, "actions": list(grant.actions)}
            for grant in grants
        ],
        "context": _context(identity, grants),
    }
    if credential is not None:
        claims[CREDENTIAL_CLAIM] = credential
    return claims


@dataclass(frozen=True)
class TokenAccess:
    """What a verified token lets its bearer do."""

    subject: str
    actions: dict[str, frozenset[str]]
    """Repository name → granted actions."""
    credential: str | None = None
    """The credential the token was minted for; None for an anonymous token."""

    def allows(self, repository: str, need: str) -> bool:
        """Whether the token grants `need` (`pull`, `push` or `*`) on `repository`."""
        return bool(self.actions.get(repository, frozenset()) & _IMPLIED[need])


def _int_claim(claims: dict[str, Any], name: str) -> int:
    value = claims.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ClaimsError(f"claim {name} missing or not an integer")
    return value


def check_claims(claims: dict[str, Any], audience: str, now: int) -> TokenAccess:
    """Validate signed `claims` for this registry and return the access they grant.

    Raises:
        ClaimsError: any of Quay's validator checks fails, or `access` is malformed.
    """
    if claims.get("aud") != audience:
        raise ClaimsError("token audience is not this registry")
    if claims.get("iss") != ISSUER:
        raise ClaimsError("token issuer is not this registry")
    iat, exp = _int_claim(claims, "iat"), _int_claim(claims, "exp")
    nbf = claims.get("nbf", iat)
    if exp - iat > MAX_LIFETIME_SECONDS:
        raise ClaimsError("token lifetime is too long")
    if not isinstance(nbf, int) or now + CLOCK_SKEW_SECONDS < nbf or now >= exp:
        raise ClaimsError("token is expired or not yet valid")
    access = claims.get("access", [])
    if not isinstance(access, list):
        raise ClaimsError("access claim is not a list")
    actions: dict[str, frozenset[str]] = {}
    for entry in access:
        if not isinstance(entry, dict) or entry.get("type") != "repository":
            continue
        name, granted = entry.get("name"), entry.get("actions")
        if not isinstance(name, str) or not isinstance(granted, list):
            raise ClaimsError("access entry is malformed")
        actions[name] = actions.get(name, frozenset()) | frozenset(str(a) for a in granted)
    subject = claims.get("sub")
    credential = claims.get(CREDENTIAL_CLAIM)
    if credential is not None and not isinstance(credential, str):
        raise ClaimsError("credential claim is not a string")
    return TokenAccess(subject if isinstance(subject, str) else ANONYMOUS, actions, credential)


def grant_actions(
    scope: Scope,
    *,
    role: str | None,
    is_public: bool,
    exists: bool,
    can_create: bool,
) -> Grant:
    """Downscope `scope` to what Quay would grant; never an error.

    Quay's rules: `docs/reference/quay.md#registry-token-auth`.

    Args:
        scope: the requested repository and actions.
        role: the caller's effective role on the repository (`read`, `write`, `admin`) or None.
        is_public: whether the repository is public.
        exists: whether the repository exists.
        can_create: whether the caller may create repositories in the namespace (org admin or a
            team with the `creator` role); robots with only prototype permissions may not.
    """
    granted: list[str] = []
    for action in scope.actions:
        if action == "pull":
            allowed = (exists and (role is not None or is_public)) or (not exists and can_create)
        elif action == "push":
            allowed = (role in ("write", "admin")) if exists else can_create
        else:
            allowed = role == "admin" if exists else can_create
        if allowed:
            granted.append(action)
    return Grant(str(scope.name), tuple(granted))
