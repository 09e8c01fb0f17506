# ruff: noqa: S608
# (S608: every SQL string here is assembled from module constants and our own table/column
# names; values are always bound as parameters, never interpolated.)
"""Cases in SQL (:class:`storage.interface.CaseStore`): creation with participants and
epoch-0 keys, compare-and-set moves (optionally with a message, one unit), the triage
queue and the per-user lists (keyset-paginated).

The helpers ending in ``_txn`` are shared with the other case-side modules
(participants, outcomes, receipts, attachments, patient links)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

from storage._engine import Row, Txn
from storage._values import (
    check_bytes,
    check_epoch,
    check_id,
    check_limit,
    dec_cursor,
    dt_of,
    dt_opt,
    enc_cursor,
    states_of,
    us,
)
from storage.errors import Conflict, InvalidArgument, NotFound
from storage.records import (
    AppendResult,
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
    Role,
    TransitionResult,
    WrappedCaseKey,
)
from storage.sql._base import SqlBase, rid_case_key, rid_message, unit
from storage.sql.thread import MSG_COLS, append_txn, message_of

__all__ = [
    "CASE_SELECT",
    "PRIORITY_RANK",
    "CasesSql",
    "case_key_values",
    "case_of",
    "get_case_txn",
    "insert_case_keys_txn",
    "insert_participant_txn",
]

#: ``cases.priority`` is stored as a rank so that the queue index sorts urgent first.
PRIORITY_RANK = {Priority.URGENT: 0, Priority.ROUTINE: 1}
_RANK_PRIORITY = {v: k for k, v in PRIORITY_RANK.items()}
CASE_SELECT = (
    "SELECT c.case_id, c.practice_id, c.service_id, c.created_by, c.state, c.priority, "
    "c.created_at, c.updated_at, c.submitted_at, c.claimed_by, c.claimed_at, "
    "c.first_response_at, c.closed_at, o.category_sealed, c.last_seq, c.key_epoch, "
    "c.queued_at FROM cases c LEFT JOIN outcomes o ON o.case_id = c.case_id"
)


def case_of(base: SqlBase, r: Row) -> Case:
    cid = str(r[0])
    category = base._open_opt("outcomes", "category_sealed", cid, r[13])
    return Case(
        case_id=cid,
        practice_id=str(r[1]),
        service_id=str(r[2]),
        created_by=str(r[3]),
        state=CaseState(r[4]),
        priority=_RANK_PRIORITY[int(r[5])],
        created_at=dt_of(r[6]),
        updated_at=dt_of(r[7]),
        submitted_at=dt_opt(r[8]),
        claimed_by=r[9],
        claimed_at=dt_opt(r[10]),
        first_response_at=dt_opt(r[11]),
        closed_at=dt_opt(r[12]),
        outcome_category=None if category is None else OutcomeCategory(category.decode()),
        last_seq=int(r[14]),
        key_epoch=int(r[15]),
    )


async def get_case_txn(base: SqlBase, txn: Txn, case_id: str) -> Case:
    row = await txn.fetchone(f"{CASE_SELECT} WHERE c.case_id = ?", case_id)
    if row is None:
        raise NotFound("case")
    return case_of(base, row)


async def insert_participant_txn(txn: Txn, p: Participant) -> None:
    await txn.execute(
        "INSERT INTO participants (case_id, user_id, role, added_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (case_id, user_id) DO NOTHING",
        check_id(p.case_id, "case_id"),
        check_id(p.user_id, "user_id"),
        Role(p.role).value,
        us(p.added_at),
    )


def case_key_values(base: SqlBase, k: WrappedCaseKey) -> list[Any]:
    """A case key's row, sealed, prepared outside the unit."""
    cid = check_id(k.case_id, "case_id")
    kind = KeyRecipientKind(k.recipient_kind).value
    rec = check_id(k.recipient_id, "recipient_id")
    epoch = check_epoch(k.epoch)
    sealed = base._seal(
        "case_keys",
        "wrapped_sealed",
        rid_case_key(cid, epoch, kind, rec),
        check_bytes(k.wrapped_key, "wrapped_key"),
    )
    return [cid, epoch, kind, rec, sealed, us(k.created_at)]


async def insert_case_keys_txn(txn: Txn, rows: list[list[Any]]) -> None:
    for values in rows:
        await txn.execute(
            "INSERT INTO case_keys (case_id, epoch, recipient_kind, recipient_id,"
            " wrapped_sealed, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            *values,
        )


class CasesSql(SqlBase):
    """:class:`storage.interface.CaseStore` over the engine."""

    @unit
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
        created = us(case.created_at)
        submitted = created if state is not CaseState.DRAFT else None
        for p in participants:
            if p.case_id != cid:
                raise InvalidArgument("participant of another case")
        keys = [case_key_values(self, k) for k in case_keys]
        if any(k[0] != cid for k in keys):
            raise InvalidArgument("case key of another case")
        epoch = max((k[1] for k in keys), default=0)
        parts = list(participants)

        async def create_txn(txn: Txn) -> Case:
            if await txn.fetchone("SELECT 1 FROM cases WHERE case_id = ?", cid) is not None:
                raise Conflict("duplicate")
            orgs = await txn.fetchall(
                "SELECT org_id, kind FROM organisations WHERE org_id IN (?, ?)", practice, service
            )
            kinds = {str(o): str(k) for o, k in orgs}
            if kinds.get(practice) != OrgKind.PRACTICE or kinds.get(service) != OrgKind.SERVICE:
                raise NotFound("organisation")
            await txn.execute(
                "INSERT INTO cases (case_id, practice_id, service_id, created_by, state,"
                " priority, created_at, updated_at, submitted_at, queued_at, key_epoch)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                cid,
                practice,
                service,
                creator,
                state.value,
                PRIORITY_RANK[Priority(case.priority)],
                created,
                created,
                submitted,
                created,
                epoch,
            )
            for p in parts:
                await insert_participant_txn(txn, p)
            await insert_case_keys_txn(txn, keys)
            return await get_case_txn(self, txn, cid)

        return await self._write(create_txn)

    @unit
    async def get_case(self, case_id: str) -> Case:
        check_id(case_id, "case_id")
        return await self._read(lambda txn: get_case_txn(self, txn, case_id))

    @unit
    async def get_case_with_participants(self, case_id: str) -> tuple[Case, list[Participant]]:
        check_id(case_id, "case_id")

        async def load_txn(txn: Txn) -> tuple[Row | None, list[Row]]:
            # Both statements always run, so a missing case costs what an existing one does.
            row = await txn.fetchone(f"{CASE_SELECT} WHERE c.case_id = ?", case_id)
            people = await txn.fetchall(
                "SELECT case_id, user_id, role, added_at FROM participants WHERE case_id = ?"
                " ORDER BY added_at, user_id",
                case_id,
            )
            return row, people

        row, people = await self._read(load_txn)
        if row is None:
            raise NotFound("case")
        return case_of(self, row), [
            Participant(str(r[0]), str(r[1]), Role(r[2]), dt_of(r[3])) for r in people
        ]

    @unit
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
        when = us(now)
        sets = ["state = ?", "updated_at = ?"]
        args: list[Any] = [new.value, when]
        if new is CaseState.SUBMITTED:
            sets += ["submitted_at = COALESCE(submitted_at, ?)", "queued_at = ?"]
            args += [when, when]
        if new in (CaseState.CLOSED, CaseState.WITHDRAWN):
            sets.append("closed_at = ?")
            args.append(when)
        if claimed_by is not None:
            check_id(claimed_by, "claimed_by")
            sets += ["claimed_by = ?", "claimed_at = ?"]
            args += [claimed_by, when]
        outcome_values: list[Any] | None = None
        if outcome is not None:
            if outcome.case_id != cid:
                raise InvalidArgument("outcome of another case")
            category = OutcomeCategory(outcome.category)
            outcome_values = [
                cid,
                self._seal("outcomes", "category_sealed", cid, category.value.encode()),
                self._seal(
                    "outcomes", "payload_sealed", cid, check_bytes(outcome.payload, "payload")
                ),
                check_id(outcome.author_id, "author_id"),
                us(outcome.created_at),
            ]
        msg: tuple[str, str, bytes, bytes] | None = None
        if message is not None:
            if not isinstance(message, NewMessage):
                raise InvalidArgument("message must be a NewMessage")
            mid = check_id(message.client_msg_id, "client_msg_id")
            sealed = self._seal(
                "messages",
                "envelope_sealed",
                rid_message(cid, mid),
                check_bytes(message.envelope, "envelope"),
            )
            msg = (mid, check_id(message.sender_id, "sender_id"), message.envelope, sealed)

        async def transition_txn(txn: Txn) -> TransitionResult:
            if msg is not None:
                # The message id is the move's idempotency key (CaseStore.transition_case).
                # The case row lock first (PostgreSQL), so that a racing twin of this request
                # waits here and then finds our message.
                lock = f"SELECT 1 FROM cases WHERE case_id = ?{txn.dialect.for_update}"
                if await txn.fetchone(lock, cid) is None:
                    raise NotFound("case")
                existing = await txn.fetchone(
                    f"SELECT {MSG_COLS} FROM messages WHERE case_id = ? AND client_msg_id = ?",
                    cid,
                    msg[0],
                )
                if existing is not None:
                    if existing[3] != msg[1]:
                        raise Conflict("message_id_taken")
                    replay = AppendResult(message_of(self, existing), False)
                    return TransitionResult(await get_case_txn(self, txn, cid), replay)
            row = await txn.fetchone(
                f"UPDATE cases SET {', '.join(sets)} WHERE case_id = ? AND state = ?"
                " RETURNING case_id",
                *args,
                cid,
                expected.value,
            )
            if row is None:
                await get_case_txn(self, txn, cid)  # NotFound if absent
                raise Conflict("state_changed")
            if claimed_by is not None:
                await insert_participant_txn(
                    txn, Participant(cid, claimed_by, Role.DERMATOLOGIST, now)
                )
            if outcome_values is not None:
                await txn.execute(
                    "INSERT INTO outcomes (case_id, category_sealed, payload_sealed, author_id,"
                    " created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (case_id) DO UPDATE SET"
                    " category_sealed = excluded.category_sealed,"
                    " payload_sealed = excluded.payload_sealed,"
                    " author_id = excluded.author_id, created_at = excluded.created_at",
                    *outcome_values,
                )
            appended = None
            if msg is not None:
                mid, sender, envelope, sealed = msg
                stored, _ = await append_txn(txn, cid, mid, sender, sealed, when)
                appended = AppendResult(
                    Message(cid, int(stored[1]), mid, sender, envelope, dt_of(when)), True
                )
            return TransitionResult(await get_case_txn(self, txn, cid), appended)

        return await self._write(transition_txn)

    @unit
    async def triage_queue(
        self,
        service_id: str,
        *,
        states: Sequence[CaseState] = (CaseState.SUBMITTED,),
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Case]:
        check_id(service_id, "service_id")
        st = states_of(states)
        n = check_limit(limit)
        where = f"c.service_id = ? AND c.state IN ({', '.join('?' * len(st))})"
        args: list[Any] = [service_id, *st]
        if cursor is not None:
            pr, qa, cid = dec_cursor(cursor, (int, int, str))
            where += " AND (c.priority, c.queued_at, c.case_id) > (?, ?, ?)"
            args += [pr, qa, cid]
        rows = await self._read(
            lambda txn: txn.fetchall(
                f"{CASE_SELECT} WHERE {where} ORDER BY c.priority, c.queued_at, c.case_id LIMIT ?",
                *args,
                n + 1,
            )
        )
        more = len(rows) > n
        rows = rows[:n]
        nxt = enc_cursor(int(rows[-1][5]), int(rows[-1][16]), str(rows[-1][0])) if more else None
        return Page(tuple(case_of(self, r) for r in rows), nxt)

    @unit
    async def list_cases_for_organisation(
        self,
        org_id: str,
        kind: OrgKind,
        *,
        states: Sequence[CaseState] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Case]:
        oid = check_id(org_id, "org_id")
        # One side per organisation kind, so that the scan runs down one index
        # (cases_practice or cases_service: org, updated_at, case_id) in order and stops
        # after the page; "practice_id = ? OR service_id = ?" would sort every case of both.
        column = "c.practice_id" if OrgKind(kind) is OrgKind.PRACTICE else "c.service_id"
        n = check_limit(limit)
        where, args = f"{column} = ?", [oid]
        if states is not None:
            st = states_of(states)
            where += f" AND c.state IN ({', '.join('?' * len(st))})"
            args += st
        if cursor is not None:
            ua, cid = dec_cursor(cursor, (int, str))
            where += " AND (c.updated_at, c.case_id) < (?, ?)"
            args += [ua, cid]
        rows = await self._read(
            lambda txn: txn.fetchall(
                f"{CASE_SELECT} WHERE {where} ORDER BY c.updated_at DESC, c.case_id DESC LIMIT ?",
                *args,
                n + 1,
            )
        )
        more = len(rows) > n
        rows = rows[:n]
        nxt = enc_cursor(int(rows[-1][7]), str(rows[-1][0])) if more else None
        return Page(tuple(case_of(self, r) for r in rows), nxt)

    @unit
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
        where, args = "p.user_id = ?", [user_id]
        if states is not None:
            st = states_of(states)
            where += f" AND c.state IN ({', '.join('?' * len(st))})"
            args += st
        if cursor is not None:
            ua, cid = dec_cursor(cursor, (int, str))
            where += " AND (c.updated_at, c.case_id) < (?, ?)"
            args += [ua, cid]
        select = CASE_SELECT.replace(
            " FROM cases c", " FROM cases c JOIN participants p ON p.case_id = c.case_id"
        )
        rows = await self._read(
            lambda txn: txn.fetchall(
                f"{select} WHERE {where} ORDER BY c.updated_at DESC, c.case_id DESC LIMIT ?",
                *args,
                n + 1,
            )
        )
        more = len(rows) > n
        rows = rows[:n]
        nxt = enc_cursor(int(rows[-1][7]), str(rows[-1][0])) if more else None
        return Page(tuple(case_of(self, r) for r in rows), nxt)
