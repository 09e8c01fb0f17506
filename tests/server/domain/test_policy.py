"""The access policy as a matrix: role x organisation (own / foreign) x action."""

import pytest

from server.domain.lifecycle import Party
from server.domain.policy import (
    Actor,
    CaseAction,
    CaseFacts,
    check_case,
    check_create_case,
    check_org_role,
    check_queue,
    parties_of,
)
from server.errors import Forbidden, InvalidTransition, NotFound
from storage import CaseState, Role

A = CaseAction
PRACTICE, SERVICE, OTHER_PRACTICE, OTHER_SERVICE = "p1", "s1", "p2", "s2"

GP = Actor("gp", {PRACTICE: frozenset({Role.GP})})
GP2 = Actor("gp2", {PRACTICE: frozenset({Role.GP})})  # colleague, not the referrer
DERM = Actor("derm", {SERVICE: frozenset({Role.DERMATOLOGIST})})  # the responder
DERM2 = Actor("derm2", {SERVICE: frozenset({Role.DERMATOLOGIST})})  # addressed, not claimed
DERM3 = Actor("derm3", {SERVICE: frozenset({Role.DERMATOLOGIST})})  # joined later
P_ADMIN = Actor("padmin", {PRACTICE: frozenset({Role.ADMIN})})
S_ADMIN = Actor("sadmin", {SERVICE: frozenset({Role.ADMIN})})
RECORDS = Actor("rec", {PRACTICE: frozenset({Role.RECORDS_OFFICER})})
AUDITOR = Actor("aud", {SERVICE: frozenset({Role.AUDITOR})})
FOREIGN = {
    role: Actor(f"x-{role}", {OTHER_PRACTICE: frozenset({role}), OTHER_SERVICE: frozenset({role})})
    for role in Role
}


def case(state: CaseState, responder: str | None = "derm") -> CaseFacts:
    return CaseFacts(
        case_id="c1",
        practice_id=PRACTICE,
        service_id=SERVICE,
        creator_id="gp",
        state=state,
        participants=frozenset({"gp", "derm", "derm2"}),
        responder_id=responder,
    )


def outcome(actor: Actor, facts: CaseFacts | None, action: CaseAction) -> str:
    try:
        check_case(actor, facts, action)
    except NotFound:
        return "404"
    except Forbidden:
        return "403"
    except InvalidTransition:
        return "409"
    return "ok"


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(CaseAction))
@pytest.mark.parametrize("state", list(CaseState))
def test_foreign_organisation_is_indistinguishable_from_missing(
    role: Role, action: CaseAction, state: CaseState
) -> None:
    assert outcome(FOREIGN[role], case(state), action) == "404"
    assert outcome(FOREIGN[role], None, action) == "404"
    assert outcome(GP, None, action) == "404"


# (actor, state, action) -> expected; the in-review case has responder "derm".
MATRIX = [
    (GP, CaseState.IN_REVIEW, A.VIEW, "ok"),
    (GP2, CaseState.IN_REVIEW, A.VIEW, "403"),
    (DERM, CaseState.IN_REVIEW, A.VIEW, "ok"),
    (DERM2, CaseState.IN_REVIEW, A.VIEW, "ok"),
    (DERM3, CaseState.IN_REVIEW, A.VIEW, "403"),
    (P_ADMIN, CaseState.IN_REVIEW, A.VIEW, "403"),
    (S_ADMIN, CaseState.CLOSED, A.VIEW, "403"),
    (RECORDS, CaseState.IN_REVIEW, A.VIEW, "ok"),
    (RECORDS, CaseState.IN_REVIEW, A.MESSAGE, "403"),
    (AUDITOR, CaseState.IN_REVIEW, A.VIEW, "403"),
    (AUDITOR, CaseState.CLOSED, A.VIEW, "ok"),
    (AUDITOR, CaseState.CLOSED, A.MESSAGE, "403"),
    (GP, CaseState.IN_REVIEW, A.MESSAGE, "ok"),
    (GP, CaseState.SUBMITTED, A.MESSAGE, "ok"),
    (GP, CaseState.CLOSED, A.MESSAGE, "409"),
    (GP, CaseState.WITHDRAWN, A.MESSAGE, "409"),
    (DERM, CaseState.IN_REVIEW, A.MESSAGE, "ok"),
    (DERM2, CaseState.IN_REVIEW, A.MESSAGE, "403"),
    (GP2, CaseState.IN_REVIEW, A.MESSAGE, "403"),
    (DERM2, CaseState.SUBMITTED, A.CLAIM, "ok"),
    (DERM3, CaseState.SUBMITTED, A.CLAIM, "403"),
    (GP, CaseState.SUBMITTED, A.CLAIM, "403"),
    (DERM2, CaseState.IN_REVIEW, A.CLAIM, "409"),
    (DERM, CaseState.IN_REVIEW, A.ASK, "ok"),
    (DERM2, CaseState.IN_REVIEW, A.ASK, "403"),
    (GP, CaseState.IN_REVIEW, A.ASK, "403"),
    (GP, CaseState.AWAITING_GP, A.ANSWER, "ok"),
    (GP2, CaseState.AWAITING_GP, A.ANSWER, "403"),
    (DERM, CaseState.AWAITING_GP, A.ANSWER, "403"),
    (DERM, CaseState.IN_REVIEW, A.CLOSE, "ok"),
    (DERM, CaseState.AWAITING_GP, A.CLOSE, "409"),
    (DERM2, CaseState.IN_REVIEW, A.CLOSE, "403"),
    (GP, CaseState.SUBMITTED, A.WITHDRAW, "ok"),
    (GP, CaseState.IN_REVIEW, A.WITHDRAW, "409"),
    (DERM, CaseState.SUBMITTED, A.WITHDRAW, "403"),
    (GP, CaseState.CLOSED, A.RESUBMIT, "ok"),
    (GP, CaseState.CLOSED, A.DOWNGRADE, "ok"),
    (DERM, CaseState.CLOSED, A.DOWNGRADE, "ok"),  # party here; outcomes.downgrade refuses
    (RECORDS, CaseState.CLOSED, A.DOWNGRADE, "403"),
    (GP, CaseState.IN_REVIEW, A.DOWNGRADE, "409"),
    (GP, CaseState.DRAFT, A.SUBMIT, "ok"),
    (GP, CaseState.SUBMITTED, A.SHARE_KEY, "ok"),
    (GP, CaseState.CLOSED, A.SHARE_KEY, "ok"),  # any state: a newcomer may follow up
    (GP, CaseState.WITHDRAWN, A.SHARE_KEY, "ok"),
    (DERM, CaseState.IN_REVIEW, A.SHARE_KEY, "ok"),
    (DERM2, CaseState.IN_REVIEW, A.SHARE_KEY, "ok"),  # addressed, not the responder
    (DERM3, CaseState.SUBMITTED, A.SHARE_KEY, "403"),  # not a participant: nothing to share
    (GP2, CaseState.SUBMITTED, A.SHARE_KEY, "403"),
    (RECORDS, CaseState.CLOSED, A.SHARE_KEY, "403"),
    (AUDITOR, CaseState.CLOSED, A.SHARE_KEY, "403"),
    (P_ADMIN, CaseState.SUBMITTED, A.SHARE_KEY, "403"),
    (S_ADMIN, CaseState.SUBMITTED, A.SHARE_KEY, "403"),
]


@pytest.mark.parametrize(("actor", "state", "action", "expected"), MATRIX)
def test_matrix(actor: Actor, state: CaseState, action: CaseAction, expected: str) -> None:
    assert outcome(actor, case(state), action) == expected


def test_parties() -> None:
    facts = case(CaseState.IN_REVIEW)
    assert parties_of(GP, facts) == {Party.REFERRER}
    assert parties_of(DERM, facts) == {Party.SERVICE, Party.RESPONDER}
    assert parties_of(DERM2, facts) == {Party.SERVICE}
    assert parties_of(DERM3, facts) == frozenset()
    # A GP who is the creator but lost the GP role is no longer the referrer.
    assert parties_of(Actor("gp", {PRACTICE: frozenset({Role.ADMIN})}), facts) == frozenset()


def test_org_level_checks() -> None:
    check_create_case(GP, PRACTICE)
    check_queue(DERM, SERVICE)
    check_org_role(P_ADMIN, PRACTICE, Role.ADMIN)
    with pytest.raises(Forbidden):
        check_create_case(P_ADMIN, PRACTICE)
    with pytest.raises(NotFound):
        check_create_case(GP, OTHER_PRACTICE)
    with pytest.raises(NotFound):
        check_queue(DERM, OTHER_SERVICE)
    with pytest.raises(Forbidden):
        check_queue(AUDITOR, SERVICE)
    with pytest.raises(NotFound):
        check_org_role(S_ADMIN, PRACTICE, Role.ADMIN)
