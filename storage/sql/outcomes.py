# ruff: noqa: S608
# (S608: every SQL string here is assembled from module constants and our own table/column
# names; values are always bound as parameters, never interpolated.)
"""Outcomes and receipts in SQL (:class:`storage.interface.OutcomeStore`,
:class:`storage.interface.ReceiptStore`)."""

from __future__ import annotations

import datetime as _dt

from storage._engine import Row, Txn
from storage._values import check_bytes, check_id, check_int64, dt_of, us
from storage.errors import Conflict, InvalidArgument
from storage.records import Case, Outcome, OutcomeCategory, Receipt, ReceiptKind
from storage.sql._base import SqlBase, unit
from storage.sql.cases import get_case_txn

__all__ = ["OutcomesSql", "ReceiptsSql"]


class OutcomesSql(SqlBase):
    """:class:`storage.interface.OutcomeStore` over the engine."""

    @unit
    async def get_outcome(self, case_id: str) -> Outcome | None:
        cid = check_id(case_id, "case_id")
        row = await self._read(
            lambda txn: txn.fetchone(
                "SELECT category_sealed, payload_sealed, author_id, created_at FROM outcomes"
                " WHERE case_id = ?",
                cid,
            )
        )
        if row is None:
            return None
        return Outcome(
            case_id=cid,
            category=OutcomeCategory(self._open_text("outcomes", "category_sealed", cid, row[0])),
            payload=self._open("outcomes", "payload_sealed", cid, row[1]),
            author_id=str(row[2]),
            created_at=dt_of(row[3]),
        )

    @unit
    async def update_outcome(
        self, case_id: str, expected: bytes, new: Outcome, now: _dt.datetime
    ) -> Case:
        cid = check_id(case_id, "case_id")
        if new.case_id != cid:
            raise InvalidArgument("outcome of another case")
        want = check_bytes(expected, "expected")
        category = OutcomeCategory(new.category)
        values = [
            self._seal("outcomes", "category_sealed", cid, category.value.encode()),
            self._seal("outcomes", "payload_sealed", cid, check_bytes(new.payload, "payload")),
            check_id(new.author_id, "author_id"),
            us(new.created_at),
        ]
        when = us(now)

        async def update_txn(txn: Txn) -> Case:
            # The row lock first: PostgreSQL's READ COMMITTED would otherwise let two racing
            # updates both read the same old record (SQLite's single writer serialises them).
            row = await txn.fetchone(
                f"SELECT payload_sealed FROM outcomes WHERE case_id = ?{txn.dialect.for_update}",
                cid,
            )
            if row is None:
                await get_case_txn(self, txn, cid)  # NotFound if the case is absent
                raise Conflict("outcome_changed")
            current = self._open("outcomes", "payload_sealed", cid, row[0])
            if current != want:
                raise Conflict("outcome_changed")
            await txn.execute(
                "UPDATE outcomes SET category_sealed = ?, payload_sealed = ?, author_id = ?,"
                " created_at = ? WHERE case_id = ?",
                *values,
                cid,
            )
            await txn.execute("UPDATE cases SET updated_at = ? WHERE case_id = ?", when, cid)
            return await get_case_txn(self, txn, cid)

        return await self._write(update_txn)


class ReceiptsSql(SqlBase):
    """:class:`storage.interface.ReceiptStore` over the engine."""

    @unit
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
        when = us(now)

        async def record_txn(txn: Txn) -> Row:
            await get_case_txn(self, txn, cid)
            row = await txn.fetchone(
                "INSERT INTO receipts (case_id, user_id, kind, seq, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (case_id, user_id, kind) DO UPDATE SET"
                " updated_at = CASE WHEN excluded.seq > receipts.seq THEN excluded.updated_at"
                " ELSE receipts.updated_at END,"
                " seq = CASE WHEN excluded.seq > receipts.seq THEN excluded.seq"
                " ELSE receipts.seq END RETURNING seq, updated_at",
                cid,
                uid,
                k.value,
                seq,
                when,
            )
            assert row is not None
            return row

        row = await self._write(record_txn)
        return Receipt(cid, uid, k, int(row[0]), dt_of(row[1]))

    @unit
    async def list_receipts(self, case_id: str) -> list[Receipt]:
        check_id(case_id, "case_id")
        rows = await self._read(
            lambda txn: txn.fetchall(
                "SELECT case_id, user_id, kind, seq, updated_at FROM receipts WHERE case_id = ?"
                " ORDER BY user_id, kind",
                case_id,
            )
        )
        return [
            Receipt(str(r[0]), str(r[1]), ReceiptKind(r[2]), int(r[3]), dt_of(r[4])) for r in rows
        ]
