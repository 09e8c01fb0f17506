"""Records retention in the domain (``server/domain/retention.py``) with a fake clock: the
closing client's date, who may hold and release, organisation minimums, the run and what
it audits. The due rule itself is table-tested on every backend
(``tests/storage/test_contract_retention.py``)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import storage
from crypto.content import ContentType
from server.domain.policy import CaseAction
from server.domain.retention import check_retain_until
from server.errors import Conflict, Forbidden, InvalidInput, NotFound
from storage import CaseState, LegalHoldReason, OutcomeCategory, Role
from tests.server.domain.world import Clinic, Member

NOW = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)


async def _closed(cast: Clinic, retain_until: dt.date | None) -> storage.Case:
    w = cast.world
    w.clock.set(NOW)
    case = await cast.case()
    await w.services.cases.move(cast.derm.actor, case.case_id, CaseAction.CLAIM, None)
    _, payload = w.seal(
        cast.derm,
        case.case_id,
        ContentType.OUTCOME,
        {"category": "advice_and_guidance", "summary": "emollients", "details": {}},
    )
    return await w.services.cases.close(
        cast.derm.actor,
        case.case_id,
        category=OutcomeCategory.ADVICE_AND_GUIDANCE,
        urgency=None,
        destination=None,
        reasons=[],
        payload=payload,
        client=None,
        retain_until=retain_until,
    )


async def _officer(cast: Clinic, org_id: str, name: str) -> Member:
    return await cast.world.member(org_id, Role.RECORDS_OFFICER, name)


@pytest.mark.parametrize(
    ("date", "ok"),
    [
        (dt.date(2034, 12, 31), True),  # adult: the year of closure + 8
        (dt.date(2051, 12, 31), True),  # a child: later is the client's business
        (dt.date(2033, 12, 31), False),  # shorter than any rule
        (dt.date(2034, 11, 28), False),  # not coarsened: would tell a birthday
    ],
)
def test_the_client_date_is_coarse_and_never_early(date: dt.date, ok: bool) -> None:
    if ok:
        check_retain_until(date, NOW)
    else:
        with pytest.raises(InvalidInput):
            check_retain_until(date, NOW)


def test_a_day_of_clock_skew_at_new_year_is_allowed() -> None:
    """A client whose clock is still in the old year on 1 January sends the old year's
    date: accepted (the server's own date minus one day)."""
    check_retain_until(dt.date(2034, 12, 31), dt.datetime(2027, 1, 1, 0, 5, tzinfo=dt.UTC))
    with pytest.raises(InvalidInput):
        check_retain_until(dt.date(2034, 12, 31), dt.datetime(2027, 1, 2, 0, 5, tzinfo=dt.UTC))


async def test_a_bad_date_refuses_the_closure_and_a_good_one_is_stored(cast: Clinic) -> None:
    w = cast.world
    with pytest.raises(InvalidInput):
        await _closed(cast, dt.date(2030, 12, 31))
    open_cases = await w.store.list_cases_for_user(cast.derm.user_id)
    assert [c.state for c in open_cases.items] == [CaseState.IN_REVIEW]
    case = await _closed(cast, dt.date(2034, 12, 31))
    status = await w.store.get_case_retention(case.case_id)
    assert status.retain_until == dt.date(2034, 12, 31)
    assert status.keep_until == dt.datetime(2035, 1, 1, tzinfo=dt.UTC)


async def test_only_records_officers_hold_and_release(cast: Clinic) -> None:
    w = cast.world
    r = w.services.retention
    case = await _closed(cast, dt.date(2034, 12, 31))
    practice_officer = await _officer(cast, cast.practice.org_id, "records")
    service_officer = await _officer(cast, cast.service.org_id, "records2")
    foreign_officer = await _officer(cast, cast.other_practice.org_id, "records3")
    for someone in (cast.gp, cast.derm):
        with pytest.raises(Forbidden):
            await r.place_hold(someone.actor, case.case_id, LegalHoldReason.COMPLAINT, None, None)
    for outsider in (foreign_officer, cast.stranger):
        with pytest.raises(NotFound):
            await r.place_hold(outsider.actor, case.case_id, LegalHoldReason.COMPLAINT, None, None)
    with pytest.raises(NotFound):  # a missing case answers like a foreign one
        await r.place_hold(
            practice_officer.actor, "no-such-case", LegalHoldReason.COMPLAINT, None, None
        )
    hold = await r.place_hold(
        practice_officer.actor, case.case_id, LegalHoldReason.LITIGATION, "CLM-0042", "10.0.0.9"
    )
    assert (hold.placed_by, hold.reference) == (practice_officer.user_id, "CLM-0042")
    with pytest.raises(Conflict):
        await r.place_hold(
            service_officer.actor, case.case_id, LegalHoldReason.COMPLAINT, None, None
        )
    assert await r.holds(service_officer.actor, cast.service.org_id) == [hold]
    with pytest.raises(Forbidden):
        await r.holds(cast.gp.actor, cast.practice.org_id)
    assert (await r.status(service_officer.actor, case.case_id)).hold == hold
    released = await r.release_hold(service_officer.actor, case.case_id, None)
    assert released == hold
    with pytest.raises(NotFound):
        await r.release_hold(service_officer.actor, case.case_id, None)
    entries = await w.store.list_audit(limit=10_000)
    audited = [(e.event.action, e.event.actor_id, e.event.detail) for e in entries]
    assert ("case.legal_hold", practice_officer.user_id, b'{"reason":"litigation"}') in audited
    assert (
        "case.legal_hold_released",
        service_officer.user_id,
        b'{"reason":"litigation"}',
    ) in audited
    # The officer's own reference is never audited.
    assert not any(b"CLM-0042" in e.event.detail for e in entries)


async def test_organisation_minimum_is_the_records_officers(cast: Clinic) -> None:
    w = cast.world
    r = w.services.retention
    officer = await _officer(cast, cast.practice.org_id, "records")
    with pytest.raises(Forbidden):
        await r.set_org_minimum(cast.gp.actor, cast.practice.org_id, 10, None)
    with pytest.raises(NotFound):
        await r.set_org_minimum(officer.actor, cast.service.org_id, 10, None)
    with pytest.raises(InvalidInput):
        await r.set_org_minimum(officer.actor, cast.practice.org_id, 101, None)
    policy = await r.set_org_minimum(officer.actor, cast.practice.org_id, 12, None)
    assert (policy.min_years, policy.set_by) == (12, officer.user_id)
    assert await r.org_minimum(officer.actor, cast.practice.org_id) == policy
    with pytest.raises(NotFound):
        await r.org_minimum(None, "no-such-org")
    last = (await w.store.list_audit(limit=10_000))[-1].event
    assert (last.action, last.target, last.detail) == (
        "retention.org_minimum",
        cast.practice.org_id,
        b'{"min_years":12}',
    )


async def test_the_run_disposes_of_what_is_due_and_nothing_else(cast: Clinic) -> None:
    w = cast.world
    r = w.services.retention
    adult = await _closed(cast, dt.date(2034, 12, 31))
    child = await _closed(cast, dt.date(2051, 12, 31))
    held = await _closed(cast, dt.date(2034, 12, 31))
    unsent = await _closed(cast, None)
    still_open = await cast.case()
    await r.place_hold(
        None, held.case_id, LegalHoldReason.INQUIRY, None, "cli", placed_by=cast.gp.user_id
    )

    w.clock.set(dt.datetime(2035, 1, 1, tzinfo=dt.UTC))
    dry = await r.run(dry_run=True)
    assert [c.case_id for c in dry.due] == [adult.case_id]
    assert dry.disposed == []
    assert await w.store.get_outcome(adult.case_id) is not None  # a dry run changes nothing

    report = await r.run(dry_run=False)
    assert [d.case_id for d in report.disposed] == [adult.case_id]
    assert await w.store.get_outcome(adult.case_id) is None
    assert await w.store.get_case_keys(adult.case_id) == []
    for kept in (child, held, unsent, still_open):
        assert await w.store.get_case_keys(kept.case_id) != []
    entry = (await w.store.list_audit(limit=10_000))[-1].event
    assert (entry.action, entry.target, entry.actor_id, entry.client_address) == (
        "case.disposed",
        adult.case_id,
        None,
        "retention",
    )
    assert json.loads(entry.detail)["why"]["basis"] == "client_date"
    await w.store.verify_audit()
    # The next run finds nothing more until the child's date.
    assert (await r.run(dry_run=False)).disposed == []
    w.clock.set(dt.datetime(2052, 1, 1, tzinfo=dt.UTC))
    assert [d.case_id for d in (await r.run(dry_run=False)).disposed] == [child.case_id]
    # Released, the held case goes at the next run.
    await r.release_hold(None, held.case_id, "cli")
    assert [d.case_id for d in (await r.run(dry_run=False)).disposed] == [held.case_id]


async def test_a_case_that_stops_being_due_during_the_run_is_skipped(cast: Clinic) -> None:
    """A hold placed between the list and the disposal wins (storage's compare-and-set)."""
    w = cast.world
    case = await _closed(cast, dt.date(2034, 12, 31))
    w.clock.set(dt.datetime(2035, 1, 1, tzinfo=dt.UTC))
    original = w.store.list_due_for_disposal

    async def list_then_hold(*a: object, **k: object) -> object:
        page = await original(*a, **k)  # type: ignore[arg-type]
        await w.services.retention.place_hold(
            None, case.case_id, LegalHoldReason.LITIGATION, None, None, placed_by=cast.gp.user_id
        )
        return page

    w.store.list_due_for_disposal = list_then_hold  # type: ignore[method-assign]
    report = await w.services.retention.run(dry_run=False)
    assert (report.disposed, report.skipped) == ([], [case.case_id])
    assert await w.store.get_outcome(case.case_id) is not None


async def test_the_operator_names_the_officer_behind_a_hold(cast: Clinic) -> None:
    case = await _closed(cast, dt.date(2034, 12, 31))
    with pytest.raises(InvalidInput):
        await cast.world.services.retention.place_hold(
            None, case.case_id, LegalHoldReason.OTHER, None, "cli"
        )
    with pytest.raises(InvalidInput):
        await cast.world.services.retention.place_hold(
            None, case.case_id, LegalHoldReason.OTHER, None, "cli", placed_by="nobody"
        )
