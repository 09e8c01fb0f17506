"""Sessions: create, authenticate, logout, revoke, list.

Rules
-----
* The cookie holds 32 random bytes (base64url); storage holds their SHA-256, never the
  token (``hash_token``).
* A session is *pending* (``mfa_verified`` false, ``mfa_pending_ttl``) between the password
  step and the second factor, and *full* after it (``session_ttl``). Only a full session
  authenticates a request; a pending one answers ``mfa_required``.
* A session ends at its absolute expiry, after ``session_idle_timeout`` without use, on
  logout or revoke. ``last_seen_at`` is refreshed at most once a minute, so a busy client
  does not turn every read into a durable write.
* Whoever ends sessions tells the listener given at construction (the real-time layer),
  with the user id, so live sockets of those sessions close at once instead of at their
  next periodic re-check.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import storage
from server.domain.accounts._common import AccountSettings, Auditor, actor_of, hash_token
from server.domain.clock import Clock
from server.domain.policy import Actor
from server.errors import AuthError, MfaRequired, NotFound

__all__ = ["Authenticated", "LoginStep", "SessionService"]


@dataclass(frozen=True)
class LoginStep:
    """The result of a login step: a session token for the cookie and what comes next."""

    token: str
    session: storage.Session
    #: "totp" | "enrol" | "passkey" | "passkey_only" | "passkey_enrol" | "done"
    #: (``passkey_policy`` has the table)
    next: str
    #: with a completed second step: failed attempts on the account since the previous
    #: sign-in (``throttle``), shown to the person
    failed_attempts: int | None = None


@dataclass(frozen=True)
class Authenticated:
    session: storage.Session
    user: storage.User
    actor: Actor


class SessionService:
    def __init__(
        self,
        store: storage.Storage,
        settings: AccountSettings,
        clock: Clock,
        on_sessions_revoked: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._audit = Auditor(store, clock)
        self._on_revoked = on_sessions_revoked

    async def create(
        self, user_id: str, *, mfa_verified: bool, client: str, user_agent: str
    ) -> tuple[str, storage.Session]:
        """A new session; returns the token (for the cookie, never stored) and the record."""
        token = secrets.token_urlsafe(32)
        now = self._clock.now()
        ttl = self._settings.session_ttl if mfa_verified else self._settings.mfa_pending_ttl
        session = await self._store.create_session(
            storage.Session(
                session_id_hash=hash_token(token),
                user_id=user_id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + dt.timedelta(seconds=ttl),
                client_address=client,
                user_agent=user_agent[:200],
                mfa_verified=mfa_verified,
            )
        )
        return token, session

    async def live(self, token: str) -> storage.Session:
        """The unexpired, unrevoked session behind ``token`` (pending or full); AuthError
        otherwise, also for a full session idle for ``session_idle_timeout``."""
        session = await self._store.get_session(hash_token(token))
        now = self._clock.now()
        if session is None or session.revoked_at is not None or session.expires_at <= now:
            raise AuthError()
        idle = dt.timedelta(seconds=self._settings.session_idle_timeout)
        if session.mfa_verified and session.last_seen_at + idle <= now:
            raise AuthError()
        return session

    async def authenticate(self, token: str | None, *, touch: bool = True) -> Authenticated:
        """The full (two-factor) session behind a cookie; AuthError / MfaRequired otherwise.

        ``touch=False`` checks without counting as use (the real-time layer's periodic
        re-check of listening sockets must not keep an unattended session alive past its
        idle timeout).
        """
        if not token:
            raise AuthError()
        session = await self.live(token)
        if not session.mfa_verified:
            raise MfaRequired()
        user = await self._store.get_user(session.user_id)
        if user.disabled:
            raise AuthError()
        now = self._clock.now()
        if touch and (now - session.last_seen_at).total_seconds() >= 60:
            try:
                session = await self._store.touch_session(session.session_id_hash, now)
            except storage.NotFound:
                raise AuthError() from None
        return Authenticated(session, user, actor_of(user))

    async def end(self, session: storage.Session) -> None:
        """Revoke one session (a pending one replaced by a full one: no notice, no audit)."""
        await self._store.revoke_session(session.session_id_hash, self._clock.now())

    async def revoke_all(self, user_id: str, *, except_token: str | None = None) -> int:
        """Revoke every session of a user but ``except_token``'s; the caller audits and then
        calls :meth:`notify_revoked`."""
        except_hash = None if except_token is None else hash_token(except_token)
        return await self._store.revoke_user_sessions(
            user_id, self._clock.now(), except_hash=except_hash
        )

    async def notify_revoked(self, user_id: str) -> None:
        if self._on_revoked is not None:
            await self._on_revoked(user_id)

    async def logout(self, token: str, client: str | None) -> None:
        session = await self._store.get_session(hash_token(token))
        if session is None or session.revoked_at is not None:
            return
        await self._store.revoke_session(session.session_id_hash, self._clock.now())
        await self._audit("logout", actor_id=session.user_id, client=client)
        await self.notify_revoked(session.user_id)

    async def list_sessions(self, user_id: str) -> list[storage.Session]:
        """The user's sessions that have not expired (revoked ones included, marked)."""
        now = self._clock.now()
        return [s for s in await self._store.list_sessions(user_id) if s.expires_at > now]

    async def revoke_own_session(
        self, auth: Authenticated, session_ref: str, client: str | None
    ) -> None:
        """Revoke one of the caller's sessions, named by the hex of its hash."""
        for s in await self._store.list_sessions(auth.user.user_id):
            if s.session_id_hash.hex() == session_ref:
                await self._store.revoke_session(s.session_id_hash, self._clock.now())
                await self._audit(
                    "session.revoke",
                    actor_id=auth.user.user_id,
                    target=auth.user.user_id,
                    client=client,
                )
                await self.notify_revoked(auth.user.user_id)
                return
        raise NotFound()
