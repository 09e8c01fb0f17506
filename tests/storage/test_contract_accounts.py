"""Contract suite, accounts side: organisations, users, TOTP, lockout, sessions, invites.
Runs on every backend in ``conftest.BACKENDS``."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib

import pytest

from storage import (
    Conflict,
    InvalidArgument,
    Invite,
    Membership,
    NotFound,
    Organisation,
    OrgKind,
    Role,
    Session,
    Storage,
)
from tests.storage.conftest import T0, make_world, new_user

H = dt.timedelta(hours=1)


def h(x: str) -> bytes:
    return hashlib.sha256(x.encode()).digest()


# ---------------------------------------------------------------- organisations


async def test_organisations_roundtrip_and_duplicate(store: Storage) -> None:
    org = Organisation("prac-9", OrgKind.PRACTICE, "Hill Practice", None, T0)
    assert await store.create_organisation(org) == org
    assert await store.get_organisation("prac-9") == org
    with pytest.raises(Conflict) as e:
        await store.create_organisation(org)
    assert e.value.reason == "duplicate"
    updated = await store.set_records_public_key("prac-9", b"pub")
    assert updated.records_public_key == b"pub"
    await store.create_organisation(Organisation("serv-9", OrgKind.SERVICE, "Skin", None, T0))
    assert [o.org_id for o in await store.list_organisations()] == ["prac-9", "serv-9"]
    assert [o.org_id for o in await store.list_organisations(OrgKind.SERVICE)] == ["serv-9"]
    with pytest.raises(NotFound):
        await store.get_organisation("nope")
    with pytest.raises(NotFound):
        await store.set_records_public_key("nope", b"k")


@pytest.mark.parametrize("bad", ["", "a" * 65, "has space", "slash/id", "ünï"])
async def test_malformed_ids_are_refused(store: Storage, bad: str) -> None:
    with pytest.raises(InvalidArgument):
        await store.get_organisation(bad)


async def test_naive_datetime_is_refused(store: Storage) -> None:
    with pytest.raises(InvalidArgument):
        await store.create_organisation(
            Organisation("p", OrgKind.PRACTICE, "x", None, dt.datetime(2026, 1, 1))
        )


# ---------------------------------------------------------------- users


async def test_user_roundtrip_and_login_lookup(store: Storage) -> None:
    w = await make_world(store)
    u = await store.get_user(w.gp)
    assert u.login_name == "gp-1@example.org"
    assert u.kdf_params == b"kdf:gp-1"
    assert u.memberships == (Membership(w.practice, Role.GP),)
    assert (u.totp_secret, u.totp_confirmed, u.failed_logins, u.disabled) == (None, False, 0, False)
    # Login lookup is case-insensitive and NFKC-normalised (blind index).
    found = await store.find_user_by_login("  GP-1@Example.ORG ")
    assert found is not None and found.user_id == w.gp
    assert await store.find_user_by_login("nobody@example.org") is None
    assert await store.find_user_by_login("") is None
    with pytest.raises(NotFound):
        await store.get_user("ghost")


async def test_user_duplicates_and_unknown_org(store: Storage) -> None:
    w = await make_world(store)
    with pytest.raises(Conflict):
        await store.create_user(new_user(w.gp, login="other@example.org"))
    with pytest.raises(Conflict):
        await store.create_user(new_user("gp-9", login="GP-1@example.org"))
    with pytest.raises(NotFound):
        await store.create_user(new_user("gp-8"), [Membership("nope", Role.GP)])
    # The failed unit left nothing behind.
    with pytest.raises(NotFound):
        await store.get_user("gp-8")


async def test_memberships_and_listing(store: Storage) -> None:
    w = await make_world(store)
    assert await store.count_users_with_role(Role.ADMIN) == 0
    u = await store.add_membership(w.gp, Membership(w.practice, Role.ADMIN))
    assert set(u.memberships) == {
        Membership(w.practice, Role.GP),
        Membership(w.practice, Role.ADMIN),
    }
    await store.add_membership(w.gp, Membership(w.practice, Role.ADMIN))  # idempotent
    assert await store.count_users_with_role(Role.ADMIN) == 1
    assert [x.user_id for x in await store.list_users(w.service)] == [w.derm, w.derm2]
    assert len(await store.list_users()) == 3
    with pytest.raises(NotFound):
        await store.add_membership(w.gp, Membership("nope", Role.ADMIN))
    with pytest.raises(NotFound):
        await store.add_membership("ghost", Membership(w.practice, Role.ADMIN))


async def test_credentials_change_with_compare_and_set(store: Storage) -> None:
    w = await make_world(store)
    old = (await store.get_user(w.gp)).auth_key_hash
    u = await store.update_credentials(
        w.gp,
        kdf_params=b"kdf2",
        auth_key_hash="new-hash",
        wrapped_usk=b"usk2",
        now=T0 + H,
        expected_auth_key_hash=old,
    )
    assert (u.kdf_params, u.auth_key_hash, u.wrapped_usk) == (b"kdf2", "new-hash", b"usk2")
    with pytest.raises(Conflict) as e:
        await store.update_credentials(
            w.gp,
            kdf_params=b"kdf3",
            auth_key_hash="x",
            wrapped_usk=b"u",
            now=T0,
            expected_auth_key_hash=old,
        )
    assert e.value.reason == "state_changed"
    await store.update_auth_key_hash(w.gp, "rehashed")
    assert (await store.get_user(w.gp)).auth_key_hash == "rehashed"


# ---------------------------------------------------------------- TOTP


async def test_totp_enrol_confirm_and_single_use(store: Storage) -> None:
    w = await make_world(store)
    with pytest.raises(Conflict):  # no secret yet
        await store.confirm_totp(w.gp, 100, ["c1"], T0)
    u = await store.begin_totp_enrolment(w.gp, b"secret-bytes", T0)
    assert u.totp_secret == b"secret-bytes" and not u.totp_confirmed
    u = await store.confirm_totp(w.gp, 100, ["c1", "c2"], T0)
    assert u.totp_confirmed and u.totp_last_timecode == 100
    assert u.recovery_code_hashes == ("c1", "c2")
    with pytest.raises(Conflict) as e:
        await store.use_totp_timecode(w.gp, 100, T0)
    assert e.value.reason == "totp_replay"
    with pytest.raises(Conflict):
        await store.use_totp_timecode(w.gp, 99, T0)
    assert (await store.use_totp_timecode(w.gp, 101, T0)).totp_last_timecode == 101
    with pytest.raises(InvalidArgument):
        await store.use_totp_timecode(w.gp, -1, T0)
    with pytest.raises(NotFound):
        await store.use_totp_timecode("ghost", 5, T0)


async def test_totp_code_wins_once_under_race(store: Storage) -> None:
    w = await make_world(store)
    await store.begin_totp_enrolment(w.gp, b"s", T0)
    await store.confirm_totp(w.gp, 10, [], T0)

    async def attempt() -> bool:
        try:
            await store.use_totp_timecode(w.gp, 11, T0)
            return True
        except Conflict:
            return False

    results = await asyncio.gather(*(attempt() for _ in range(20)))
    assert results.count(True) == 1


async def test_recovery_codes_work_once_and_reset(store: Storage) -> None:
    w = await make_world(store)
    await store.begin_totp_enrolment(w.gp, b"s", T0)
    await store.confirm_totp(w.gp, 1, ["a", "b"], T0)
    u = await store.consume_recovery_code(w.gp, "a", T0)
    assert u.recovery_code_hashes == ("b",)
    with pytest.raises(NotFound):
        await store.consume_recovery_code(w.gp, "a", T0)
    u = await store.reset_totp(w.gp, T0)
    assert (u.totp_secret, u.totp_confirmed, u.recovery_code_hashes) == (None, False, ())


async def test_recovery_code_is_single_use_under_concurrency(store: Storage) -> None:
    w = await make_world(store)
    codes = [f"code-{i}" for i in range(8)]
    await store.begin_totp_enrolment(w.gp, b"s", T0)
    await store.confirm_totp(w.gp, 1, codes, T0)
    for code in codes[:6]:  # several rounds: one race alone may happen to serialise
        results = await asyncio.gather(
            *(store.consume_recovery_code(w.gp, code, T0) for _ in range(6)),
            return_exceptions=True,
        )
        assert sum(1 for r in results if not isinstance(r, BaseException)) == 1
        assert all(isinstance(r, NotFound) for r in results if isinstance(r, BaseException))
    assert (await store.get_user(w.gp)).recovery_code_hashes == tuple(codes[6:])


async def test_credential_update_compare_and_set_under_concurrency(store: Storage) -> None:
    w = await make_world(store)
    before = (await store.get_user(w.gp)).auth_key_hash
    results = await asyncio.gather(
        *(
            store.update_credentials(
                w.gp,
                kdf_params=b"k",
                auth_key_hash=f"new-{i}",
                wrapped_usk=b"u",
                now=T0,
                expected_auth_key_hash=before,
            )
            for i in range(6)
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, BaseException))
    assert (await store.get_user(w.gp)).auth_key_hash == winners[0].auth_key_hash


async def test_failures_lock_and_reset(store: Storage) -> None:
    w = await make_world(store)
    for i in range(1, 3):
        s = await store.record_auth_failure(w.gp, T0, lock_after=3, lock_for=H)
        assert (s.failed_logins, s.locked_until) == (i, None)
    s = await store.record_auth_failure(w.gp, T0, lock_after=3, lock_for=H)
    assert (s.failed_logins, s.locked_until) == (3, T0 + H)
    await store.reset_auth_failures(w.gp)
    u = await store.get_user(w.gp)
    assert (u.failed_logins, u.locked_until) == (0, None)
    with pytest.raises(NotFound):
        await store.record_auth_failure("ghost", T0, lock_after=3, lock_for=H)


async def test_concurrent_failures_are_all_counted(store: Storage) -> None:
    w = await make_world(store)
    await asyncio.gather(
        *(store.record_auth_failure(w.gp, T0, lock_after=100, lock_for=H) for _ in range(25))
    )
    assert (await store.get_user(w.gp)).failed_logins == 25


# ---------------------------------------------------------------- sessions


def session(name: str, user: str, *, at: dt.datetime = T0) -> Session:
    return Session(h(name), user, at, at, at + H, "203.0.113.7", "pytest", False)


async def test_sessions_lifecycle(store: Storage) -> None:
    w = await make_world(store)
    s1 = await store.create_session(session("s1", w.gp))
    assert s1.client_address == "203.0.113.7"
    await store.create_session(session("s2", w.gp, at=T0 + dt.timedelta(minutes=1)))
    with pytest.raises(Conflict):
        await store.create_session(session("s1", w.gp))
    with pytest.raises(NotFound):
        await store.create_session(session("s3", "ghost"))
    t = await store.touch_session(h("s1"), T0 + H, expires_at=T0 + 2 * H, mfa_verified=True)
    assert (t.last_seen_at, t.expires_at, t.mfa_verified) == (T0 + H, T0 + 2 * H, True)
    assert [s.session_id_hash for s in await store.list_sessions(w.gp)] == [h("s2"), h("s1")]
    assert await store.revoke_user_sessions(w.gp, T0, except_hash=h("s1")) == 1
    assert [s.session_id_hash for s in await store.list_sessions(w.gp)] == [h("s1")]
    await store.revoke_session(h("s1"), T0)
    await store.revoke_session(h("s1"), T0 + H)  # idempotent, keeps the first time
    got = await store.get_session(h("s1"))
    assert got is not None and got.revoked_at == T0
    with pytest.raises(NotFound):
        await store.touch_session(h("s1"), T0)
    with pytest.raises(NotFound):
        await store.revoke_session(h("never"), T0)
    assert await store.get_session(h("never")) is None
    assert len(await store.list_sessions(w.gp, include_revoked=True)) == 2
    with pytest.raises(InvalidArgument):
        await store.create_session(Session(b"short", w.gp, T0, T0, T0, "x"))


# ---------------------------------------------------------------- invites


def invite(name: str, org: str, role: Role = Role.GP, **kw: object) -> Invite:
    base: dict[str, object] = {
        "token_hash": h(name),
        "org_id": org,
        "role": role,
        "created_by": None,
        "created_at": T0,
        "expires_at": T0 + H,
    }
    base.update(kw)
    return Invite(**base)  # type: ignore[arg-type]


async def test_invite_accept_once(store: Storage) -> None:
    w = await make_world(store)
    inv = await store.create_invite(invite("t1", w.practice, login_name="new@example.org"))
    assert inv.login_name == "new@example.org"
    assert (await store.get_invite(h("t1"))).role is Role.GP
    u = await store.accept_invite(h("t1"), new_user("gp-new"), T0 + dt.timedelta(minutes=5))
    assert u.memberships == (Membership(w.practice, Role.GP),)
    got = await store.get_invite(h("t1"))
    assert got.used_by == "gp-new" and got.used_at is not None
    with pytest.raises(Conflict) as e:
        await store.accept_invite(h("t1"), new_user("gp-other"), T0)
    assert e.value.reason == "invite_used"
    with pytest.raises(NotFound):
        await store.accept_invite(h("nope"), new_user("gp-x"), T0)
    with pytest.raises(NotFound):
        await store.create_invite(invite("t9", "no-such-org"))


async def test_invite_expired_and_revoked(store: Storage) -> None:
    w = await make_world(store)
    await store.create_invite(invite("old", w.practice))
    with pytest.raises(Conflict) as e:
        await store.accept_invite(h("old"), new_user("late"), T0 + H)
    assert e.value.reason == "invite_expired"
    await store.create_invite(invite("rev", w.practice))
    r = await store.revoke_invite(h("rev"), T0)
    assert r.revoked_at == T0
    with pytest.raises(Conflict) as e:  # a second revoke (two admins at once) is told
        await store.revoke_invite(h("rev"), T0 + H)
    assert e.value.reason == "invite_revoked"
    assert (await store.get_invite(h("rev"))).revoked_at == T0
    with pytest.raises(Conflict) as e:
        await store.accept_invite(h("rev"), new_user("x"), T0)
    assert e.value.reason == "invite_revoked"
    assert {i.token_hash for i in await store.list_invites(w.practice)} == {h("old"), h("rev")}


async def test_invite_race_exactly_one_wins(store: Storage) -> None:
    w = await make_world(store)
    await store.create_invite(invite("race", w.practice))

    async def accept(i: int) -> str:
        try:
            await store.accept_invite(h("race"), new_user(f"racer-{i}"), T0)
            return "ok"
        except Conflict as exc:
            return exc.reason

    results = await asyncio.gather(*(accept(i) for i in range(10)))
    assert results.count("ok") == 1
    assert set(results) == {"ok", "invite_used"}
    assert len(await store.list_users(w.practice)) == 2  # the GP and the one winner


async def test_accept_with_taken_login_leaves_invite_unused(store: Storage) -> None:
    w = await make_world(store)
    await store.create_invite(invite("t", w.practice))
    with pytest.raises(Conflict) as e:
        await store.accept_invite(h("t"), new_user("x", login="gp-1@example.org"), T0)
    assert e.value.reason == "duplicate"
    assert (await store.get_invite(h("t"))).used_at is None
