"""Passkeys (WebAuthn): registering, naming and removing them, the second factor, and
signing in with a discoverable passkey alone.

Rules
-----
* Every ceremony starts with a fresh 32-byte challenge stored server side by its SHA-256
  (``Storage.put_passkey_challenge``), bound to its purpose, the user and the session it
  was issued to (none for a sign-in by passkey alone), valid for
  ``passkey_challenge_ttl`` seconds. An answer names its challenge (in ``clientDataJSON``);
  the challenge is taken (deleted) before anything else is checked, so each works once,
  even for racing requests, whatever the outcome. Unknown or used: ``challenge``; expired:
  ``expired``; issued for another purpose, user or session: ``challenge``.
* The WebAuthn checks (origin among ``webauthn_origins``, relying party id, user presence
  and verification, the signature counter, the signature) are ``_ceremony``'s; every
  refusal is ``passkey_invalid`` with a stable reason (``docs/api.md``).
* Registering needs a full session, or a pending one holding an enrolment grant
  (``passkey_policy``); the grant's registration finishes the sign-in. "none" attestation
  is asked for: Dermline does not restrict authenticator models.
* The second factor: on a pending session, like a TOTP code, under the account's throttle
  lock; every refusal after the challenge is found counts as a failure towards backoff and
  lockout (audited ``login.passkey_failed`` with the reason); a locked account is refused
  before any check. A credential of another user is ``unknown_credential``.
* Sign-in with a passkey alone (no name, no password): the answer's credential names the
  user; then the same lock, lockout and failure counting as above, and the user handle the
  authenticator returns must be that user's. User verification makes the passkey a
  multi-factor authenticator by itself (``docs/architecture.md``, "Passkeys").
* The counter is stored with compare-and-set (``Storage.use_passkey``): two racing
  assertions of one counter value cannot both pass.
* A passkey's USK wrap (record 0x11, docs/protocol.md section 25) is stored as the client
  made it; the server checks its form only. It goes back to a signed-in session of its
  owner, or in the answer to a sign-in by that passkey. Removing a passkey removes its wrap.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from webauthn import generate_authentication_options, generate_registration_options
from webauthn.helpers import options_to_json_dict
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

import storage
from crypto.errors import UskPasskeyUnwrapError
from crypto.usk import check_passkey_wrap_form
from server.domain.accounts import _ceremony
from server.domain.accounts._common import Auditor
from server.domain.accounts.passkey_policy import PasskeyPolicyService
from server.domain.accounts.second_factor import SecondFactorService
from server.domain.accounts.sessions import Authenticated, LoginStep, SessionService
from server.domain.accounts.throttle import LoginThrottle
from server.domain.clock import Clock
from server.errors import AuthError, Conflict, InvalidInput, MfaRequired, NotFound, PasskeyInvalid

__all__ = ["PasskeyService", "PasskeySettings", "PasskeySignIn"]

_NAME_MAX = 100


@dataclass(frozen=True)
class PasskeySettings:
    rp_id: str
    rp_name: str
    origins: tuple[str, ...]
    challenge_ttl: int


@dataclass(frozen=True)
class PasskeySignIn:
    """A completed sign-in (or second factor) by passkey: the new session and the passkey
    that was used (its USK wrap lets the client unlock without the password)."""

    step: LoginStep
    passkey: storage.Passkey


def _user_handle(user_id: str) -> bytes:
    """The WebAuthn user handle: the opaque user id (never the login name)."""
    return user_id.encode("ascii")


def _descriptor(p: storage.Passkey) -> PublicKeyCredentialDescriptor:
    transports = []
    for t in p.transports:
        try:
            transports.append(AuthenticatorTransport(t))
        except ValueError:
            continue  # a transport this library version does not know: the hint is optional
    return PublicKeyCredentialDescriptor(id=p.credential_id, transports=transports or None)


def _name(name: str) -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= _NAME_MAX:
        raise InvalidInput("a passkey's name is 1 to 100 characters")
    return name


def _wrap(prf_wrap: bytes | None) -> bytes | None:
    if prf_wrap is None:
        return None
    try:
        check_passkey_wrap_form(prf_wrap)
    except UskPasskeyUnwrapError:
        raise InvalidInput("the passkey wrap is not a 0x11 record") from None
    return prf_wrap


class PasskeyService:
    def __init__(
        self,
        store: storage.Storage,
        clock: Clock,
        settings: PasskeySettings,
        throttle: LoginThrottle,
        sessions: SessionService,
        second_factor: SecondFactorService,
        passkey_policy: PasskeyPolicyService,
    ) -> None:
        self._store = store
        self._clock = clock
        self._settings = settings
        self._throttle = throttle
        self._sessions = sessions
        self._second_factor = second_factor
        self._policy = passkey_policy
        self._audit = Auditor(store, clock)

    # ------------------------------------------------------------------ challenges

    async def _new_challenge(
        self,
        purpose: storage.PasskeyPurpose,
        user: storage.User | None,
        session: storage.Session | None,
    ) -> bytes:
        challenge = secrets.token_bytes(32)
        now = self._clock.now()
        await self._store.put_passkey_challenge(
            storage.PasskeyChallenge(
                challenge_hash=hashlib.sha256(challenge).digest(),
                purpose=purpose,
                created_at=now,
                expires_at=now + dt.timedelta(seconds=self._settings.challenge_ttl),
                user_id=None if user is None else user.user_id,
                session_hash=None if session is None else session.session_id_hash,
            )
        )
        return challenge

    async def _take_challenge(
        self,
        credential: Any,
        purpose: storage.PasskeyPurpose,
        user: storage.User | None,
        session: storage.Session | None,
    ) -> bytes:
        """The challenge the answer names, taken from storage and checked against what it
        was issued for."""
        challenge = _ceremony.challenge_of(credential)
        try:
            issued = await self._store.take_passkey_challenge(hashlib.sha256(challenge).digest())
        except storage.NotFound:
            raise PasskeyInvalid("challenge") from None
        if (
            issued.purpose != purpose
            or issued.user_id != (None if user is None else user.user_id)
            or issued.session_hash != (None if session is None else session.session_id_hash)
        ):
            raise PasskeyInvalid("challenge")
        if issued.expires_at <= self._clock.now():
            raise PasskeyInvalid("expired")
        return challenge

    def _request_options(self, challenge: bytes, allow: list[storage.Passkey]) -> dict[str, Any]:
        options = generate_authentication_options(
            rp_id=self._settings.rp_id,
            challenge=challenge,
            timeout=self._settings.challenge_ttl * 1000,
            allow_credentials=[_descriptor(p) for p in allow],
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        return dict(options_to_json_dict(options))

    # ------------------------------------------------------------------ registration

    async def _registrant(self, token: str | None) -> tuple[storage.User, storage.Session, bool]:
        """A full session's user, or a pending session's holding an enrolment grant
        (``True``: registering finishes the sign-in)."""
        if not token:
            raise AuthError()
        try:
            auth = await self._sessions.authenticate(token)
        except MfaRequired:
            session, user = await self._second_factor.pending_user(token)
            await self._policy.check_granted(session)
            return user, session, True
        return auth.user, auth.session, False

    async def check_registrant(self, token: str | None) -> None:
        """Refuse early (before the body is read) a caller who may not register."""
        await self._registrant(token)

    async def registration_options(self, token: str | None) -> dict[str, Any]:
        """Options for ``navigator.credentials.create()`` (JSON form, WebAuthn Level 3
        ``PublicKeyCredentialCreationOptionsJSON``)."""
        user, session, _granted = await self._registrant(token)
        challenge = await self._new_challenge(storage.PasskeyPurpose.REGISTER, user, session)
        existing = await self._store.list_passkeys(user.user_id)
        options = generate_registration_options(
            rp_id=self._settings.rp_id,
            rp_name=self._settings.rp_name,
            user_id=_user_handle(user.user_id),
            user_name=user.login_name,
            user_display_name=user.display_name,
            challenge=challenge,
            timeout=self._settings.challenge_ttl * 1000,
            attestation=AttestationConveyancePreference.NONE,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=[_descriptor(p) for p in existing],
            supported_pub_key_algs=_ceremony.ALGORITHMS,
        )
        return dict(options_to_json_dict(options))

    async def register(
        self,
        token: str | None,
        credential: Any,
        *,
        name: str,
        prf_wrap: bytes | None,
        client: str,
        user_agent: str = "",
    ) -> tuple[storage.Passkey, LoginStep | None]:
        """Verify the answer to ``create()`` and store the passkey (with the client's USK
        wrap, if any). With an enrolment grant, also finish the sign-in: the LoginStep."""
        user, session, granted = await self._registrant(token)
        name = _name(name)
        wrap = _wrap(prf_wrap)
        challenge = await self._take_challenge(
            credential, storage.PasskeyPurpose.REGISTER, user, session
        )
        made = _ceremony.check_registration(
            credential,
            challenge=challenge,
            rp_id=self._settings.rp_id,
            origins=self._settings.origins,
        )
        try:
            passkey = await self._store.add_passkey(
                storage.Passkey(
                    passkey_id=str(uuid.uuid4()),
                    user_id=user.user_id,
                    credential_id=made.credential_id,
                    public_key=made.public_key,
                    sign_count=made.sign_count,
                    name=name,
                    created_at=self._clock.now(),
                    aaguid=made.aaguid,
                    transports=made.transports,
                    backup_eligible=made.backup_eligible,
                    backed_up=made.backed_up,
                    prf_wrap=wrap,
                )
            )
        except storage.Conflict:
            raise Conflict("this passkey is registered already") from None
        await self._audit(
            "passkey.registered",
            actor_id=user.user_id,
            target=passkey.passkey_id,
            client=client,
            detail=b"prf" if wrap else b"",
        )
        if not granted:
            return passkey, None
        await self._policy.use_grant(session)
        step = await self._second_factor.complete(
            token or "", session, user, client, user_agent, by_passkey=True
        )
        return passkey, step

    # ------------------------------------------------------------------ management

    async def list_own(self, auth: Authenticated) -> list[storage.Passkey]:
        return await self._store.list_passkeys(auth.user.user_id)

    async def _own(self, auth: Authenticated, passkey_id: str) -> storage.Passkey:
        for p in await self._store.list_passkeys(auth.user.user_id):
            if p.passkey_id == passkey_id:
                return p
        raise NotFound()

    async def rename(
        self, auth: Authenticated, passkey_id: str, name: str, client: str | None
    ) -> storage.Passkey:
        await self._own(auth, passkey_id)
        renamed = await self._store.rename_passkey(passkey_id, _name(name))
        await self._audit(
            "passkey.renamed", actor_id=auth.user.user_id, target=passkey_id, client=client
        )
        return renamed

    async def set_unlock(
        self, auth: Authenticated, passkey_id: str, prf_wrap: bytes | None, client: str | None
    ) -> storage.Passkey:
        """Store (or remove, with None) the passkey's USK wrap."""
        await self._own(auth, passkey_id)
        updated = await self._store.set_passkey_prf_wrap(passkey_id, _wrap(prf_wrap))
        await self._audit(
            "passkey.unlock_set" if prf_wrap else "passkey.unlock_removed",
            actor_id=auth.user.user_id,
            target=passkey_id,
            client=client,
        )
        return updated

    async def remove(self, auth: Authenticated, passkey_id: str, client: str | None) -> None:
        """Remove a passkey and its wrap."""
        await self._own(auth, passkey_id)
        try:
            await self._store.delete_passkey(passkey_id)
        except storage.NotFound:
            raise NotFound() from None
        await self._audit(
            "passkey.removed", actor_id=auth.user.user_id, target=passkey_id, client=client
        )

    # ------------------------------------------------------------------ assertions

    async def _assert(
        self,
        credential: Any,
        purpose: storage.PasskeyPurpose,
        user: storage.User,
        challenge: bytes,
    ) -> storage.Passkey:
        """Check an assertion by ``user``'s passkey; store the new counter."""
        try:
            passkey = await self._store.find_passkey(_ceremony.credential_id_of(credential))
        except storage.NotFound:
            raise PasskeyInvalid("unknown_credential") from None
        if passkey.user_id != user.user_id:
            raise PasskeyInvalid("unknown_credential")
        checked = _ceremony.check_assertion(
            credential,
            challenge=challenge,
            rp_id=self._settings.rp_id,
            origins=self._settings.origins,
            public_key=passkey.public_key,
            sign_count=passkey.sign_count,
        )
        if purpose == storage.PasskeyPurpose.SIGN_IN and checked.user_handle != _user_handle(
            user.user_id
        ):
            raise PasskeyInvalid("unknown_credential")
        try:
            return await self._store.use_passkey(
                passkey.passkey_id,
                expected_sign_count=passkey.sign_count,
                sign_count=checked.sign_count,
                backed_up=checked.backed_up,
                now=self._clock.now(),
            )
        except (storage.Conflict, storage.NotFound):
            # a racing assertion moved the counter first (or the passkey was just removed)
            raise PasskeyInvalid("counter") from None

    async def second_factor_options(self, token: str) -> dict[str, Any]:
        """Options for ``navigator.credentials.get()`` on a pending session: the user's
        passkeys only."""
        session, user = await self._second_factor.pending_user(token)
        passkeys = await self._store.list_passkeys(user.user_id)
        if not passkeys:
            raise MfaRequired("register a passkey first")
        challenge = await self._new_challenge(storage.PasskeyPurpose.SECOND_FACTOR, user, session)
        return self._request_options(challenge, passkeys)

    async def second_factor(
        self, token: str, credential: Any, *, client: str, user_agent: str = ""
    ) -> PasskeySignIn:
        """Step two by passkey instead of a TOTP code."""
        session, user = await self._second_factor.pending_user(token)
        async with self._throttle.one_attempt("user:" + user.user_id):
            # Re-read under the lock: a failure counted by a parallel attempt counts here.
            session, user = await self._second_factor.pending_user(token)
            self._throttle.check_not_locked(user, client)
            try:
                challenge = await self._take_challenge(
                    credential, storage.PasskeyPurpose.SECOND_FACTOR, user, session
                )
                passkey = await self._assert(
                    credential, storage.PasskeyPurpose.SECOND_FACTOR, user, challenge
                )
            except PasskeyInvalid as refused:
                await self._throttle.fail(
                    user, "login.passkey_failed", client, refused.reason.encode()
                )
                raise
            await self._audit(
                "login.passkey_used",
                actor_id=user.user_id,
                target=passkey.passkey_id,
                client=client,
            )
            step = await self._second_factor.complete(
                token, session, user, client, user_agent, by_passkey=True
            )
            return PasskeySignIn(step, passkey)

    async def sign_in_options(self) -> dict[str, Any]:
        """Options for a sign-in by a discoverable passkey alone: no name is asked, so no
        credential is listed (nothing tells which accounts exist)."""
        challenge = await self._new_challenge(storage.PasskeyPurpose.SIGN_IN, None, None)
        return self._request_options(challenge, [])

    async def sign_in(self, credential: Any, *, client: str, user_agent: str = "") -> PasskeySignIn:
        """A full session from a discoverable passkey with user verification."""
        challenge = await self._take_challenge(
            credential, storage.PasskeyPurpose.SIGN_IN, None, None
        )
        try:
            owner = (await self._store.find_passkey(_ceremony.credential_id_of(credential))).user_id
            user = await self._store.get_user(owner)
        except storage.NotFound:
            await self._audit("login.passkey_unknown", actor_id=None, client=client)
            raise PasskeyInvalid("unknown_credential") from None
        async with self._throttle.one_attempt("user:" + user.user_id):
            user = await self._store.get_user(user.user_id)
            if user.disabled:
                raise PasskeyInvalid("unknown_credential")
            self._throttle.check_not_locked(user, client)
            try:
                passkey = await self._assert(
                    credential, storage.PasskeyPurpose.SIGN_IN, user, challenge
                )
            except PasskeyInvalid as refused:
                await self._throttle.fail(
                    user, "login.passkey_failed", client, refused.reason.encode()
                )
                raise
            failed = await self._throttle.succeeded(user, client)
            token, session = await self._sessions.create(
                user.user_id, mfa_verified=True, client=client, user_agent=user_agent
            )
            await self._audit(
                "login.passkey_used",
                actor_id=user.user_id,
                target=passkey.passkey_id,
                client=client,
            )
            await self._audit("login.ok", actor_id=user.user_id, client=client)
            return PasskeySignIn(LoginStep(token, session, "done", failed), passkey)
