"""Contract suite (memory, SQLite, PostgreSQL): removals mark cases for a new epoch, in the same
unit as the change that causes them; a new epoch is a compare-and-set on ``key_epoch``
(``storage.interface.EpochStore``)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from storage import (
    Conflict,
    InvalidArgument,
    KeyRecipientKind,
    Membership,
    NotFound,
    Participant,
    RemovalReason,
    Role,
    Storage,
    WrappedCaseKey,
)
from tests.storage.conftest import T0, World, make_case, make_world

M = dt.timedelta(minutes=1)


async def with_derms(store: Storage, case_id: str) -> type[World]:
    w = await make_world(store)
    await make_case(store, case_id)
    await store.add_participants_with_keys(
        [
            Participant(case_id, w.derm, Role.DERMATOLOGIST, T0),
            Participant(case_id, w.derm2, Role.DERMATOLOGIST, T0),
        ],
        [
            WrappedCaseKey(case_id, 0, KeyRecipientKind.USER, w.derm, b"ck-d1", T0),
            WrappedCaseKey(case_id, 0, KeyRecipientKind.USER, w.derm2, b"ck-d2", T0),
        ],
    )
    return w


def epoch_keys(case_id: str, epoch: int, *users: str) -> list[WrappedCaseKey]:
    keys = [
        WrappedCaseKey(case_id, epoch, KeyRecipientKind.USER, u, f"e{epoch}-{u}".encode(), T0)
        for u in users
    ]
    keys.append(
        WrappedCaseKey(case_id, epoch, KeyRecipientKind.ORGANISATION, World.practice, b"rk", T0)
    )
    return keys


async def test_remove_participant_records_the_epoch_and_drops_the_participant(
    store: Storage,
) -> None:
    w = await with_derms(store, "c1")
    removal = await store.remove_participant("c1", w.derm2, removed_by=w.gp, now=T0 + M)
    assert (removal.case_id, removal.user_id, removal.epoch) == ("c1", w.derm2, 0)
    assert (removal.reason, removal.removed_by, removal.removed_at) == (
        RemovalReason.CASE,
        w.gp,
        T0 + M,
    )
    assert [p.user_id for p in await store.list_participants("c1")] == sorted([w.gp, w.derm])
    assert await store.list_case_removals("c1") == [removal]
    assert (await store.get_case("c1")).updated_at == T0 + M
    assert (await store.list_cases_for_user(w.derm2)).items == ()
    # Their old wraps stay (they held that key anyway; the next epoch is what they lose).
    assert [k.epoch for k in await store.get_case_keys("c1", recipient_id=w.derm2)] == [0]
    with pytest.raises(NotFound):
        await store.remove_participant("c1", w.derm2, removed_by=w.gp, now=T0 + M)
    with pytest.raises(NotFound):
        await store.remove_participant("nope", w.derm, removed_by=w.gp, now=T0 + M)
    assert await store.list_case_removals("nope") == []


async def test_rotation_is_a_compare_and_set_on_the_epoch(store: Storage) -> None:
    w = await with_derms(store, "c1")
    await store.remove_participant("c1", w.derm2, removed_by=w.gp, now=T0 + M)
    case = await store.rotate_case_key("c1", 0, epoch_keys("c1", 1, w.gp, w.derm), T0 + 2 * M)
    assert case.key_epoch == 1 and case.updated_at == T0 + 2 * M
    keys = await store.get_case_keys("c1", recipient_id=w.derm)
    assert [(k.epoch, k.wrapped_key) for k in keys] == [(0, b"ck-d1"), (1, f"e1-{w.derm}".encode())]
    assert [k.epoch for k in await store.get_case_keys("c1", recipient_id=w.derm2)] == [0]
    # The removal stays listed, at the epoch it was made in: the case has moved past it.
    [removal] = await store.list_case_removals("c1")
    assert removal.epoch == 0
    # A second rotation from the same epoch loses, and stores nothing.
    with pytest.raises(Conflict) as info:
        await store.rotate_case_key("c1", 0, epoch_keys("c1", 1, w.gp), T0 + 3 * M)
    assert info.value.reason == "epoch_changed"
    assert (await store.get_case("c1")).key_epoch == 1
    assert len(await store.get_case_keys("c1")) == 4 + 3


async def test_concurrent_rotations_exactly_one_wins(store: Storage) -> None:
    w = await with_derms(store, "c1")

    async def rotate(tag: bytes) -> bool:
        keys = [
            WrappedCaseKey("c1", 1, KeyRecipientKind.USER, u, tag, T0)
            for u in (w.gp, w.derm, w.derm2)
        ]
        try:
            await store.rotate_case_key("c1", 0, keys, T0 + M)
        except Conflict:
            return False
        return True

    results = await asyncio.gather(*(rotate(bytes([i])) for i in range(5)))
    assert sorted(results) == [False] * 4 + [True]
    winners = {k.wrapped_key for k in await store.get_case_keys("c1") if k.epoch == 1}
    assert len(winners) == 1  # the wraps of one rotation only


async def test_rotation_refusals(store: Storage) -> None:
    w = await with_derms(store, "c1")
    await make_case(store, "c2")
    with pytest.raises(InvalidArgument):
        await store.rotate_case_key("c1", 0, [], T0)
    with pytest.raises(InvalidArgument):
        await store.rotate_case_key("c1", 0, epoch_keys("c1", 2, w.gp), T0)
    with pytest.raises(InvalidArgument):
        await store.rotate_case_key("c1", 0, epoch_keys("c2", 1, w.gp), T0)
    with pytest.raises(NotFound):
        await store.rotate_case_key("nope", 0, epoch_keys("nope", 1, w.gp), T0)
    with pytest.raises(Conflict):
        await store.rotate_case_key("c1", 1, epoch_keys("c1", 2, w.gp), T0)
    assert (await store.get_case("c1")).key_epoch == 0


async def test_disabling_an_account_marks_every_case_in_the_same_unit(store: Storage) -> None:
    w = await with_derms(store, "c1")
    await make_case(store, "c2")
    await store.add_participants_with_keys(
        [Participant("c2", w.derm2, Role.DERMATOLOGIST, T0)],
        [WrappedCaseKey("c2", 0, KeyRecipientKind.USER, w.derm2, b"x", T0)],
    )
    await store.rotate_case_key("c2", 0, epoch_keys("c2", 1, w.gp, w.derm2), T0)
    user, marked = await store.disable_user(w.derm2, T0 + M)
    assert user.disabled and marked == ["c1", "c2"]
    assert (await store.get_user(w.derm2)).disabled
    for cid, epoch in (("c1", 0), ("c2", 1)):
        [removal] = await store.list_case_removals(cid)
        assert (removal.user_id, removal.epoch, removal.reason, removal.removed_by) == (
            w.derm2,
            epoch,
            RemovalReason.ACCOUNT,
            None,
        )
        assert w.derm2 not in [p.user_id for p in await store.list_participants(cid)]
    assert (await store.disable_user(w.derm2, T0 + 2 * M))[1] == []
    with pytest.raises(NotFound):
        await store.disable_user("no-such-user", T0)


async def test_removing_a_role_marks_only_the_cases_that_needed_it(store: Storage) -> None:
    w = await with_derms(store, "c1")
    # derm is also an admin of the service: losing that role changes no case.
    await store.add_membership(w.derm, Membership(w.service, Role.ADMIN))
    user, marked = await store.remove_membership(w.derm, Membership(w.service, Role.ADMIN), T0)
    assert marked == [] and Membership(w.service, Role.ADMIN) not in user.memberships
    user, marked = await store.remove_membership(
        w.derm, Membership(w.service, Role.DERMATOLOGIST), T0 + M
    )
    assert marked == ["c1"] and user.memberships == ()
    [removal] = await store.list_case_removals("c1")
    assert (removal.user_id, removal.reason) == (w.derm, RemovalReason.MEMBERSHIP)
    assert [p.user_id for p in await store.list_participants("c1")] == sorted([w.gp, w.derm2])
    # The GP leaves the practice: their case is marked too.
    _, marked = await store.remove_membership(w.gp, Membership(w.practice, Role.GP), T0 + M)
    assert marked == ["c1"]
    with pytest.raises(NotFound):
        await store.remove_membership(w.gp, Membership(w.practice, Role.GP), T0 + M)
    with pytest.raises(NotFound):
        await store.remove_membership("no-such-user", Membership(w.practice, Role.GP), T0)
