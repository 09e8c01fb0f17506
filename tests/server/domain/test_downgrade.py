"""The two-week-wait downgrade on the case service (only the referring GP
lowers a suspected-cancer referral): who may, which outcomes, the reason message, retries."""

from __future__ import annotations

import pytest

import storage
from crypto.content import ContentType
from server.domain.outcomes import Destination, Urgency
from server.domain.policy import CaseAction
from server.errors import Forbidden, InvalidInput, InvalidTransition
from storage import OutcomeCategory
from tests.server.domain.world import Clinic

REASON = {"text": "seen in clinic today, lesion regressing"}


async def closed(
    cast: Clinic, urgency: Urgency | None, category: OutcomeCategory = OutcomeCategory.REFERRAL
) -> storage.Case:
    w = cast.world
    case = await cast.case()
    await w.services.cases.move(cast.derm.actor, case.case_id, CaseAction.CLAIM, None)
    body = {"category": category.value, "summary": "suspected melanoma", "details": {}}
    _, payload = w.seal(cast.derm, case.case_id, ContentType.OUTCOME, body)
    return await w.services.cases.close(
        cast.derm.actor,
        case.case_id,
        category=category,
        urgency=urgency,
        destination=Destination.DERMATOLOGY_CLINIC if urgency else None,
        reasons=[],
        payload=payload,
        client=None,
    )


async def test_the_referring_gp_lowers_it_once_and_a_retry_changes_nothing(cast: Clinic) -> None:
    w = cast.world
    cases = w.services.cases
    case = await closed(cast, Urgency.TWO_WEEK_WAIT)
    msg_id, envelope = w.seal(cast.gp, case.case_id, body=REASON)
    first = await cases.downgrade(
        cast.gp.actor, case.case_id, Urgency.ROUTINE, msg_id, envelope, None
    )
    again = await cases.downgrade(
        cast.gp.actor, case.case_id, Urgency.ROUTINE, msg_id, envelope, None
    )
    assert first.last_seq == again.last_seq == 1
    _, outcome = await cases.case_with_outcome(cast.gp.actor, case.case_id)
    assert outcome is not None and outcome.outcome.urgency is Urgency.ROUTINE
    assert outcome.downgrade is not None
    assert (outcome.downgrade.from_urgency, outcome.downgrade.by) == (
        Urgency.TWO_WEEK_WAIT,
        cast.gp.user_id,
    )
    assert outcome.author_id == cast.derm.user_id  # the decision it replaced stays visible
    audit = [e.event for e in await w.store.list_audit() if e.event.action == "case.downgrade"]
    assert [e.detail for e in audit] == [b'{"from":"two_week_wait","to":"routine"}']


async def test_nobody_else_lowers_it_and_never_upwards(cast: Clinic) -> None:
    w = cast.world
    case = await closed(cast, Urgency.TWO_WEEK_WAIT)
    for who, error in ((cast.derm, Forbidden), (cast.derm2, Forbidden)):
        msg_id, envelope = w.seal(who, case.case_id, body=REASON)
        with pytest.raises(error):
            await w.services.cases.downgrade(
                who.actor, case.case_id, Urgency.URGENT, msg_id, envelope, None
            )
    msg_id, envelope = w.seal(cast.gp, case.case_id, body=REASON)
    with pytest.raises(InvalidInput):
        await w.services.cases.downgrade(
            cast.gp.actor, case.case_id, Urgency.TWO_WEEK_WAIT, msg_id, envelope, None
        )
    assert await w.store.list_messages(case.case_id) == []


async def test_only_two_week_wait_referrals_of_closed_cases(cast: Clinic) -> None:
    w = cast.world
    urgent = await closed(cast, Urgency.URGENT)
    advice = await closed(cast, None, OutcomeCategory.ADVICE_AND_GUIDANCE)
    still_open = await cast.case()
    for case in (urgent, advice, still_open):
        msg_id, envelope = w.seal(cast.gp, case.case_id, body=REASON)
        with pytest.raises(InvalidTransition):
            await w.services.cases.downgrade(
                cast.gp.actor, case.case_id, Urgency.ROUTINE, msg_id, envelope, None
            )
        # Nothing was added to the thread of a refused downgrade.
        assert await w.store.list_messages(case.case_id) == []


async def test_the_reason_is_a_text_message_of_this_case(cast: Clinic) -> None:
    w = cast.world
    case = await closed(cast, Urgency.TWO_WEEK_WAIT)
    other = await closed(cast, Urgency.TWO_WEEK_WAIT)
    question = w.seal(cast.gp, case.case_id, ContentType.QUESTION, REASON)
    elsewhere = w.seal(cast.gp, other.case_id, body=REASON)
    for msg_id, envelope in (question, elsewhere):
        with pytest.raises(InvalidInput):
            await w.services.cases.downgrade(
                cast.gp.actor, case.case_id, Urgency.URGENT, msg_id, envelope, None
            )
    _, outcome = await w.services.cases.case_with_outcome(cast.gp.actor, case.case_id)
    assert outcome is not None
    assert outcome.outcome.urgency is Urgency.TWO_WEEK_WAIT and outcome.downgrade is None
