"""Contract suite: passkeys, their challenges and the organisations' requirements
(docs/storage.md; docs/architecture.md "Passkeys").

Runs on the memory store, SQLite and, with DERMLINE_TEST_POSTGRES_DSN, PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib

import pytest

from storage import (
    Conflict,
    InvalidArgument,
    NotFound,
    Passkey,
    PasskeyChallenge,
    PasskeyPurpose,
    Role,
    Storage,
)
from tests.storage.conftest import T0, World, make_world

M = dt.timedelta(minutes=1)


def passkey(n: int = 1, user_id: str = World.gp, **kw: object) -> Passkey:
    base: dict[str, object] = {
        "passkey_id": f"pk-{n}",
        "user_id": user_id,
        "credential_id": b"cred-%d" % n,
        "public_key": b"cose-key-%d" % n,
        "sign_count": 0,
        "name": f"Phone {n}",
        "created_at": T0 + n * M,
        "aaguid": "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4",
        "transports": ("internal", "hybrid"),
        "backup_eligible": True,
        "backed_up": False,
    }
    base.update(kw)
    return Passkey(**base)  # type: ignore[arg-type]


def challenge(label: bytes, **kw: object) -> PasskeyChallenge:
    base: dict[str, object] = {
        "challenge_hash": hashlib.sha256(label).digest(),
        "purpose": PasskeyPurpose.SECOND_FACTOR,
        "created_at": T0,
        "expires_at": T0 + 5 * M,
        "user_id": World.gp,
        "session_hash": hashlib.sha256(b"session").digest(),
    }
    base.update(kw)
    return PasskeyChallenge(**base)  # type: ignore[arg-type]


async def test_add_find_list(store: Storage) -> None:
    await make_world(store)
    one = await store.add_passkey(passkey(1, prf_wrap=b"\x01\x01\x11" + bytes(60)))
    two = await store.add_passkey(passkey(2, sign_count=7))
    await store.add_passkey(passkey(3, user_id=World.derm))
    assert one == passkey(1, prf_wrap=b"\x01\x01\x11" + bytes(60))
    assert await store.find_passkey(b"cred-2") == two
    assert [p.passkey_id for p in await store.list_passkeys(World.gp)] == ["pk-1", "pk-2"]
    assert await store.list_passkeys("nobody") == []
    with pytest.raises(NotFound):
        await store.find_passkey(b"cred-9")


async def test_add_refuses_duplicates_unknown_users_and_bad_values(store: Storage) -> None:
    await make_world(store)
    await store.add_passkey(passkey(1))
    with pytest.raises(Conflict):
        await store.add_passkey(passkey(2, credential_id=b"cred-1"))  # credential taken
    with pytest.raises(Conflict):
        await store.add_passkey(passkey(1, credential_id=b"other"))  # id taken
    with pytest.raises(Conflict):  # another user's credential id is taken as well
        await store.add_passkey(passkey(5, user_id=World.derm, credential_id=b"cred-1"))
    with pytest.raises(NotFound):
        await store.add_passkey(passkey(3, user_id="ghost"))
    for bad in (
        {"credential_id": b""},
        {"credential_id": bytes(1024)},
        {"public_key": b""},
        {"sign_count": -1},
        {"sign_count": 2**32},
        {"name": " "},
        {"name": "x" * 201},
        {"name": "\ud800"},
        {"transports": ["internal"]},
        {"prf_wrap": b""},
        {"passkey_id": "bad id"},
    ):
        with pytest.raises(InvalidArgument):
            await store.add_passkey(passkey(4, **bad))
    with pytest.raises(InvalidArgument):
        await store.add_passkey("not a passkey")  # type: ignore[arg-type]
    assert [p.passkey_id for p in await store.list_passkeys(World.gp)] == ["pk-1"]


async def test_use_is_a_compare_and_set_on_the_counter(store: Storage) -> None:
    await make_world(store)
    await store.add_passkey(passkey(1, sign_count=4))
    used = await store.use_passkey(
        "pk-1", expected_sign_count=4, sign_count=5, backed_up=True, now=T0 + 9 * M
    )
    assert (used.sign_count, used.backed_up, used.last_used_at) == (5, True, T0 + 9 * M)
    assert used.aaguid == passkey(1).aaguid and used.transports == ("internal", "hybrid")
    assert await store.find_passkey(b"cred-1") == used
    with pytest.raises(Conflict):  # the counter moved since it was read
        await store.use_passkey("pk-1", expected_sign_count=4, sign_count=6, backed_up=True, now=T0)
    with pytest.raises(NotFound):
        await store.use_passkey(
            "pk-9", expected_sign_count=0, sign_count=1, backed_up=False, now=T0
        )
    with pytest.raises(InvalidArgument):
        await store.use_passkey(
            "pk-1", expected_sign_count=5, sign_count=2**32, backed_up=False, now=T0
        )


async def test_racing_uses_one_wins(store: Storage) -> None:
    await make_world(store)
    await store.add_passkey(passkey(1))
    results = await asyncio.gather(
        *(
            store.use_passkey("pk-1", expected_sign_count=0, sign_count=1, backed_up=False, now=T0)
            for _ in range(6)
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Passkey) for r in results) == 1
    assert all(isinstance(r, Passkey | Conflict) for r in results)


async def test_rename_wrap_and_delete(store: Storage) -> None:
    await make_world(store)
    await store.add_passkey(passkey(1))
    await store.add_passkey(passkey(2))
    assert (await store.rename_passkey("pk-1", "Work phone")).name == "Work phone"
    wrapped = await store.set_passkey_prf_wrap("pk-1", b"w" * 63)
    assert wrapped.prf_wrap == b"w" * 63 and wrapped.name == "Work phone"
    assert (await store.set_passkey_prf_wrap("pk-1", None)).prf_wrap is None
    with pytest.raises(InvalidArgument):
        await store.rename_passkey("pk-1", "")
    with pytest.raises(NotFound):
        await store.rename_passkey("pk-9", "x")
    with pytest.raises(NotFound):
        await store.set_passkey_prf_wrap("pk-9", None)
    await store.delete_passkey("pk-1")
    with pytest.raises(NotFound):
        await store.delete_passkey("pk-1")
    with pytest.raises(NotFound):
        await store.find_passkey(b"cred-1")
    # the credential id is free again
    await store.add_passkey(passkey(3, credential_id=b"cred-1"))
    assert await store.delete_user_passkeys(World.gp) == 2
    assert await store.list_passkeys(World.gp) == []
    assert await store.delete_user_passkeys(World.gp) == 0


async def test_challenges_are_taken_once(store: Storage) -> None:
    await make_world(store)
    c = challenge(b"c1")
    await store.put_passkey_challenge(c)
    with pytest.raises(Conflict):
        await store.put_passkey_challenge(c)
    assert await store.get_passkey_challenge(c.challenge_hash) == c
    results = await asyncio.gather(
        *(store.take_passkey_challenge(c.challenge_hash) for _ in range(5)),
        return_exceptions=True,
    )
    assert [r for r in results if isinstance(r, PasskeyChallenge)] == [c]
    assert sum(isinstance(r, NotFound) for r in results) == 4
    with pytest.raises(NotFound):
        await store.get_passkey_challenge(c.challenge_hash)
    # without user and session (a sign-in by a discoverable passkey)
    free = challenge(b"c2", user_id=None, session_hash=None, purpose=PasskeyPurpose.SIGN_IN)
    await store.put_passkey_challenge(free)
    assert await store.take_passkey_challenge(free.challenge_hash) == free


async def test_expired_challenges_are_dropped_by_the_next_put(store: Storage) -> None:
    await make_world(store)
    old = challenge(b"old")
    await store.put_passkey_challenge(old)
    # taken before the sweep, an expired challenge is still returned (the caller checks)
    late = challenge(b"late")
    await store.put_passkey_challenge(late)
    await store.put_passkey_challenge(
        challenge(b"new", created_at=T0 + 6 * M, expires_at=T0 + 9 * M)
    )
    with pytest.raises(NotFound):
        await store.take_passkey_challenge(old.challenge_hash)
    with pytest.raises(NotFound):
        await store.get_passkey_challenge(late.challenge_hash)


async def test_challenge_values_are_checked(store: Storage) -> None:
    await make_world(store)
    for bad in (
        {"challenge_hash": b"short"},
        {"session_hash": b"short"},
        {"purpose": "register"},
        {"user_id": "bad id"},
    ):
        with pytest.raises(InvalidArgument):
            await store.put_passkey_challenge(challenge(b"x", **bad))
    with pytest.raises(NotFound):
        await store.put_passkey_challenge(challenge(b"x", user_id="ghost"))
    with pytest.raises(InvalidArgument):
        await store.take_passkey_challenge(b"short")


async def test_requirements(store: Storage) -> None:
    await make_world(store)
    r1 = await store.set_passkey_requirement(
        World.service, Role.DERMATOLOGIST, created_by=World.derm, now=T0
    )
    assert (r1.org_id, r1.role, r1.created_by, r1.created_at) == (
        World.service,
        Role.DERMATOLOGIST,
        World.derm,
        T0,
    )
    # idempotent: the first one stays
    again = await store.set_passkey_requirement(
        World.service, Role.DERMATOLOGIST, created_by=None, now=T0 + M
    )
    assert again == r1
    everyone = await store.set_passkey_requirement(World.practice, None, created_by=None, now=T0)
    assert everyone.role is None
    listed = await store.list_passkey_requirements([World.practice, World.service, "other"])
    assert listed == [everyone, r1]
    assert await store.list_passkey_requirements([World.service]) == [r1]
    assert await store.list_passkey_requirements([]) == []
    await store.clear_passkey_requirement(World.service, Role.DERMATOLOGIST)
    await store.clear_passkey_requirement(World.service, Role.DERMATOLOGIST)
    assert await store.list_passkey_requirements([World.service]) == []
    with pytest.raises(NotFound):
        await store.set_passkey_requirement("org-x", None, created_by=None, now=T0)
    with pytest.raises(InvalidArgument):
        await store.set_passkey_requirement(World.service, "gp", created_by=None, now=T0)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        await store.list_passkey_requirements(World.service)


async def test_a_passkey_survives_a_reopen_of_the_record(store: Storage) -> None:
    await make_world(store)
    made = await store.add_passkey(passkey(1, last_used_at=T0 + M, prf_wrap=b"p" * 63))
    assert dataclasses.replace(made) == (await store.list_passkeys(World.gp))[0]
