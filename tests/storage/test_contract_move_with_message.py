"""Contract suite: a case move and its message as one unit of work
(``transition_case(..., message=NewMessage(...))``; ``docs/storage.md``, "Move with a
message"), on every backend.

The rule for retries: the message's client id is the idempotency key of the whole move. A
request whose message the case already holds (same sender) was applied before; it changes
nothing and is answered with the case as it is now and the stored message
(``created=False``), whatever the state. A failed compare-and-set stores nothing."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from storage import (
    CaseState,
    Conflict,
    InvalidArgument,
    NewMessage,
    NotFound,
    Outcome,
    OutcomeCategory,
    Storage,
)
from tests.storage.conftest import T0, World, make_case, make_world

M = dt.timedelta(minutes=1)


async def test_a_move_and_its_message_are_stored_together(store: Storage) -> None:
    w = await make_world(store)
    await make_case(store, "c1")
    await store.append_message("c1", "m-0", w.gp, b"history", T0)
    result = await store.transition_case(
        "c1",
        CaseState.SUBMITTED,
        CaseState.IN_REVIEW,
        T0 + M,
        claimed_by=w.derm,
        message=NewMessage("m-1", w.derm, b"claimed, looking now"),
    )
    assert (result.case.state, result.case.claimed_by, result.case.last_seq) == (
        CaseState.IN_REVIEW,
        w.derm,
        2,
    )
    assert result.case.first_response_at == T0 + M  # the dermatologist's first message
    assert result.case.updated_at == T0 + M
    assert result.message is not None and result.message.created
    stored = result.message.message
    assert (stored.case_id, stored.seq, stored.client_msg_id, stored.sender_id) == (
        "c1",
        2,
        "m-1",
        w.derm,
    )
    assert (stored.envelope, stored.created_at) == (b"claimed, looking now", T0 + M)
    assert [m.client_msg_id for m in await store.list_messages("c1")] == ["m-0", "m-1"]
    assert (await store.list_messages("c1", after_seq=1)) == [stored]
    assert await store.get_case("c1") == result.case


async def test_a_failed_compare_and_set_stores_no_message(store: Storage) -> None:
    w = await make_world(store)
    await make_case(store, "c1")
    with pytest.raises(Conflict) as e:
        await store.transition_case(
            "c1",
            CaseState.IN_REVIEW,
            CaseState.AWAITING_GP,
            T0 + M,
            message=NewMessage("m-1", w.derm, b"a question"),
        )
    assert e.value.reason == "state_changed"
    assert await store.list_messages("c1") == []
    case = await store.get_case("c1")
    assert (case.state, case.last_seq, case.first_response_at) == (CaseState.SUBMITTED, 0, None)
    with pytest.raises(NotFound):
        await store.transition_case(
            "nope", CaseState.SUBMITTED, CaseState.IN_REVIEW, T0, message=NewMessage("m", w.gp, b"")
        )


async def test_a_retry_of_an_applied_move_changes_nothing_and_answers_the_same(
    store: Storage,
) -> None:
    w = await make_world(store)
    await make_case(store, "c1")
    await store.transition_case(
        "c1", CaseState.SUBMITTED, CaseState.IN_REVIEW, T0, claimed_by=w.derm
    )
    outcome = Outcome("c1", OutcomeCategory.ADVICE_AND_GUIDANCE, b"advice", w.derm, T0 + M)
    first = await store.transition_case(
        "c1",
        CaseState.IN_REVIEW,
        CaseState.CLOSED,
        T0 + M,
        outcome=outcome,
        message=NewMessage("close-1", w.derm, b"closing: advice given"),
    )
    assert first.message is not None and first.message.created
    # The answer was lost; the client sends the same request again, a minute later.
    other = Outcome("c1", OutcomeCategory.REFERRAL, b"changed", w.derm, T0 + 2 * M)
    again = await store.transition_case(
        "c1",
        CaseState.IN_REVIEW,
        CaseState.CLOSED,
        T0 + 2 * M,
        outcome=other,
        message=NewMessage("close-1", w.derm, b"a different body is ignored"),
    )
    assert again.message is not None and not again.message.created
    assert again.message.message == first.message.message
    assert again.case == first.case  # nothing moved, nothing re-stamped
    assert await store.get_outcome("c1") == outcome
    assert [m.client_msg_id for m in await store.list_messages("c1")] == ["close-1"]
    # Still the answer after the case moved on (here: resubmitted by the GP).
    await store.transition_case("c1", CaseState.CLOSED, CaseState.SUBMITTED, T0 + 3 * M)
    late = await store.transition_case(
        "c1",
        CaseState.IN_REVIEW,
        CaseState.CLOSED,
        T0 + 4 * M,
        message=NewMessage("close-1", w.derm, b"closing: advice given"),
    )
    assert late.message is not None and not late.message.created
    assert late.case.state is CaseState.SUBMITTED and late.case.last_seq == 1


async def test_a_message_id_of_another_sender_is_refused_and_nothing_moves(
    store: Storage,
) -> None:
    w = await make_world(store)
    await make_case(store, "c1")
    await store.append_message("c1", "m-1", w.gp, b"the GP's message", T0)
    with pytest.raises(Conflict) as e:
        await store.transition_case(
            "c1",
            CaseState.SUBMITTED,
            CaseState.IN_REVIEW,
            T0 + M,
            claimed_by=w.derm,
            message=NewMessage("m-1", w.derm, b"hijack"),
        )
    assert e.value.reason == "message_id_taken"
    case = await store.get_case("c1")
    assert (case.state, case.claimed_by, case.last_seq) == (CaseState.SUBMITTED, None, 1)
    assert [p.user_id for p in await store.list_participants("c1")] == [w.gp]


async def test_racing_retries_of_one_move_store_it_once(store: Storage) -> None:
    w = await make_world(store)
    await make_case(store, "c1")

    async def claim() -> tuple[bool, int]:
        result = await store.transition_case(
            "c1",
            CaseState.SUBMITTED,
            CaseState.IN_REVIEW,
            T0,
            claimed_by=w.derm,
            message=NewMessage("claim-1", w.derm, b"mine"),
        )
        assert result.message is not None and result.case.state is CaseState.IN_REVIEW
        return result.message.created, result.message.message.seq

    results = await asyncio.gather(*(claim() for _ in range(8)))
    assert sorted(results) == [(False, 1)] * 7 + [(True, 1)]
    assert [m.seq for m in await store.list_messages("c1")] == [1]


async def test_racing_moves_one_wins_and_only_its_message_is_stored(store: Storage) -> None:
    w = await make_world(store)
    await make_case(store, "c1")

    async def claim(user: str, i: int) -> str | None:
        try:
            await store.transition_case(
                "c1",
                CaseState.SUBMITTED,
                CaseState.IN_REVIEW,
                T0,
                claimed_by=user,
                message=NewMessage(f"claim-{i}", user, b"mine"),
            )
            return f"claim-{i}"
        except Conflict as exc:
            assert exc.reason == "state_changed"
            return None

    results = await asyncio.gather(*(claim(u, i) for i, u in enumerate([w.derm, w.derm2] * 4)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    messages = await store.list_messages("c1")
    assert [(m.seq, m.client_msg_id) for m in messages] == [(1, winners[0])]
    assert (await store.get_case("c1")).last_seq == 1


async def test_the_message_is_checked_before_the_unit_runs(store: Storage) -> None:
    await make_world(store)
    await make_case(store, "c1")
    bad = [
        NewMessage("bad id", World.derm, b"x"),
        NewMessage("m-1", "", b"x"),
        NewMessage("m-1", World.derm, "text"),  # type: ignore[arg-type]
        ("m-1", World.derm, b"x"),  # not a NewMessage
    ]
    for message in bad:
        with pytest.raises(InvalidArgument):
            await store.transition_case(
                "c1",
                CaseState.SUBMITTED,
                CaseState.IN_REVIEW,
                T0,
                message=message,  # type: ignore[arg-type]
            )
    case = await store.get_case("c1")
    assert (case.state, case.last_seq) == (CaseState.SUBMITTED, 0)
