"""Sign-in's first step and the throttle, against the domain services: uniform pre-login,
backoff and lockout that parallel guesses cannot outrun, unknown names that answer like
real ones, and the password change."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

import storage
from crypto.password import parse_kdf_params
from server.errors import DomainError, InvalidCredentials, Locked, RateLimited
from storage import OrgKind, Role
from tests.samples import wrong_codes
from tests.server.domain.world import Clinic, World


async def _login_code(world: World, name: str, auth_key: bytes | None = None) -> str:
    """The error code of one login (a random auth key unless given)."""
    try:
        await world.services.signin.login_password(name, auth_key or os.urandom(32), client="test")
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
    assert codes.count("rate_limited") == 18
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
    assert codes.count("rate_limited") == 18


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
    assert set(known[4:]) == {"account_locked"}
    assert await _login_code(world, "nobody2@example.org") == "invalid_credentials"
    # The right password is refused too while locked; after the lockout it works.
    assert await _login_code(world, gp.login_name, gp.auth_key) == "account_locked"
    world.clock.advance(601)
    assert await _login_code(world, gp.login_name, gp.auth_key) == "ok"


async def test_backoff_waits_one_then_two_seconds(cast: Clinic) -> None:
    w = cast.world
    name = cast.gp.login_name
    assert await _login_code(w, name) == "invalid_credentials"
    assert await _login_code(w, name) == "invalid_credentials"
    with pytest.raises(RateLimited) as err:
        await w.services.signin.login_password(name, cast.gp.auth_key, client="test")
    assert err.value.retry_after == 2  # one second, rounded up
    w.clock.advance(1)
    assert await _login_code(w, name) == "invalid_credentials"
    w.clock.advance(1)
    assert await _login_code(w, name) == "rate_limited"  # now two seconds
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


async def test_a_locked_account_cannot_change_its_password(cast: Clinic) -> None:
    w = cast.world
    enrolled = await w.enrol(cast.gp)
    auth = await w.services.sessions.authenticate(enrolled.token)
    for _ in range(5):
        assert await _login_code(w, cast.gp.login_name) == "invalid_credentials"
        w.clock.advance(61)
    with pytest.raises(Locked):
        await w.services.signin.change_password(
            auth,
            current_auth_key=cast.gp.auth_key,
            kdf_params=await w.services.signin.prelogin(cast.gp.login_name),
            auth_key=os.urandom(32),
            wrapped_usk=b"w",
            token=enrolled.token,
            client=None,
        )
