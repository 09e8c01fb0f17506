"""One-time links through which a patient sends photos to a case (docs/protocol.md
section 17)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Protocol

from storage.records import PatientLink

__all__ = ["PatientLinkStore"]


class PatientLinkStore(Protocol):
    """Create, find, count uploads through, submit and revoke patient links."""

    async def create_patient_link(self, link: PatientLink) -> PatientLink:
        """Store a new link (``uploads`` 0, unused, unrevoked). :class:`NotFound` for an
        unknown case, :class:`Conflict` "duplicate" for a reused id or token hash."""
        ...

    async def get_patient_link(self, link_id: str) -> PatientLink:
        """:class:`NotFound` if absent."""
        ...

    async def find_patient_link(self, token_hash: bytes) -> PatientLink:
        """The link whose token hashes to ``token_hash``; :class:`NotFound` if none."""
        ...

    async def list_patient_links(self, case_id: str) -> list[PatientLink]:
        """The case's links, newest first."""
        ...

    async def revoke_patient_link(self, link_id: str, now: _dt.datetime) -> PatientLink:
        """Revoke an unused link (idempotent); :class:`Conflict` "patient_link_used" if a
        submission already used it; :class:`NotFound`."""
        ...

    async def count_patient_upload(
        self, link_id: str, now: _dt.datetime, max_uploads: int
    ) -> PatientLink:
        """In one transaction: check the link is unused, unrevoked and unexpired at ``now``
        and has had fewer than ``max_uploads`` uploads, then add one. :class:`Conflict`
        "patient_link_invalid" or "patient_link_full"; :class:`NotFound`."""
        ...

    async def submit_patient_link(
        self, link_id: str, records: Sequence[bytes], now: _dt.datetime
    ) -> PatientLink:
        """Compare-and-set: mark the link used at ``now`` and keep ``records`` (1..100 drop
        records, each 1..70,000 bytes) if it is unused, unrevoked and unexpired. Two racing
        submissions: exactly one succeeds, the other gets :class:`Conflict`
        "patient_link_invalid"."""
        ...

    async def get_patient_submission(self, link_id: str) -> list[bytes]:
        """The drop records of the link's submission, in order; empty if unused."""
        ...
