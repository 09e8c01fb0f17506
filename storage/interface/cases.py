"""Cases: routing metadata and moves, participants and case keys, outcomes, receipts."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Protocol

from storage.records import (
    Case,
    CaseState,
    KeyRecipientKind,
    NewCase,
    NewMessage,
    OrgKind,
    Outcome,
    Page,
    Participant,
    Receipt,
    ReceiptKind,
    TransitionResult,
    WrappedCaseKey,
)

__all__ = ["CaseStore", "OutcomeStore", "ParticipantStore", "ReceiptStore"]


class CaseStore(Protocol):
    """Create cases, move them (compare-and-set), list them."""

    async def create_case(
        self,
        case: NewCase,
        participants: Sequence[Participant],
        case_keys: Sequence[WrappedCaseKey],
    ) -> Case:
        """Create a case with its participants and its epoch-0 wrapped keys in one
        transaction. :class:`Conflict` ("duplicate") if the id exists; :class:`NotFound`
        for an unknown organisation or user. (Whether the keys include the practice's
        records key is a domain rule the server checks before calling.)"""
        ...

    async def get_case(self, case_id: str) -> Case:
        """:class:`NotFound` if absent."""
        ...

    async def get_case_with_participants(self, case_id: str) -> tuple[Case, list[Participant]]:
        """The case and its participants (as :meth:`list_participants` orders them) in one
        read unit: what every case request's policy check needs (one thread hop on SQLite,
        one pooled connection on PostgreSQL). :class:`NotFound` if absent."""
        ...

    async def transition_case(
        self,
        case_id: str,
        expected_state: CaseState,
        new_state: CaseState,
        now: _dt.datetime,
        *,
        claimed_by: str | None = None,
        outcome: Outcome | None = None,
        message: NewMessage | None = None,
    ) -> TransitionResult:
        """Compare-and-set the case state: move ``expected_state`` -> ``new_state`` only if
        the case is still in ``expected_state``; :class:`Conflict` ("state_changed")
        otherwise, so two racing moves cannot both win. In the same transaction:
        ``claimed_by`` records the claim (and adds the claimant as a dermatologist
        participant); ``outcome`` stores the outcome and its category; a move to
        ``submitted`` sets ``submitted_at`` if unset; a move to ``closed`` or
        ``withdrawn`` sets ``closed_at``.

        ``message`` is appended in the same transaction, by the rules of
        :meth:`ThreadStore.append_message` (the next sequence number, no gaps). Its client
        message id is the idempotency key of the whole move: if the case already holds a
        message with that id from the same sender, the move was applied before (a retry
        whose answer was lost) and nothing is changed: the result is the case as it is now
        and the stored message with ``created=False``, whatever the state. The id taken by
        another sender is :class:`Conflict` ("message_id_taken"). A failed compare-and-set
        stores nothing, not the message either."""
        ...

    async def triage_queue(
        self,
        service_id: str,
        *,
        states: Sequence[CaseState] = (CaseState.SUBMITTED,),
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Case]:
        """The service's queue: cases in ``states``, urgent before routine, then oldest
        ``submitted_at`` first (ties by case id). Keyset-paginated."""
        ...

    async def list_cases_for_user(
        self,
        user_id: str,
        *,
        states: Sequence[CaseState] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Case]:
        """Cases the user participates in, most recently updated first (ties by case id,
        descending). Keyset-paginated."""
        ...

    async def list_cases_for_organisation(
        self,
        org_id: str,
        kind: OrgKind,
        *,
        states: Sequence[CaseState] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Case]:
        """An organisation's cases (``kind`` says which side it is: the practice's cases or
        the service's), most recently updated first, ties by case id descending;
        keyset-paginated. One index-ordered scan (``cases_practice`` / ``cases_service``)
        that stops after ``limit`` rows, whatever the organisation's size."""
        ...


class ParticipantStore(Protocol):
    """Who takes part in a case, and the case keys wrapped to them."""

    async def list_participants(self, case_id: str) -> list[Participant]:
        """The case's participants, ordered by ``added_at`` (ties by user id)."""
        ...

    async def add_participants_with_keys(
        self, participants: Sequence[Participant], keys: Sequence[WrappedCaseKey]
    ) -> None:
        """Add new participants and their wrapped case keys in one transaction (a participant
        shares the case key of an existing epoch with colleagues, docs/protocol.md section
        8). All rows must belong to one case (:class:`InvalidArgument` otherwise, or if
        ``participants`` is empty); :class:`NotFound` if the case or a user does not exist;
        :class:`Conflict` ("duplicate") if a user already participates or a key exists, and
        then nothing is stored. The case's ``key_epoch`` is not changed."""
        ...

    async def get_case_keys(
        self,
        case_id: str,
        *,
        recipient_kind: KeyRecipientKind | None = None,
        recipient_id: str | None = None,
    ) -> list[WrappedCaseKey]:
        """Wrapped keys of the case (optionally for one recipient), by epoch, then
        recipient kind and id."""
        ...


class OutcomeStore(Protocol):
    """A closed case's outcome (stored by ``transition_case(..., outcome=)``)."""

    async def get_outcome(self, case_id: str) -> Outcome | None:
        """The case's outcome, or None."""
        ...

    async def update_outcome(
        self, case_id: str, expected: bytes, new: Outcome, now: _dt.datetime
    ) -> Case:
        """Compare-and-set a closed case's outcome (the two-week-wait downgrade): replace it
        with ``new`` (category and payload sealed at rest like the original) only if the
        stored payload is still exactly ``expected``; :class:`Conflict` ("outcome_changed")
        otherwise, or if the case has no outcome; :class:`NotFound` for an unknown case.
        The case's ``updated_at`` becomes ``now``; its state does not change."""
        ...


class ReceiptStore(Protocol):
    """Delivery and read receipts (typing indicators are never stored)."""

    async def record_receipt(
        self,
        case_id: str,
        user_id: str,
        kind: ReceiptKind,
        seq: int,
        now: _dt.datetime,
    ) -> Receipt:
        """Raise the user's receipt to ``seq`` (never lowers it); returns the stored one.
        :class:`NotFound` for an unknown case."""
        ...

    async def list_receipts(self, case_id: str) -> list[Receipt]:
        """All stored receipts of the case, by user id and kind."""
        ...
