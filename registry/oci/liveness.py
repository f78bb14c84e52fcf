"""Registry tokens die with their credential: the `credential` claim against the live account.

A `/v2` token is signed for an hour, but the credential that obtained it can go sooner: a robot
deleted or its token regenerated, a user deleted, an organization deleted (and perhaps re-created
under the same name, with new robots of the same names), an OAuth token revoked. `/v2/auth` puts
the credential's identity in the token (`credential_of`); every data request checks it again
(`is_live`), which costs one primary-key (or unique-key) lookup on the shared reader connection.
A token without the claim is only accepted when anonymous (it then grants public pulls only).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from registry import access
from registry.oci.tokens import ANONYMOUS, TokenAccess, account_credential, oauth_credential
from registry.store import accounts, oauth


async def credential_of(conn: AsyncConnection, entity: access.Entity) -> str | None:
    """The `credential` claim for a token minted for `entity` now (None if it just vanished)."""
    if entity.token_uuid is not None:
        return oauth_credential(entity.token_uuid)
    state = await accounts.credential_state(conn, entity.account_id)
    if state is None or not state.usable:
        return None
    return account_credential(entity.account_id, state.uuid, state.password_hash)


async def is_live(conn: AsyncConnection, granted: TokenAccess, now: float) -> bool:
    """Whether the credential `granted` was minted for still exists, unchanged, for its subject."""
    credential = granted.credential
    if credential is None:
        return granted.subject == ANONYMOUS
    kind, _, rest = credential.partition(":")
    if kind == "oauth":
        return await oauth.live_token_holder(conn, rest, now) == granted.subject
    if kind != "account":
        return False
    raw_id, _, _digest = rest.partition(":")
    if not raw_id.isdigit() or len(raw_id) > 18:
        return False
    account_id = int(raw_id)
    state = await accounts.credential_state(conn, account_id)
    return (
        state is not None
        and state.usable
        and state.username == granted.subject
        and account_credential(account_id, state.uuid, state.password_hash) == credential
    )
