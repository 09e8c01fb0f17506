"""Contract suite: retention dates, organisation minimums, legal holds, the due list and
disposal (``storage.interface.RetentionStore``), on every backend, table-driven from
``tests/vectors/retention.json`` (group Disposal) with a fake clock."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from storage import (
    CaseState,
    Conflict,
    DisposalBasis,
    InvalidArgument,
    LegalHold,
    LegalHoldReason,
    NewMessage,
    NotFound,
    Outcome,
    OutcomeCategory,
    ReceiptKind,
    Storage,
)
from storage.records import Attachment
from tests.storage.conftest import T0, World, make_case, make_world

M = dt.timedelta(minutes=1)
VECTORS = Path(__file__).parents[1] / "vectors" / "retention.json"
DISPOSAL = next(
    g["tests"] for g in json.loads(VECTORS.read_text())["testGroups"] if g["type"] == "Disposal"
)


def _t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _close(store: Storage, case_id: str, at: dt.datetime) -> None:
    """``case_id`` made at ``at`` minus 2 minutes, claimed, closed at ``at`` with a message,
    an outcome and a receipt."""
    w = World
    await make_case(store, case_id, at=at - 2 * M)
    await store.append_message(case_id, f"{case_id}-m1", w.gp, b"envelope-1", at - 2 * M)
    await store.transition_case(
        case_id, CaseState.SUBMITTED, CaseState.IN_REVIEW, at - M, claimed_by=w.derm
    )
    outcome = Outcome(case_id, OutcomeCategory.ADVICE_AND_GUIDANCE, b"outcome", w.derm, at)
    await store.transition_case(
        case_id,
        CaseState.IN_REVIEW,
        CaseState.CLOSED,
        at,
        outcome=outcome,
        message=NewMessage(f"{case_id}-m2", w.derm, b"envelope-2"),
    )
    await store.record_receipt(case_id, w.gp, ReceiptKind.READ, 2, at)


@pytest.mark.parametrize("row", DISPOSAL, ids=[r["comment"] for r in DISPOSAL])
async def test_due_table(store: Storage, row: dict[str, Any]) -> None:
    await make_world(store)
    closed = _t(row["closed_at"])
    if row["retain_until"] is not None and not row["date_set_after_closure"]:
        # A date sent at an earlier closure, then the case was resubmitted and closed again.
        await _close(store, "c1", closed - 10 * M)
        await store.set_case_retention(
            "c1", dt.date.fromisoformat(row["retain_until"]), closed - 9 * M
        )
        await store.transition_case("c1", CaseState.CLOSED, CaseState.SUBMITTED, closed - 5 * M)
        await store.transition_case("c1", CaseState.SUBMITTED, CaseState.CLOSED, closed)
    else:
        await _close(store, "c1", closed)
        if row["retain_until"] is not None:
            await store.set_case_retention(
                "c1", dt.date.fromisoformat(row["retain_until"]), closed + M
            )
    if row["practice_minimum_years"]:
        await store.set_org_retention(World.practice, row["practice_minimum_years"], None, T0)
    if row["service_minimum_years"]:
        await store.set_org_retention(World.service, row["service_minimum_years"], None, T0)
    if row["legal_hold"]:
        await store.place_legal_hold(
            LegalHold("c1", LegalHoldReason.LITIGATION, World.gp, closed + M)
        )
    now = _t(row["now"])
    page = await store.list_due_for_disposal(now)
    assert [c.case_id for c in page.items] == (["c1"] if row["due"] else [])
    status = await store.get_case_retention("c1")
    assert status.keep_until == _t(row["keep_until"])
    if row["due"]:
        assert page.items[0].keep_until == _t(row["keep_until"])
        disposal = await store.dispose_case("c1", now)
        assert disposal.keep_until == _t(row["keep_until"])
    else:
        with pytest.raises(Conflict) as e:
            await store.dispose_case("c1", now)
        assert e.value.reason == "not_due"


async def test_disposal_destroys_the_content_and_keeps_a_tombstone(store: Storage) -> None:
    await make_world(store)
    closed = T0
    await _close(store, "c1", closed)
    await _close(store, "c2", closed)  # the same in every way: must be untouched
    blob = await store.blobs.put(_chunks(b"photo ciphertext"), max_size=1 << 20)
    await store.create_attachment(
        Attachment("a1", "c1", World.gp, blob.blob_id, b"\x01" * 32, 16, "image/jpeg", b"m", T0)
    )
    await store.set_case_retention("c1", dt.date(2034, 12, 31), closed)
    now = dt.datetime(2035, 1, 1, tzinfo=dt.UTC)
    before = len(await store.list_audit(limit=10_000))

    disposal = await store.dispose_case("c1", now, client_address="retention")

    assert (disposal.case_keys, disposal.messages, disposal.attachments) == (2, 2, 1)
    assert (disposal.outcome, disposal.receipts, disposal.blob_ids) == (True, 1, (blob.blob_id,))
    assert disposal.basis is DisposalBasis.CLIENT_DATE
    case = await store.get_case("c1")  # the tombstone: routing metadata only
    assert (case.state, case.outcome_category, case.last_seq) == (CaseState.CLOSED, None, 2)
    assert {p.user_id for p in await store.list_participants("c1")} == {World.derm, World.gp}
    assert await store.get_case_keys("c1") == []
    assert await store.list_messages("c1") == []
    assert await store.get_outcome("c1") is None
    assert await store.list_attachments("c1") == []
    assert await store.list_receipts("c1") == []
    with pytest.raises(NotFound):
        async for _ in store.blobs.open(blob.blob_id):
            pass
    status = await store.get_case_retention("c1")
    assert (status.disposed_at, status.keep_until) == (now, dt.datetime(2035, 1, 1, tzinfo=dt.UTC))
    # The other case is whole.
    assert len(await store.list_messages("c2")) == 2 and await store.get_outcome("c2")
    # One audit entry: who (the system: no actor), what and why; the chain verifies.
    entries = (await store.list_audit(limit=10_000))[before:]
    assert [(e.event.action, e.event.target, e.event.actor_id) for e in entries] == [
        ("case.disposed", "c1", None)
    ]
    detail = json.loads(entries[0].event.detail)
    assert detail == {
        "why": {
            "basis": "client_date",
            "keep_until": "2035-01-01T00:00:00+00:00",
            "retain_until": "2034-12-31",
        },
        "destroyed": {
            "case_keys": 2,
            "messages": 2,
            "outcome": True,
            "attachments": 1,
            "blobs": 1,
            "patient_links": 0,
            "receipts": 1,
        },
    }
    await store.verify_audit()
    # Disposed once: never again, never held.
    with pytest.raises(Conflict) as e:
        await store.dispose_case("c1", now)
    assert e.value.reason == "not_due"
    with pytest.raises(Conflict) as e:
        await store.place_legal_hold(LegalHold("c1", LegalHoldReason.COMPLAINT, World.gp, now))
    assert e.value.reason == "disposed"
    assert await store.finish_disposals() == 0
    assert (await store.list_due_for_disposal(now)).items == ()


async def _chunks(data: bytes) -> Any:
    yield data


async def test_open_cases_and_holds_are_never_due(store: Storage) -> None:
    await make_world(store)
    await make_case(store, "open")  # submitted, never closed
    await _close(store, "held", T0)
    hold = await store.place_legal_hold(
        LegalHold("held", LegalHoldReason.INQUIRY, World.gp, T0 + M, reference="INQ-2026/17")
    )
    far = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    assert (await store.list_due_for_disposal(far)).items == ()
    with pytest.raises(Conflict):
        await store.dispose_case("open", far)
    assert (await store.get_case_retention("open")).keep_until is None
    assert (await store.get_case_retention("held")).hold == hold
    assert await store.list_legal_holds(World.practice) == [hold]
    assert await store.list_legal_holds(World.service) == [hold]
    with pytest.raises(Conflict) as e:
        await store.place_legal_hold(hold)
    assert e.value.reason == "duplicate"
    assert await store.release_legal_hold("held") == hold
    with pytest.raises(NotFound):
        await store.release_legal_hold("held")
    assert [c.case_id for c in (await store.list_due_for_disposal(far)).items] == ["held"]


async def test_withdrawn_cases_follow_the_rule_too(store: Storage) -> None:
    await make_world(store)
    await make_case(store, "w1", at=T0)
    await store.transition_case("w1", CaseState.SUBMITTED, CaseState.WITHDRAWN, T0 + M)
    status = await store.get_case_retention("w1")
    assert status.basis is DisposalBasis.NO_CLIENT_DATE
    assert status.keep_until == T0 + M + dt.timedelta(days=27 * 366)


async def test_due_list_pages_by_closure(store: Storage) -> None:
    await make_world(store)
    for i in range(5):
        await _close(store, f"c{i}", T0 + i * M)
        await store.set_case_retention(f"c{i}", dt.date(2030, 12, 31), T0 + i * M)
    now = dt.datetime(2040, 1, 1, tzinfo=dt.UTC)
    seen, cursor = [], None
    while True:
        page = await store.list_due_for_disposal(now, limit=2, cursor=cursor)
        seen += [c.case_id for c in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ["c0", "c1", "c2", "c3", "c4"]


async def test_organisation_minimums(store: Storage) -> None:
    await make_world(store)
    assert (await store.get_org_retention(World.practice)).min_years == 0
    policy = await store.set_org_retention(World.practice, 15, World.gp, T0)
    assert await store.get_org_retention(World.practice) == policy
    assert (policy.min_years, policy.set_by, policy.updated_at) == (15, World.gp, T0)
    with pytest.raises(InvalidArgument):
        await store.set_org_retention(World.practice, 101, None, T0)
    with pytest.raises(InvalidArgument):
        await store.set_org_retention(World.practice, -1, None, T0)
    with pytest.raises(NotFound):
        await store.set_org_retention("nowhere", 10, None, T0)


async def test_bad_arguments_are_refused_before_anything_changes(store: Storage) -> None:
    await make_world(store)
    await _close(store, "c1", T0)
    with pytest.raises(InvalidArgument):
        await store.set_case_retention("c1", T0, T0)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        await store.set_case_retention("missing", dt.date(2034, 12, 31), T0)
    with pytest.raises(NotFound):
        await store.get_case_retention("missing")
    with pytest.raises(ValueError):
        await store.place_legal_hold(LegalHold("c1", "whim", World.gp, T0))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        await store.place_legal_hold(
            LegalHold("c1", LegalHoldReason.OTHER, World.gp, T0, reference="x" * 201)
        )
    with pytest.raises(NotFound):
        await store.place_legal_hold(LegalHold("missing", LegalHoldReason.OTHER, World.gp, T0))
    with pytest.raises(InvalidArgument):
        await store.dispose_case("c1", T0, actor_id="not an id!")
    assert (await store.get_case_retention("c1")).hold is None


async def test_a_move_after_the_list_stops_the_disposal(store: Storage) -> None:
    """The disposal re-checks "due" inside its transaction: a resubmission between the
    list and the disposal wins."""
    await make_world(store)
    await _close(store, "c1", T0)
    await store.set_case_retention("c1", dt.date(2034, 12, 31), T0)
    now = dt.datetime(2035, 1, 1, tzinfo=dt.UTC)
    assert [c.case_id for c in (await store.list_due_for_disposal(now)).items] == ["c1"]
    await store.transition_case("c1", CaseState.CLOSED, CaseState.SUBMITTED, now)
    with pytest.raises(Conflict):
        await store.dispose_case("c1", now)
    assert len(await store.list_messages("c1")) == 2


def test_every_table_of_a_case_is_disposed_of_or_kept_on_purpose() -> None:
    """A table with a ``case_id`` column holds something of a case: the disposal must
    destroy it, or keep it on purpose (the tombstone). A new table fails here until it is
    put in one of the two lists (``storage/retention.py``)."""
    from storage.retention import DISPOSED_TABLES, KEPT_TABLES
    from tests.storage.test_schema_inventory import schema_columns

    for backend in ("sqlite", "postgres"):
        with_case = {t for t, cols in schema_columns(backend).items() if "case_id" in cols}
        assert with_case == set(DISPOSED_TABLES) | set(KEPT_TABLES), backend
    assert not set(DISPOSED_TABLES) & set(KEPT_TABLES)


async def test_waiting_cases_are_counted_by_band_and_priority(store: Storage) -> None:
    """The figure behind ``dermline_cases_waiting`` (``/metrics``): submitted cases only,
    by how long they have waited; counts, never ids."""
    from storage import Priority

    await make_world(store)
    hour = dt.timedelta(hours=1)
    await make_case(store, "fresh", at=T0 - 10 * M)
    await make_case(store, "morning", at=T0 - 5 * hour, priority=Priority.URGENT)
    await make_case(store, "old", at=T0 - 30 * hour)
    await make_case(store, "old2", at=T0 - 31 * hour)
    await make_case(store, "claimed", at=T0 - 30 * hour)
    await store.transition_case(
        "claimed", CaseState.SUBMITTED, CaseState.IN_REVIEW, T0, claimed_by=World.derm
    )
    edges = [3600, 4 * 3600, 8 * 3600, 24 * 3600]
    counts = await store.count_waiting_cases(T0, edges)
    assert [(c.band, c.priority.value, c.count) for c in counts] == [
        (0, "routine", 1),
        (2, "urgent", 1),
        (4, "routine", 2),
    ]
    with pytest.raises(InvalidArgument):
        await store.count_waiting_cases(T0, [10, 5])
