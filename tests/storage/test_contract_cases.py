"""Contract suite, case side: cases, transitions, triage queue, participants, keys,
attachments, outcomes, receipts."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from typing import Any

import pytest

from storage import (
    Attachment,
    CaseState,
    Conflict,
    InvalidArgument,
    KeyRecipientKind,
    Membership,
    NewCase,
    NotFound,
    Organisation,
    OrgKind,
    Outcome,
    OutcomeCategory,
    Participant,
    Priority,
    ReceiptKind,
    Role,
    Storage,
    WrappedCaseKey,
)
from tests.storage.conftest import T0, World, make_case, make_world, new_user

M = dt.timedelta(minutes=1)


async def test_create_and_get_case(store: Storage) -> None:
    w = await make_world(store)
    await make_case(store, "c1", priority=Priority.URGENT)
    c = await store.get_case("c1")
    assert (c.practice_id, c.service_id, c.created_by) == (w.practice, w.service, w.gp)
    assert (c.state, c.priority, c.submitted_at, c.last_seq, c.key_epoch) == (
        CaseState.SUBMITTED,
        Priority.URGENT,
        T0,
        0,
        0,
    )
    assert c.outcome_category is None and c.claimed_by is None
    with pytest.raises(Conflict):
        await make_case(store, "c1")
    with pytest.raises(NotFound):
        await store.get_case("nope")
    assert [p.user_id for p in await store.list_participants("c1")] == [w.gp]
    keys = await store.get_case_keys("c1")
    assert [(k.recipient_kind, k.wrapped_key) for k in keys] == [
        (KeyRecipientKind.ORGANISATION, b"ck-rk"),
        (KeyRecipientKind.USER, b"ck-gp"),
    ]


async def test_case_with_participants_in_one_unit(store: Storage) -> None:
    w = await make_world(store)
    await make_case(store, "c1")
    case, people = await store.get_case_with_participants("c1")
    assert case == await store.get_case("c1")
    assert people == await store.list_participants("c1") and [p.user_id for p in people] == [w.gp]
    with pytest.raises(NotFound):
        await store.get_case_with_participants("nope")


async def test_create_case_checks_organisations(store: Storage) -> None:
    w = await make_world(store)
    swapped = NewCase("c2", w.service, w.practice, w.gp, Priority.ROUTINE, T0)
    with pytest.raises(NotFound):
        await store.create_case(swapped, [], [])
    with pytest.raises(InvalidArgument):
        await store.create_case(
            NewCase("c3", w.practice, w.service, w.gp, Priority.ROUTINE, T0),
            [Participant("other", w.gp, Role.GP, T0)],
            [],
        )
    with pytest.raises(NotFound):
        await store.get_case("c2")


async def test_transition_compare_and_set(store: Storage) -> None:
    w = await make_world(store)
    await make_case(store, "c1")
    moved = await store.transition_case(
        "c1", CaseState.SUBMITTED, CaseState.IN_REVIEW, T0 + M, claimed_by=w.derm
    )
    assert moved.message is None
    c = moved.case
    assert (c.state, c.claimed_by, c.claimed_at, c.updated_at) == (
        CaseState.IN_REVIEW,
        w.derm,
        T0 + M,
        T0 + M,
    )
    assert [p.user_id for p in await store.list_participants("c1")] == [w.gp, w.derm]
    with pytest.raises(Conflict) as e:
        await store.transition_case("c1", CaseState.SUBMITTED, CaseState.IN_REVIEW, T0)
    assert e.value.reason == "state_changed"
    with pytest.raises(NotFound):
        await store.transition_case("nope", CaseState.SUBMITTED, CaseState.IN_REVIEW, T0)
    outcome = Outcome("c1", OutcomeCategory.REFERRAL, b"e2ee-outcome", w.derm, T0 + 2 * M)
    c = (
        await store.transition_case(
            "c1", CaseState.IN_REVIEW, CaseState.CLOSED, T0 + 2 * M, outcome=outcome
        )
    ).case
    assert (c.state, c.closed_at, c.outcome_category) == (
        CaseState.CLOSED,
        T0 + 2 * M,
        OutcomeCategory.REFERRAL,
    )
    assert await store.get_outcome("c1") == outcome
    assert await store.get_outcome("c-none") is None


async def test_claim_race_exactly_one_dermatologist_wins(store: Storage) -> None:
    w = await make_world(store)
    await make_case(store, "c1")

    async def claim(user: str) -> str:
        try:
            await store.transition_case(
                "c1", CaseState.SUBMITTED, CaseState.IN_REVIEW, T0, claimed_by=user
            )
            return user
        except Conflict:
            return ""

    winners = [x for x in await asyncio.gather(*(claim(u) for u in [w.derm, w.derm2] * 5)) if x]
    assert len(winners) == 1
    assert (await store.get_case("c1")).claimed_by == winners[0]
    parts = {p.user_id for p in await store.list_participants("c1")}
    assert parts == {w.gp, winners[0]}


async def test_triage_queue_order_and_pagination(store: Storage) -> None:
    await make_world(store)
    # routine r1 oldest, urgent u2 newer than u1, a draft and a claimed case stay out.
    await make_case(store, "r1", at=T0)
    await make_case(store, "u1", priority=Priority.URGENT, at=T0 + M)
    await make_case(store, "r2", at=T0 + 2 * M)
    await make_case(store, "u2", priority=Priority.URGENT, at=T0 + 3 * M)
    await make_case(store, "d1", state=CaseState.DRAFT, at=T0)
    await make_case(store, "x1", at=T0)
    await store.transition_case("x1", CaseState.SUBMITTED, CaseState.IN_REVIEW, T0)
    page = await store.triage_queue(World.service)
    assert [c.case_id for c in page.items] == ["u1", "u2", "r1", "r2"]
    assert page.next_cursor is None
    seen: list[str] = []
    cursor = None
    while True:
        p = await store.triage_queue(World.service, limit=1, cursor=cursor)
        seen += [c.case_id for c in p.items]
        cursor = p.next_cursor
        if cursor is None:
            break
    assert seen == ["u1", "u2", "r1", "r2"]
    both = await store.triage_queue(
        World.service, states=[CaseState.SUBMITTED, CaseState.IN_REVIEW]
    )
    assert [c.case_id for c in both.items] == ["u1", "u2", "r1", "x1", "r2"]
    # draft submitted later joins the queue by its submission time
    await store.transition_case("d1", CaseState.DRAFT, CaseState.SUBMITTED, T0 + 4 * M)
    page = await store.triage_queue(World.service)
    assert [c.case_id for c in page.items] == ["u1", "u2", "r1", "r2", "d1"]
    assert await store.triage_queue("prac-1") == type(page)((), None)
    for bad in ("!!", "W10", "WzEsMl0"):
        with pytest.raises(InvalidArgument):
            await store.triage_queue(World.service, cursor=bad)
    with pytest.raises(InvalidArgument):
        await store.triage_queue(World.service, limit=0)
    with pytest.raises(InvalidArgument):
        await store.triage_queue(World.service, states=[])


async def test_case_lists_for_user_and_organisation(store: Storage) -> None:
    w = await make_world(store)
    for i in range(5):
        await make_case(store, f"c{i}", at=T0 + i * M)
    await store.transition_case(
        "c1", CaseState.SUBMITTED, CaseState.IN_REVIEW, T0 + 10 * M, claimed_by=w.derm
    )
    mine = await store.list_cases_for_user(w.derm)
    assert [c.case_id for c in mine.items] == ["c1"]
    gp_all: list[str] = []
    cursor = None
    while True:
        p = await store.list_cases_for_user(w.gp, limit=2, cursor=cursor)
        gp_all += [c.case_id for c in p.items]
        if (cursor := p.next_cursor) is None:
            break
    assert gp_all == ["c1", "c4", "c3", "c2", "c0"]  # most recently updated first
    waiting = await store.list_cases_for_user(w.gp, states=[CaseState.SUBMITTED])
    assert [c.case_id for c in waiting.items] == ["c4", "c3", "c2", "c0"]
    assert (await store.list_cases_for_user(w.derm2)).items == ()
    with pytest.raises(InvalidArgument):
        await store.list_cases_for_user(w.gp, states=[])


async def test_an_organisations_cases_by_its_side(store: Storage) -> None:
    """A practice lists the cases it referred, a service those addressed to it, newest
    update first, keyset-paginated (ties on updated_at by case id), optionally by state; a
    case of another practice addressed to the same service is the service's only."""
    w = await make_world(store)
    await store.create_organisation(
        Organisation("prac-2", OrgKind.PRACTICE, "Hill Surgery", b"rk2", T0)
    )
    await store.create_user(new_user("gp-2"), [Membership("prac-2", Role.GP)])
    for i in range(5):
        await make_case(store, f"c{i}", at=T0 + (i // 2) * M)  # c0/c1 and c2/c3 tie
    await store.create_case(
        NewCase("other", "prac-2", w.service, "gp-2", Priority.ROUTINE, T0 + 9 * M),
        [Participant("other", "gp-2", Role.GP, T0)],
        [WrappedCaseKey("other", 0, KeyRecipientKind.USER, "gp-2", b"k", T0)],
    )
    await store.transition_case(
        "c1", CaseState.SUBMITTED, CaseState.IN_REVIEW, T0 + 10 * M, claimed_by=w.derm
    )

    async def walk(org: str, kind: OrgKind, **kw: Any) -> list[str]:
        out: list[str] = []
        cursor = None
        while True:
            p = await store.list_cases_for_organisation(org, kind, limit=2, cursor=cursor, **kw)
            assert len(p.items) <= 2
            out += [c.case_id for c in p.items]
            if (cursor := p.next_cursor) is None:
                return out

    assert await walk(w.practice, OrgKind.PRACTICE) == ["c1", "c4", "c3", "c2", "c0"]
    assert await walk(w.service, OrgKind.SERVICE) == ["c1", "other", "c4", "c3", "c2", "c0"]
    assert await walk("prac-2", OrgKind.PRACTICE) == ["other"]
    submitted = await walk(w.practice, OrgKind.PRACTICE, states=[CaseState.SUBMITTED])
    assert submitted == ["c4", "c3", "c2", "c0"]
    # The wrong side of an organisation has no cases (its id is never the other column).
    assert (await store.list_cases_for_organisation(w.service, OrgKind.PRACTICE)).items == ()
    with pytest.raises(InvalidArgument):
        await store.list_cases_for_organisation(w.practice, OrgKind.PRACTICE, states=[])
    with pytest.raises(InvalidArgument):
        await store.list_cases_for_organisation(w.practice, OrgKind.PRACTICE, cursor="bad!")


async def test_attachments(store: Storage) -> None:
    w = await make_world(store)
    await make_case(store, "c1")
    digest = hashlib.sha256(b"ct").digest()
    a = Attachment("att-1", "c1", w.gp, "b" * 32, digest, 2, "image/jpeg", b"meta", T0)
    assert await store.create_attachment(a) == a
    assert await store.get_attachment("att-1") == a
    assert await store.list_attachments("c1") == [a]
    with pytest.raises(Conflict):
        await store.create_attachment(a)
    with pytest.raises(NotFound):
        await store.get_attachment("att-2")
    with pytest.raises(NotFound):
        await store.create_attachment(
            Attachment("att-3", "nope", w.gp, "b" * 32, digest, 2, "image/jpeg", b"", T0)
        )
    with pytest.raises(InvalidArgument):
        await store.create_attachment(
            Attachment("att-4", "c1", w.gp, "b" * 32, b"short", 2, "image/jpeg", b"", T0)
        )


async def test_receipts_only_move_forward(store: Storage) -> None:
    w = await make_world(store)
    await make_case(store, "c1")
    r = await store.record_receipt("c1", w.gp, ReceiptKind.DELIVERED, 5, T0)
    assert r.seq == 5
    r = await store.record_receipt("c1", w.gp, ReceiptKind.DELIVERED, 3, T0 + M)
    assert (r.seq, r.updated_at) == (5, T0)
    await store.record_receipt("c1", w.gp, ReceiptKind.READ, 4, T0 + M)
    r = await store.record_receipt("c1", w.gp, ReceiptKind.DELIVERED, 7, T0 + 2 * M)
    assert (r.seq, r.updated_at) == (7, T0 + 2 * M)
    got = {(x.kind, x.seq) for x in await store.list_receipts("c1")}
    assert got == {(ReceiptKind.DELIVERED, 7), (ReceiptKind.READ, 4)}
    with pytest.raises(NotFound):
        await store.record_receipt("nope", w.gp, ReceiptKind.READ, 1, T0)
