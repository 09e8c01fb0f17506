"""Sign-in's first step and the throttle, against the domain services: uniform pre-login,
backoff and lockout per account and address that parallel guesses cannot outrun and that
leave the real person's address alone, the account-wide cap that spares addresses the
account signed in from, unknown names that answer like real ones, and the password
change."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

import storage
from crypto.password import parse_kdf_params
from server.domain.accounts import LoginStep
from server.errors import AddressLocked, DomainError, InvalidCredentials, SignInDelayed
from storage import OrgKind, Role
from tests.samples import wrong_codes
from tests.server.domain.world import Clinic, Member, World


async def _login_code(
    world: World, name: str, auth_key: bytes | None = None, client: str = "test"
) -> str:
    """The error code of one login (a random auth key unless given)."""
    try:
        await world.services.signin.login_password(name, auth_key or os.urandom(32), client=client)
    except DomainError as exc:
        return exc.code.value
    return "ok"


async def test_prelogin_answers_every_name_alike(cast: Clinic) -> None:
    signin = cast.world.services.signin
    known = await signin.prelogin(cast.gp.login_name)
    unknown = await signin.prelogin("nobody@example.org")
    assert len(known) == len(unknown) and known != unknown
    assert parse_kdf_params(known).iterations == parse_kdf_params(unknown).iterations
    # Deterministic per normalised name, so asking twice tells nothing either.
    assert await signin.prelogin("  Nobody@Example.ORG") == unknown


async def test_parallel_wrong_passwords_cannot_outrun_backoff(world: World) -> None:
    """Serialised per name: two real checks, then backoff refuses the rest. Without the
    per-name lock all 20 were checked (20 guesses against a limit of 5)."""
    practice = await world.org(OrgKind.PRACTICE, "Elm")
    gp = await world.member(practice.org_id, Role.GP, "gp")
    codes = await asyncio.gather(*[_login_code(world, gp.login_name) for _ in range(20)])
    assert codes.count("invalid_credentials") == 2, codes
    assert codes.count("signin_delayed") == 18
    assert (await world.store.get_user(gp.user_id)).failed_logins == 2


async def test_parallel_wrong_totp_codes_cannot_outrun_backoff(cast: Clinic) -> None:
    w = cast.world
    enrolled = await w.enrol(cast.gp)
    step = await w.services.signin.login_password(
        cast.gp.login_name, cast.gp.auth_key, client="test"
    )
    w.clock.advance(30)

    async def attempt(code: str) -> str:
        try:
            await w.services.second_factor.verify(
                step.token, code=code, recovery_code=None, client="test"
            )
        except DomainError as exc:
            return exc.code.value
        return "ok"

    wrong = wrong_codes(enrolled.secret, w.clock.now(), 20)
    codes = await asyncio.gather(*[attempt(x) for x in wrong])
    assert codes.count("invalid_totp") == 2, codes
    assert codes.count("signin_delayed") == 18


async def test_backoff_then_lockout_and_unknown_names_get_the_same_answers(
    store: storage.Storage, tmp_path: Path
) -> None:
    world = World.build(store, tmp_path, login_max_failures=4, login_lockout=600)
    practice = await world.org(OrgKind.PRACTICE, "Elm")
    gp = await world.member(practice.org_id, Role.GP, "gp")

    async def sequence(name: str) -> list[str]:
        out = []
        for _ in range(7):
            out.append(await _login_code(world, name))
            if out[-1] == "invalid_credentials":
                world.clock.advance(61)  # past any backoff, not past the lockout
        return out

    known = await sequence(gp.login_name)
    unknown = await sequence("nobody@example.org")
    assert known == unknown
    assert known[:4] == ["invalid_credentials"] * 4
    assert set(known[4:]) == {"address_locked"}
    assert await _login_code(world, "nobody2@example.org") == "invalid_credentials"
    # From the guessing address the right password is refused too while locked; after
    # the lockout it works.
    assert await _login_code(world, gp.login_name, gp.auth_key) == "address_locked"
    world.clock.advance(601)
    assert await _login_code(world, gp.login_name, gp.auth_key) == "ok"


async def test_backoff_waits_one_then_two_seconds(cast: Clinic) -> None:
    w = cast.world
    name = cast.gp.login_name
    assert await _login_code(w, name) == "invalid_credentials"
    assert await _login_code(w, name) == "invalid_credentials"
    with pytest.raises(SignInDelayed) as err:
        await w.services.signin.login_password(name, cast.gp.auth_key, client="test")
    assert err.value.retry_after == 2  # one second, rounded up
    w.clock.advance(1)
    assert await _login_code(w, name) == "invalid_credentials"
    w.clock.advance(1)
    assert await _login_code(w, name) == "signin_delayed"  # now two seconds
    w.clock.advance(1)
    assert await _login_code(w, name, cast.gp.auth_key) == "ok"


async def test_password_change_needs_the_current_one_and_ends_other_sessions(
    cast: Clinic,
) -> None:
    w = cast.world
    enrolled = await w.enrol(cast.gp)
    other = await w.sign_in(cast.gp, enrolled.secret)
    auth = await w.services.sessions.authenticate(enrolled.token)
    new_key = os.urandom(32)
    params = await w.services.signin.prelogin(cast.gp.login_name)
    with pytest.raises(InvalidCredentials):
        await w.services.signin.change_password(
            auth,
            current_auth_key=os.urandom(32),
            kdf_params=params,
            auth_key=new_key,
            wrapped_usk=b"new-wrap",
            token=enrolled.token,
            client=None,
        )
    assert (await w.store.get_user(cast.gp.user_id)).failed_logins == 1
    await w.services.signin.change_password(
        auth,
        current_auth_key=cast.gp.auth_key,
        kdf_params=params,
        auth_key=new_key,
        wrapped_usk=b"new-wrap",
        token=enrolled.token,
        client=None,
    )
    assert w.revoked == [cast.gp.user_id]
    await w.services.sessions.authenticate(enrolled.token)  # this session goes on
    with pytest.raises(DomainError):
        await w.services.sessions.authenticate(other)
    assert await _login_code(w, cast.gp.login_name, cast.gp.auth_key) == "invalid_credentials"
    w.clock.advance(61)
    assert await _login_code(w, cast.gp.login_name, new_key) == "ok"


async def test_a_locked_address_cannot_change_the_password(cast: Clinic) -> None:
    w = cast.world
    enrolled = await w.enrol(cast.gp)
    auth = await w.services.sessions.authenticate(enrolled.token)
    for _ in range(5):
        assert await _login_code(w, cast.gp.login_name) == "invalid_credentials"
        w.clock.advance(61)
    with pytest.raises(AddressLocked):
        await w.services.signin.change_password(
            auth,
            current_auth_key=cast.gp.auth_key,
            kdf_params=await w.services.signin.prelogin(cast.gp.login_name),
            auth_key=os.urandom(32),
            wrapped_usk=b"w",
            token=enrolled.token,
            client="test",
        )


GUESSER = "203.0.113.66"
CLINIC = "198.51.100.7"


async def _sign_in_from(w: World, member: Member, client: str, **second: str | None) -> LoginStep:
    """Password, then the second step (``code=`` or ``recovery_code=``), from ``client``."""
    step = await w.services.signin.login_password(member.login_name, member.auth_key, client=client)
    assert step.next == "totp"
    return await w.services.second_factor.verify(
        step.token,
        code=second.get("code"),
        recovery_code=second.get("recovery_code"),
        client=client,
    )


async def test_a_guessing_address_is_locked_while_the_person_signs_in_elsewhere(
    cast: Clinic,
) -> None:
    """NIST SP 800-63B 5.2.2 without the denial of service: five wrong passwords from one
    address lock that address out of the account, not the account; the clinician signs in
    from the practice with password and TOTP, and again with a recovery code, and is told
    how many attempts failed since the last sign-in."""
    w = cast.world
    enrolled = await w.enrol(cast.gp)
    for _ in range(5):
        assert await _login_code(w, cast.gp.login_name, client=GUESSER) == "invalid_credentials"
        w.clock.advance(61)
    assert await _login_code(w, cast.gp.login_name, client=GUESSER) == "address_locked"
    w.clock.advance(30)
    done = await _sign_in_from(w, cast.gp, CLINIC, code=w.code(enrolled.secret))
    assert (done.next, done.failed_attempts) == ("done", 5)
    actions = [e.event.action for e in await w.store.list_audit()]
    assert actions.count("login.address_locked") == 1 and "login.locked" not in actions
    # The guessing goes on (refused before any check: nothing counted), the person signs in
    # again with a recovery code: nothing failed since the last sign-in.
    assert await _login_code(w, cast.gp.login_name, cast.gp.auth_key, GUESSER) == "address_locked"
    again = await _sign_in_from(w, cast.gp, CLINIC, recovery_code=enrolled.recovery_codes[0])
    assert (again.next, again.failed_attempts) == ("done", 0)


async def test_an_ipv6_client_is_one_address_per_64(cast: Clinic) -> None:
    w = cast.world
    for i in range(5):
        code = await _login_code(w, cast.gp.login_name, client=f"2001:db8:0:7::{i + 1}")
        assert code == "invalid_credentials"
        w.clock.advance(61)
    assert await _login_code(w, cast.gp.login_name, client="2001:db8:0:7::99") == "address_locked"
    code = await _login_code(w, cast.gp.login_name, cast.gp.auth_key, "2001:db8:0:8::1")
    assert code == "ok"


async def test_the_account_cap_spares_the_addresses_it_signed_in_from(
    store: storage.Storage, tmp_path: Path
) -> None:
    """Guessing spread over many addresses reaches the account-wide cap: new addresses are
    refused (an unknown name answers exactly alike), the address the person signed in from
    before still signs in, and that resets the count."""
    w = World.build(store, tmp_path, login_max_failures=3, login_account_limit=6)
    practice = await w.org(OrgKind.PRACTICE, "Elm")
    gp = await w.member(practice.org_id, Role.GP, "gp")
    enrolled = await w.enrol(gp)  # from "test": an address this account signed in from

    async def spread(name: str) -> list[str]:
        codes = [await _login_code(w, name, client=f"10.0.0.{i}") for i in range(8)]
        codes.append(await _login_code(w, name, client="10.9.9.9"))
        return codes

    known = await spread(gp.login_name)
    assert known == await spread("nobody@example.org")
    assert known == ["invalid_credentials"] * 6 + ["account_locked"] * 3
    assert await _login_code(w, gp.login_name, gp.auth_key, "10.9.9.9") == "account_locked"
    assert "login.locked" in [e.event.action for e in await w.store.list_audit()]
    w.clock.advance(30)
    done = await _sign_in_from(w, gp, "test", code=w.code(enrolled.secret))
    assert done.failed_attempts == 6
    assert await _login_code(w, gp.login_name, gp.auth_key, "10.9.9.9") == "ok"
