"""Contract suite: ``update_outcome``, the compare-and-set behind the two-week-wait downgrade
(DESIGN.md section 2), on every backend."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from storage import (
    CaseState,
    Conflict,
    InvalidArgument,
    NotFound,
    Outcome,
    OutcomeCategory,
    Storage,
)
from tests.storage.conftest import T0, Raw, make_case, make_world

M = dt.timedelta(minutes=1)


async def _closed(store: Storage, payload: bytes) -> Outcome:
    """A world and a case "c1" closed with a referral whose stored record is ``payload``."""
    w = await make_world(store)
    await make_case(store, "c1")
    await store.transition_case(
        "c1", CaseState.SUBMITTED, CaseState.IN_REVIEW, T0 + M, claimed_by=w.derm
    )
    outcome = Outcome("c1", OutcomeCategory.REFERRAL, payload, w.derm, T0 + 2 * M)
    await store.transition_case(
        "c1", CaseState.IN_REVIEW, CaseState.CLOSED, T0 + 2 * M, outcome=outcome
    )
    return outcome


async def test_update_outcome_replaces_the_expected_record(store: Storage) -> None:
    old = await _closed(store, b"codes:two_week_wait|e2ee")
    new = Outcome("c1", OutcomeCategory.REFERRAL, b"codes:urgent|e2ee", old.author_id, T0 + 2 * M)
    case = await store.update_outcome("c1", old.payload, new, T0 + 5 * M)
    assert (case.state, case.updated_at, case.closed_at, case.outcome_category) == (
        CaseState.CLOSED,
        T0 + 5 * M,
        T0 + 2 * M,
        OutcomeCategory.REFERRAL,
    )
    assert await store.get_outcome("c1") == new
    # A second update from the same (now stale) record loses and changes nothing.
    other = Outcome("c1", OutcomeCategory.REFERRAL, b"codes:routine|e2ee", old.author_id, T0)
    with pytest.raises(Conflict) as e:
        await store.update_outcome("c1", old.payload, other, T0 + 6 * M)
    assert e.value.reason == "outcome_changed"
    assert await store.get_outcome("c1") == new
    assert (await store.get_case("c1")).updated_at == T0 + 5 * M


async def test_update_outcome_unknown_case_or_no_outcome(store: Storage) -> None:
    w = await make_world(store)
    new = Outcome("nope", OutcomeCategory.REFERRAL, b"x", w.derm, T0)
    with pytest.raises(NotFound):
        await store.update_outcome("nope", b"x", new, T0)
    await make_case(store, "open")
    with pytest.raises(Conflict):
        await store.update_outcome(
            "open", b"", Outcome("open", OutcomeCategory.REFERRAL, b"x", w.derm, T0), T0
        )
    assert await store.get_outcome("open") is None
    with pytest.raises(InvalidArgument):
        await store.update_outcome("open", b"", new, T0)  # outcome of another case


async def test_update_outcome_race_exactly_one_wins(store: Storage) -> None:
    old = await _closed(store, b"record-0")

    async def update(tag: bytes) -> bytes | None:
        new = Outcome("c1", OutcomeCategory.REFERRAL, tag, old.author_id, old.created_at)
        try:
            await store.update_outcome("c1", old.payload, new, T0 + 3 * M)
            return tag
        except Conflict:
            return None

    results = await asyncio.gather(*(update(f"record-{i}".encode()) for i in range(1, 6)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    stored = await store.get_outcome("c1")
    assert stored is not None and stored.payload == winners[0]


async def test_updated_outcome_is_sealed_at_rest(sql_store: Storage, raw: Raw) -> None:
    old = await _closed(sql_store, b"before")
    marker = b"downgraded-outcome-marker"
    new = Outcome("c1", OutcomeCategory.REFERRAL, marker, old.author_id, old.created_at)
    await sql_store.update_outcome("c1", old.payload, new, T0 + 3 * M)
    rows = await raw("SELECT category_sealed, payload_sealed FROM outcomes WHERE case_id = ?", "c1")
    assert len(rows) == 1
    category_sealed, payload_sealed = (bytes(v) for v in rows[0])
    assert marker not in payload_sealed and b"referral" not in category_sealed
