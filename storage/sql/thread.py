# ruff: noqa: S608
# (S608: every SQL string here is assembled from module constants and our own table/column
# names; values are always bound as parameters, never interpolated.)
"""A case's thread in SQL (:class:`storage.interface.ThreadStore`): messages, sequenced and
idempotent (``docs/storage.md``, "Message sequencing and idempotency").

The append is written once per backend, in :func:`append_txn`, and used both by
``append_message`` and by ``transition_case(message=...)`` (``storage.sql.cases``)."""

from __future__ import annotations

import datetime as _dt

from storage._engine import Row, Txn
from storage._values import check_bytes, check_id, check_int64, check_limit, dt_of, us
from storage.errors import Conflict, NotFound
from storage.records import AppendResult, AuditEvent, Message
from storage.sql._base import SqlBase, rid_message, unit
from storage.sql.audit import AuditSql

__all__ = ["MSG_COLS", "ThreadSql", "append_txn", "message_of"]

MSG_COLS = "case_id, seq, client_msg_id, sender_id, envelope_sealed, created_at"


def message_of(base: SqlBase, r: Row) -> Message:
    cid, mid = str(r[0]), str(r[2])
    return Message(
        case_id=cid,
        seq=int(r[1]),
        client_msg_id=mid,
        sender_id=str(r[3]),
        envelope=base._open("messages", "envelope_sealed", rid_message(cid, mid), r[4]),
        created_at=dt_of(r[5]),
    )


async def append_txn(
    txn: Txn,
    cid: str,
    mid: str,
    sender: str,
    sealed: bytes,
    when: int,
    pending_audit: tuple[str, bytes] | None = None,
) -> tuple[Row, bool]:
    """Append one message inside the current transaction: look the client id up (a retry
    returns the stored row and False; another sender's id is ``message_id_taken``), else
    take the next per-case sequence number and insert. Returns the stored row (with the
    sealed envelope) and whether it was created. :class:`NotFound` for an unknown case.
    ``pending_audit`` (PostgreSQL): the ``audit_pending`` row (id, sealed content) to
    insert in the same transaction when the message is created."""
    if txn.dialect.server_side_append:
        # PostgreSQL: the function of migrations/postgres/0002_append_message.sql runs these
        # same steps server-side after locking the case row, in one round trip (0011: and
        # the message's pending audit entry, in the same round trip).
        if pending_audit is not None:
            row = await txn.fetchone(
                "SELECT o_seq, o_sender, o_envelope, o_created_at, o_created"
                " FROM append_message_audited(?, ?, ?, ?, ?, ?, ?)",
                cid,
                mid,
                sender,
                sealed,
                when,
                *pending_audit,
            )
        else:
            row = await txn.fetchone(
                "SELECT o_seq, o_sender, o_envelope, o_created_at, o_created"
                " FROM append_message(?, ?, ?, ?, ?)",
                cid,
                mid,
                sender,
                sealed,
                when,
            )
        assert row is not None
        if not row[4] and row[1] != sender:
            raise Conflict("message_id_taken")
        return (cid, row[0], mid, row[1], row[2], row[3]), bool(row[4])
    # SQLite: its single writer serialises the units, so no row lock is needed between the
    # look-up and the insert.
    existing = await txn.fetchone(
        f"SELECT {MSG_COLS} FROM messages WHERE case_id = ? AND client_msg_id = ?", cid, mid
    )
    if existing is not None:
        if existing[3] != sender:
            raise Conflict("message_id_taken")
        return existing, False
    # The next per-case sequence number, in the same transaction (docs/storage.md, section 7).
    row = await txn.fetchone(
        "UPDATE cases SET last_seq = last_seq + 1, updated_at = ?,"
        " first_response_at = CASE WHEN first_response_at IS NULL AND created_by <> ?"
        " THEN ? ELSE first_response_at END WHERE case_id = ? RETURNING last_seq",
        when,
        sender,
        when,
        cid,
    )
    if row is None:
        raise NotFound("case")
    seq = int(row[0])
    await txn.execute(
        f"INSERT INTO messages ({MSG_COLS}) VALUES (?, ?, ?, ?, ?, ?)",
        cid,
        seq,
        mid,
        sender,
        sealed,
        when,
    )
    return (cid, seq, mid, sender, sealed, when), True


class ThreadSql(AuditSql):
    """:class:`storage.interface.ThreadStore` over the engine (a subclass of
    :class:`AuditSql`: a message's audit entry is written in the message's transaction)."""

    def _seal_envelope(self, cid: str, mid: str, envelope: bytes) -> bytes:
        return self._seal(
            "messages",
            "envelope_sealed",
            rid_message(cid, mid),
            check_bytes(envelope, "envelope"),
        )

    @unit
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
        sealed = self._seal_envelope(cid, mid, envelope)
        when = us(now)
        if audit is None:
            row, created = await self._write(
                lambda txn: append_txn(txn, cid, mid, sender, sealed, when),
                single_statement=self.dialect.server_side_append,
            )
        elif self.dialect.server_side_append:
            # PostgreSQL: the entry is written pending, in the same statement; the chainer
            # links it into the chain off the acknowledgement path (docs/storage.md §9).
            pending_id, pending, _ = self._audit_in_message_txn(audit)
            row, created = await self._write(
                lambda txn: append_txn(txn, cid, mid, sender, sealed, when, (pending_id, pending)),
                single_statement=True,
            )
            if created:
                self._kick_chainer()
        else:
            # SQLite: the single writer chains the entry inline, in the message's unit.
            _, _, salt = self._audit_in_message_txn(audit)

            async def audited_txn(txn: Txn) -> tuple[Row, bool]:
                stored, made = await append_txn(txn, cid, mid, sender, sealed, when)
                if made:
                    await self._append_audit_txn(txn, audit, salt)
                return stored, made

            row, created = await self._write(audited_txn)
        if created:
            return AppendResult(Message(cid, int(row[1]), mid, sender, envelope, dt_of(when)), True)
        # A retry: the stored original (decoded after the unit; running it again is harmless).
        return AppendResult(message_of(self, row), False)

    @unit
    async def list_messages(
        self, case_id: str, *, after_seq: int = 0, limit: int = 1000
    ) -> list[Message]:
        check_id(case_id, "case_id")
        n = check_limit(limit)
        check_int64(after_seq, "after_seq")
        rows = await self._read(
            lambda txn: txn.fetchall(
                f"SELECT {MSG_COLS} FROM messages WHERE case_id = ? AND seq > ?"
                " ORDER BY seq LIMIT ?",
                case_id,
                after_seq,
                n,
            )
        )
        return [message_of(self, r) for r in rows]
