"""Wire shapes of the retention routes (``docs/api.md``, "Retention and legal holds") and
the functions that build them from the domain's records."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field

from server.domain.records import CaseRetention, LegalHold, OrgRetention
from server.wire.schemas import Model

__all__ = [
    "CaseRetentionOut",
    "LegalHoldIn",
    "LegalHoldList",
    "LegalHoldOut",
    "OrgRetentionIn",
    "OrgRetentionOut",
    "case_retention_out",
    "legal_hold_out",
    "org_retention_out",
]

HoldReason = Literal[
    "litigation", "complaint", "inquiry", "investigation", "subject_access", "other"
]


class OrgRetentionIn(Model):
    min_years: Annotated[int, Field(ge=0, le=100)]


class OrgRetentionOut(Model):
    org_id: str
    min_years: int
    set_by: str | None
    updated_at: dt.datetime | None


class LegalHoldIn(Model):
    """``reference``: the records officer's own reference (a claim or complaint number),
    sealed at rest and never written to the audit log."""

    reason: HoldReason
    reference: Annotated[str | None, Field(max_length=200)] = None


class LegalHoldOut(Model):
    case_id: str
    reason: HoldReason
    placed_by: str
    placed_at: dt.datetime
    reference: str | None


class LegalHoldList(Model):
    holds: list[LegalHoldOut]


class CaseRetentionOut(Model):
    """Where a case stands: the client's date, when it may be disposed of (None while
    open), why then, any hold, and when it was disposed of."""

    case_id: str
    retain_until: dt.date | None
    keep_until: dt.datetime | None
    basis: Literal["client_date", "no_client_date", "organisation_minimum"] | None
    legal_hold: LegalHoldOut | None
    disposed_at: dt.datetime | None


def legal_hold_out(h: LegalHold) -> LegalHoldOut:
    return LegalHoldOut(
        case_id=h.case_id,
        reason=h.reason.value,
        placed_by=h.placed_by,
        placed_at=h.placed_at,
        reference=h.reference,
    )


def org_retention_out(p: OrgRetention) -> OrgRetentionOut:
    return OrgRetentionOut(
        org_id=p.org_id, min_years=p.min_years, set_by=p.set_by, updated_at=p.updated_at
    )


def case_retention_out(r: CaseRetention) -> CaseRetentionOut:
    return CaseRetentionOut(
        case_id=r.case_id,
        retain_until=r.retain_until,
        keep_until=r.keep_until,
        basis=None if r.basis is None else r.basis.value,
        legal_hold=None if r.hold is None else legal_hold_out(r.hold),
        disposed_at=r.disposed_at,
    )
