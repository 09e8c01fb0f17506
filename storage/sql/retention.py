# ruff: noqa: S608
# (S608: every SQL string here is assembled from module constants and our own table/column
# names; values are always bound as parameters, never interpolated.)
"""Retention, legal holds and disposal in SQL (:class:`storage.interface.RetentionStore`;
the rule is :mod:`storage.retention`).

The due test is one SQL predicate (:data:`_DUE`), used both by the due list and, for one
case, inside the disposal's transaction: the disposal is a compare-and-set on "still due",
so a hold placed, or a resubmission made, after the list was read stops it.
"""

from __future__ import annotations

import datetime as _dt
import os
from typing import Any

from storage import maintenance
from storage._engine import Row, Txn
from storage._values import (
    check_id,
    check_int64,
    check_limit,
    check_text,
    dec_cursor,
    dt_of,
    enc_cursor,
    us,
)
from storage.errors import Conflict, InvalidArgument, NotFound
from storage.records import AuditEvent, CaseState, Page
from storage.retention import (
    DISPOSED_TABLES,
    FALLBACK_DAYS,
    MAX_MIN_YEARS,
    MIN_KEEP_DAYS,
    YEAR_DAYS,
    CaseRetention,
    Disposal,
    DisposalBasis,
    LegalHold,
    LegalHoldReason,
    OrgRetention,
    RetentionCandidate,
    disposal_detail,
    keep_until_us,
    retain_until_us,
)
from storage.sql._base import unit
from storage.sql.audit import AuditSql
from storage.sql.cases import get_case_txn

__all__ = ["RetentionSql"]

_DAY_US = 86_400 * 1_000_000
_ENDED = (CaseState.CLOSED.value, CaseState.WITHDRAWN.value)

#: A case with what decides its keep-until instant: the client's instant (only if sent at
#: or after the latest closure), the organisations' minimums.
_SELECT = (
    "SELECT c.case_id, c.practice_id, c.service_id, c.closed_at,"
    " CASE WHEN r.set_at >= c.closed_at THEN r.keep_until END,"
    " COALESCE(op.min_years, 0), COALESCE(os.min_years, 0)"
    " FROM cases c"
    " LEFT JOIN case_retention r ON r.case_id = c.case_id"
    " LEFT JOIN org_retention op ON op.org_id = c.practice_id"
    " LEFT JOIN org_retention os ON os.org_id = c.service_id"
)
#: Due at ``now``: ended, not held, not disposed of, every bound passed. Parameters: the
#: two ended states, a closure bound (an index range: no case closed within MIN_KEEP_DAYS
#: can be due), now, fallback µs, now, year µs, now, year µs, now.
_DUE = (
    "c.state IN (?, ?) AND c.closed_at <= ?"
    " AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.case_id = c.case_id)"
    " AND NOT EXISTS (SELECT 1 FROM case_disposals d WHERE d.case_id = c.case_id)"
    " AND COALESCE(CASE WHEN r.set_at >= c.closed_at THEN r.keep_until END,"
    " c.closed_at + CAST(? AS BIGINT)) <= ?"
    " AND c.closed_at + COALESCE(op.min_years, 0) * CAST(? AS BIGINT) <= ?"
    " AND c.closed_at + COALESCE(os.min_years, 0) * CAST(? AS BIGINT) <= ?"
)


def _due_args(now: int) -> list[Any]:
    year = YEAR_DAYS * _DAY_US
    return [
        *_ENDED,
        now - MIN_KEEP_DAYS * _DAY_US,
        FALLBACK_DAYS * _DAY_US,
        now,
        year,
        now,
        year,
        now,
    ]


def _retain_until(client: int | None) -> _dt.date | None:
    """The client's date back from its keep-until instant."""
    return None if client is None else (dt_of(int(client)) - _dt.timedelta(days=1)).date()


def _candidate(r: Row) -> RetentionCandidate:
    client = None if r[4] is None else int(r[4])
    keep, basis = keep_until_us(int(r[3]), client, int(r[5]), int(r[6]))
    return RetentionCandidate(
        case_id=str(r[0]),
        practice_id=str(r[1]),
        service_id=str(r[2]),
        closed_at=dt_of(int(r[3])),
        keep_until=dt_of(keep),
        basis=basis,
        retain_until=_retain_until(client),
    )


def _check_years(value: object) -> int:
    years = check_int64(value, "min_years")
    if years > MAX_MIN_YEARS:
        raise InvalidArgument("min_years out of range")
    return years


class RetentionSql(AuditSql):
    """:class:`storage.interface.RetentionStore` over the engine."""

    async def _release_disposed(self) -> None:
        """Let the engine drop the bytes of rows just deleted (SQLite: checkpoint and
        truncate the WAL). Overridden by the engines that need it."""

    @unit
    async def set_case_retention(
        self, case_id: str, retain_until: _dt.date, now: _dt.datetime
    ) -> None:
        cid = check_id(case_id, "case_id")
        if not isinstance(retain_until, _dt.date) or isinstance(retain_until, _dt.datetime):
            raise InvalidArgument("retain_until must be a date")
        keep, when = retain_until_us(retain_until), us(now)

        async def set_txn(txn: Txn) -> None:
            await get_case_txn(self, txn, cid)
            await txn.execute(
                "INSERT INTO case_retention (case_id, keep_until, set_at) VALUES (?, ?, ?)"
                " ON CONFLICT (case_id) DO UPDATE SET keep_until = excluded.keep_until,"
                " set_at = excluded.set_at",
                cid,
                keep,
                when,
            )

        await self._write(set_txn)

    def _hold(self, r: Row) -> LegalHold:
        cid = str(r[0])
        ref = self._open_opt("legal_holds", "reference_sealed", cid, r[4])
        return LegalHold(
            case_id=cid,
            reason=LegalHoldReason(r[1]),
            placed_by=str(r[2]),
            placed_at=dt_of(int(r[3])),
            reference=None if ref is None else ref.decode("utf-8"),
        )

    @unit
    async def get_case_retention(self, case_id: str) -> CaseRetention:
        cid = check_id(case_id, "case_id")

        async def get_txn(txn: Txn) -> tuple[Row, Row | None, Row | None, Row | None]:
            case = await txn.fetchone(f"{_SELECT} WHERE c.case_id = ?", cid)
            if case is None:
                raise NotFound("case")
            state = await txn.fetchone("SELECT state FROM cases WHERE case_id = ?", cid)
            hold = await txn.fetchone(
                "SELECT case_id, reason, placed_by, placed_at, reference_sealed"
                " FROM legal_holds WHERE case_id = ?",
                cid,
            )
            disposed = await txn.fetchone(
                "SELECT disposed_at, keep_until, basis FROM case_disposals WHERE case_id = ?",
                cid,
            )
            return case, state, hold, disposed

        case, state, hold, disposed = await self._read(get_txn, snapshot=True)
        assert state is not None
        if disposed is not None:
            return CaseRetention(
                cid,
                None,
                dt_of(int(disposed[1])),
                DisposalBasis(disposed[2]),
                None,
                dt_of(int(disposed[0])),
            )
        client = None if case[4] is None else int(case[4])
        keep: _dt.datetime | None = None
        basis: DisposalBasis | None = None
        if state[0] in _ENDED and case[3] is not None:
            keep_us, basis = keep_until_us(int(case[3]), client, int(case[5]), int(case[6]))
            keep = dt_of(keep_us)
        hold_record = None if hold is None else self._hold(hold)
        return CaseRetention(cid, _retain_until(client), keep, basis, hold_record, None)

    @unit
    async def set_org_retention(
        self, org_id: str, min_years: int, set_by: str | None, now: _dt.datetime
    ) -> OrgRetention:
        oid = check_id(org_id, "org_id")
        years = _check_years(min_years)
        by = None if set_by is None else check_id(set_by, "set_by")
        when = us(now)

        async def set_txn(txn: Txn) -> None:
            if await txn.fetchone("SELECT 1 FROM organisations WHERE org_id = ?", oid) is None:
                raise NotFound("organisation")
            await txn.execute(
                "INSERT INTO org_retention (org_id, min_years, set_by, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (org_id) DO UPDATE SET"
                " min_years = excluded.min_years, set_by = excluded.set_by,"
                " updated_at = excluded.updated_at",
                oid,
                years,
                by,
                when,
            )

        await self._write(set_txn)
        return OrgRetention(oid, years, by, dt_of(when))

    @unit
    async def get_org_retention(self, org_id: str) -> OrgRetention:
        oid = check_id(org_id, "org_id")
        row = await self._read(
            lambda txn: txn.fetchone(
                "SELECT min_years, set_by, updated_at FROM org_retention WHERE org_id = ?", oid
            )
        )
        if row is None:
            return OrgRetention(oid, 0, None, None)
        return OrgRetention(oid, int(row[0]), row[1], dt_of(int(row[2])))

    @unit
    async def place_legal_hold(self, hold: LegalHold) -> LegalHold:
        if not isinstance(hold, LegalHold):
            raise InvalidArgument("hold must be a LegalHold")
        cid = check_id(hold.case_id, "case_id")
        reason = LegalHoldReason(hold.reason)
        by = check_id(hold.placed_by, "placed_by")
        when = us(hold.placed_at)
        ref = None
        if hold.reference is not None:
            text = check_text(hold.reference, "reference", max_bytes=200)
            ref = self._seal("legal_holds", "reference_sealed", cid, text.encode("utf-8"))

        async def place_txn(txn: Txn) -> None:
            await get_case_txn(self, txn, cid)
            if await txn.fetchone("SELECT 1 FROM case_disposals WHERE case_id = ?", cid):
                raise Conflict("disposed")
            if await txn.fetchone("SELECT 1 FROM legal_holds WHERE case_id = ?", cid):
                raise Conflict("duplicate")
            await txn.execute(
                "INSERT INTO legal_holds (case_id, reason, placed_by, placed_at,"
                " reference_sealed) VALUES (?, ?, ?, ?, ?)",
                cid,
                reason.value,
                by,
                when,
                ref,
            )

        await self._write(place_txn)
        return LegalHold(cid, reason, by, dt_of(when), hold.reference)

    @unit
    async def release_legal_hold(self, case_id: str) -> LegalHold:
        cid = check_id(case_id, "case_id")

        async def release_txn(txn: Txn) -> Row:
            row = await txn.fetchone(
                "DELETE FROM legal_holds WHERE case_id = ?"
                " RETURNING case_id, reason, placed_by, placed_at, reference_sealed",
                cid,
            )
            if row is None:
                raise NotFound("legal_hold")
            return row

        return self._hold(await self._write(release_txn))

    @unit
    async def list_legal_holds(self, org_id: str) -> list[LegalHold]:
        oid = check_id(org_id, "org_id")
        rows = await self._read(
            lambda txn: txn.fetchall(
                "SELECT h.case_id, h.reason, h.placed_by, h.placed_at, h.reference_sealed"
                " FROM legal_holds h JOIN cases c ON c.case_id = h.case_id"
                " WHERE c.practice_id = ? OR c.service_id = ?"
                " ORDER BY h.placed_at, h.case_id",
                oid,
                oid,
            )
        )
        return [self._hold(r) for r in rows]

    @unit
    async def list_due_for_disposal(
        self, now: _dt.datetime, *, limit: int = 100, cursor: str | None = None
    ) -> Page[RetentionCandidate]:
        when = us(now)
        n = check_limit(limit)
        where, args = _DUE, _due_args(when)
        if cursor is not None:
            closed, cid = dec_cursor(cursor, (int, str))
            where += " AND (c.closed_at, c.case_id) > (?, ?)"
            args += [closed, cid]
        rows = await self._read(
            lambda txn: txn.fetchall(
                f"{_SELECT} WHERE {where} ORDER BY c.closed_at, c.case_id LIMIT ?", *args, n + 1
            )
        )
        more = len(rows) > n
        rows = rows[:n]
        nxt = enc_cursor(int(rows[-1][3]), str(rows[-1][0])) if more else None
        return Page(tuple(_candidate(r) for r in rows), nxt)

    @unit
    async def dispose_case(
        self,
        case_id: str,
        now: _dt.datetime,
        *,
        actor_id: str | None = None,
        client_address: str | None = None,
    ) -> Disposal:
        cid = check_id(case_id, "case_id")
        when = us(now)
        if actor_id is not None:
            check_id(actor_id, "actor_id")
        if client_address is not None:
            check_text(client_address, "client_address", max_bytes=1024)
        self._require_audit()
        salt = os.urandom(16)

        async def dispose_txn(txn: Txn) -> Disposal:
            # The case row lock (PostgreSQL) serialises this with a move of the same case.
            lock = f"SELECT 1 FROM cases WHERE case_id = ?{txn.dialect.for_update}"
            if await txn.fetchone(lock, cid) is None:
                raise NotFound("case")
            row = await txn.fetchone(
                f"{_SELECT} WHERE c.case_id = ? AND {_DUE}", cid, *_due_args(when)
            )
            if row is None:
                raise Conflict("not_due")
            candidate = _candidate(row)
            blobs = [
                str(b[0])
                for b in await txn.fetchall(
                    "SELECT blob_id FROM attachments WHERE case_id = ? ORDER BY blob_id", cid
                )
            ]

            async def delete(table: str) -> int:
                return len(
                    await txn.fetchall(f"DELETE FROM {table} WHERE case_id = ? RETURNING 1", cid)
                )

            counts = {t: await delete(t) for t in DISPOSED_TABLES}
            for blob_id in blobs:
                await txn.execute(
                    "INSERT INTO disposal_blobs (blob_id, case_id, created_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (blob_id) DO NOTHING",
                    blob_id,
                    cid,
                    when,
                )
            disposal = Disposal(
                case_id=cid,
                disposed_at=dt_of(when),
                keep_until=candidate.keep_until,
                basis=candidate.basis,
                case_keys=counts["case_keys"],
                messages=counts["messages"],
                attachments=counts["attachments"],
                outcome=counts["outcomes"] > 0,
                patient_links=counts["patient_links"],
                receipts=counts["receipts"],
                blob_ids=tuple(blobs),
            )
            await txn.execute(
                "INSERT INTO case_disposals (case_id, disposed_at, keep_until, basis,"
                " case_keys, messages, attachments, outcome, patient_links, receipts)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                cid,
                when,
                us(disposal.keep_until),
                disposal.basis.value,
                disposal.case_keys,
                disposal.messages,
                disposal.attachments,
                int(disposal.outcome),
                disposal.patient_links,
                disposal.receipts,
            )
            event = AuditEvent(
                action="case.disposed",
                occurred_at=dt_of(when),
                actor_id=actor_id,
                target=cid,
                client_address=client_address,
                detail=disposal_detail(disposal, candidate.retain_until),
            )
            await self._append_audit_txn(txn, event, salt)
            return disposal

        # Never between a backup's snapshot and its copy of the blobs (storage.maintenance).
        async with maintenance.held(self._blobs.root):
            disposal = await self._write(dispose_txn)
            await self._delete_disposed_blobs(list(disposal.blob_ids))
        return disposal

    async def _delete_disposed_blobs(self, blob_ids: list[str]) -> int:
        """Delete the files, then forget them (a crash in between repeats a harmless
        delete at the next :meth:`finish_disposals`)."""
        if not blob_ids:
            return 0
        for blob_id in blob_ids:
            await self._blobs.delete(blob_id)

        async def forget_txn(txn: Txn) -> None:
            for blob_id in blob_ids:
                await txn.execute("DELETE FROM disposal_blobs WHERE blob_id = ?", blob_id)

        await self._write(forget_txn)
        return len(blob_ids)

    @unit
    async def finish_disposals(self) -> int:
        rows = await self._read(
            lambda txn: txn.fetchall("SELECT blob_id FROM disposal_blobs ORDER BY blob_id")
        )
        deleted = await self._delete_disposed_blobs([str(r[0]) for r in rows])
        await self._release_disposed()
        return deleted
