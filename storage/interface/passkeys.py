"""Passkeys (WebAuthn credentials): the credentials of each user, the single-use challenges
of the ceremonies, and the organisations' requirements (``docs/architecture.md``,
"Passkeys"; ``docs/storage.md``)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Protocol

from storage.records import Passkey, PasskeyChallenge, PasskeyRequirement, Role

__all__ = ["PasskeyStore"]


class PasskeyStore(Protocol):
    """Credentials, challenges and requirements. Storage checks shapes and makes the races
    impossible; the WebAuthn verification is the server domain's."""

    async def add_passkey(self, passkey: Passkey) -> Passkey:
        """Store a new credential. :class:`Conflict` "duplicate" if the passkey id or the
        credential id is taken (by anyone); :class:`NotFound` for an unknown user."""
        ...

    async def find_passkey(self, credential_id: bytes) -> Passkey:
        """The credential with this id; :class:`NotFound` "passkey" if none."""
        ...

    async def list_passkeys(self, user_id: str) -> list[Passkey]:
        """The user's credentials, oldest first (empty for an unknown user)."""
        ...

    async def use_passkey(
        self,
        passkey_id: str,
        *,
        expected_sign_count: int,
        sign_count: int,
        backed_up: bool,
        now: _dt.datetime,
    ) -> Passkey:
        """Compare-and-set after a verified assertion: store the new signature counter, the
        backup flag and ``last_used_at`` only if the stored counter is still
        ``expected_sign_count``, so two racing assertions cannot both pass the counter
        check. :class:`Conflict` "state_changed" otherwise; :class:`NotFound`."""
        ...

    async def rename_passkey(self, passkey_id: str, name: str) -> Passkey:
        """:class:`NotFound` if absent."""
        ...

    async def set_passkey_prf_wrap(self, passkey_id: str, prf_wrap: bytes | None) -> Passkey:
        """Store (or, with None, drop) the USK wrap of the passkey. :class:`NotFound`."""
        ...

    async def delete_passkey(self, passkey_id: str) -> None:
        """Remove the credential and its wrap in one unit. :class:`NotFound` if absent."""
        ...

    async def delete_user_passkeys(self, user_id: str) -> int:
        """Remove every credential (and wrap) of the user; how many there were."""
        ...

    async def put_passkey_challenge(self, challenge: PasskeyChallenge) -> None:
        """Store a challenge (and drop every one expired at its ``created_at``).
        :class:`Conflict` "duplicate" if its hash is stored already."""
        ...

    async def get_passkey_challenge(self, challenge_hash: bytes) -> PasskeyChallenge:
        """Read without using it (enrolment grants). :class:`NotFound` "passkey_challenge"."""
        ...

    async def take_passkey_challenge(self, challenge_hash: bytes) -> PasskeyChallenge:
        """Remove and return the challenge, expired or not (the caller checks the expiry):
        each works once, even for racing callers. :class:`NotFound` "passkey_challenge"."""
        ...

    async def set_passkey_requirement(
        self, org_id: str, role: Role | None, *, created_by: str | None, now: _dt.datetime
    ) -> PasskeyRequirement:
        """Require passkeys of the organisation's members in ``role`` (None: everyone);
        idempotent (an existing requirement is returned as it is). :class:`NotFound` for an
        unknown organisation."""
        ...

    async def clear_passkey_requirement(self, org_id: str, role: Role | None) -> None:
        """Drop the requirement (idempotent)."""
        ...

    async def list_passkey_requirements(self, org_ids: Sequence[str]) -> list[PasskeyRequirement]:
        """The requirements of these organisations, by organisation then role."""
        ...
