"""Sign-in, second step: TOTP enrolment and verification, recovery codes.

Rules
-----
* Both steps act on the *pending* session the password step opened (``signin``); a full
  session answers ``conflict``. Success replaces the pending session by a fresh full one
  (new id: no session fixation) and resets the throttle's failure counter.
* An account without a confirmed TOTP must enrol before it gets a full session: a new
  secret (otpauth URI and QR SVG), confirmed by a code, which also issues the ten
  single-use recovery codes (shown once, stored as keyed hashes; ``totp``).
* A TOTP code works once: its RFC 6238 time step must be newer than the last one used,
  stored with compare-and-set (``Storage.use_totp_timecode``), so not even two racing
  requests can use one code. A recovery code is removed as it is used.
* Every check goes through the throttle (``throttle``) under the account's lock, and every
  failure counts towards backoff and lockout like a wrong password.
* Passkeys (``passkeys``, ``passkey_policy``): under an organisation's passkey requirement
  the TOTP code of a person who has a passkey is refused (``passkey_required``, not counted
  as a failure: nothing was checked); a recovery code is still accepted. A person under a
  requirement without a passkey passes this step as before and is then asked to register
  one (``passkey_enrol``) before the session becomes a full one.
"""

from __future__ import annotations

import storage
from server.domain import totp as totp_rules
from server.domain.accounts._common import Auditor
from server.domain.accounts.passkey_policy import PasskeyPolicyService
from server.domain.accounts.sessions import LoginStep, SessionService
from server.domain.accounts.throttle import LoginThrottle
from server.domain.clock import Clock
from server.errors import AuthError, Conflict, InvalidTotp, MfaRequired, PasskeyRequired

__all__ = ["SecondFactorService"]


class SecondFactorService:
    def __init__(
        self,
        store: storage.Storage,
        clock: Clock,
        secret: bytes,
        throttle: LoginThrottle,
        sessions: SessionService,
        passkey_policy: PasskeyPolicyService,
    ) -> None:
        self._store = store
        self._clock = clock
        self._secret = secret
        self._throttle = throttle
        self._sessions = sessions
        self._passkey_policy = passkey_policy
        self._audit = Auditor(store, clock)

    async def pending_user(self, token: str) -> tuple[storage.Session, storage.User]:
        """The pending session behind ``token`` and its (enabled) user."""
        return await self._pending(token)

    async def _pending(self, token: str) -> tuple[storage.Session, storage.User]:
        """The pending (password-verified) session behind ``token``."""
        session = await self._sessions.live(token)
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
        async with self._throttle.one_attempt("user:" + user.user_id):
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
        async with self._throttle.one_attempt("user:" + user.user_id):
            # Re-read under the lock: a failure counted by a parallel attempt counts here.
            session, user = await self._pending(token)
            self._throttle.check_not_locked(user, client)
            if user.totp_confirmed or user.totp_secret is None:
                raise Conflict("start the enrolment first")
            try:
                step = totp_rules.matching_timecode(user.totp_secret, code, self._clock.now())
            except InvalidTotp:
                await self._throttle.fail(user, "totp.enrol_failed", client)
                raise
            codes = totp_rules.generate_recovery_codes()
            hashes = [totp_rules.hash_recovery_code(self._secret, c) for c in codes]
            try:
                await self._store.confirm_totp(user.user_id, step, hashes, self._clock.now())
            except storage.Conflict:
                raise InvalidTotp() from None
            await self._audit("totp.enrolled", actor_id=user.user_id, client=client)
            login = await self.complete(token, session, user, client, user_agent)
            return login, codes

    async def verify(
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
        async with self._throttle.one_attempt("user:" + user.user_id):
            # Re-read under the lock: a failure counted by a parallel attempt counts here,
            # and a pending session already promoted by a parallel success is gone.
            session, user = await self._pending(token)
            await self._check(session, user, code, recovery_code, client)
            return await self.complete(token, session, user, client, user_agent)

    async def _check(
        self,
        session: storage.Session,
        user: storage.User,
        code: str | None,
        recovery_code: str | None,
        client: str,
    ) -> None:
        self._throttle.check_not_locked(user, client)
        if not user.totp_confirmed or user.totp_secret is None:
            raise MfaRequired("set up two-factor authentication first")
        if recovery_code is None and await self._passkey_policy.next_step(user) == "passkey_only":
            raise PasskeyRequired()
        now = self._clock.now()
        if recovery_code is not None:
            code_hash = totp_rules.hash_recovery_code(self._secret, recovery_code)
            try:
                await self._store.consume_recovery_code(user.user_id, code_hash, now)
            except storage.NotFound:
                await self._throttle.fail(user, "login.recovery_failed", client)
                raise InvalidTotp() from None
            await self._audit("login.recovery_code_used", actor_id=user.user_id, client=client)
        else:
            try:
                step = totp_rules.matching_timecode(user.totp_secret, code or "", now)
                # Compare-and-set: a step not newer than the last one used is a replay.
                await self._store.use_totp_timecode(user.user_id, step, now)
            except (InvalidTotp, storage.Conflict):
                await self._throttle.fail(user, "login.totp_failed", client)
                raise InvalidTotp() from None

    async def complete(
        self,
        token: str,
        pending: storage.Session,
        user: storage.User,
        client: str,
        user_agent: str,
        *,
        by_passkey: bool = False,
    ) -> LoginStep:
        """The second factor passed: replace the pending session by a full one, unless the
        person is under a passkey requirement without a passkey and this was not a passkey
        (then the pending session stays, granted one passkey registration: ``passkey_enrol``).
        """
        failed = await self._throttle.succeeded(user, client)
        if (
            not by_passkey
            and await self._passkey_policy.required_for(user)
            and not await self._store.list_passkeys(user.user_id)
        ):
            await self._passkey_policy.grant_enrolment(pending, user)
            await self._audit("login.passkey_enrol_required", actor_id=user.user_id, client=client)
            return LoginStep(token, pending, "passkey_enrol", failed)
        await self._sessions.end(pending)
        token, session = await self._sessions.create(
            user.user_id, mfa_verified=True, client=client, user_agent=user_agent
        )
        await self._audit("login.ok", actor_id=user.user_id, client=client)
        return LoginStep(token, session, "done", failed)
