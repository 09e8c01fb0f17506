"""The second factor against the domain services: enrolment, a TOTP code works once, wrong
codes count towards backoff and lockout, a recovery code works once."""

from __future__ import annotations

from pathlib import Path

import pyotp
import pytest

import storage
from server.errors import AuthError, Conflict, InvalidTotp, Locked, MfaRequired, RateLimited
from storage import OrgKind, Role
from tests.samples import wrong_codes
from tests.server.domain.world import Clinic, World


async def test_enrolment_gives_ten_recovery_codes_and_a_full_session(cast: Clinic) -> None:
    w = cast.world
    enrolled = await w.enrol(cast.gp)
    assert len(enrolled.recovery_codes) == len(set(enrolled.recovery_codes)) == 10
    auth = await w.services.sessions.authenticate(enrolled.token)
    assert auth.user.totp_confirmed and auth.actor.user_id == cast.gp.user_id
    actions = [e.event.action for e in await w.store.list_audit()]
    assert actions[-3:] == ["login.password_ok", "totp.enrolled", "login.ok"]
    # Signing in again asks for a code, not for an enrolment.
    step = await w.services.signin.login_password(cast.gp.login_name, cast.gp.auth_key, client="t")
    assert step.next == "totp"
    with pytest.raises(Conflict):
        await w.services.second_factor.begin_enrolment(step.token)


async def test_a_pending_session_is_not_a_session_and_a_full_one_is_not_pending(
    cast: Clinic,
) -> None:
    w = cast.world
    step = await w.services.signin.login_password(cast.gp.login_name, cast.gp.auth_key, client="t")
    with pytest.raises(MfaRequired):
        await w.services.sessions.authenticate(step.token)
    with pytest.raises(MfaRequired):  # no TOTP yet: enrol first
        await w.services.second_factor.verify(
            step.token, code="123456", recovery_code=None, client="t"
        )
    enrolled = await w.enrol(cast.derm)
    with pytest.raises(Conflict):
        await w.services.second_factor.pending_session(enrolled.token)
    with pytest.raises(AuthError):
        await w.services.second_factor.pending_session("not-a-token")


async def test_a_code_works_once_and_wrong_codes_lock(
    store: storage.Storage, tmp_path: Path
) -> None:
    w = World.build(store, tmp_path, login_max_failures=3)
    practice = await w.org(OrgKind.PRACTICE, "Elm")
    gp = await w.member(practice.org_id, Role.GP, "gp")
    enrolled = await w.enrol(gp)
    signin, second = w.services.signin, w.services.second_factor

    async def attempt(code: str) -> None:
        step = await signin.login_password(gp.login_name, gp.auth_key, client="t")
        await second.verify(step.token, code=code, recovery_code=None, client="t")

    code = w.code(enrolled.secret)
    await attempt(code)
    with pytest.raises(InvalidTotp):
        await attempt(code)  # the same code again: a replay
    [wrong] = wrong_codes(enrolled.secret, w.clock.now())
    with pytest.raises(InvalidTotp):
        await attempt(wrong)
    with pytest.raises(RateLimited):  # too soon after two failures
        await attempt(wrong)
    w.clock.advance(2)
    with pytest.raises(InvalidTotp):
        await attempt(wrong)
    with pytest.raises(Locked):  # the third failure locked the account
        await attempt(w.code(enrolled.secret))
    w.clock.advance(w.services.settings.login_lockout + 1)
    await attempt(w.code(enrolled.secret))
    assert (await w.store.get_user(gp.user_id)).failed_logins == 0


async def test_a_recovery_code_works_once(cast: Clinic) -> None:
    w = cast.world
    enrolled = await w.enrol(cast.derm)
    code = enrolled.recovery_codes[0]

    async def attempt(recovery: str) -> str:
        step = await w.services.signin.login_password(
            cast.derm.login_name, cast.derm.auth_key, client="t"
        )
        done = await w.services.second_factor.verify(
            step.token, code=None, recovery_code=recovery, client="t"
        )
        return done.token

    # Typed in capitals with spaces: the same code.
    token = await attempt(" " + code.upper().replace("-", " - ") + " ")
    await w.services.sessions.authenticate(token)
    with pytest.raises(InvalidTotp):
        await attempt(code)
    actions = [e.event.action for e in await w.store.list_audit()]
    assert "login.recovery_code_used" in actions and "login.recovery_failed" in actions


async def test_a_wrong_enrolment_code_counts_as_a_failure(cast: Clinic) -> None:
    w = cast.world
    step = await w.services.signin.login_password(cast.gp.login_name, cast.gp.auth_key, client="t")
    with pytest.raises(Conflict):  # nothing to confirm yet
        await w.services.second_factor.confirm_enrolment(step.token, "123456", client="t")
    uri, svg = await w.services.second_factor.begin_enrolment(step.token)
    assert uri.startswith("otpauth://totp/") and svg.startswith("<svg")
    secret = pyotp.parse_uri(uri).secret
    [wrong] = wrong_codes(secret, w.clock.now())
    with pytest.raises(InvalidTotp):
        await w.services.second_factor.confirm_enrolment(step.token, wrong, client="t")
    assert (await w.store.get_user(cast.gp.user_id)).failed_logins == 1
