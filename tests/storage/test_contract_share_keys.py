"""Contract suite: adding participants with their wraps of an existing epoch in one unit
(``add_participants_with_keys``, a participant sharing the case key with colleagues)."""

from __future__ import annotations

import datetime as dt

import pytest

from storage import (
    Conflict,
    InvalidArgument,
    KeyRecipientKind,
    NotFound,
    Participant,
    Role,
    Storage,
    WrappedCaseKey,
)
from tests.storage.conftest import T0, make_case, make_world

M = dt.timedelta(minutes=1)


async def test_add_participants_with_keys(store: Storage) -> None:
    w = await make_world(store)
    await make_case(store, "c1")
    await store.add_participants_with_keys(
        [
            Participant("c1", w.derm, Role.DERMATOLOGIST, T0 + M),
            Participant("c1", w.derm2, Role.DERMATOLOGIST, T0 + M),
        ],
        [
            WrappedCaseKey("c1", 0, KeyRecipientKind.USER, w.derm, b"ck-d1", T0 + M),
            WrappedCaseKey("c1", 0, KeyRecipientKind.USER, w.derm2, b"ck-d2", T0 + M),
        ],
    )
    people = await store.list_participants("c1")
    assert [(p.user_id, p.role) for p in people] == [
        (w.gp, Role.GP),
        (w.derm, Role.DERMATOLOGIST),
        (w.derm2, Role.DERMATOLOGIST),
    ]
    mine = await store.get_case_keys(
        "c1", recipient_kind=KeyRecipientKind.USER, recipient_id=w.derm2
    )
    assert [(k.epoch, k.wrapped_key) for k in mine] == [(0, b"ck-d2")]
    assert (await store.get_case("c1")).key_epoch == 0  # same epoch, no new one
    assert [c.case_id for c in (await store.list_cases_for_user(w.derm2)).items] == ["c1"]


async def test_add_participants_with_keys_is_all_or_nothing(store: Storage) -> None:
    w = await make_world(store)
    await make_case(store, "c1")
    # derm2 is new, the GP is already a participant: nothing at all is stored.
    with pytest.raises(Conflict):
        await store.add_participants_with_keys(
            [
                Participant("c1", w.derm2, Role.DERMATOLOGIST, T0 + M),
                Participant("c1", w.gp, Role.DERMATOLOGIST, T0 + M),
            ],
            [WrappedCaseKey("c1", 0, KeyRecipientKind.USER, w.derm2, b"ck-d2", T0 + M)],
        )
    assert [p.user_id for p in await store.list_participants("c1")] == [w.gp]
    assert await store.get_case_keys("c1", recipient_id=w.derm2) == []
    # A key that exists already (the GP's epoch-0 wrap): the new participant is rolled back.
    with pytest.raises(Conflict):
        await store.add_participants_with_keys(
            [Participant("c1", w.derm2, Role.DERMATOLOGIST, T0 + M)],
            [
                WrappedCaseKey("c1", 0, KeyRecipientKind.USER, w.derm2, b"ck-d2", T0 + M),
                WrappedCaseKey("c1", 0, KeyRecipientKind.USER, w.gp, b"other", T0 + M),
            ],
        )
    assert [p.user_id for p in await store.list_participants("c1")] == [w.gp]
    [gp_key] = await store.get_case_keys("c1", recipient_id=w.gp)
    assert gp_key.wrapped_key == b"ck-gp"


async def test_add_participants_with_keys_refusals(store: Storage) -> None:
    w = await make_world(store)
    await make_case(store, "c1")
    await make_case(store, "c2")
    with pytest.raises(InvalidArgument):
        await store.add_participants_with_keys([], [])
    with pytest.raises(InvalidArgument):
        await store.add_participants_with_keys(
            [Participant("c1", w.derm, Role.DERMATOLOGIST, T0)],
            [WrappedCaseKey("c2", 0, KeyRecipientKind.USER, w.derm, b"x", T0)],
        )
    with pytest.raises(NotFound):
        await store.add_participants_with_keys(
            [Participant("nope", w.derm, Role.DERMATOLOGIST, T0)],
            [WrappedCaseKey("nope", 0, KeyRecipientKind.USER, w.derm, b"x", T0)],
        )
    with pytest.raises(NotFound):
        await store.add_participants_with_keys(
            [Participant("c1", "no-such-user", Role.DERMATOLOGIST, T0)],
            [],
        )
    assert [p.user_id for p in await store.list_participants("c1")] == [w.gp]
    assert [p.user_id for p in await store.list_participants("c2")] == [w.gp]
