"""Login sessions (only hashes of session ids are stored)."""

from __future__ import annotations

import datetime as _dt
from typing import Protocol

from storage.records import Session

__all__ = ["SessionStore"]


class SessionStore(Protocol):
    """Create, look up, keep alive and revoke sessions."""

    async def create_session(self, session: Session) -> Session:
        """Store a new session. :class:`Conflict` ("duplicate") if the hash exists,
        :class:`NotFound` for an unknown user."""
        ...

    async def get_session(self, session_id_hash: bytes) -> Session | None:
        """The session (revoked or expired ones included: the caller checks), or None."""
        ...

    async def touch_session(
        self,
        session_id_hash: bytes,
        now: _dt.datetime,
        *,
        expires_at: _dt.datetime | None = None,
        mfa_verified: bool | None = None,
    ) -> Session:
        """Update ``last_seen_at`` (and optionally the expiry or the MFA flag).
        :class:`NotFound` if absent or revoked."""
        ...

    async def list_sessions(self, user_id: str, *, include_revoked: bool = False) -> list[Session]:
        """The user's sessions, newest first."""
        ...

    async def revoke_session(self, session_id_hash: bytes, now: _dt.datetime) -> None:
        """Revoke one session (idempotent, keeps the first time; :class:`NotFound` if it
        never existed)."""
        ...

    async def revoke_user_sessions(
        self,
        user_id: str,
        now: _dt.datetime,
        *,
        except_hash: bytes | None = None,
    ) -> int:
        """Revoke every live session of the user (except ``except_hash``); returns how many."""
        ...
