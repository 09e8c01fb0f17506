"""The case lifecycle: one transition table (DESIGN.md section 2), after h11 ``_state.py``.

Rules
-----
* A case is in exactly one ``storage.CaseState`` (the one definition, which storage's
  compare-and-set uses too). It moves only through :data:`TRANSITIONS`,
  keyed by ``(state, event)``; the value names the new state and the *party* that may
  cause it. Anything absent from the table is forbidden.
* Parties are relative to the case, not global roles: ``REFERRER`` is the GP who created
  the case; ``SERVICE`` is any dermatologist of the case's service (only for ``CLAIM``);
  ``RESPONDER`` is the dermatologist who claimed it.
* ``RESUBMIT`` (closed -> submitted) is the refinement of "the GP can resubmit into the same
  case" after an ``image_rejected`` outcome; its guard lives in ``server.domain.outcomes``
  because it depends on the outcome, not on the state alone.
* Storage applies a move with compare-and-set on the old state, so two racing claims cannot
  both win; this module only decides whether a move is allowed.

The table, drawn (``docs/architecture.md`` renders it from :func:`describe`)::

    draft --submit(referrer)--> submitted --claim(service)--> in_review
    in_review --ask(responder)--> awaiting_gp --answer(referrer)--> in_review
    in_review --close(responder)--> closed --resubmit(referrer, image_rejected)--> submitted
    submitted | awaiting_gp --withdraw(referrer)--> withdrawn
"""

from __future__ import annotations

from enum import StrEnum

from server.errors import Forbidden, InvalidTransition
from storage import CaseState

__all__ = [
    "OPEN_STATES",
    "TRANSITIONS",
    "CaseEvent",
    "Party",
    "describe",
    "next_state",
]


class CaseEvent(StrEnum):
    SUBMIT = "submit"
    CLAIM = "claim"
    ASK = "ask"  # a question or a retake request
    ANSWER = "answer"  # the GP answers or adds photos
    CLOSE = "close"  # with an outcome
    WITHDRAW = "withdraw"
    RESUBMIT = "resubmit"


class Party(StrEnum):
    REFERRER = "referrer"
    SERVICE = "service"
    RESPONDER = "responder"


S, E, P = CaseState, CaseEvent, Party

#: (state, event) -> (new state, party allowed to cause it). The only source of truth.
TRANSITIONS: dict[tuple[CaseState, CaseEvent], tuple[CaseState, Party]] = {
    (S.DRAFT, E.SUBMIT): (S.SUBMITTED, P.REFERRER),
    (S.SUBMITTED, E.CLAIM): (S.IN_REVIEW, P.SERVICE),
    (S.IN_REVIEW, E.ASK): (S.AWAITING_GP, P.RESPONDER),
    (S.AWAITING_GP, E.ANSWER): (S.IN_REVIEW, P.REFERRER),
    (S.IN_REVIEW, E.CLOSE): (S.CLOSED, P.RESPONDER),
    (S.SUBMITTED, E.WITHDRAW): (S.WITHDRAWN, P.REFERRER),
    (S.AWAITING_GP, E.WITHDRAW): (S.WITHDRAWN, P.REFERRER),
    (S.CLOSED, E.RESUBMIT): (S.SUBMITTED, P.REFERRER),
}

#: States in which the thread still takes messages from the parties.
OPEN_STATES = frozenset({S.DRAFT, S.SUBMITTED, S.IN_REVIEW, S.AWAITING_GP})


def next_state(state: CaseState, event: CaseEvent, parties: frozenset[Party]) -> CaseState:
    """The state after ``event``, or :class:`InvalidTransition` / a Forbidden error.

    ``parties`` are the roles the acting user holds on this case (see
    ``server.domain.policy.parties_of``). A move absent from the table is an
    InvalidTransition (409) whoever asks; a move in the table made by the wrong party is
    Forbidden (403), because the state is not the problem.

    >>> next_state(CaseState.SUBMITTED, CaseEvent.CLAIM, frozenset({Party.SERVICE}))
    <CaseState.IN_REVIEW: 'in_review'>
    """
    try:
        new_state, party = TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition() from None
    if party not in parties:
        raise Forbidden()
    return new_state


def describe() -> list[str]:
    """One line per transition, for the docs (the diagram is generated from the table)."""
    return [
        f"{old.value} --{ev.value} ({party.value})--> {new.value}"
        for (old, ev), (new, party) in TRANSITIONS.items()
    ]
