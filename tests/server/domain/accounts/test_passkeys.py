"""Passkeys against the domain services, with a software authenticator
(``tests/server/authenticator.py``): registration, the second factor, sign-in by a
discoverable passkey, every refusal the issue names (wrong origin, wrong relying party,
replayed and expired challenges, a counter going backwards, no user verification, another
user's credential), lockout and backoff on the passkey path, the organisations'
requirement and its transition, and the administrator's reset."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

import storage
from crypto import usk
from server.domain.accounts import PasskeySignIn
from server.errors import (
    AuthError,
    Conflict,
    Forbidden,
    InvalidInput,
    Locked,
    MfaRequired,
    NotFound,
    PasskeyInvalid,
    PasskeyRequired,
    RateLimited,
)
from storage import Role
from tests.server.authenticator import SoftAuthenticator, b64u
from tests.server.domain.world import Clinic, Member, World

ORIGIN = "http://dermline.test"
RP = "dermline.test"


def phone() -> SoftAuthenticator:
    return SoftAuthenticator(ORIGIN, RP)


async def full_session(w: World, member: Member) -> tuple[str, str]:
    """First sign-in with TOTP: the full token and the TOTP secret."""
    enrolled = await w.enrol(member)
    return enrolled.token, enrolled.secret


async def register(
    w: World, token: str, device: SoftAuthenticator, member: Member, name: str = "My phone"
) -> storage.Passkey:
    options = await w.services.passkeys.registration_options(token)
    answer = device.create(options)
    cred = list(device.credentials.values())[-1]
    wrap = usk.wrap_usk_with_passkey(
        b"u" * 32, cred.prf(usk.PASSKEY_PRF_INPUT), uuid.UUID(member.user_id), cred.credential_id
    )
    passkey, step = await w.services.passkeys.register(
        token, answer, name=name, prf_wrap=wrap, client="t"
    )
    assert step is None
    return passkey


async def password_step(w: World, member: Member) -> Any:
    return await w.services.signin.login_password(member.login_name, member.auth_key, client="t")


async def test_register_list_rename_unlock_and_remove(cast: Clinic) -> None:
    w = cast.world
    token, _secret = await full_session(w, cast.gp)
    device = phone()
    options = await w.services.passkeys.registration_options(token)
    assert options["rp"] == {"id": RP, "name": "Dermline"}
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["attestation"] == "none"
    made = await register(w, token, device, cast.gp)
    auth = await w.services.sessions.authenticate(token)
    [listed] = await w.services.passkeys.list_own(auth)
    assert listed == made and made.name == "My phone" and made.user_id == cast.gp.user_id
    assert made.transports == ("internal", "hybrid") and made.prf_wrap is not None
    # The wrap opens with the authenticator's PRF output (what the browser will do).
    cred = device.credentials[made.credential_id]
    prf = cred.prf(usk.PASSKEY_PRF_INPUT)
    assert (
        usk.unwrap_usk_with_passkey(
            made.prf_wrap, prf, uuid.UUID(cast.gp.user_id), cred.credential_id
        )
        == b"u" * 32
    )
    # A second registration excludes the first credential.
    again = await w.services.passkeys.registration_options(token)
    assert [c["id"] for c in again["excludeCredentials"]] == [b64u(made.credential_id)]
    renamed = await w.services.passkeys.rename(auth, made.passkey_id, "  Work   phone ", "t")
    assert renamed.name == "Work phone"
    with pytest.raises(InvalidInput):
        await w.services.passkeys.rename(auth, made.passkey_id, " ", "t")
    assert (await w.services.passkeys.set_unlock(auth, made.passkey_id, None, "t")).prf_wrap is None
    with pytest.raises(InvalidInput):
        await w.services.passkeys.set_unlock(
            auth, made.passkey_id, b"\x01\x01\x02" + bytes(60), "t"
        )
    # Another person cannot touch it.
    other_token, _ = await full_session(w, cast.derm)
    other = await w.services.sessions.authenticate(other_token)
    for attempt in (
        w.services.passkeys.rename(other, made.passkey_id, "mine", "t"),
        w.services.passkeys.remove(other, made.passkey_id, "t"),
    ):
        with pytest.raises(NotFound):
            await attempt
    await w.services.passkeys.remove(auth, made.passkey_id, "t")
    assert await w.services.passkeys.list_own(auth) == []
    with pytest.raises(NotFound):
        await w.services.passkeys.remove(auth, made.passkey_id, "t")
    actions = [e.event.action for e in await w.store.list_audit()]
    for action in (
        "passkey.registered",
        "passkey.renamed",
        "passkey.unlock_removed",
        "passkey.removed",
    ):
        assert action in actions


async def test_registration_needs_a_full_session_and_its_own_challenge(cast: Clinic) -> None:
    w = cast.world
    token, _ = await full_session(w, cast.gp)
    device = phone()
    with pytest.raises(AuthError):
        await w.services.passkeys.registration_options(None)
    step = await password_step(w, cast.gp)
    with pytest.raises(MfaRequired):  # pending, without an enrolment grant
        await w.services.passkeys.registration_options(step.token)
    options = await w.services.passkeys.registration_options(token)
    # No user verification: refused.
    with pytest.raises(PasskeyInvalid) as e:
        await w.services.passkeys.register(
            token, device.create(options, uv=False), name="x", prf_wrap=None, client="t"
        )
    assert e.value.reason == "user_verification"
    # The challenge was used by that attempt: the same answer again is a replay.
    options = await w.services.passkeys.registration_options(token)
    answer = device.create(options)
    await w.services.passkeys.register(token, answer, name="x", prf_wrap=None, client="t")
    with pytest.raises(PasskeyInvalid) as e:
        await w.services.passkeys.register(token, answer, name="x", prf_wrap=None, client="t")
    assert e.value.reason == "challenge"
    for change, reason in (
        ({"origin": "https://evil.example"}, "origin"),
        ({"rp_id": "evil.example"}, "rp_id"),
    ):
        options = await w.services.passkeys.registration_options(token)
        bad = device.create(options, **change)  # type: ignore[arg-type]
        with pytest.raises(PasskeyInvalid) as e:
            await w.services.passkeys.register(token, bad, name="x", prf_wrap=None, client="t")
        assert e.value.reason == reason
    # A registration challenge issued to another person's session does not serve this one.
    other, _ = await full_session(w, cast.derm)
    options = await w.services.passkeys.registration_options(other)
    with pytest.raises(PasskeyInvalid) as e:
        await w.services.passkeys.register(
            token, device.create(options), name="x", prf_wrap=None, client="t"
        )
    assert e.value.reason == "challenge"
    options = await w.services.passkeys.registration_options(token)
    with pytest.raises(InvalidInput):
        await w.services.passkeys.register(
            token, device.create(options), name="x", prf_wrap=b"short", client="t"
        )


async def test_second_factor_by_passkey(cast: Clinic) -> None:
    w = cast.world
    token, _ = await full_session(w, cast.gp)
    device = phone()
    made = await register(w, token, device, cast.gp)
    step = await password_step(w, cast.gp)
    assert step.next == "passkey"
    options = await w.services.passkeys.second_factor_options(step.token)
    assert options["userVerification"] == "required"
    assert [c["id"] for c in options["allowCredentials"]] == [b64u(made.credential_id)]
    done = await w.services.passkeys.second_factor(step.token, device.get(options), client="t")
    assert isinstance(done, PasskeySignIn) and done.step.next == "done"
    assert done.passkey.passkey_id == made.passkey_id and done.passkey.sign_count == 1
    assert done.passkey.last_used_at == w.clock.now()
    auth = await w.services.sessions.authenticate(done.step.token)
    assert auth.user.user_id == cast.gp.user_id
    with pytest.raises(AuthError):  # the pending session was replaced (no fixation)
        await w.services.sessions.authenticate(step.token)
    actions = [e.event.action for e in await w.store.list_audit()]
    assert actions[-2:] == ["login.passkey_used", "login.ok"]


REFUSALS = [
    ("origin", {"origin": "https://dermline.test.evil.example"}),
    ("rp_id", {"rp_id": "evil.example"}),
    ("user_verification", {"uv": False}),
    ("counter", {"sign_count": 0}),  # stored 5, answers 0: went backwards
    ("counter", {"sign_count": 5}),  # stored 5, answers 5: did not grow
    ("challenge", {"challenge": b64u(b"c" * 32)}),  # a challenge never issued
]


@pytest.mark.parametrize(
    ("reason", "change"), REFUSALS, ids=[f"{r}-{i}" for i, (r, _) in enumerate(REFUSALS)]
)
async def test_second_factor_refusals_count_as_failures(
    cast: Clinic, reason: str, change: dict[str, Any]
) -> None:
    w = cast.world
    token, _ = await full_session(w, cast.gp)
    device = phone()
    made = await register(w, token, device, cast.gp)
    device.credentials[made.credential_id].sign_count = 4
    step = await password_step(w, cast.gp)
    # one good assertion, so the stored counter is 5
    options = await w.services.passkeys.second_factor_options(step.token)
    await w.services.passkeys.second_factor(step.token, device.get(options), client="t")
    step = await password_step(w, cast.gp)
    options = await w.services.passkeys.second_factor_options(step.token)
    with pytest.raises(PasskeyInvalid) as e:
        await w.services.passkeys.second_factor(
            step.token, device.get(options, **change), client="t"
        )
    assert e.value.reason == reason and e.value.code == "passkey_invalid"
    assert (await w.store.get_user(cast.gp.user_id)).failed_logins == 1
    last = (await w.store.list_audit())[-1].event
    assert (last.action, last.detail) == ("login.passkey_failed", reason.encode())
    with pytest.raises(MfaRequired):  # still pending
        await w.services.sessions.authenticate(step.token)


async def test_replayed_and_expired_challenges(cast: Clinic) -> None:
    w = cast.world
    token, _ = await full_session(w, cast.gp)
    device = phone()
    await register(w, token, device, cast.gp)
    step = await password_step(w, cast.gp)
    options = await w.services.passkeys.second_factor_options(step.token)
    answer = device.get(options)
    await w.services.passkeys.second_factor(step.token, answer, client="t")
    step = await password_step(w, cast.gp)
    with pytest.raises(PasskeyInvalid) as e:  # the same answer on a new pending session
        await w.services.passkeys.second_factor(step.token, answer, client="t")
    assert e.value.reason == "challenge"
    options = await w.services.passkeys.second_factor_options(step.token)
    w.clock.advance(121)
    with pytest.raises(PasskeyInvalid) as e:
        await w.services.passkeys.second_factor(step.token, device.get(options), client="t")
    assert e.value.reason == "expired"
    # A challenge issued to another pending session of the same person does not serve this one.
    w.clock.advance(60)
    other = await password_step(w, cast.gp)
    options = await w.services.passkeys.second_factor_options(other.token)
    step = await password_step(w, cast.gp)
    with pytest.raises(PasskeyInvalid) as e:
        await w.services.passkeys.second_factor(step.token, device.get(options), client="t")
    assert e.value.reason == "challenge"


async def test_another_users_credential_is_refused(cast: Clinic) -> None:
    w = cast.world
    gp_token, _ = await full_session(w, cast.gp)
    derm_token, _ = await full_session(w, cast.derm)
    gp_phone, derm_phone = phone(), phone()
    await register(w, gp_token, gp_phone, cast.gp)
    derm_key = await register(w, derm_token, derm_phone, cast.derm)
    step = await password_step(w, cast.gp)
    options = await w.services.passkeys.second_factor_options(step.token)
    # The dermatologist's phone answers the GP's challenge with the dermatologist's passkey.
    answer = derm_phone.get(options, credential_id=derm_key.credential_id)
    with pytest.raises(PasskeyInvalid) as e:
        await w.services.passkeys.second_factor(step.token, answer, client="t")
    assert e.value.reason == "unknown_credential"
    assert (await w.store.get_user(cast.gp.user_id)).failed_logins == 1
    # An unregistered credential, or garbage, likewise.
    stranger = phone()
    stranger.create(await w.services.passkeys.registration_options(gp_token))
    options = await w.services.passkeys.second_factor_options(step.token)
    w.clock.advance(2)  # past the backoff
    with pytest.raises(PasskeyInvalid) as e:
        await w.services.passkeys.second_factor(step.token, stranger.get(options), client="t")
    assert e.value.reason == "unknown_credential"
    for garbage in ({"response": {"clientDataJSON": "!!"}}, "text"):
        w.clock.advance(5)
        with pytest.raises(PasskeyInvalid) as e:
            await w.services.passkeys.second_factor(step.token, garbage, client="t")
        assert e.value.reason == "malformed"
    assert (await w.store.get_user(cast.gp.user_id)).failed_logins == 4


async def test_lockout_and_backoff_apply_to_the_passkey_path(cast: Clinic) -> None:
    w = cast.world
    token, _ = await full_session(w, cast.gp)
    device = phone()
    await register(w, token, device, cast.gp)
    step = await password_step(w, cast.gp)
    for i in range(5):
        options = await w.services.passkeys.second_factor_options(step.token)
        with pytest.raises(PasskeyInvalid):
            await w.services.passkeys.second_factor(
                step.token, device.get(options, uv=False), client="t"
            )
        if i == 1:  # backoff after the second failure: the next try waits, good or bad
            options = await w.services.passkeys.second_factor_options(step.token)
            with pytest.raises(RateLimited):
                await w.services.passkeys.second_factor(step.token, device.get(options), client="t")
        w.clock.advance(30)
        step = await password_step(w, cast.gp) if i < 4 else step
    # Locked: even a perfect passkey answer, on either path, is refused before any check.
    options = await w.services.passkeys.second_factor_options(step.token)
    with pytest.raises(Locked):
        await w.services.passkeys.second_factor(step.token, device.get(options), client="t")
    options = await w.services.passkeys.sign_in_options()
    with pytest.raises(Locked):
        await w.services.passkeys.sign_in(device.get(options), client="t")
    actions = [e.event.action for e in await w.store.list_audit()]
    assert "login.address_locked" in actions  # this address; other addresses may try
    # After the lockout a good passkey signs in and the counter starts afresh.
    w.clock.advance(901)
    options = await w.services.passkeys.sign_in_options()
    done = await w.services.passkeys.sign_in(device.get(options), client="t")
    assert done.step.next == "done"
    assert (await w.store.get_user(cast.gp.user_id)).failed_logins == 0


async def test_sign_in_by_passkey_alone(cast: Clinic) -> None:
    w = cast.world
    token, _ = await full_session(w, cast.gp)
    device = phone()
    made = await register(w, token, device, cast.gp)
    options = await w.services.passkeys.sign_in_options()
    assert options["allowCredentials"] == [] and options["userVerification"] == "required"
    done = await w.services.passkeys.sign_in(device.get(options), client="t")
    assert done.passkey.passkey_id == made.passkey_id and done.passkey.prf_wrap == made.prf_wrap
    auth = await w.services.sessions.authenticate(done.step.token)
    assert auth.user.user_id == cast.gp.user_id and auth.session.mfa_verified
    # A user handle that is not the credential owner's: refused (and counted).
    options = await w.services.passkeys.sign_in_options()
    with pytest.raises(PasskeyInvalid) as e:
        await w.services.passkeys.sign_in(
            device.get(options, user_handle=cast.derm.user_id.encode()), client="t"
        )
    assert e.value.reason == "unknown_credential"
    # A second-factor challenge cannot be used for a sign-in without a password, nor the
    # reverse.
    step = await password_step(w, cast.gp)
    options = await w.services.passkeys.second_factor_options(step.token)
    w.clock.advance(5)
    with pytest.raises(PasskeyInvalid) as e:
        await w.services.passkeys.sign_in(device.get(options), client="t")
    assert e.value.reason == "challenge"
    # An unknown credential: refused without naming anyone.
    stranger = phone()
    stranger.create(await w.services.passkeys.registration_options(token))
    options = await w.services.passkeys.sign_in_options()
    with pytest.raises(PasskeyInvalid) as e:
        await w.services.passkeys.sign_in(stranger.get(options), client="t")
    assert e.value.reason == "unknown_credential"


async def test_requirement_and_its_transition(cast: Clinic) -> None:
    w = cast.world
    admin = await w.member(cast.practice.org_id, Role.ADMIN, "admin")
    _gp_token, secret = await full_session(w, cast.gp)
    policy = w.services.passkey_policy
    with pytest.raises(Forbidden):
        await policy.set(
            cast.gp.actor, cast.practice.org_id, everyone=False, roles=[Role.GP], client=None
        )
    with pytest.raises(NotFound):
        await policy.set(admin.actor, cast.service.org_id, everyone=True, roles=[], client=None)
    set_to = await policy.set(
        admin.actor, cast.practice.org_id, everyone=False, roles=[Role.GP], client="t"
    )
    assert (set_to.everyone, set_to.roles) == (False, (Role.GP,))
    assert await policy.get(admin.actor, cast.practice.org_id) == set_to
    # The GP has no passkey yet: TOTP as before, then a passkey must be registered.
    step = await password_step(w, cast.gp)
    assert step.next == "totp"
    half = await w.services.second_factor.verify(
        step.token, code=w.code(secret), recovery_code=None, client="t"
    )
    assert half.next == "passkey_enrol" and half.token == step.token
    with pytest.raises(MfaRequired):
        await w.services.sessions.authenticate(step.token)
    device = phone()
    options = await w.services.passkeys.registration_options(step.token)
    _passkey, done = await w.services.passkeys.register(
        step.token, device.create(options), name="Phone", prf_wrap=None, client="t"
    )
    assert done is not None and done.next == "done"
    assert (await w.services.sessions.authenticate(done.token)).user.user_id == cast.gp.user_id
    with pytest.raises(AuthError):  # the grant served once; the pending session is gone
        await w.services.passkeys.registration_options(step.token)
    # From now on TOTP is refused (not counted as a failure); a passkey or a recovery code works.
    step = await password_step(w, cast.gp)
    assert step.next == "passkey_only"
    with pytest.raises(PasskeyRequired):
        await w.services.second_factor.verify(
            step.token, code=w.code(secret), recovery_code=None, client="t"
        )
    assert (await w.store.get_user(cast.gp.user_id)).failed_logins == 0
    enrolled_codes = [e for e in await w.store.list_audit() if e.event.action == "totp.enrolled"]
    assert enrolled_codes
    options = await w.services.passkeys.second_factor_options(step.token)
    assert (
        await w.services.passkeys.second_factor(step.token, device.get(options), client="t")
    ).step.next == "done"
    # The dermatologist's organisation requires nothing.
    await full_session(w, cast.derm)
    assert (await password_step(w, cast.derm)).next == "totp"
    # Everyone in the practice: the admin too; clearing it lifts it.
    every = await policy.set(admin.actor, cast.practice.org_id, everyone=True, roles=[], client="t")
    assert every.everyone and every.roles == ()
    assert await policy.required_for(await w.store.get_user(admin.user_id))
    cleared = await policy.set(
        admin.actor, cast.practice.org_id, everyone=False, roles=[], client="t"
    )
    assert not cleared.everyone and cleared.roles == ()
    assert (await password_step(w, cast.gp)).next == "passkey"
    actions = [e.event.action for e in await w.store.list_audit()]
    assert "passkey.policy_set" in actions and "login.passkey_enrol_required" in actions


async def test_recovery_code_is_the_fallback_under_a_requirement(cast: Clinic) -> None:
    w = cast.world
    admin = await w.member(cast.practice.org_id, Role.ADMIN, "admin")
    enrolled = await w.enrol(cast.gp)
    await register(w, enrolled.token, phone(), cast.gp)
    await w.services.passkey_policy.set(
        admin.actor, cast.practice.org_id, everyone=True, roles=[], client=None
    )
    step = await password_step(w, cast.gp)
    assert step.next == "passkey_only"
    done = await w.services.second_factor.verify(
        step.token, code=None, recovery_code=enrolled.recovery_codes[0], client="t"
    )
    assert done.next == "done"


async def test_admin_reset_removes_passkeys(cast: Clinic) -> None:
    w = cast.world
    admin = await w.member(cast.practice.org_id, Role.ADMIN, "admin")
    token, _ = await full_session(w, cast.gp)
    device = phone()
    await register(w, token, device, cast.gp)
    await w.services.administration.reset_totp(admin.actor, cast.gp.user_id, "t")
    assert await w.store.list_passkeys(cast.gp.user_id) == []
    options = await w.services.passkeys.sign_in_options()
    with pytest.raises(PasskeyInvalid):
        await w.services.passkeys.sign_in(device.get(options), client="t")
    assert (await password_step(w, cast.gp)).next == "enrol"


async def test_duplicate_registration_and_racing_assertions(cast: Clinic) -> None:
    import asyncio

    w = cast.world
    token, _ = await full_session(w, cast.gp)
    device = phone()
    made = await register(w, token, device, cast.gp)
    # The same credential registered again (an authenticator that ignored
    # excludeCredentials): the answer names the known credential id.
    options = await w.services.passkeys.registration_options(token)
    again = phone().create(options, credential_id=made.credential_id)
    with pytest.raises(Conflict):
        await w.services.passkeys.register(token, again, name="dup", prf_wrap=None, client="t")
    # Two sign-ins answering with the same counter value: one wins.
    results = []
    for _ in range(2):
        options = await w.services.passkeys.sign_in_options()
        results.append(device.get(options, sign_count=7))
    outcomes = await asyncio.gather(
        *(w.services.passkeys.sign_in(r, client="t") for r in results), return_exceptions=True
    )
    assert sum(isinstance(o, PasskeySignIn) for o in outcomes) == 1
    refused = [o for o in outcomes if isinstance(o, PasskeyInvalid)]
    assert [o.reason for o in refused] == ["counter"]
