"""The case service against a store and a fake clock: creation, moves with their message,
replay, and what the publisher is told."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from crypto.case_key import generate_case_key, wrap_legacy_case_key_from_parts
from crypto.content import ContentType
from server.domain.cases import CaseChange, CaseReplay, NewCaseRequest, ThreadMessage, WrapIn
from server.domain.policy import CaseAction
from server.errors import (
    CaseKeyMismatch,
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
    WrapOutdated,
)
from storage import CaseState, OutcomeCategory
from tests.server.domain.world import Clinic


async def history(cast: Clinic, case_id: str) -> int:
    msg_id, envelope = cast.world.seal(cast.gp, case_id, ContentType.CLINICAL_HISTORY)
    result = await cast.world.services.cases.send(cast.gp.actor, case_id, msg_id, envelope, None)
    return result.message.seq


# ---------------------------------------------------------------- create


async def test_a_new_case_is_published_to_its_participants(cast: Clinic) -> None:
    case = await cast.case()
    [change] = cast.world.publisher.of("case")
    assert isinstance(change, CaseChange)
    assert change.case == case and change.outcome is None
    assert set(change.participant_ids) == {cast.gp.user_id, cast.derm.user_id, cast.derm2.user_id}
    assert case.state is CaseState.SUBMITTED and case.created_by == cast.gp.user_id


async def test_every_wrap_must_commit_to_one_key(cast: Clinic) -> None:
    w = cast.world
    case_id = str(uuid.uuid4())
    key, other = generate_case_key(), generate_case_key()
    wraps = [
        WrapIn(
            "user",
            cast.gp.user_id,
            w.wrap(key, case_id, cast.gp, cast.gp.keys.encryption.public_key),
        ),
        WrapIn(
            "organisation",
            cast.practice.org_id,
            w.wrap(other, case_id, cast.gp, cast.records_key.public_key),
        ),
    ]
    request = NewCaseRequest(
        case_id, cast.practice.org_id, cast.service.org_id, "routine", [cast.gp.user_id], wraps
    )
    with pytest.raises(CaseKeyMismatch):
        await w.services.cases.create(cast.gp.actor, request, None)
    without_records = NewCaseRequest(
        case_id, cast.practice.org_id, cast.service.org_id, "routine", [cast.gp.user_id], wraps[:1]
    )
    with pytest.raises(InvalidInput, match="records key"):
        await w.services.cases.create(cast.gp.actor, without_records, None)
    assert w.publisher.events == []


async def test_a_participant_wrap_of_another_key_is_refused(cast: Clinic) -> None:
    """Properly made and signed by the GP, but of another case key: its commitment differs
    from the others', so the dermatologist would be given another key."""
    w = cast.world
    request = cast.case_request()
    derm_key = cast.derm.keys.encryption.public_key
    other = w.wrap(generate_case_key(), request.case_id, cast.gp, derm_key)
    wraps = [
        WrapIn(k.recipient_kind, k.recipient_id, other)
        if k.recipient_id == cast.derm.user_id
        else k
        for k in request.case_keys
    ]
    with pytest.raises(CaseKeyMismatch):
        await w.services.cases.create(
            cast.gp.actor, dataclasses.replace(request, case_keys=wraps), None
        )
    assert (await w.store.list_cases_for_user(cast.gp.user_id)).items == ()


async def test_legacy_uncommitted_wraps_are_refused_for_new_cases(cast: Clinic) -> None:
    w = cast.world
    request = cast.case_request()
    legacy = wrap_legacy_case_key_from_parts(
        w.case_keys[request.case_id],
        case_id=uuid.UUID(request.case_id),
        epoch=0,
        recipient_public_key=cast.records_key.public_key,
        wrapper_user_id=uuid.UUID(cast.gp.user_id),
        wrapper_signing_key=cast.gp.keys.signing,
        ikm_e=bytes(32),
    )
    wraps = [
        WrapIn(k.recipient_kind, k.recipient_id, legacy)
        if k.recipient_kind == "organisation"
        else k
        for k in request.case_keys
    ]
    with pytest.raises(WrapOutdated):
        await w.services.cases.create(
            cast.gp.actor, dataclasses.replace(request, case_keys=wraps), None
        )


async def test_a_draft_stays_out_of_the_queue_until_submitted(cast: Clinic) -> None:
    w = cast.world
    cases = w.services.cases
    draft = await cast.case(draft=True)
    assert draft.state is CaseState.DRAFT

    async def queued() -> list[str]:
        page = await cases.queue(cast.derm.actor, cast.service.org_id, limit=50, cursor=None)
        return [c.case_id for c in page.items]

    assert await queued() == []
    with pytest.raises(InvalidTransition):
        await cases.move(cast.derm.actor, draft.case_id, CaseAction.CLAIM, None)
    submitted = await cases.move(cast.gp.actor, draft.case_id, CaseAction.SUBMIT, None)
    assert submitted.state is CaseState.SUBMITTED and await queued() == [draft.case_id]
    withdrawn = await cases.move(cast.gp.actor, draft.case_id, CaseAction.WITHDRAW, None)
    assert withdrawn.state is CaseState.WITHDRAWN and await queued() == []


async def test_only_a_gp_of_the_practice_opens_a_case(cast: Clinic) -> None:
    request = NewCaseRequest(
        str(uuid.uuid4()), cast.practice.org_id, cast.service.org_id, "routine", [], []
    )
    with pytest.raises(NotFound):
        await cast.world.services.cases.create(cast.stranger.actor, request, None)
    with pytest.raises(NotFound):
        await cast.world.services.cases.create(cast.derm.actor, request, None)


# ---------------------------------------------------------------- the thread


async def test_a_message_is_stored_once_and_its_header_must_match(cast: Clinic) -> None:
    w = cast.world
    cases = w.services.cases
    case = await cast.case()
    msg_id, envelope = w.seal(cast.gp, case.case_id)
    first = await cases.send(cast.gp.actor, case.case_id, msg_id, envelope, None)
    again = await cases.send(cast.gp.actor, case.case_id, msg_id, envelope, None)
    assert (first.message.seq, first.created) == (1, True)
    assert (again.message.seq, again.created) == (1, False)
    assert len(w.publisher.of("message")) == 1
    # The header names another message id, another case, or another sender: refused.
    other_id = str(uuid.uuid4())
    with pytest.raises(InvalidInput):
        await cases.send(cast.gp.actor, case.case_id, other_id, envelope, None)
    other = await cast.case()
    _, elsewhere = w.seal(cast.gp, case.case_id, msg_id=other_id, for_case=other.case_id)
    with pytest.raises(InvalidInput):
        await cases.send(cast.gp.actor, case.case_id, other_id, elsewhere, None)
    await cases.move(cast.derm.actor, case.case_id, CaseAction.CLAIM, None)
    _, as_gp = w.seal(cast.gp, case.case_id, msg_id=other_id)
    with pytest.raises(InvalidInput):
        await cases.send(cast.derm.actor, case.case_id, other_id, as_gp, None)
    with pytest.raises(Forbidden):  # addressed but not claiming: not in the conversation
        await cases.send(cast.derm2.actor, case.case_id, other_id, as_gp, None)
    assert [m.seq for m in await w.store.list_messages(case.case_id)] == [1]


async def test_the_outcome_must_be_an_outcome_envelope_of_the_closer(cast: Clinic) -> None:
    w = cast.world
    cases = w.services.cases
    case = await cast.case()
    await cases.move(cast.derm.actor, case.case_id, CaseAction.CLAIM, None)
    outcome = {"category": "advice_and_guidance", "summary": "emollients", "details": {}}
    _, text = w.seal(cast.derm, case.case_id, body={"text": "not an outcome"})
    _, by_gp = w.seal(cast.gp, case.case_id, ContentType.OUTCOME, outcome)
    for payload in (text, by_gp, b"not an envelope"):
        with pytest.raises(InvalidInput):
            await cases.close(
                cast.derm.actor,
                case.case_id,
                category=OutcomeCategory.ADVICE_AND_GUIDANCE,
                urgency=None,
                destination=None,
                reasons=[],
                payload=payload,
                client=None,
            )
    assert (await w.store.get_case(case.case_id)).state is CaseState.IN_REVIEW
    _, right = w.seal(cast.derm, case.case_id, ContentType.OUTCOME, outcome)
    closed = await cases.close(
        cast.derm.actor,
        case.case_id,
        category=OutcomeCategory.ADVICE_AND_GUIDANCE,
        urgency=None,
        destination=None,
        reasons=[],
        payload=right,
        client=None,
    )
    assert closed.state is CaseState.CLOSED
    assert (
        w.publisher.of("case")[-1].outcome.outcome.category is OutcomeCategory.ADVICE_AND_GUIDANCE
    )


# ---------------------------------------------------------------- moves with a message


async def test_a_question_moves_the_case_and_joins_the_thread(cast: Clinic) -> None:
    w = cast.world
    case = await cast.case()
    await history(cast, case.case_id)
    await w.services.cases.move(cast.derm.actor, case.case_id, CaseAction.CLAIM, None)
    msg_id, envelope = w.seal(cast.derm, case.case_id, body={"text": "how long has it bled?"})
    moved = await w.services.cases.move(
        cast.derm.actor,
        case.case_id,
        CaseAction.ASK,
        None,
        message=ThreadMessage(msg_id, envelope),
    )
    assert moved.state is CaseState.AWAITING_GP and moved.last_seq == 2
    [_, question] = await w.store.list_messages(case.case_id)
    assert (question.client_msg_id, question.sender_id) == (msg_id, cast.derm.user_id)
    # The message is announced, then the case as it is with it.
    kinds = [k for k, _ in w.publisher.events]
    assert kinds[-2:] == ["message", "case"]
    assert w.publisher.of("case")[-1].case.last_seq == 2
    actions = [e.event.action for e in await w.store.list_audit()]
    assert actions[-2:] == ["case.ask", "message.post"]


async def test_a_claim_may_carry_the_claimants_first_message(cast: Clinic) -> None:
    """The message is checked against the case after the move: the claimant is then the
    responder, who may write."""
    w = cast.world
    case = await cast.case()
    msg_id, envelope = w.seal(cast.derm2, case.case_id, body={"text": "I will take this"})
    moved = await w.services.cases.move(
        cast.derm2.actor,
        case.case_id,
        CaseAction.CLAIM,
        None,
        message=ThreadMessage(msg_id, envelope),
    )
    assert moved.claimed_by == cast.derm2.user_id and moved.last_seq == 1


async def test_a_move_whose_message_is_refused_does_not_happen(cast: Clinic) -> None:
    w = cast.world
    case = await cast.case()
    # A withdrawn case takes no message: the withdrawal is refused with it.
    msg_id, envelope = w.seal(cast.gp, case.case_id, body={"text": "never mind"})
    with pytest.raises(InvalidTransition):
        await w.services.cases.move(
            cast.gp.actor,
            case.case_id,
            CaseAction.WITHDRAW,
            None,
            message=ThreadMessage(msg_id, envelope),
        )
    # An envelope naming another case: refused, and the claim with it.
    other = await cast.case()
    msg_id, forged = w.seal(cast.derm, case.case_id, for_case=other.case_id)
    with pytest.raises(InvalidInput):
        await w.services.cases.move(
            cast.derm.actor,
            case.case_id,
            CaseAction.CLAIM,
            None,
            message=ThreadMessage(msg_id, forged),
        )
    after = await w.store.get_case(case.case_id)
    assert (after.state, after.claimed_by, after.last_seq) == (CaseState.SUBMITTED, None, 0)
    assert await w.store.list_messages(case.case_id) == []


async def test_a_move_whose_message_id_is_taken_does_not_happen(cast: Clinic) -> None:
    """The move and its message are one unit of work in storage: when the message cannot
    be stored, the move is not either."""
    w = cast.world
    case = await cast.case()
    taken, envelope = w.seal(cast.gp, case.case_id, ContentType.CLINICAL_HISTORY)
    await w.services.cases.send(cast.gp.actor, case.case_id, taken, envelope, None)
    _, reused = w.seal(cast.derm, case.case_id, msg_id=taken)
    with pytest.raises(Conflict):
        await w.services.cases.move(
            cast.derm.actor,
            case.case_id,
            CaseAction.CLAIM,
            None,
            message=ThreadMessage(taken, reused),
        )
    after = await w.store.get_case(case.case_id)
    assert (after.state, after.claimed_by, after.last_seq) == (CaseState.SUBMITTED, None, 1)
    assert "case.claim" not in [e.event.action for e in await w.store.list_audit()]


async def test_a_late_retry_of_a_move_with_its_message_changes_nothing(cast: Clinic) -> None:
    """The message id is the move's idempotency key: an answer retried after the case has
    moved on (its first answer was lost) must not answer the new question."""
    w = cast.world
    cases = w.services.cases
    case = await cast.case()
    await cases.move(cast.derm.actor, case.case_id, CaseAction.CLAIM, None)
    await cases.move(cast.derm.actor, case.case_id, CaseAction.ASK, None)
    answer = ThreadMessage(*w.seal(cast.gp, case.case_id, body={"text": "6 mm"}))
    await cases.move(cast.gp.actor, case.case_id, CaseAction.ANSWER, None, message=answer)
    await cases.move(cast.derm.actor, case.case_id, CaseAction.ASK, None)
    before = await w.store.get_case(case.case_id)
    published = len(w.publisher.events)
    again = await cases.move(cast.gp.actor, case.case_id, CaseAction.ANSWER, None, message=answer)
    assert again == before and again.state is CaseState.AWAITING_GP
    assert len(w.publisher.events) == published
    actions = [e.event.action for e in await w.store.list_audit()]
    assert actions.count("case.answer") == 1


async def test_the_wrong_party_cannot_move_whatever_it_says(cast: Clinic) -> None:
    w = cast.world
    case = await cast.case()
    msg_id, envelope = w.seal(cast.gp, case.case_id)
    with pytest.raises(Forbidden):
        await w.services.cases.move(
            cast.gp.actor,
            case.case_id,
            CaseAction.CLAIM,
            None,
            message=ThreadMessage(msg_id, envelope),
        )
    with pytest.raises(NotFound):
        await w.services.cases.move(cast.stranger.actor, case.case_id, CaseAction.WITHDRAW, None)


# ---------------------------------------------------------------- replay


async def test_replay_joins_each_case_before_reading_it(cast: Clinic) -> None:
    """A message committed after the join and before the read is in the replay (the room
    would deliver it too: twice, never none)."""
    w = cast.world
    case = await cast.case()
    await history(cast, case.case_id)
    joined: list[str] = []

    async def join(case_id: str) -> None:
        joined.append(case_id)
        msg_id, envelope = w.seal(cast.gp, case_id, body={"text": "meanwhile"})
        await w.services.cases.send(cast.gp.actor, case_id, msg_id, envelope, None)

    replay = await w.services.cases.replay(cast.derm.actor, {case.case_id: 1}, limit=10, join=join)
    assert joined == [case.case_id]
    item = replay[case.case_id]
    assert isinstance(item, CaseReplay)
    assert [m.seq for m in item.messages] == [2] and not item.more


async def test_replay_adds_my_cases_and_refuses_others_case_by_case(cast: Clinic) -> None:
    w = cast.world
    mine = await cast.case()
    for _ in range(3):
        await history(cast, mine.case_id)
    theirs = await w.case(
        cast.stranger, cast.other_practice, cast.service, [], cast.other_records_key
    )
    missing = str(uuid.uuid4())
    joined: list[str] = []

    async def join(case_id: str) -> None:
        joined.append(case_id)

    replay = await w.services.cases.replay(
        cast.gp.actor, {missing: 0, theirs.case_id: 0}, limit=2, join=join
    )
    assert joined == [mine.case_id]
    # A missing case and another practice's answer alike, and only for themselves.
    assert isinstance(replay[missing], NotFound)
    assert isinstance(replay[theirs.case_id], NotFound)
    item = replay[mine.case_id]
    assert isinstance(item, CaseReplay)
    assert [m.seq for m in item.messages] == [1, 2] and item.more
    assert item.case == await w.store.get_case(mine.case_id)


async def test_a_viewer_gets_the_case_with_its_coded_outcome(cast: Clinic) -> None:
    w = cast.world
    case = await cast.case()
    with pytest.raises(NotFound):
        await w.services.cases.case_with_outcome(cast.stranger.actor, case.case_id)
    got, outcome = await w.services.cases.case_with_outcome(cast.derm2.actor, case.case_id)
    assert got == case and outcome is None
