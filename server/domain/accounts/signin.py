"""Sign-in, first step: pre-login and the password (auth key); changing the password.

Rules
-----
* The server never sees a password. It sees the *auth key* (HKDF half of the client's
  PBKDF2 master key, ``crypto.password``) and stores an Argon2id hash of it.
* Pre-login answers a KDF-parameters record for every name: the user's own, or
  ``crypto.password.fake_kdf_params`` (deterministic per name) for unknown ones, so the
  answer does not tell who has an account.
* The password step opens a *pending* session (``sessions``) that the second factor
  (``second_factor``, or a passkey: ``passkeys``) replaces by a full one; it answers which
  second factor comes next ("totp", "enrol", "passkey", "passkey_only":
  ``passkey_policy``).
* Every check goes through the throttle (``throttle``): one at a time per name, backoff,
  lockout; unknown names pay one dummy Argon2 verify and get the simulated answers of an
  account. The HTTP layer adds per-address rate limits.
* Changing the password needs the current auth key (throttled like a login); it replaces
  the KDF parameters, the auth-key hash and the KEK-wrapped USK in one storage unit with
  compare-and-set on the old hash, and ends every other session of the user.
"""

from __future__ import annotations

import storage
from crypto.errors import CryptoError
from crypto.password import fake_kdf_params, normalise_login_name, parse_kdf_params
from server.domain.accounts._common import Auditor, AuthKeyHasher
from server.domain.accounts.passkey_policy import PasskeyPolicyService
from server.domain.accounts.sessions import Authenticated, LoginStep, SessionService
from server.domain.accounts.throttle import LoginThrottle
from server.domain.clock import Clock
from server.errors import Conflict, InvalidCredentials, InvalidInput

__all__ = ["SignInService"]


class SignInService:
    def __init__(
        self,
        store: storage.Storage,
        clock: Clock,
        secret: bytes,
        hasher: AuthKeyHasher,
        throttle: LoginThrottle,
        sessions: SessionService,
        passkey_policy: PasskeyPolicyService,
    ) -> None:
        self._store = store
        self._clock = clock
        self._secret = secret
        self._hasher = hasher
        self._throttle = throttle
        self._sessions = sessions
        self._passkey_policy = passkey_policy
        self._audit = Auditor(store, clock)

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

    async def login_password(
        self, login_name: str, auth_key: bytes, *, client: str, user_agent: str = ""
    ) -> LoginStep:
        """Step one: the auth key. Returns a pending session and the second step."""
        try:
            name = normalise_login_name(login_name)
        except ValueError:
            raise InvalidCredentials() from None
        # Keyed on the name (not the user id) so known and unknown names queue alike.
        async with self._throttle.one_attempt("login:" + name):
            user = await self._store.find_user_by_login(name)
            if user is None or user.disabled:
                # Same answers as for an account: backoff and lockout are simulated, and
                # one Argon2 verify is paid, so neither the code nor the timing class
                # tells whether the name exists.
                self._throttle.check_ghost(name, client)
                await self._hasher.verify_dummy(auth_key)
                self._throttle.fail_ghost(name, client)
                await self._audit("login.unknown", actor_id=None, client=client)
                raise InvalidCredentials()
            self._throttle.check_not_locked(user, client)
            if not await self._hasher.verify(user.auth_key_hash, auth_key):
                await self._throttle.fail(user, "login.password_failed", client)
                raise InvalidCredentials()
        if self._hasher.needs_rehash(user.auth_key_hash):
            await self._store.update_auth_key_hash(user.user_id, await self._hasher.hash(auth_key))
        token, session = await self._sessions.create(
            user.user_id, mfa_verified=False, client=client, user_agent=user_agent
        )
        await self._audit("login.password_ok", actor_id=user.user_id, client=client)
        return LoginStep(token, session, await self._passkey_policy.next_step(user))

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
        async with self._throttle.one_attempt("user:" + auth.user.user_id):
            user = await self._store.get_user(auth.user.user_id)
            self._throttle.check_not_locked(user, client)
            if not await self._hasher.verify(user.auth_key_hash, current_auth_key):
                await self._throttle.fail(user, "password.change_failed", client)
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
                auth_key_hash=await self._hasher.hash(auth_key),
                wrapped_usk=wrapped_usk,
                now=self._clock.now(),
                expected_auth_key_hash=user.auth_key_hash,
            )
        except storage.Conflict:
            raise Conflict("the password was changed meanwhile") from None
        await self._sessions.revoke_all(user.user_id, except_token=token)
        await self._audit("password.changed", actor_id=user.user_id, client=client)
        await self._sessions.notify_revoked(user.user_id)
