"""Retention, legal holds and disposal (``docs/storage.md``, "Retention and disposal").
The rule and the records are in :mod:`storage.retention`."""

from __future__ import annotations

import datetime as _dt
from typing import Protocol

from storage.records import Page
from storage.retention import CaseRetention, Disposal, LegalHold, OrgRetention, RetentionCandidate

__all__ = ["RetentionStore"]


class RetentionStore(Protocol):
    """Retention dates, organisation minimums, legal holds, the due list and disposal."""

    async def set_case_retention(
        self, case_id: str, retain_until: _dt.date, now: _dt.datetime
    ) -> None:
        """Record the closing client's date (replacing an earlier one). :class:`NotFound`
        ("case")."""
        ...

    async def get_case_retention(self, case_id: str) -> CaseRetention:
        """Where the case stands (keep-until computed as the due list does)."""
        ...

    async def set_org_retention(
        self, org_id: str, min_years: int, set_by: str | None, now: _dt.datetime
    ) -> OrgRetention:
        """Set an organisation's minimum period in whole years (0..100; 0: the rule
        alone). :class:`NotFound` ("organisation")."""
        ...

    async def get_org_retention(self, org_id: str) -> OrgRetention:
        """The organisation's minimum (``min_years`` 0 if never set)."""
        ...

    async def place_legal_hold(self, hold: LegalHold) -> LegalHold:
        """Stop disposal of the case. :class:`Conflict` ("duplicate") if it is held
        already, ("disposed") if it was disposed of; :class:`NotFound` ("case")."""
        ...

    async def release_legal_hold(self, case_id: str) -> LegalHold:
        """Lift the hold and return it. :class:`NotFound` ("legal_hold")."""
        ...

    async def list_legal_holds(self, org_id: str) -> list[LegalHold]:
        """Holds on cases of the organisation (as practice or service), oldest first."""
        ...

    async def list_due_for_disposal(
        self, now: _dt.datetime, *, limit: int = 100, cursor: str | None = None
    ) -> Page[RetentionCandidate]:
        """Closed or withdrawn cases, not held and not disposed of, whose keep-until
        instant is at or before ``now``; oldest closure first, keyset-paginated."""
        ...

    async def dispose_case(
        self,
        case_id: str,
        now: _dt.datetime,
        *,
        actor_id: str | None = None,
        client_address: str | None = None,
    ) -> Disposal:
        """Destroy the case's key wraps, messages, outcome, attachments (their blobs are
        queued for deletion), patient-link submissions and receipts, and record the
        disposal, with an audit entry ``case.disposed`` naming what went and why, all in
        one transaction; then delete the blob files. :class:`Conflict` ("not_due") unless
        the case is due at ``now`` (a hold placed meanwhile, a resubmission, an earlier
        disposal); :class:`NotFound` ("case")."""
        ...

    async def finish_disposals(self) -> int:
        """Delete blob files of disposals that a crash interrupted, and let the engine drop
        what it still holds of disposed rows (SQLite: a truncating WAL checkpoint).
        Returns how many blobs were deleted."""
        ...
