"""The case side of the memory store (``storage.memory``; tests and development only):
cases and their moves, participants and case keys, outcomes, receipts, the thread and
attachments, with the semantics of ``storage.sql`` (see the protocols in
:mod:`storage.interface.cases`, ``thread``, ``attachments``)."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
from collections.abc import Sequence

from storage._memory_base import CaseRow, MemoryBase, op, utc
from storage._values import (
    check_audit_event,
    check_bytes,
    check_epoch,
    check_id,
    check_int64,
    check_limit,
    check_text,
    dec_cursor,
    enc_cursor,
    states_of,
    us,
)
from storage.errors import Conflict, InvalidArgument, NotFound
from storage.records import (
    AppendResult,
    Attachment,
    AuditEntry,
    AuditEvent,
    Case,
    CaseState,
    KeyRecipientKind,
    Message,
    NewCase,
    NewMessage,
    OrgKind,
    Outcome,
    OutcomeCategory,
    Page,
    Participant,
    Priority,
    Receipt,
    ReceiptKind,
    Role,
    TransitionResult,
    WrappedCaseKey,
)

__all__ = ["MemoryCases"]

_RANK = {Priority.URGENT: 0, Priority.ROUTINE: 1}  # as storage.sql.cases.PRIORITY_RANK
_KeyId = tuple[str, int, str, str]


class MemoryCases(MemoryBase):
    """Case store, participants, outcomes, receipts, thread and attachments in memory."""

    def __init__(self) -> None:
        super().__init__()
        self._participants: dict[str, dict[str, Participant]] = {}
        self._keys: dict[_KeyId, WrappedCaseKey] = {}
        self._messages: dict[str, list[Message]] = {}
        self._message_ids: dict[tuple[str, str], Message] = {}
        self._attachments: dict[str, Attachment] = {}
        self._outcomes: dict[str, Outcome] = {}
        self._receipts: dict[tuple[str, str, str], Receipt] = {}

    # ------------------------------------------------------------------ records

    def _case(self, row: CaseRow) -> Case:
        outcome = self._outcomes.get(row.case_id)
        return Case(
            case_id=row.case_id,
            practice_id=row.practice_id,
            service_id=row.service_id,
            created_by=row.created_by,
            state=row.state,
            priority=row.priority,
            created_at=row.created_at,
            updated_at=row.updated_at,
            submitted_at=row.submitted_at,
            claimed_by=row.claimed_by,
            claimed_at=row.claimed_at,
            first_response_at=row.first_response_at,
            closed_at=row.closed_at,
            outcome_category=None if outcome is None else outcome.category,
            last_seq=row.last_seq,
            key_epoch=row.key_epoch,
        )

    @staticmethod
    def _participant(p: Participant) -> Participant:
        return Participant(
            check_id(p.case_id, "case_id"),
            check_id(p.user_id, "user_id"),
            Role(p.role),
            utc(p.added_at),
        )

    @staticmethod
    def _wrapped_key(k: WrappedCaseKey) -> WrappedCaseKey:
        return WrappedCaseKey(
            check_id(k.case_id, "case_id"),
            check_epoch(k.epoch),
            KeyRecipientKind(k.recipient_kind),
            check_id(k.recipient_id, "recipient_id"),
            check_bytes(k.wrapped_key, "wrapped_key"),
            utc(k.created_at),
        )

    @staticmethod
    def _key_id(k: WrappedCaseKey) -> _KeyId:
        return (k.case_id, k.epoch, k.recipient_kind.value, k.recipient_id)

    def _check_new_keys(self, keys: Sequence[WrappedCaseKey]) -> None:
        ids = [self._key_id(k) for k in keys]
        if len(set(ids)) != len(ids) or any(i in self._keys for i in ids):
            raise Conflict("duplicate")

    # ------------------------------------------------------------------ cases

    def _append_audit_now(self, event: AuditEvent, salt: bytes) -> AuditEntry:
        raise NotImplementedError  # storage.memory.MemoryStorage has the audit chain

    @op
    async def create_case(
        self,
        case: NewCase,
        participants: Sequence[Participant],
        case_keys: Sequence[WrappedCaseKey],
    ) -> Case:
        cid = check_id(case.case_id, "case_id")
        practice = check_id(case.practice_id, "practice_id")
        service = check_id(case.service_id, "service_id")
        creator = check_id(case.created_by, "created_by")
        state = CaseState(case.state)
        created = utc(case.created_at)
        if any(p.case_id != cid for p in participants):
            raise InvalidArgument("participant of another case")
        keys = [self._wrapped_key(k) for k in case_keys]
        if any(k.case_id != cid for k in keys):
            raise InvalidArgument("case key of another case")
        people = [self._participant(p) for p in participants]
        if cid in self._cases:
            raise Conflict("duplicate")
        if self._kind(practice) is not OrgKind.PRACTICE:
            raise NotFound("organisation")
        if self._kind(service) is not OrgKind.SERVICE:
            raise NotFound("organisation")
        self._referenced_user(creator)
        for p in people:
            self._referenced_user(p.user_id)
        self._check_new_keys(keys)
        row = CaseRow(
            cid,
            practice,
            service,
            creator,
            state,
            Priority(case.priority),
            created,
            created,
            None if state is CaseState.DRAFT else created,
            created,
            max((k.epoch for k in keys), default=0),
        )
        self._cases[cid] = row
        joined = self._participants.setdefault(cid, {})
        for p in people:
            joined.setdefault(p.user_id, p)  # ON CONFLICT DO NOTHING
        self._keys.update((self._key_id(k), k) for k in keys)
        return self._case(row)

    @op
    async def get_case(self, case_id: str) -> Case:
        return self._case(self._case_row(check_id(case_id, "case_id")))

    @op
    async def get_case_with_participants(self, case_id: str) -> tuple[Case, list[Participant]]:
        case = self._case(self._case_row(check_id(case_id, "case_id")))
        people = self._participants.get(case_id, {}).values()
        return case, sorted(people, key=lambda p: (p.added_at, p.user_id))

    @op
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
        cid = check_id(case_id, "case_id")
        expected, new = CaseState(expected_state), CaseState(new_state)
        when = utc(now)
        if claimed_by is not None:
            check_id(claimed_by, "claimed_by")
        stored_outcome = None
        if outcome is not None:
            stored_outcome = self._outcome_of(cid, outcome)
        if message is not None:
            if not isinstance(message, NewMessage):
                raise InvalidArgument("message must be a NewMessage")
            check_id(message.client_msg_id, "client_msg_id")
            check_id(message.sender_id, "sender_id")
            check_bytes(message.envelope, "envelope")
            # The message id is the move's idempotency key (CaseStore.transition_case).
            self._case_row(cid)
            existing = self._message_ids.get((cid, message.client_msg_id))
            if existing is not None:
                if existing.sender_id != message.sender_id:
                    raise Conflict("message_id_taken")
                replay = AppendResult(existing, False)
                return TransitionResult(self._case(self._case_row(cid)), replay)
        row = self._case_row(cid)
        if row.state is not expected:
            raise Conflict("state_changed")
        if claimed_by is not None:
            self._referenced_user(claimed_by)
        row.state, row.updated_at = new, when
        if new is CaseState.SUBMITTED:
            row.submitted_at = row.submitted_at or when
            row.queued_at = when
        if new in (CaseState.CLOSED, CaseState.WITHDRAWN):
            row.closed_at = when
        if claimed_by is not None:
            row.claimed_by, row.claimed_at = claimed_by, when
            joined = self._participants.setdefault(cid, {})
            joined.setdefault(claimed_by, Participant(cid, claimed_by, Role.DERMATOLOGIST, when))
        if stored_outcome is not None:
            self._outcomes[cid] = stored_outcome
        appended = None
        if message is not None:
            appended = self._append(
                row, message.client_msg_id, message.sender_id, message.envelope, when
            )
        return TransitionResult(self._case(row), appended)

    def _page(
        self, rows: list[tuple[tuple[int, int, str], CaseRow]], limit: int
    ) -> tuple[list[CaseRow], tuple[int, int, str] | None]:
        more = len(rows) > limit
        rows = rows[:limit]
        return [r for _, r in rows], (rows[-1][0] if more else None)

    @op
    async def triage_queue(
        self,
        service_id: str,
        *,
        states: Sequence[CaseState] = (CaseState.SUBMITTED,),
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Case]:
        check_id(service_id, "service_id")
        st = set(states_of(states))
        n = check_limit(limit)
        after = None if cursor is None else tuple(dec_cursor(cursor, (int, int, str)))
        keyed = sorted(
            ((_RANK[r.priority], us(r.queued_at), r.case_id), r)
            for r in self._cases.values()
            if r.service_id == service_id and r.state.value in st
        )
        keyed = [(k, r) for k, r in keyed if after is None or k > after]
        rows, last = self._page(keyed, n)
        return Page(tuple(self._case(r) for r in rows), None if last is None else enc_cursor(*last))

    @op
    async def list_cases_for_user(
        self,
        user_id: str,
        *,
        states: Sequence[CaseState] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Case]:
        check_id(user_id, "user_id")
        n = check_limit(limit)
        st = None if states is None else set(states_of(states))
        before = None if cursor is None else tuple(dec_cursor(cursor, (int, str)))
        mine = [
            ((us(r.updated_at), r.case_id), r)
            for r in self._cases.values()
            if user_id in self._participants.get(r.case_id, {})
            and (st is None or r.state.value in st)
        ]
        mine = sorted((x for x in mine if before is None or x[0] < before), reverse=True)
        more = len(mine) > n
        mine = mine[:n]
        nxt = enc_cursor(*mine[-1][0]) if more else None
        return Page(tuple(self._case(r) for _, r in mine), nxt)

    @op
    async def list_cases_for_organisation(
        self,
        org_id: str,
        kind: OrgKind,
        *,
        states: Sequence[CaseState] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Case]:
        check_id(org_id, "org_id")
        side = OrgKind(kind)
        n = check_limit(limit)
        st = None if states is None else set(states_of(states))
        before = None if cursor is None else tuple(dec_cursor(cursor, (int, str)))
        theirs = [
            ((us(r.updated_at), r.case_id), r)
            for r in self._cases.values()
            if (r.practice_id if side is OrgKind.PRACTICE else r.service_id) == org_id
            and (st is None or r.state.value in st)
        ]
        theirs = sorted((x for x in theirs if before is None or x[0] < before), reverse=True)
        more = len(theirs) > n
        theirs = theirs[:n]
        nxt = enc_cursor(*theirs[-1][0]) if more else None
        return Page(tuple(self._case(r) for _, r in theirs), nxt)

    # ------------------------------------------------------------------ participants, keys

    @op
    async def list_participants(self, case_id: str) -> list[Participant]:
        check_id(case_id, "case_id")
        people = self._participants.get(case_id, {}).values()
        return sorted(people, key=lambda p: (p.added_at, p.user_id))

    @op
    async def add_participants_with_keys(
        self, participants: Sequence[Participant], keys: Sequence[WrappedCaseKey]
    ) -> None:
        if not participants:
            raise InvalidArgument("no participants")
        cid = check_id(participants[0].case_id, "case_id")
        people = [self._participant(p) for p in participants]
        wraps = [self._wrapped_key(k) for k in keys]
        if any(p.case_id != cid for p in people) or any(k.case_id != cid for k in wraps):
            raise InvalidArgument("participants or case keys of more than one case")
        self._case_row(cid)
        joined = self._participants.setdefault(cid, {})
        seen: set[str] = set()
        for p in people:  # in order, as the SQL inserts meet them
            if p.user_id in joined or p.user_id in seen:
                raise Conflict("duplicate")
            self._referenced_user(p.user_id)
            seen.add(p.user_id)
        self._check_new_keys(wraps)
        joined.update((p.user_id, p) for p in people)
        self._keys.update((self._key_id(k), k) for k in wraps)

    @op
    async def get_case_keys(
        self,
        case_id: str,
        *,
        recipient_kind: KeyRecipientKind | None = None,
        recipient_id: str | None = None,
    ) -> list[WrappedCaseKey]:
        check_id(case_id, "case_id")
        kind = None if recipient_kind is None else KeyRecipientKind(recipient_kind)
        if recipient_id is not None:
            check_id(recipient_id, "recipient_id")
        return [
            k
            for key, k in sorted(self._keys.items())
            if key[0] == case_id
            and (kind is None or k.recipient_kind is kind)
            and (recipient_id is None or k.recipient_id == recipient_id)
        ]

    # ------------------------------------------------------------------ outcomes, receipts

    @staticmethod
    def _outcome_of(cid: str, outcome: Outcome) -> Outcome:
        if outcome.case_id != cid:
            raise InvalidArgument("outcome of another case")
        return Outcome(
            cid,
            OutcomeCategory(outcome.category),
            check_bytes(outcome.payload, "payload"),
            check_id(outcome.author_id, "author_id"),
            utc(outcome.created_at),
        )

    @op
    async def get_outcome(self, case_id: str) -> Outcome | None:
        return self._outcomes.get(check_id(case_id, "case_id"))

    @op
    async def update_outcome(
        self, case_id: str, expected: bytes, new: Outcome, now: _dt.datetime
    ) -> Case:
        cid = check_id(case_id, "case_id")
        if new.case_id != cid:
            raise InvalidArgument("outcome of another case")
        want = check_bytes(expected, "expected")
        stored = self._outcome_of(cid, new)
        when = utc(now)
        current = self._outcomes.get(cid)
        if current is None:
            self._case_row(cid)  # NotFound if the case is absent
            raise Conflict("outcome_changed")
        if current.payload != want:
            raise Conflict("outcome_changed")
        self._outcomes[cid] = stored
        row = self._case_row(cid)
        row.updated_at = when
        return self._case(row)

    @op
    async def record_receipt(
        self,
        case_id: str,
        user_id: str,
        kind: ReceiptKind,
        seq: int,
        now: _dt.datetime,
    ) -> Receipt:
        cid = check_id(case_id, "case_id")
        uid = check_id(user_id, "user_id")
        k = ReceiptKind(kind)
        check_int64(seq, "seq")
        when = utc(now)
        self._case_row(cid)
        current = self._receipts.get((cid, uid, k.value))
        if current is None or seq > current.seq:
            current = self._receipts[(cid, uid, k.value)] = Receipt(cid, uid, k, seq, when)
        return current

    @op
    async def list_receipts(self, case_id: str) -> list[Receipt]:
        check_id(case_id, "case_id")
        return [r for key, r in sorted(self._receipts.items()) if key[0] == case_id]

    # ------------------------------------------------------------------ thread

    def _append(
        self, row: CaseRow, mid: str, sender: str, envelope: bytes, when: _dt.datetime
    ) -> AppendResult:
        existing = self._message_ids.get((row.case_id, mid))
        if existing is not None:
            if existing.sender_id != sender:
                raise Conflict("message_id_taken")
            return AppendResult(existing, False)
        row.last_seq += 1
        row.updated_at = when
        if row.first_response_at is None and row.created_by != sender:
            row.first_response_at = when
        msg = Message(row.case_id, row.last_seq, mid, sender, envelope, when)
        self._messages.setdefault(row.case_id, []).append(msg)
        self._message_ids[(row.case_id, mid)] = msg
        return AppendResult(msg, True)

    @op
    async def append_message(
        self,
        case_id: str,
        client_msg_id: str,
        sender_id: str,
        envelope: bytes,
        now: _dt.datetime,
        *,
        audit: AuditEvent | None = None,
    ) -> AppendResult:
        cid = check_id(case_id, "case_id")
        mid = check_id(client_msg_id, "client_msg_id")
        sender = check_id(sender_id, "sender_id")
        check_bytes(envelope, "envelope")
        if audit is not None:
            check_audit_event(audit)
        when = utc(now)
        result = self._append(self._case_row(cid), mid, sender, envelope, when)
        if result.created and audit is not None:
            self._append_audit_now(audit, os.urandom(16))
        return result

    @op
    async def list_messages(
        self, case_id: str, *, after_seq: int = 0, limit: int = 1000
    ) -> list[Message]:
        check_id(case_id, "case_id")
        n = check_limit(limit)
        check_int64(after_seq, "after_seq")
        # seq i is at index i - 1: the thread has no gaps
        return self._messages.get(case_id, [])[after_seq : after_seq + n]

    # ------------------------------------------------------------------ attachments

    @op
    async def create_attachment(self, attachment: Attachment) -> Attachment:
        a = attachment
        aid = check_id(a.attachment_id, "attachment_id")
        cid = check_id(a.case_id, "case_id")
        if len(check_bytes(a.ciphertext_sha256, "ciphertext_sha256")) != 32:
            raise InvalidArgument("ciphertext_sha256 must be 32 bytes")
        check_int64(a.size, "size")
        check_id(a.uploader_id, "uploader_id")
        check_id(a.blob_id, "blob_id")
        check_text(a.content_type, "ctype", max_bytes=1 << 20)
        check_bytes(a.metadata, "metadata")
        stored = dataclasses.replace(a, created_at=utc(a.created_at))
        self._case_row(cid)
        if aid in self._attachments:
            raise Conflict("duplicate")
        self._attachments[aid] = stored
        return a

    @op
    async def get_attachment(self, attachment_id: str) -> Attachment:
        found = self._attachments.get(check_id(attachment_id, "attachment_id"))
        if found is None:
            raise NotFound("attachment")
        return found

    @op
    async def list_attachments(self, case_id: str) -> list[Attachment]:
        check_id(case_id, "case_id")
        mine = [a for a in self._attachments.values() if a.case_id == case_id]
        return sorted(mine, key=lambda a: (a.created_at, a.attachment_id))
