"""The account side of the memory store (``storage.memory``; tests and development only):
users, credentials, TOTP, lockout, sessions and invites, with the semantics of
``storage.sql`` (see :mod:`storage.interface.accounts`, ``sessions``, ``invites``)."""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Sequence
from typing import Any

from storage._memory_base import op, utc
from storage._memory_transparency import MemoryTransparency
from storage._values import check_bytes, check_id, check_int64, check_text
from storage.errors import Conflict, InvalidArgument, NotFound
from storage.keys import normalise_login
from storage.records import (
    AuthFailureState,
    Invite,
    LogAppend,
    Membership,
    NewUser,
    Role,
    Session,
    User,
)
from storage.transparency import check_appends

__all__ = ["MemoryAccounts"]

_TEXT = 1 << 20  # the longest text value the SQL backends seal


class MemoryAccounts(MemoryTransparency):
    """Account, session and invite stores in memory."""

    def __init__(self) -> None:
        super().__init__()
        self._logins: dict[bytes, str] = {}  # normalised login -> user id
        self._sessions: dict[bytes, Session] = {}
        self._invites: dict[bytes, Invite] = {}

    def _with_memberships(self, user: User, memberships: Sequence[Membership]) -> User:
        ms = set(user.memberships)
        for m in memberships:
            self._org(m.org_id)
            ms.add(Membership(m.org_id, Role(m.role)))
        ordered = sorted(ms, key=lambda m: (m.org_id, m.role.value))
        return dataclasses.replace(user, memberships=tuple(ordered))

    # ------------------------------------------------------------------ accounts

    def _new_user(self, user: NewUser) -> User:
        """Check a new account like the SQL insert does (before anything is stored)."""
        uid = check_id(user.user_id, "user_id")
        for name in (
            "kdf_params",
            "wrapped_usk",
            "encryption_public_key",
            "signing_public_key",
            "sealed_private_keys",
        ):
            check_bytes(getattr(user, name), name)
        if not user.login_name or not isinstance(user.login_name, str):
            raise InvalidArgument("login_name must be a non-empty string")
        for name in ("login_name", "display_name", "auth_key_hash"):
            check_text(getattr(user, name), name, max_bytes=_TEXT)
        created = utc(user.created_at)
        return User(
            uid,
            user.login_name,
            user.display_name,
            user.kdf_params,
            user.auth_key_hash,
            user.wrapped_usk,
            user.encryption_public_key,
            user.signing_public_key,
            user.sealed_private_keys,
            user.recovery_wrapped_usk,
            user.org_wrapped_usk,
            (),
            None,
            False,
            None,
            (),
            0,
            None,
            False,
            created,
            created,
        )

    def _insert_user(self, user: User, memberships: Sequence[Membership]) -> User:
        login = normalise_login(user.login_name)
        if user.user_id in self._users or login in self._logins:
            raise Conflict("duplicate")
        user = self._with_memberships(user, memberships)
        self._users[user.user_id] = user
        self._logins[login] = user.user_id
        return user

    @op
    async def create_user(
        self,
        user: NewUser,
        memberships: Sequence[Membership] = (),
        log: Sequence[LogAppend] = (),
    ) -> User:
        entries = check_appends(log)
        created = self._insert_user(self._new_user(user), list(memberships))
        self._append_log_now(entries)
        return created

    @op
    async def get_user(self, user_id: str) -> User:
        return self._user(user_id)

    @op
    async def find_user_by_login(self, login_name: str) -> User | None:
        if not isinstance(login_name, str) or not login_name:
            return None
        uid = self._logins.get(normalise_login(login_name))
        return None if uid is None else self._users[uid]

    def _update(self, user: User, **changes: Any) -> User:
        user = dataclasses.replace(user, **changes)
        self._users[user.user_id] = user
        return user

    @op
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
        check_id(user_id, "user_id")
        check_bytes(kdf_params, "kdf_params")
        check_text(auth_key_hash, "auth_hash", max_bytes=_TEXT)
        check_bytes(wrapped_usk, "wrapped_usk")
        when = utc(now)
        user = self._user(user_id)
        if expected_auth_key_hash is not None and user.auth_key_hash != expected_auth_key_hash:
            raise Conflict("state_changed")
        return self._update(
            user,
            kdf_params=kdf_params,
            auth_key_hash=auth_key_hash,
            wrapped_usk=wrapped_usk,
            updated_at=when,
        )

    @op
    async def update_auth_key_hash(self, user_id: str, auth_key_hash: str) -> None:
        check_id(user_id, "user_id")
        check_text(auth_key_hash, "auth_hash", max_bytes=_TEXT)
        self._update(self._user(user_id), auth_key_hash=auth_key_hash)

    @op
    async def begin_totp_enrolment(self, user_id: str, secret: bytes, now: _dt.datetime) -> User:
        check_id(user_id, "user_id")
        check_bytes(secret, "secret")
        return self._update(
            self._user(user_id),
            totp_secret=secret,
            totp_confirmed=False,
            totp_last_timecode=None,
            recovery_code_hashes=(),
            updated_at=utc(now),
        )

    @staticmethod
    def _codes(codes: Sequence[str]) -> tuple[str, ...]:
        if not all(isinstance(c, str) and c for c in codes):
            raise InvalidArgument("recovery code hashes must be non-empty strings")
        return tuple(codes)

    @staticmethod
    def _newer(user: User, timecode: int) -> bool:
        return user.totp_last_timecode is None or user.totp_last_timecode < timecode

    @op
    async def confirm_totp(
        self,
        user_id: str,
        timecode: int,
        recovery_code_hashes: Sequence[str],
        now: _dt.datetime,
    ) -> User:
        check_id(user_id, "user_id")
        check_int64(timecode, "timecode")
        codes = self._codes(recovery_code_hashes)
        when = utc(now)
        user = self._user(user_id)
        if user.totp_secret is None:
            raise Conflict("state_changed")
        if not self._newer(user, timecode):
            raise Conflict("totp_replay")
        return self._update(
            user,
            totp_confirmed=True,
            totp_last_timecode=timecode,
            recovery_code_hashes=codes,
            updated_at=when,
        )

    @op
    async def use_totp_timecode(self, user_id: str, timecode: int, now: _dt.datetime) -> User:
        check_id(user_id, "user_id")
        check_int64(timecode, "timecode")
        when = utc(now)
        user = self._user(user_id)
        if not self._newer(user, timecode):
            raise Conflict("totp_replay")
        return self._update(user, totp_last_timecode=timecode, updated_at=when)

    @op
    async def consume_recovery_code(self, user_id: str, code_hash: str, now: _dt.datetime) -> User:
        check_id(user_id, "user_id")
        when = utc(now)
        user = self._user(user_id)
        if code_hash not in user.recovery_code_hashes:
            raise NotFound("recovery_code")
        rest = tuple(c for c in user.recovery_code_hashes if c != code_hash)
        return self._update(user, recovery_code_hashes=rest, updated_at=when)

    @op
    async def reset_totp(self, user_id: str, now: _dt.datetime) -> User:
        when = utc(now)
        return self._update(
            self._user(user_id),
            totp_secret=None,
            totp_confirmed=False,
            totp_last_timecode=None,
            recovery_code_hashes=(),
            updated_at=when,
        )

    @op
    async def record_auth_failure(
        self,
        user_id: str,
        now: _dt.datetime,
        *,
        lock_after: int,
        lock_for: _dt.timedelta,
    ) -> AuthFailureState:
        check_id(user_id, "user_id")
        check_int64(lock_after, "lock_after", minimum=1)
        if not isinstance(lock_for, _dt.timedelta):
            raise InvalidArgument("lock_for must be a timedelta")
        until = utc(now + lock_for)
        user = self._user(user_id)
        count = user.failed_logins + 1
        locked = until if count >= lock_after else user.locked_until
        self._update(user, failed_logins=count, locked_until=locked)
        return AuthFailureState(count, locked)

    @op
    async def reset_auth_failures(self, user_id: str) -> None:
        self._update(self._user(user_id), failed_logins=0, locked_until=None)

    # ------------------------------------------------------------------ sessions

    @op
    async def create_session(self, session: Session) -> Session:
        sh = check_bytes(session.session_id_hash, "session_id_hash")
        if not 16 <= len(sh) <= 64:
            raise InvalidArgument("session_id_hash must be 16..64 bytes")
        stored = Session(
            sh,
            check_id(session.user_id, "user_id"),
            utc(session.created_at),
            utc(session.last_seen_at),
            utc(session.expires_at),
            check_text(session.client_address, "address", max_bytes=_TEXT),
            check_text(session.user_agent, "user_agent", max_bytes=_TEXT),
            bool(session.mfa_verified),
            None if session.revoked_at is None else utc(session.revoked_at),
        )
        self._user(stored.user_id)
        if sh in self._sessions:
            raise Conflict("duplicate")
        self._sessions[sh] = stored
        return stored

    @op
    async def get_session(self, session_id_hash: bytes) -> Session | None:
        return self._sessions.get(check_bytes(session_id_hash, "session_id_hash"))

    @op
    async def touch_session(
        self,
        session_id_hash: bytes,
        now: _dt.datetime,
        *,
        expires_at: _dt.datetime | None = None,
        mfa_verified: bool | None = None,
    ) -> Session:
        sh = check_bytes(session_id_hash, "session_id_hash")
        changes: dict[str, Any] = {"last_seen_at": utc(now)}
        if expires_at is not None:
            changes["expires_at"] = utc(expires_at)
        if mfa_verified is not None:
            changes["mfa_verified"] = bool(mfa_verified)
        current = self._sessions.get(sh)
        if current is None or current.revoked_at is not None:
            raise NotFound("session")
        self._sessions[sh] = dataclasses.replace(current, **changes)
        return self._sessions[sh]

    @op
    async def list_sessions(self, user_id: str, *, include_revoked: bool = False) -> list[Session]:
        check_id(user_id, "user_id")
        mine = [
            s
            for s in self._sessions.values()
            if s.user_id == user_id and (include_revoked or s.revoked_at is None)
        ]
        mine.sort(key=lambda s: s.session_id_hash)
        mine.sort(key=lambda s: s.created_at, reverse=True)
        return mine

    @op
    async def revoke_session(self, session_id_hash: bytes, now: _dt.datetime) -> None:
        sh = check_bytes(session_id_hash, "session_id_hash")
        when = utc(now)
        current = self._sessions.get(sh)
        if current is None:
            raise NotFound("session")
        if current.revoked_at is None:
            self._sessions[sh] = dataclasses.replace(current, revoked_at=when)

    @op
    async def revoke_user_sessions(
        self, user_id: str, now: _dt.datetime, *, except_hash: bytes | None = None
    ) -> int:
        check_id(user_id, "user_id")
        keep = b"" if except_hash is None else check_bytes(except_hash, "except_hash")
        when = utc(now)
        live = [
            s
            for s in self._sessions.values()
            if s.user_id == user_id and s.revoked_at is None and s.session_id_hash != keep
        ]
        for s in live:
            self._sessions[s.session_id_hash] = dataclasses.replace(s, revoked_at=when)
        return len(live)

    # ------------------------------------------------------------------ invites

    @op
    async def create_invite(self, invite: Invite, log: Sequence[LogAppend] = ()) -> Invite:
        th = check_bytes(invite.token_hash, "token_hash")
        if not 16 <= len(th) <= 64:
            raise InvalidArgument("token_hash must be 16..64 bytes")
        org = check_id(invite.org_id, "org_id")
        if invite.login_name is not None:
            check_text(invite.login_name, "login", max_bytes=_TEXT)
        stored = Invite(
            th,
            org,
            Role(invite.role),
            None if invite.created_by is None else check_id(invite.created_by, "created_by"),
            utc(invite.created_at),
            utc(invite.expires_at),
            invite.login_name,
            statement=None if invite.statement is None else check_bytes(invite.statement, "st"),
            handover=None if invite.handover is None else check_bytes(invite.handover, "ho"),
        )
        entries = check_appends(log)
        self._org(org)
        if th in self._invites:
            raise Conflict("duplicate")
        self._invites[th] = stored
        self._append_log_now(entries)
        return stored

    def _invite(self, token_hash: bytes) -> Invite:
        invite = self._invites.get(check_bytes(token_hash, "token_hash"))
        if invite is None:
            raise NotFound("invite")
        return invite

    @op
    async def get_invite(self, token_hash: bytes) -> Invite:
        return self._invite(token_hash)

    @op
    async def list_invites(self, org_id: str) -> list[Invite]:
        check_id(org_id, "org_id")
        out = sorted((i for i in self._invites.values() if i.org_id == org_id), key=_token)
        out.sort(key=lambda i: i.created_at, reverse=True)
        return out

    @op
    async def revoke_invite(self, token_hash: bytes, now: _dt.datetime) -> Invite:
        check_bytes(token_hash, "token_hash")
        when = utc(now)
        invite = self._invite(token_hash)
        if invite.used_at is not None:
            raise Conflict("invite_used")
        if invite.revoked_at is not None:
            raise Conflict("invite_revoked")
        self._invites[invite.token_hash] = dataclasses.replace(invite, revoked_at=when)
        return self._invites[invite.token_hash]

    @op
    async def accept_invite(
        self,
        token_hash: bytes,
        user: NewUser,
        now: _dt.datetime,
        log: Sequence[LogAppend] = (),
    ) -> User:
        check_bytes(token_hash, "token_hash")
        entries = check_appends(log)
        new = self._new_user(user)
        when = utc(now)
        invite = self._invite(token_hash)
        if invite.used_at is not None:
            raise Conflict("invite_used")
        if invite.revoked_at is not None:
            raise Conflict("invite_revoked")
        if when >= invite.expires_at:
            raise Conflict("invite_expired")
        created = self._insert_user(new, [Membership(invite.org_id, invite.role)])
        self._invites[invite.token_hash] = dataclasses.replace(
            invite, used_at=when, used_by=created.user_id
        )
        self._append_log_now(entries)
        return created


def _token(invite: Invite) -> bytes:
    return invite.token_hash
