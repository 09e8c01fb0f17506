"""Single-use invitations (only hashes of invite tokens are stored)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Protocol

from storage.records import Invite, LogAppend, NewUser, User

__all__ = ["InviteStore"]


class InviteStore(Protocol):
    """Invite people to a role, and accept an invite by creating the account."""

    async def create_invite(self, invite: Invite, log: Sequence[LogAppend] = ()) -> Invite:
        """Store an invite and append ``log`` (its invite statement) in one unit.
        :class:`NotFound` for an unknown organisation."""
        ...

    async def get_invite(self, token_hash: bytes) -> Invite:
        """:class:`NotFound` if absent."""
        ...

    async def list_invites(self, org_id: str) -> list[Invite]:
        """The organisation's invites, newest first."""
        ...

    async def revoke_invite(self, token_hash: bytes, now: _dt.datetime) -> Invite:
        """Revoke an unused invite (:class:`Conflict` "invite_used" if already used,
        "invite_revoked" if already revoked: of two racing revokes exactly one succeeds)."""
        ...

    async def accept_invite(
        self,
        token_hash: bytes,
        user: NewUser,
        now: _dt.datetime,
        log: Sequence[LogAppend] = (),
    ) -> User:
        """In one transaction: check the invite is unused, unrevoked and unexpired at
        ``now``, create the user with the invite's role membership, mark the invite used and
        append ``log`` (the member's entry) to the transparency log. :class:`NotFound`
        (unknown token), :class:`Conflict` with ``invite_used`` /
        ``invite_expired`` / ``invite_revoked`` / ``duplicate``. Two racing accepts of the
        same token: exactly one succeeds."""
        ...
