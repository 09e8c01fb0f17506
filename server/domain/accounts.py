"""Accounts: invites, pre-login, login with password then TOTP, sessions, 2FA, passwords.

Rules
-----
* Invite-only. An invite token is 32 random bytes (base64url) shown once; storage keeps
  SHA-256 of it. Accepting is one storage transaction (single use, expiry checked there).
* The server never sees a password. It sees the *auth key* (HKDF half of the client's
  PBKDF2 master key, ``crypto.password``) and stores an Argon2id hash of it (argon2-cffi).
* Pre-login answers a KDF-parameters record for every name: the user's own, or
  ``crypto.password.fake_kdf_params`` (deterministic per name) for unknown ones, so the
  answer does not tell who has an account.
* Login is two steps on one *pending* session (``mfa_verified`` false, short expiry): the
  auth key, then a TOTP code or a recovery code. Success replaces the pending session by a
  fresh full one (new id: no session fixation). An account without a confirmed TOTP must
  enrol (otpauth URI + QR SVG, confirmed by a code) before it gets a full session.
* Failures of either step count per account (``Storage.record_auth_failure``): from the
  second failure on, the next attempt must wait 1, 2, 4, ... seconds (backoff, answered
  ``rate_limited``); after ``login_max_failures`` the account locks for ``login_lockout``
  seconds. A locked or backing-off account is refused before any check. Unknown names
  run a dummy Argon2 verify so timing does not reveal them. The HTTP layer adds
  per-address rate limits.
* Sessions: the cookie holds 32 random bytes; storage holds their SHA-256. A session ends
  at its absolute expiry, after ``session_idle_timeout`` without use, on logout or revoke.
* Every security-relevant action is audited (action codes in ``docs/api.md``).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import logging
import secrets
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.hazmat.primitives.asymmetric import ec

import storage
from crypto.errors import CryptoError
from crypto.password import fake_kdf_params, normalise_login_name, parse_kdf_params
from server.domain import totp as totp_rules
from server.domain.clock import Clock
from server.domain.policy import ROLES_BY_KIND, Actor, OrgKind, Role, check_org_role
from server.errors import (
    AuthError,
    Conflict,
    DomainError,
    ErrorCode,
    Forbidden,
    InvalidInput,
    Locked,
    NotFound,
    RateLimited,
)
from server.logs import event

__all__ = [
    "AccountService",
    "AccountSettings",
    "Authenticated",
    "InvalidCredentials",
    "InviteAcceptance",
    "InviteInvalid",
    "InviteStatus",
    "InviteSummary",
    "LoginStep",
    "MfaRequired",
    "hash_token",
]


class InviteInvalid(DomainError):
    code = ErrorCode.INVITE_INVALID
    message = "this invitation is not valid any more"


class InvalidCredentials(DomainError):
    code = ErrorCode.INVALID_CREDENTIALS
    message = "the name or password is not right"


class MfaRequired(DomainError):
    code = ErrorCode.MFA_REQUIRED
    message = "finish signing in with your authenticator code"


@dataclass(frozen=True)
class AccountSettings:
    """The slice of ``server.settings.Settings`` this service needs."""

    session_ttl: int
    session_idle_timeout: int
    invite_ttl: int
    login_max_failures: int
    login_lockout: int
    mfa_pending_ttl: int
    argon2_time_cost: int
    argon2_memory_kib: int


@dataclass(frozen=True)
class InviteAcceptance:
    """What the client sends to accept an invite (all key material opaque to the server)."""

    token: str
    user_id: str  # chosen by the client: its USK and private-key records bind it
    login_name: str
    display_name: str
    kdf_params: bytes
    auth_key: bytes
    wrapped_usk: bytes
    encryption_public_key: bytes
    signing_public_key: bytes
    sealed_private_keys: bytes
    recovery_wrapped_usk: bytes | None = None
    org_wrapped_usk: bytes | None = None


@dataclass(frozen=True)
class LoginStep:
    """The result of a login step: a session token for the cookie and what comes next."""

    token: str
    session: storage.Session
    next: str  # "totp" | "enrol" | "done"


@dataclass(frozen=True)
class Authenticated:
    session: storage.Session
    user: storage.User
    actor: Actor


class InviteStatus(StrEnum):
    PENDING = "pending"
    USED = "used"
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True)
class InviteSummary:
    """An invite as an administrator sees it: an opaque id (the hex of the token's SHA-256,
    never the token) and its status at the moment asked."""

    invite_id: str
    invite: storage.Invite
    status: InviteStatus


def invite_status(invite: storage.Invite, now: dt.datetime) -> InviteStatus:
    """Used wins over revoked (storage never revokes a used invite), then expiry."""
    if invite.used_at is not None:
        return InviteStatus.USED
    if invite.revoked_at is not None:
        return InviteStatus.REVOKED
    if invite.expires_at <= now:
        return InviteStatus.EXPIRED
    return InviteStatus.PENDING


_INVITE_USED = "this invitation has already been used"
_INVITE_REVOKED = "this invitation has already been cancelled"


def hash_token(token: str) -> bytes:
    """SHA-256 of a cookie or invite token (what storage keeps)."""
    return hashlib.sha256(token.encode("ascii", "replace")).digest()


def actor_of(user: storage.User) -> Actor:
    roles: dict[str, set[Role]] = {}
    for m in user.memberships:
        roles.setdefault(m.org_id, set()).add(Role(m.role.value))
    return Actor(user.user_id, {org: frozenset(r) for org, r in roles.items()})


def check_public_key(raw: bytes) -> None:
    """A 65-byte uncompressed P-256 point on the curve (WebCrypto "raw" export)."""
    if len(raw) != 65 or raw[0] != 4:
        raise InvalidInput("a public key must be an uncompressed P-256 point")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        raise InvalidInput("a public key must be an uncompressed P-256 point") from None


class AccountService:
    """Account logic over the storage interface; the clock and the server secret are given."""

    def __init__(
        self,
        store: storage.Storage,
        settings: AccountSettings,
        clock: Clock,
        server_secret: bytes,
        on_sessions_revoked: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        # Told (with the user id) after sessions end, so live sockets of those sessions are
        # closed at once instead of at their next periodic re-check.
        self._on_revoked = on_sessions_revoked
        self._store = store
        self._settings = settings
        self._clock = clock
        self._secret = server_secret
        self._hasher = argon2.PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=1,
        )
        # Per-account "not before" times after failures (see _fail).
        self._backoff: dict[str, dt.datetime] = {}
        # One credential check at a time per login name / account in this process: without
        # it, N parallel guesses all pass the lock check before the first failure is
        # counted, so the lockout would allow N guesses instead of login_max_failures.
        self._attempt_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        # Failure counters for login names without an account, so that backoff and lockout
        # answers (rate_limited, account_locked) do not reveal which names exist.
        self._ghosts: dict[bytes, storage.AuthFailureState] = {}
        # Verified against when the login name is unknown, so both paths cost one Argon2.
        self._dummy_hash = self._hasher.hash(secrets.token_bytes(32))

    # ------------------------------------------------------------------ helpers

    async def audit(
        self,
        action: str,
        *,
        actor_id: str | None,
        target: str | None = None,
        client: str | None = None,
        detail: bytes = b"",
    ) -> None:
        await self._store.append_audit(
            storage.AuditEvent(
                action=action,
                occurred_at=self._clock.now(),
                actor_id=actor_id,
                target=target,
                client_address=client,
                detail=detail,
            )
        )

    async def _hash(self, auth_key: bytes) -> str:
        # Argon2id is deliberately slow: keep it off the event loop.
        return await asyncio.to_thread(self._hasher.hash, auth_key)

    async def _verify(self, stored_hash: str, auth_key: bytes) -> bool:
        def run() -> bool:
            try:
                return bool(self._hasher.verify(stored_hash, auth_key))
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(run)

    # ------------------------------------------------------------------ organisations

    async def create_organisation(
        self,
        kind: OrgKind,
        name: str,
        *,
        records_public_key: bytes | None,
        actor: Actor | None,
        client: str | None,
    ) -> storage.Organisation:
        """Create a practice or service. ``actor`` None: the CLI (a local operator).

        An admin anywhere may create organisations and becomes admin of the new one
        (``docs/architecture.md``: one deployment is one federation of practices and
        services run by the same operator).
        """
        if actor is not None and not any(Role.ADMIN in r for r in actor.memberships.values()):
            raise Forbidden()
        if records_public_key is not None:
            check_public_key(records_public_key)
        name = name.strip()
        if not 1 <= len(name) <= 200:
            raise InvalidInput("an organisation name is 1 to 200 characters")
        org = await self._store.create_organisation(
            storage.Organisation(
                org_id=str(uuid.uuid4()),
                kind=storage.OrgKind(kind.value),
                name=name,
                records_public_key=records_public_key,
                created_at=self._clock.now(),
            )
        )
        if actor is not None:
            await self._store.add_membership(
                actor.user_id, storage.Membership(org.org_id, storage.Role.ADMIN)
            )
        await self.audit(
            "org.create",
            actor_id=actor.user_id if actor else None,
            target=org.org_id,
            client=client,
        )
        return org

    async def set_records_key(
        self, actor: Actor | None, org_id: str, public_key: bytes, client: str | None
    ) -> storage.Organisation:
        """Set the organisation's records public key (records officer or admin)."""
        if actor is not None:
            try:
                check_org_role(actor, org_id, Role.RECORDS_OFFICER)
            except Forbidden:
                check_org_role(actor, org_id, Role.ADMIN)
        check_public_key(public_key)
        try:
            org = await self._store.set_records_public_key(org_id, public_key)
        except storage.NotFound:
            raise NotFound() from None
        await self.audit(
            "org.records_key",
            actor_id=actor.user_id if actor else None,
            target=org_id,
            client=client,
        )
        return org

    # ------------------------------------------------------------------ invites

    async def invite(
        self,
        actor: Actor | None,
        org_id: str,
        role: Role,
        *,
        login_name: str | None = None,
        client: str | None = None,
    ) -> tuple[str, storage.Invite]:
        """Make a single-use invite; returns the token (shown once) and the stored invite."""
        if actor is not None:
            check_org_role(actor, org_id, Role.ADMIN)
        try:
            org = await self._store.get_organisation(org_id)
        except storage.NotFound:
            raise NotFound() from None
        if role not in ROLES_BY_KIND[OrgKind(org.kind.value)]:
            raise InvalidInput("this role does not exist in this kind of organisation")
        if login_name is not None:
            try:
                login_name = normalise_login_name(login_name)
            except ValueError:
                raise InvalidInput("the login name is empty") from None
        token = secrets.token_urlsafe(32)
        now = self._clock.now()
        invite = await self._store.create_invite(
            storage.Invite(
                token_hash=hash_token(token),
                org_id=org_id,
                role=storage.Role(role.value),
                created_by=actor.user_id if actor else None,
                created_at=now,
                expires_at=now + dt.timedelta(seconds=self._settings.invite_ttl),
                login_name=login_name,
            )
        )
        await self.audit(
            "invite.create",
            actor_id=actor.user_id if actor else None,
            target=org_id,
            client=client,
        )
        return token, invite

    async def list_invites(
        self, actor: Actor | None, org_id: str, client: str | None = None
    ) -> list[InviteSummary]:
        """The organisation's invites, newest first, with their status now (admins of it;
        ``actor`` None: the CLI). Another organisation answers NotFound, like a missing one."""
        if actor is not None:
            check_org_role(actor, org_id, Role.ADMIN)
        try:
            await self._store.get_organisation(org_id)
        except (storage.NotFound, storage.InvalidArgument):
            raise NotFound() from None
        now = self._clock.now()
        out = [
            InviteSummary(i.token_hash.hex(), i, invite_status(i, now))
            for i in await self._store.list_invites(org_id)
        ]
        await self.audit(
            "invite.list", actor_id=actor.user_id if actor else None, target=org_id, client=client
        )
        return out

    async def revoke_invite(
        self, actor: Actor | None, org_id: str, invite_ref: str, client: str | None
    ) -> InviteSummary:
        """Cancel an unused invite of ``org_id`` named by its id (``InviteSummary.invite_id``).

        Unknown ids, and invites of another organisation, answer NotFound; a used or already
        cancelled invite answers Conflict. An expired one may still be cancelled."""
        if actor is not None:
            check_org_role(actor, org_id, Role.ADMIN)
        invite = await self._org_invite(org_id, invite_ref)
        if invite.used_at is not None:
            raise Conflict(_INVITE_USED)
        if invite.revoked_at is not None:
            raise Conflict(_INVITE_REVOKED)
        try:
            invite = await self._store.revoke_invite(invite.token_hash, self._clock.now())
        except storage.NotFound:
            raise NotFound() from None
        except storage.Conflict as exc:  # accepted or cancelled meanwhile
            raise Conflict(
                _INVITE_REVOKED if exc.reason == "invite_revoked" else _INVITE_USED
            ) from None
        await self.audit(
            "invite.revoke",
            actor_id=actor.user_id if actor else None,
            target=org_id,
            client=client,
            detail=invite_ref.encode("ascii"),
        )
        return InviteSummary(invite_ref, invite, invite_status(invite, self._clock.now()))

    async def _org_invite(self, org_id: str, invite_ref: str) -> storage.Invite:
        if len(invite_ref) != 64 or any(c not in "0123456789abcdef" for c in invite_ref):
            raise NotFound()
        try:
            invite = await self._store.get_invite(bytes.fromhex(invite_ref))
        except (storage.NotFound, storage.InvalidArgument):
            raise NotFound() from None
        if invite.org_id != org_id:
            raise NotFound()
        return invite

    async def inspect_invite(self, token: str) -> tuple[storage.Invite, storage.Organisation]:
        """An invite that can still be accepted, with its organisation; InviteInvalid else."""
        try:
            invite = await self._store.get_invite(hash_token(token))
        except storage.NotFound:
            raise InviteInvalid() from None
        if invite.used_at or invite.revoked_at or invite.expires_at <= self._clock.now():
            raise InviteInvalid()
        return invite, await self._store.get_organisation(invite.org_id)

    async def accept_invite(self, data: InviteAcceptance, client: str | None) -> storage.User:
        """Create the account the invite allows, storing the client's key material."""
        invite, _org = await self.inspect_invite(data.token)
        try:
            login_name = normalise_login_name(data.login_name)
        except ValueError:
            raise InvalidInput("the login name is empty") from None
        if invite.login_name is not None and invite.login_name != login_name:
            raise InviteInvalid()
        display_name = data.display_name.strip()
        if not 1 <= len(display_name) <= 200 or not 1 <= len(login_name) <= 200:
            raise InvalidInput("names are 1 to 200 characters")
        try:
            parse_kdf_params(data.kdf_params)
        except CryptoError:
            raise InvalidInput("the KDF parameters are not a v1 record") from None
        if len(data.auth_key) != 32:
            raise InvalidInput("the auth key is 32 bytes")
        check_public_key(data.encryption_public_key)
        check_public_key(data.signing_public_key)
        try:
            user_id = str(uuid.UUID(data.user_id))
        except ValueError:
            raise InvalidInput("the user id is a UUID") from None
        now = self._clock.now()
        new_user = storage.NewUser(
            user_id=user_id,
            login_name=login_name,
            display_name=display_name,
            kdf_params=data.kdf_params,
            auth_key_hash=await self._hash(data.auth_key),
            wrapped_usk=data.wrapped_usk,
            encryption_public_key=data.encryption_public_key,
            signing_public_key=data.signing_public_key,
            sealed_private_keys=data.sealed_private_keys,
            created_at=now,
            recovery_wrapped_usk=data.recovery_wrapped_usk,
            org_wrapped_usk=data.org_wrapped_usk,
        )
        try:
            user = await self._store.accept_invite(hash_token(data.token), new_user, now)
        except storage.NotFound:
            raise InviteInvalid() from None
        except storage.Conflict as exc:
            if exc.reason == "duplicate":
                raise Conflict("this login name is taken") from None
            raise InviteInvalid() from None
        await self.audit(
            "invite.accept", actor_id=user.user_id, target=invite.org_id, client=client
        )
        return user

    # ------------------------------------------------------------------ pre-login and login

    async def prelogin(self, login_name: str) -> bytes:
        """The KDF-parameters record for ``login_name``; the same shape whether or not the
        name has an account (``crypto.password.fake_kdf_params``)."""
        try:
            name = normalise_login_name(login_name)
        except ValueError:
            raise InvalidInput("the login name is empty") from None
        user = await self._store.find_user_by_login(name)
        if user is None or user.disabled:
            return fake_kdf_params(self._secret, name)
        return user.kdf_params

    @asynccontextmanager
    async def _one_attempt(self, key: str) -> AsyncIterator[None]:
        """Serialise credential checks on one key (see ``_attempt_locks``)."""
        lock = self._attempt_locks.get(key)
        if lock is None:
            lock = self._attempt_locks[key] = asyncio.Lock()
        async with lock:
            yield

    def _ghost_key(self, name: str) -> bytes:
        return hashlib.sha256(self._secret + b"\x00ghost\x00" + name.encode()).digest()

    def _check_ghost(self, name: str) -> None:
        """The refusal a locked or backing-off account would get, for an unknown name."""
        state = self._ghosts.get(self._ghost_key(name))
        now = self._clock.now()
        if state is not None and state.locked_until is not None and state.locked_until > now:
            raise Locked(retry_after=int((state.locked_until - now).total_seconds()) + 1)
        not_before = self._backoff.get("ghost:" + name)
        if not_before is not None and not_before > now:
            raise RateLimited(retry_after=int((not_before - now).total_seconds()) + 1)

    def _fail_ghost(self, name: str) -> None:
        """Count a failure for an unknown name exactly as ``_fail`` and storage's
        ``record_auth_failure`` count one for a real account."""
        key = self._ghost_key(name)
        now = self._clock.now()
        old = self._ghosts.get(key)
        count = (old.failed_logins if old else 0) + 1
        locked = old.locked_until if old else None
        if count >= self._settings.login_max_failures:
            locked = now + dt.timedelta(seconds=self._settings.login_lockout)
        if len(self._ghosts) > 100_000:
            self._ghosts.clear()
        self._ghosts[key] = storage.AuthFailureState(count, locked)
        if locked is None or locked <= now:
            self._set_backoff("ghost:" + name, count)

    def _set_backoff(self, key: str, failed_logins: int) -> None:
        if failed_logins >= 2:
            # Backoff before the lockout: 1, 2, 4, ... seconds (at most a minute) between
            # attempts on this account, so guessing is slow even below the lock threshold.
            delay = min(2 ** (failed_logins - 2), 60)
            if len(self._backoff) > 100_000:
                self._backoff.clear()
            self._backoff[key] = self._clock.now() + dt.timedelta(seconds=delay)

    async def _check_not_locked(self, user: storage.User) -> None:
        """Refuse before checking anything while locked (database, all processes) or while
        backing off after a failure (this process)."""
        now = self._clock.now()
        if user.locked_until is not None and user.locked_until > now:
            retry = int((user.locked_until - now).total_seconds()) + 1
            raise Locked(retry_after=retry)
        not_before = self._backoff.get(user.user_id)
        if not_before is not None and not_before > now:
            raise RateLimited(retry_after=int((not_before - now).total_seconds()) + 1)

    async def _fail(self, user: storage.User, action: str, client: str | None) -> None:
        state = await self._store.record_auth_failure(
            user.user_id,
            self._clock.now(),
            lock_after=self._settings.login_max_failures,
            lock_for=dt.timedelta(seconds=self._settings.login_lockout),
        )
        await self.audit(action, actor_id=user.user_id, client=client)
        if state.locked_until is not None and state.locked_until > self._clock.now():
            await self.audit("login.locked", actor_id=user.user_id, client=client)
            # Operators must notice a lockout (it may be an attacker keeping a clinician
            # out: docs/architecture.md "Lockout trade-off"); the user id is opaque.
            event("auth.account_locked", level=logging.WARNING, user_id=user.user_id)
        else:
            self._set_backoff(user.user_id, state.failed_logins)

    async def _new_session(
        self, user_id: str, *, mfa_verified: bool, client: str, user_agent: str
    ) -> tuple[str, storage.Session]:
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

    async def login_password(
        self, login_name: str, auth_key: bytes, *, client: str, user_agent: str = ""
    ) -> LoginStep:
        """Step one: the auth key. Returns a pending session and "totp" or "enrol"."""
        try:
            name = normalise_login_name(login_name)
        except ValueError:
            raise InvalidCredentials() from None
        # Keyed on the name (not the user id) so known and unknown names queue alike.
        async with self._one_attempt("login:" + name):
            user = await self._store.find_user_by_login(name)
            if user is None or user.disabled:
                # Same answers as for an account: backoff and lockout are simulated, and
                # one Argon2 verify is paid, so neither the code nor the timing class
                # tells whether the name exists.
                self._check_ghost(name)
                await self._verify(self._dummy_hash, auth_key)
                self._fail_ghost(name)
                await self.audit("login.unknown", actor_id=None, client=client)
                raise InvalidCredentials()
            await self._check_not_locked(user)
            if not await self._verify(user.auth_key_hash, auth_key):
                await self._fail(user, "login.password_failed", client)
                raise InvalidCredentials()
        if self._hasher.check_needs_rehash(user.auth_key_hash):
            await self._store.update_auth_key_hash(user.user_id, await self._hash(auth_key))
        token, session = await self._new_session(
            user.user_id, mfa_verified=False, client=client, user_agent=user_agent
        )
        await self.audit("login.password_ok", actor_id=user.user_id, client=client)
        return LoginStep(token, session, "totp" if user.totp_confirmed else "enrol")

    async def _pending(self, token: str) -> tuple[storage.Session, storage.User]:
        """The pending (password-verified) session behind ``token``."""
        session = await self._live_session(token)
        if session.mfa_verified:
            raise Conflict("this session has already signed in")
        user = await self._store.get_user(session.user_id)
        if user.disabled:
            raise AuthError()
        return session, user

    async def pending_session(self, token: str) -> storage.Session:
        """The pending session behind ``token`` (AuthError, or Conflict for a full one)."""
        session, _user = await self._pending(token)
        return session

    async def begin_enrolment(self, token: str) -> tuple[str, str]:
        """A new unconfirmed TOTP secret: returns the otpauth URI and its QR code (SVG)."""
        _session, user = await self._pending(token)
        # Under the account's lock: a confirmation running in parallel must not be undone
        # by this reset of the secret (storage's begin_totp_enrolment clears "confirmed").
        async with self._one_attempt("user:" + user.user_id):
            _session, user = await self._pending(token)
            if user.totp_confirmed:
                raise Conflict("two-factor authentication is already set up")
            secret = totp_rules.new_totp_secret()
            await self._store.begin_totp_enrolment(user.user_id, secret, self._clock.now())
        uri = totp_rules.provisioning_uri(secret, user.login_name)
        return uri, totp_rules.qr_svg(uri)

    async def confirm_enrolment(
        self, token: str, code: str, *, client: str, user_agent: str = ""
    ) -> tuple[LoginStep, list[str]]:
        """Confirm the TOTP secret with a code; issue recovery codes and a full session."""
        session, user = await self._pending(token)
        async with self._one_attempt("user:" + user.user_id):
            # Re-read under the lock: a failure counted by a parallel attempt counts here.
            session, user = await self._pending(token)
            await self._check_not_locked(user)
            if user.totp_confirmed or user.totp_secret is None:
                raise Conflict("start the enrolment first")
            try:
                step = totp_rules.matching_timecode(user.totp_secret, code, self._clock.now())
            except totp_rules.InvalidTotp:
                await self._fail(user, "totp.enrol_failed", client)
                raise
            codes = totp_rules.generate_recovery_codes()
            hashes = [totp_rules.hash_recovery_code(self._secret, c) for c in codes]
            try:
                await self._store.confirm_totp(user.user_id, step, hashes, self._clock.now())
            except storage.Conflict:
                raise totp_rules.InvalidTotp() from None
            await self.audit("totp.enrolled", actor_id=user.user_id, client=client)
            return await self._promote(session, user, client, user_agent), codes

    async def verify_second_factor(
        self,
        token: str,
        *,
        code: str | None,
        recovery_code: str | None,
        client: str,
        user_agent: str = "",
    ) -> LoginStep:
        """Step two: a TOTP code (once only) or a recovery code (once only)."""
        session, user = await self._pending(token)
        async with self._one_attempt("user:" + user.user_id):
            # Re-read under the lock: a failure counted by a parallel attempt counts here,
            # and a pending session already promoted by a parallel success is gone.
            session, user = await self._pending(token)
            return await self._check_second_factor(
                session, user, code, recovery_code, client, user_agent
            )

    async def _check_second_factor(
        self,
        session: storage.Session,
        user: storage.User,
        code: str | None,
        recovery_code: str | None,
        client: str,
        user_agent: str,
    ) -> LoginStep:
        await self._check_not_locked(user)
        if not user.totp_confirmed or user.totp_secret is None:
            raise MfaRequired("set up two-factor authentication first")
        now = self._clock.now()
        if recovery_code is not None:
            code_hash = totp_rules.hash_recovery_code(self._secret, recovery_code)
            try:
                await self._store.consume_recovery_code(user.user_id, code_hash, now)
            except storage.NotFound:
                await self._fail(user, "login.recovery_failed", client)
                raise totp_rules.InvalidTotp() from None
            await self.audit("login.recovery_code_used", actor_id=user.user_id, client=client)
        else:
            try:
                step = totp_rules.matching_timecode(user.totp_secret, code or "", now)
                # Compare-and-set: a step not newer than the last one used is a replay.
                await self._store.use_totp_timecode(user.user_id, step, now)
            except (totp_rules.InvalidTotp, storage.Conflict):
                await self._fail(user, "login.totp_failed", client)
                raise totp_rules.InvalidTotp() from None
        return await self._promote(session, user, client, user_agent)

    async def _promote(
        self, pending: storage.Session, user: storage.User, client: str, user_agent: str
    ) -> LoginStep:
        await self._store.revoke_session(pending.session_id_hash, self._clock.now())
        await self._store.reset_auth_failures(user.user_id)
        self._backoff.pop(user.user_id, None)
        token, session = await self._new_session(
            user.user_id, mfa_verified=True, client=client, user_agent=user_agent
        )
        await self.audit("login.ok", actor_id=user.user_id, client=client)
        return LoginStep(token, session, "done")

    # ------------------------------------------------------------------ sessions

    async def _live_session(self, token: str) -> storage.Session:
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

        ``last_seen_at`` is refreshed at most once a minute, so a busy client does not turn
        every read into a durable write. ``touch=False`` checks without counting as use
        (the real-time layer's periodic re-check of listening sockets must not keep an
        unattended session alive past its idle timeout).
        """
        if not token:
            raise AuthError()
        session = await self._live_session(token)
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

    async def _revoked(self, user_id: str) -> None:
        if self._on_revoked is not None:
            await self._on_revoked(user_id)

    async def logout(self, token: str, client: str | None) -> None:
        session = await self._store.get_session(hash_token(token))
        if session is None or session.revoked_at is not None:
            return
        await self._store.revoke_session(session.session_id_hash, self._clock.now())
        await self.audit("logout", actor_id=session.user_id, client=client)
        await self._revoked(session.user_id)

    async def list_sessions(self, user_id: str) -> list[storage.Session]:
        now = self._clock.now()
        return [s for s in await self._store.list_sessions(user_id) if s.expires_at > now]

    async def revoke_own_session(
        self, auth: Authenticated, session_ref: str, client: str | None
    ) -> None:
        """Revoke one of the caller's sessions, named by the hex of its hash."""
        for s in await self._store.list_sessions(auth.user.user_id):
            if s.session_id_hash.hex() == session_ref:
                await self._store.revoke_session(s.session_id_hash, self._clock.now())
                await self.audit(
                    "session.revoke",
                    actor_id=auth.user.user_id,
                    target=auth.user.user_id,
                    client=client,
                )
                await self._revoked(auth.user.user_id)
                return
        raise NotFound()

    async def revoke_user_sessions(
        self, actor: Actor | None, user_id: str, client: str | None
    ) -> int:
        """Admin (or CLI) revokes every session of a user of one of their organisations."""
        target = await self._user_in_admins_org(actor, user_id)
        count = await self._store.revoke_user_sessions(target.user_id, self._clock.now())
        await self._revoked(target.user_id)
        await self.audit(
            "session.revoke_all",
            actor_id=actor.user_id if actor else None,
            target=user_id,
            client=client,
        )
        return count

    async def _user_in_admins_org(self, actor: Actor | None, user_id: str) -> storage.User:
        try:
            target = await self._store.get_user(user_id)
        except (storage.NotFound, storage.InvalidArgument):
            raise NotFound() from None
        if actor is None:
            return target
        orgs = {m.org_id for m in target.memberships}
        if not any(Role.ADMIN in actor.roles_in(org) for org in orgs):
            raise NotFound()
        return target

    async def reset_totp(self, actor: Actor | None, user_id: str, client: str | None) -> None:
        """Admin reset of a user's second factor: clears it, revokes sessions, audited."""
        target = await self._user_in_admins_org(actor, user_id)
        now = self._clock.now()
        await self._store.reset_totp(target.user_id, now)
        await self._store.revoke_user_sessions(target.user_id, now)
        await self._revoked(target.user_id)
        await self.audit(
            "totp.reset_by_admin",
            actor_id=actor.user_id if actor else None,
            target=user_id,
            client=client,
        )

    async def list_users(self, actor: Actor | None, org_id: str) -> list[storage.User]:
        if actor is not None:
            check_org_role(actor, org_id, Role.ADMIN)
        return await self._store.list_users(org_id)

    # ------------------------------------------------------------------ password change

    async def change_password(
        self,
        auth: Authenticated,
        *,
        current_auth_key: bytes,
        kdf_params: bytes,
        auth_key: bytes,
        wrapped_usk: bytes,
        token: str,
        client: str | None,
    ) -> None:
        """Replace KDF parameters, auth-key hash and KEK-wrapped USK; revoke other sessions.

        The USK itself does not change (the client re-wraps it under the new KEK), so no
        stored ciphertext needs re-encryption.
        """
        async with self._one_attempt("user:" + auth.user.user_id):
            user = await self._store.get_user(auth.user.user_id)
            await self._check_not_locked(user)
            if not await self._verify(user.auth_key_hash, current_auth_key):
                await self._fail(user, "password.change_failed", client)
                raise InvalidCredentials()
        try:
            parse_kdf_params(kdf_params)
        except CryptoError:
            raise InvalidInput("the KDF parameters are not a v1 record") from None
        if len(auth_key) != 32:
            raise InvalidInput("the auth key is 32 bytes")
        try:
            await self._store.update_credentials(
                user.user_id,
                kdf_params=kdf_params,
                auth_key_hash=await self._hash(auth_key),
                wrapped_usk=wrapped_usk,
                now=self._clock.now(),
                expected_auth_key_hash=user.auth_key_hash,
            )
        except storage.Conflict:
            raise Conflict("the password was changed meanwhile") from None
        await self._store.revoke_user_sessions(
            user.user_id, self._clock.now(), except_hash=hash_token(token)
        )
        await self.audit("password.changed", actor_id=user.user_id, client=client)
        await self._revoked(user.user_id)

    # ------------------------------------------------------------------ first start

    async def needs_first_admin(self) -> bool:
        return await self._store.count_users_with_role(storage.Role.ADMIN) == 0

    async def first_admin_invite(self, org_name: str = "Administration") -> str | None:
        """On a server with no administrator: a fresh admin invite token (else None).

        Uses the first organisation, creating a practice named ``org_name`` if there is
        none; earlier unused setup invites are revoked so only the newest link works.
        """
        if not await self.needs_first_admin():
            return None
        orgs = await self._store.list_organisations()
        if orgs:
            org = orgs[0]
        else:
            org = await self.create_organisation(
                OrgKind.PRACTICE, org_name, records_public_key=None, actor=None, client=None
            )
        now = self._clock.now()
        for old in await self._store.list_invites(org.org_id):
            if old.created_by is None and old.used_at is None and old.revoked_at is None:
                await self._store.revoke_invite(old.token_hash, now)
        token, _invite = await self.invite(None, org.org_id, Role.ADMIN, client=None)
        return token


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
