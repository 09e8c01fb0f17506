"""The hash-chained audit log with signed checkpoints (``docs/storage.md``, "Audit log")."""

from __future__ import annotations

import datetime as _dt
from typing import Protocol

from storage.records import AuditCheckpoint, AuditEntry, AuditEvent, AuditVerification

__all__ = ["AuditStore"]


class AuditStore(Protocol):
    """Append, read, checkpoint and verify the audit chain."""

    async def append_audit(self, event: AuditEvent) -> AuditEntry:
        """Append an event to the hash chain (its content is encrypted at rest)."""
        ...

    async def list_audit(self, *, after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Entries with ``seq > after_seq`` in order."""
        ...

    async def checkpoint_audit(self, now: _dt.datetime) -> AuditCheckpoint:
        """Sign the current head of the chain with the server's audit key and store the
        checkpoint (the stored one if this head already has one). :class:`NotFound`
        ("audit_entry") if the log is empty."""
        ...

    async def verify_audit(self) -> AuditVerification:
        """Re-derive the whole chain and check every checkpoint signature. Raises
        :class:`AuditIntegrityError` naming the first entry that is edited, missing, out of
        order, or beyond which the log was truncated."""
        ...
