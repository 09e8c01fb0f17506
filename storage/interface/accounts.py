"""Accounts: users, credentials, the second factor (TOTP, recovery codes), lockout."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Protocol

from storage.records import AuthFailureState, LogAppend, Membership, NewUser, User

__all__ = ["AccountStore"]


class AccountStore(Protocol):
    """One user account and everything that guards it."""

    async def create_user(
        self,
        user: NewUser,
        memberships: Sequence[Membership] = (),
        log: Sequence[LogAppend] = (),
    ) -> User:
        """Store a new account (first-admin setup, tests) and append ``log`` (its entries
        in the transparency log) in the same unit. :class:`Conflict` ("duplicate")
        if the user id or the login name is taken; :class:`NotFound` for an unknown org."""
        ...

    async def get_user(self, user_id: str) -> User:
        """:class:`NotFound` if absent."""
        ...

    async def find_user_by_login(self, login_name: str) -> User | None:
        """Look the user up by login name (through a blind index on SQL: the name itself is
        encrypted at rest). Returns None rather than raising, so that the pre-login path
        can answer the same shape for unknown users."""
        ...

    async def update_credentials(
        self,
        user_id: str,
        *,
        kdf_params: bytes,
        auth_key_hash: str,
        wrapped_usk: bytes,
        now: _dt.datetime,
        expected_auth_key_hash: str | None = None,
    ) -> User:
        """Change password: replace KDF parameters, auth-key hash and the KEK-wrapped USK in
        one transaction. With ``expected_auth_key_hash``, :class:`Conflict`
        ("state_changed") if the stored hash differs (a concurrent change won)."""
        ...

    async def update_auth_key_hash(self, user_id: str, auth_key_hash: str) -> None:
        """Replace only the Argon2id hash (rehash on login after a parameter upgrade)."""
        ...

    async def begin_totp_enrolment(self, user_id: str, secret: bytes, now: _dt.datetime) -> User:
        """Store a new, unconfirmed TOTP secret (replaces an unconfirmed one)."""
        ...

    async def confirm_totp(
        self,
        user_id: str,
        timecode: int,
        recovery_code_hashes: Sequence[str],
        now: _dt.datetime,
    ) -> User:
        """Mark TOTP confirmed, record ``timecode`` as used and store the hashed recovery
        codes, in one transaction. :class:`Conflict` ("totp_replay") if ``timecode`` is not
        newer than the last one used, ("state_changed") if no secret is enrolled."""
        ...

    async def use_totp_timecode(self, user_id: str, timecode: int, now: _dt.datetime) -> User:
        """Compare-and-set the last used TOTP time step: succeeds only if ``timecode`` is
        strictly greater than the stored one, so the same code can never be accepted twice
        (not even by two racing requests). :class:`Conflict` ("totp_replay") otherwise."""
        ...

    async def consume_recovery_code(self, user_id: str, code_hash: str, now: _dt.datetime) -> User:
        """Remove ``code_hash`` from the unused recovery codes (exact match). The server
        hashes recovery codes deterministically (they are high-entropy). :class:`NotFound`
        ("recovery_code") if it is not there, so each code works once."""
        ...

    async def reset_totp(self, user_id: str, now: _dt.datetime) -> User:
        """Admin reset of the second factor: clear secret, timecode and recovery codes.
        (The server writes the audit entry.)"""
        ...

    async def record_auth_failure(
        self,
        user_id: str,
        now: _dt.datetime,
        *,
        lock_after: int,
        lock_for: _dt.timedelta,
    ) -> AuthFailureState:
        """Atomically increment the failure counter; when it reaches ``lock_after`` set
        ``locked_until = now + lock_for``. Returns the new state."""
        ...

    async def reset_auth_failures(self, user_id: str) -> None:
        """Clear the failure counter and any lockout (after a successful login)."""
        ...
