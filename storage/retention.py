"""Records of retention and disposal, and the rule storage applies (``docs/storage.md``,
"Retention and disposal"; ``docs/operations.md``, "Retention").

A closed (or withdrawn) case may be disposed of from its **keep-until** instant, the latest
of:

* the day after the ``retain_until`` date its closing client sent (the date of birth is
  end-to-end encrypted, so only a client can compute it: ``client_py/retention.py``), if
  that date was sent at or after the case's latest closure;
* without such a date, :data:`FALLBACK_DAYS` after the closure (longer than any the rule
  can give: a newborn's 25th birthday, rounded to the end of its year);
* :data:`YEAR_DAYS` times each organisation's minimum period in years (the practice's and
  the service's), after the closure;

and never while a legal hold stands. Disposal is crypto-shredding: the case's key wraps,
messages, outcome, attachments and their blobs, patient-link submissions and receipts are
destroyed in one transaction together with an audit entry; the case row, its participants
and the disposal record stay as a tombstone (:data:`DISPOSED_TABLES`, :data:`KEPT_TABLES`).
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "DISPOSED_TABLES",
    "FALLBACK_DAYS",
    "KEPT_TABLES",
    "MAX_MIN_YEARS",
    "YEAR_DAYS",
    "CaseRetention",
    "Disposal",
    "DisposalBasis",
    "LegalHold",
    "LegalHoldReason",
    "OrgRetention",
    "RetentionCandidate",
    "disposal_detail",
    "keep_until_us",
    "retain_until_us",
]

#: Kept this long after closure when no client sent a retention date: 27 years of 366 days,
#: later than the end of the year of a newborn's 25th birthday (the longest the rule gives).
FALLBACK_DAYS = 27 * 366
#: One year of an organisation's minimum period, counted generously (never early).
YEAR_DAYS = 366
#: The longest minimum period an organisation may set.
MAX_MIN_YEARS = 100
#: Every client date is at least this long after its closure (8 years; checked by the
#: server when it is sent), so no case closed more recently can be due.
MIN_KEEP_DAYS = 8 * 365

#: Tables whose rows of a disposed case are destroyed, in this order, in one transaction
#: (``legal_holds`` has none: a held case is never due). A new table with a ``case_id``
#: column must be added here or to :data:`KEPT_TABLES` (``tests/storage/
#: test_contract_retention.py`` fails until it is).
DISPOSED_TABLES = (
    "case_keys",
    "messages",
    "outcomes",
    "attachments",
    "patient_links",
    "receipts",
    "case_retention",
    "legal_holds",
)
#: Tables with a ``case_id`` whose rows of a disposed case stay: the routing tombstone
#: (``cases``, ``participants``, ``case_removals``: who was involved, and when), the
#: disposal record, and ``disposal_blobs`` (written by the disposal, removed once the blob
#: files are gone).
KEPT_TABLES = ("cases", "participants", "case_removals", "case_disposals", "disposal_blobs")


class LegalHoldReason(StrEnum):
    """Why a records officer stopped disposal (coded: no free text reaches the audit log)."""

    LITIGATION = "litigation"
    COMPLAINT = "complaint"
    INQUIRY = "inquiry"
    INVESTIGATION = "investigation"
    SUBJECT_ACCESS = "subject_access"
    OTHER = "other"


class DisposalBasis(StrEnum):
    """Which date made a case due."""

    CLIENT_DATE = "client_date"
    NO_CLIENT_DATE = "no_client_date"
    ORGANISATION_MINIMUM = "organisation_minimum"


@dataclass(frozen=True, slots=True)
class OrgRetention:
    """An organisation's minimum retention period (0: the rule alone)."""

    org_id: str
    min_years: int
    set_by: str | None
    updated_at: _dt.datetime | None


@dataclass(frozen=True, slots=True)
class LegalHold:
    """A hold on one case. ``reference`` is the records officer's own reference (a
    complaint or claim number), sealed at rest and never audited."""

    case_id: str
    reason: LegalHoldReason
    placed_by: str
    placed_at: _dt.datetime
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class RetentionCandidate:
    """A closed case whose keep-until instant has passed and that is not held."""

    case_id: str
    practice_id: str
    service_id: str
    closed_at: _dt.datetime
    keep_until: _dt.datetime
    basis: DisposalBasis
    retain_until: _dt.date | None


@dataclass(frozen=True, slots=True)
class CaseRetention:
    """Where a case stands: its client date, when it may go (None while open), any hold,
    and its disposal (None until disposed of)."""

    case_id: str
    retain_until: _dt.date | None
    keep_until: _dt.datetime | None
    basis: DisposalBasis | None
    hold: LegalHold | None
    disposed_at: _dt.datetime | None


@dataclass(frozen=True, slots=True)
class Disposal:
    """What one disposal destroyed (also the audit entry's detail)."""

    case_id: str
    disposed_at: _dt.datetime
    keep_until: _dt.datetime
    basis: DisposalBasis
    case_keys: int
    messages: int
    attachments: int
    outcome: bool
    patient_links: int
    receipts: int
    blob_ids: tuple[str, ...]


_DAY_US = 86_400 * 1_000_000


def retain_until_us(retain_until: _dt.date) -> int:
    """The keep-until instant of a client date: 00:00 UTC on the day after it (µs)."""
    return (retain_until.toordinal() + 1 - _dt.date(1970, 1, 1).toordinal()) * _DAY_US


def keep_until_us(
    closed_at: int, client: int | None, practice_years: int, service_years: int
) -> tuple[int, DisposalBasis]:
    """The keep-until instant (µs) of a case closed at ``closed_at`` (µs) and what decided
    it: the client date's instant ``client`` (None: none sent since the closure), or the
    fallback, or an organisation's minimum, whichever is latest. The SQL query and the
    memory store compute the same."""
    if client is None:
        keep, basis = closed_at + FALLBACK_DAYS * _DAY_US, DisposalBasis.NO_CLIENT_DATE
    else:
        keep, basis = client, DisposalBasis.CLIENT_DATE
    minimum = closed_at + max(practice_years, service_years) * YEAR_DAYS * _DAY_US
    if minimum > keep:
        keep, basis = minimum, DisposalBasis.ORGANISATION_MINIMUM
    return keep, basis


def disposal_detail(d: Disposal, retain_until: _dt.date | None) -> bytes:
    """The audit entry's detail: why (basis, dates) and what was destroyed (counts)."""
    detail = {
        "why": {
            "basis": d.basis.value,
            "keep_until": d.keep_until.isoformat(),
            "retain_until": None if retain_until is None else retain_until.isoformat(),
        },
        "destroyed": {
            "case_keys": d.case_keys,
            "messages": d.messages,
            "outcome": d.outcome,
            "attachments": d.attachments,
            "blobs": len(d.blob_ids),
            "patient_links": d.patient_links,
            "receipts": d.receipts,
        },
    }
    return json.dumps(detail, separators=(",", ":"), sort_keys=True).encode()
