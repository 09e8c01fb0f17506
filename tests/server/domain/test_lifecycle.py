"""Every allowed and every forbidden move of the case lifecycle (DESIGN.md section 2)."""

import itertools

import pytest

from server.domain.lifecycle import (
    TRANSITIONS,
    CaseEvent,
    Party,
    describe,
    next_state,
)
from server.errors import Forbidden, InvalidTransition
from storage import CaseState

S, E, P = CaseState, CaseEvent, Party

# Written out independently of the table so a wrong edit to the table fails here.
EXPECTED = {
    (S.DRAFT, E.SUBMIT): (S.SUBMITTED, P.REFERRER),
    (S.SUBMITTED, E.CLAIM): (S.IN_REVIEW, P.SERVICE),
    (S.IN_REVIEW, E.ASK): (S.AWAITING_GP, P.RESPONDER),
    (S.AWAITING_GP, E.ANSWER): (S.IN_REVIEW, P.REFERRER),
    (S.IN_REVIEW, E.CLOSE): (S.CLOSED, P.RESPONDER),
    (S.SUBMITTED, E.WITHDRAW): (S.WITHDRAWN, P.REFERRER),
    (S.AWAITING_GP, E.WITHDRAW): (S.WITHDRAWN, P.REFERRER),
    (S.CLOSED, E.RESUBMIT): (S.SUBMITTED, P.REFERRER),
}
ALL_MOVES = list(itertools.product(CaseState, CaseEvent))


def test_table_is_exactly_the_design() -> None:
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize(("state", "event"), sorted(EXPECTED))
def test_allowed_move_by_its_party(state: CaseState, event: CaseEvent) -> None:
    new_state, party = EXPECTED[(state, event)]
    assert next_state(state, event, frozenset({party})) is new_state


@pytest.mark.parametrize(("state", "event"), sorted(EXPECTED))
@pytest.mark.parametrize("party", list(Party))
def test_allowed_move_by_another_party_is_forbidden(
    state: CaseState, event: CaseEvent, party: Party
) -> None:
    if EXPECTED[(state, event)][1] is party:
        return
    with pytest.raises(Forbidden):
        next_state(state, event, frozenset({party}))


@pytest.mark.parametrize(("state", "event"), [m for m in ALL_MOVES if m not in EXPECTED])
def test_forbidden_move_fails_for_everyone(state: CaseState, event: CaseEvent) -> None:
    with pytest.raises(InvalidTransition):
        next_state(state, event, frozenset(Party))


def test_terminal_withdrawn_has_no_exit() -> None:
    assert not [k for k in TRANSITIONS if k[0] is S.WITHDRAWN]


def test_describe_renders_every_row() -> None:
    lines = describe()
    assert len(lines) == len(EXPECTED)
    assert "submitted --claim (service)--> in_review" in lines
