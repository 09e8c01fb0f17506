"""Retention, legal holds and disposal in the memory store (``storage.memory``; tests and
development only), with the semantics of ``storage.sql.retention`` (the rule:
:mod:`storage.retention`)."""

from __future__ import annotations

import datetime as _dt
import os

from storage._memory_base import CaseRow, op, utc
from storage._memory_blobs import MemoryBlobStore
from storage._memory_figures import MemoryFigures
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
from storage.records import AuditEntry, AuditEvent, CaseState, Page, PatientLink
from storage.retention import (
    MAX_MIN_YEARS,
    CaseRetention,
    Disposal,
    LegalHold,
    LegalHoldReason,
    OrgRetention,
    RetentionCandidate,
    disposal_detail,
    keep_until_us,
    retain_until_us,
)

__all__ = ["MemoryRetention"]

_ENDED = (CaseState.CLOSED, CaseState.WITHDRAWN)


class MemoryRetention(MemoryFigures):
    """:class:`storage.interface.RetentionStore` in memory."""

    # Kept by ``storage.memory.MemoryStorage`` (patient links, blobs, the audit chain).
    _links: dict[str, PatientLink]
    _submissions: dict[str, bytes]
    _blob_store: MemoryBlobStore

    def __init__(self) -> None:
        super().__init__()
        self._case_retention: dict[str, tuple[int, int]] = {}  # case -> (keep_until, set_at)
        self._org_retention: dict[str, OrgRetention] = {}
        self._holds: dict[str, LegalHold] = {}
        self._disposals: dict[str, Disposal] = {}

    def _append_audit_now(self, event: AuditEvent, salt: bytes) -> AuditEntry:
        raise NotImplementedError  # storage.memory.MemoryStorage has the audit chain

    # ------------------------------------------------------------------ the rule

    def _client_keep(self, row: CaseRow) -> int | None:
        stored = self._case_retention.get(row.case_id)
        if stored is None or row.closed_at is None or stored[1] < us(row.closed_at):
            return None
        return stored[0]

    def _years(self, org_id: str) -> int:
        policy = self._org_retention.get(org_id)
        return 0 if policy is None else policy.min_years

    def _candidate(self, row: CaseRow, now: int) -> RetentionCandidate | None:
        """The case as a due candidate at ``now`` (µs), or None if it is not due."""
        if row.state not in _ENDED or row.closed_at is None:
            return None
        if row.case_id in self._holds or row.case_id in self._disposals:
            return None
        client = self._client_keep(row)
        closed = us(row.closed_at)
        keep, basis = keep_until_us(
            closed, client, self._years(row.practice_id), self._years(row.service_id)
        )
        if keep > now:
            return None
        return RetentionCandidate(
            row.case_id,
            row.practice_id,
            row.service_id,
            row.closed_at,
            dt_of(keep),
            basis,
            None if client is None else (dt_of(client) - _dt.timedelta(days=1)).date(),
        )

    # ------------------------------------------------------------------ operations

    @op
    async def set_case_retention(
        self, case_id: str, retain_until: _dt.date, now: _dt.datetime
    ) -> None:
        cid = check_id(case_id, "case_id")
        if not isinstance(retain_until, _dt.date) or isinstance(retain_until, _dt.datetime):
            raise InvalidArgument("retain_until must be a date")
        when = us(now)
        self._case_row(cid)
        self._case_retention[cid] = (retain_until_us(retain_until), when)

    @op
    async def get_case_retention(self, case_id: str) -> CaseRetention:
        cid = check_id(case_id, "case_id")
        row = self._case_row(cid)
        disposed = self._disposals.get(cid)
        if disposed is not None:
            return CaseRetention(
                cid, None, disposed.keep_until, disposed.basis, None, disposed.disposed_at
            )
        client = self._client_keep(row)
        keep = basis = None
        if row.state in _ENDED and row.closed_at is not None:
            keep_us, basis = keep_until_us(
                us(row.closed_at), client, self._years(row.practice_id), self._years(row.service_id)
            )
            keep = dt_of(keep_us)
        retain = None if client is None else (dt_of(client) - _dt.timedelta(days=1)).date()
        return CaseRetention(cid, retain, keep, basis, self._holds.get(cid), None)

    @op
    async def set_org_retention(
        self, org_id: str, min_years: int, set_by: str | None, now: _dt.datetime
    ) -> OrgRetention:
        oid = check_id(org_id, "org_id")
        years = check_int64(min_years, "min_years")
        if years > MAX_MIN_YEARS:
            raise InvalidArgument("min_years out of range")
        by = None if set_by is None else check_id(set_by, "set_by")
        when = utc(now)
        self._org(oid)
        policy = self._org_retention[oid] = OrgRetention(oid, years, by, when)
        return policy

    @op
    async def get_org_retention(self, org_id: str) -> OrgRetention:
        oid = check_id(org_id, "org_id")
        return self._org_retention.get(oid) or OrgRetention(oid, 0, None, None)

    @op
    async def place_legal_hold(self, hold: LegalHold) -> LegalHold:
        if not isinstance(hold, LegalHold):
            raise InvalidArgument("hold must be a LegalHold")
        cid = check_id(hold.case_id, "case_id")
        stored = LegalHold(
            cid,
            LegalHoldReason(hold.reason),
            check_id(hold.placed_by, "placed_by"),
            utc(hold.placed_at),
            None
            if hold.reference is None
            else check_text(hold.reference, "reference", max_bytes=200),
        )
        self._case_row(cid)
        if cid in self._disposals:
            raise Conflict("disposed")
        if cid in self._holds:
            raise Conflict("duplicate")
        self._referenced_user(stored.placed_by)
        self._holds[cid] = stored
        return stored

    @op
    async def release_legal_hold(self, case_id: str) -> LegalHold:
        cid = check_id(case_id, "case_id")
        hold = self._holds.pop(cid, None)
        if hold is None:
            raise NotFound("legal_hold")
        return hold

    @op
    async def list_legal_holds(self, org_id: str) -> list[LegalHold]:
        oid = check_id(org_id, "org_id")
        mine = [
            h
            for h in self._holds.values()
            if oid in (self._cases[h.case_id].practice_id, self._cases[h.case_id].service_id)
        ]
        return sorted(mine, key=lambda h: (h.placed_at, h.case_id))

    @op
    async def list_due_for_disposal(
        self, now: _dt.datetime, *, limit: int = 100, cursor: str | None = None
    ) -> Page[RetentionCandidate]:
        when = us(now)
        n = check_limit(limit)
        after: tuple[int, str] | None = None
        if cursor is not None:
            closed, cid = dec_cursor(cursor, (int, str))
            after = (closed, cid)
        due = [c for row in self._cases.values() if (c := self._candidate(row, when)) is not None]
        due.sort(key=lambda c: (us(c.closed_at), c.case_id))
        if after is not None:
            due = [c for c in due if (us(c.closed_at), c.case_id) > after]
        more = len(due) > n
        due = due[:n]
        nxt = enc_cursor(us(due[-1].closed_at), due[-1].case_id) if more else None
        return Page(tuple(due), nxt)

    @op
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
        row = self._case_row(cid)
        candidate = self._candidate(row, when)
        if candidate is None:
            raise Conflict("not_due")
        keys = [k for k in self._keys if k[0] == cid]
        for k in keys:
            del self._keys[k]
        messages = self._messages.pop(cid, [])
        for m in messages:
            self._message_ids.pop((cid, m.client_msg_id), None)
        attachments = [a for a in self._attachments.values() if a.case_id == cid]
        for a in attachments:
            del self._attachments[a.attachment_id]
        outcome = self._outcomes.pop(cid, None) is not None
        links = [link_id for link_id, link in self._links.items() if link.case_id == cid]
        for link_id in links:
            del self._links[link_id]
            self._submissions.pop(link_id, None)
        receipts = [k for k in self._receipts if k[0] == cid]
        for r in receipts:
            del self._receipts[r]
        self._case_retention.pop(cid, None)
        blob_ids = tuple(sorted(a.blob_id for a in attachments))
        disposal = Disposal(
            cid,
            dt_of(when),
            candidate.keep_until,
            candidate.basis,
            len(keys),
            len(messages),
            len(attachments),
            outcome,
            len(links),
            len(receipts),
            blob_ids,
        )
        self._disposals[cid] = disposal
        self._append_audit_now(
            AuditEvent(
                action="case.disposed",
                occurred_at=dt_of(when),
                actor_id=actor_id,
                target=cid,
                client_address=client_address,
                detail=disposal_detail(disposal, candidate.retain_until),
            ),
            os.urandom(16),
        )
        # The blobs go with the unit here (nothing can crash between two dictionaries).
        for blob_id in blob_ids:
            self._blob_store.forget(blob_id)
        return disposal

    @op
    async def finish_disposals(self) -> int:
        return 0  # every disposal removed its blobs in its own operation
