"""The access policy, in one place, for every HTTP route and every Socket.IO event.

Rules
-----
1. Organisation first. A user who belongs to neither the case's practice nor its service
   gets :class:`NotFound`, exactly the error of a case that does not exist (issue 4, item
   3): ids of other organisations' cases must not be confirmable.
2. Inside the organisations, the *party* decides (see ``lifecycle.Party``): the referring GP
   (creator), the service dermatologists the case was addressed to (participants), and the
   responder (the dermatologist who claimed it). A member without a party role gets
   :class:`Forbidden`.
3. Records officers of the practice may view a case's metadata (audit export and record
   recovery); auditors of either organisation may view closed cases only. Neither takes part
   in the thread. Admins manage people, not cases.
4. State moves go through ``lifecycle.next_state``: a move outside the table is an
   InvalidTransition whoever asks; a move in the table by the wrong party is Forbidden.
5. Patient photo links (issue 6 item 8): only the referring GP makes or revokes a link, and
   only while the case is open (``CaseAction.PATIENT_LINK``); whoever may view the case
   sees its links and what came through them. The patient has no account: the patient
   routes are authorised by the link's single-use token alone (``check_patient_link``),
   and every refusal there is one indistinguishable ``link_invalid``.
6. Sharing the case key (``CaseAction.SHARE_KEY``): a participant who holds a wrap of the
   epoch (the referring GP or a dermatologist the case was addressed to or shared with)
   may wrap it to dermatologists of the case's service who are not participants yet, in
   any state. Records officers, auditors and admins never share (they are not in the
   thread). The server cannot add a recipient by itself: it needs the participant's
   signed wrap (docs/protocol.md section 8).

7. Removals and epochs (``CaseAction.REMOVE``, ``CaseAction.ROTATE``): the referring GP
   or the responder takes another dermatologist off a case (never the referring GP nor the
   responder, never themselves: the case service checks who); a person taken off is no
   longer a participant, so rule 2 gives them no party and every case route refuses them.
   Any remaining participant (referrer or a dermatologist participant) starts a new epoch
   (docs/protocol.md section 24).

Plain Python: no aiohttp, no socketio, no storage calls (only storage's enums, the one
definition of roles, organisation kinds and states). Callers pass facts, we decide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from server.domain.lifecycle import OPEN_STATES, CaseEvent, Party, next_state
from server.errors import Forbidden, InvalidTransition, LinkInvalid, NotFound
from storage import CaseState, OrgKind, Role

__all__ = [
    "ROLES_BY_KIND",
    "Actor",
    "CaseAction",
    "CaseFacts",
    "PatientLinkFacts",
    "check_case",
    "check_create_case",
    "check_org_role",
    "check_patient_link",
    "check_queue",
    "parties_of",
]


#: Which roles make sense in which kind of organisation.
ROLES_BY_KIND: dict[OrgKind, frozenset[Role]] = {
    OrgKind.PRACTICE: frozenset({Role.GP, Role.ADMIN, Role.RECORDS_OFFICER, Role.AUDITOR}),
    OrgKind.SERVICE: frozenset(
        {Role.DERMATOLOGIST, Role.ADMIN, Role.RECORDS_OFFICER, Role.AUDITOR}
    ),
}


@dataclass(frozen=True)
class Actor:
    """The signed-in user: id and roles per organisation id."""

    user_id: str
    memberships: Mapping[str, frozenset[Role]] = field(default_factory=dict)

    def roles_in(self, org_id: str) -> frozenset[Role]:
        return self.memberships.get(org_id, frozenset())

    def has(self, org_id: str, role: Role) -> bool:
        return role in self.roles_in(org_id)


@dataclass(frozen=True)
class CaseFacts:
    """The routing metadata the policy needs; nothing clinical."""

    case_id: str
    practice_id: str
    service_id: str
    creator_id: str
    state: CaseState
    participants: frozenset[str]
    responder_id: str | None = None


class CaseAction(StrEnum):
    VIEW = "view"  # metadata, thread, wrapped keys
    MESSAGE = "message"  # post to the thread (text, photos, receipts, typing)
    SUBMIT = "submit"
    CLAIM = "claim"
    ASK = "ask"
    ANSWER = "answer"
    CLOSE = "close"
    WITHDRAW = "withdraw"
    RESUBMIT = "resubmit"
    DOWNGRADE = "downgrade"
    PATIENT_LINK = "patient_link"  # make or revoke a patient photo link (rule 5)
    SHARE_KEY = "share_key"  # wrap the case key to service colleagues who lack it (rule 6)
    REMOVE = "remove"  # take a dermatologist off the case (rule 7)
    ROTATE = "rotate"  # start a new case key epoch (rule 7)


_MOVES: dict[CaseAction, CaseEvent] = {
    CaseAction.SUBMIT: CaseEvent.SUBMIT,
    CaseAction.CLAIM: CaseEvent.CLAIM,
    CaseAction.ASK: CaseEvent.ASK,
    CaseAction.ANSWER: CaseEvent.ANSWER,
    CaseAction.CLOSE: CaseEvent.CLOSE,
    CaseAction.WITHDRAW: CaseEvent.WITHDRAW,
    CaseAction.RESUBMIT: CaseEvent.RESUBMIT,
}


def parties_of(actor: Actor, case: CaseFacts) -> frozenset[Party]:
    """The roles ``actor`` holds on ``case`` (rule 2)."""
    parties: set[Party] = set()
    if actor.user_id == case.creator_id and actor.has(case.practice_id, Role.GP):
        parties.add(Party.REFERRER)
    if actor.has(case.service_id, Role.DERMATOLOGIST) and actor.user_id in case.participants:
        parties.add(Party.SERVICE)
        if case.responder_id == actor.user_id:
            parties.add(Party.RESPONDER)
    return frozenset(parties)


def check_case(actor: Actor, case: CaseFacts | None, action: CaseAction) -> frozenset[Party]:
    """Raise unless ``actor`` may do ``action`` on ``case``; return the actor's parties.

    ``case`` None means "no such case": the same NotFound as a foreign one (rule 1).
    For state moves this also checks the move itself; callers then apply it with
    compare-and-set on ``case.state``.
    """
    if case is None or not (actor.roles_in(case.practice_id) or actor.roles_in(case.service_id)):
        raise NotFound()
    parties = parties_of(actor, case)
    if action is CaseAction.VIEW:
        if parties:
            return parties
        if actor.has(case.practice_id, Role.RECORDS_OFFICER):
            return parties
        closed = case.state is CaseState.CLOSED
        auditor = actor.has(case.practice_id, Role.AUDITOR) or actor.has(
            case.service_id, Role.AUDITOR
        )
        if closed and auditor:
            return parties
        raise Forbidden()
    if action is CaseAction.MESSAGE:
        # The referrer and the responder hold the conversation; other service members
        # must claim first so a case never has two answering dermatologists.
        if not parties & {Party.REFERRER, Party.RESPONDER}:
            raise Forbidden()
        if case.state not in OPEN_STATES:
            raise InvalidTransition("the case is closed to new messages")
        return parties
    if action is CaseAction.PATIENT_LINK:
        if Party.REFERRER not in parties:
            raise Forbidden()
        if case.state not in OPEN_STATES:
            raise InvalidTransition("the case is closed")
        return parties
    if action is CaseAction.SHARE_KEY:
        # Rule 6: a participant (the referrer or an addressed/claiming dermatologist) shares,
        # in any state: a closed case may still need reading by a newcomer for follow-up.
        # Holding a wrap, and who may receive one, is checked by the case service.
        if not parties & {Party.REFERRER, Party.SERVICE}:
            raise Forbidden()
        return parties
    if action is CaseAction.REMOVE:
        # Rule 7: the referrer or the responder (who they may remove: the case service).
        if not parties & {Party.REFERRER, Party.RESPONDER}:
            raise Forbidden()
        return parties
    if action is CaseAction.ROTATE:
        # Rule 7: any remaining participant whose client holds the key, in any state.
        if not parties & {Party.REFERRER, Party.SERVICE}:
            raise Forbidden()
        return parties
    if action is CaseAction.DOWNGRADE:
        # The outcome rule itself is in outcomes.downgrade; here: a party, closed case.
        if not parties:
            raise Forbidden()
        if case.state is not CaseState.CLOSED:
            raise InvalidTransition()
        return parties
    next_state(case.state, _MOVES[action], parties)
    return parties


def check_create_case(actor: Actor, practice_id: str) -> None:
    """Only a GP of the practice opens a case on its behalf."""
    check_org_role(actor, practice_id, Role.GP)


def check_queue(actor: Actor, service_id: str) -> None:
    """The triage queue of a service is for its dermatologists."""
    check_org_role(actor, service_id, Role.DERMATOLOGIST)


def check_org_role(actor: Actor, org_id: str, role: Role) -> None:
    """NotFound outside the organisation (rule 1), Forbidden without the role."""
    if not actor.roles_in(org_id):
        raise NotFound()
    if not actor.has(org_id, role):
        raise Forbidden()


@dataclass(frozen=True)
class PatientLinkFacts:
    """What the policy needs to know about a patient link at a given moment."""

    used: bool
    revoked: bool
    expired: bool
    case_open: bool


def check_patient_link(link: PatientLinkFacts | None) -> None:
    """Rule 5: the token is the credential. Unknown, used, revoked, expired, or a case no
    longer open: the same :class:`LinkInvalid`, so a probe learns nothing about a token."""
    if link is None or link.used or link.revoked or link.expired or not link.case_open:
        raise LinkInvalid()
