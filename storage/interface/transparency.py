"""The key transparency log and the directory keys it publishes: the append-only Merkle log
with signed tree heads, organisation keys and their wraps, the records-key chain and its
pending changes (``docs/protocol.md`` sections 18 to 21, ``docs/storage.md``
"Transparency log")."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Protocol

from storage.records import (
    LogAppend,
    LogRecord,
    Organisation,
    OrgKey,
    OrgKeyWrap,
    RecordsKeyApproval,
    RecordsKeyPending,
    SignedTreeHead,
)

__all__ = ["DirectoryKeyStore", "TransparencyStore"]


class TransparencyStore(Protocol):
    """The log itself. Entries are appended by the unit that makes the directory change
    (every directory write takes ``log=``); :meth:`append_log` is for changes that are
    nothing but a log entry (a certification). Roots and proofs cost O(log n): every
    complete subtree's hash is stored."""

    async def append_log(self, entries: Sequence[LogAppend]) -> list[int]:
        """Append entries in order, in one unit; their leaf indices."""
        ...

    async def log_size(self) -> int:
        """How many entries the log holds."""
        ...

    async def list_log(self, start: int, end: int) -> list[LogRecord]:
        """Entries ``start <= index < end`` (at most 1,000), in order."""
        ...

    async def find_log(
        self,
        *,
        org_id: str | None = None,
        user_id: str | None = None,
        ref: str | None = None,
    ) -> list[LogRecord]:
        """Entries matching every given filter (at least one), in index order."""
        ...

    async def log_inclusion_proofs(
        self, indices: Sequence[int], tree_size: int
    ) -> list[list[bytes]]:
        """RFC 9162 inclusion proofs of each leaf in the tree of the first ``tree_size``
        entries. :class:`InvalidArgument` for an index not below the size or a size beyond
        the log."""
        ...

    async def log_consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 consistency proof between two sizes (``old_size <= new_size <= size``)."""
        ...

    async def sign_tree_head(self, now: _dt.datetime) -> SignedTreeHead:
        """Sign the head of the whole log with the log key (kept sealed in ``server_keys``)
        and keep it; the stored head if this size is signed already."""
        ...

    async def latest_tree_head(self) -> SignedTreeHead | None:
        """The head of the largest signed size (None before the first)."""
        ...

    async def get_tree_head(self, tree_size: int) -> SignedTreeHead:
        """The head signed for exactly this size; :class:`NotFound` ("tree_head")."""
        ...

    async def log_public_key(self) -> bytes:
        """The log key's public point (65 bytes)."""
        ...


class DirectoryKeyStore(Protocol):
    """Organisation keys, their wraps to administrators, the records-key chain."""

    async def set_org_key(
        self, org_key: OrgKey, wraps: Sequence[OrgKeyWrap], log: Sequence[LogAppend]
    ) -> OrgKey:
        """Store the organisation's key with the first wraps and its log entry, in one unit.
        :class:`Conflict` ("org_key_exists") if it has one; :class:`NotFound` for an unknown
        organisation or recipient."""
        ...

    async def get_org_key(self, org_id: str) -> OrgKey | None:
        """The organisation's key, or None."""
        ...

    async def put_org_key_wraps(self, wraps: Sequence[OrgKeyWrap]) -> None:
        """Store wraps (replacing one for the same organisation and recipient).
        :class:`NotFound` ("org_key") if the organisation has no key."""
        ...

    async def get_org_key_wrap(self, org_id: str, recipient_id: str) -> OrgKeyWrap:
        """:class:`NotFound` ("org_key_wrap") if absent."""
        ...

    async def list_org_key_wraps(self, org_id: str) -> list[OrgKeyWrap]:
        """Every wrap of the organisation's key, by recipient."""
        ...

    async def set_records_key(
        self,
        org_id: str,
        public_key: bytes,
        *,
        sequence: int,
        log: Sequence[LogAppend],
    ) -> Organisation:
        """Make a certified records key current (compare-and-set: ``sequence`` must be the
        current sequence + 1, or 0 when there is none) and append its log entries; pending
        changes of this or an earlier sequence are dropped. :class:`Conflict`
        ("records_key_sequence")."""
        ...

    async def propose_records_key(self, pending: RecordsKeyPending) -> RecordsKeyPending:
        """Store a pending change. :class:`Conflict` ("duplicate") for the same statement,
        ("records_key_sequence") if its sequence is not the current + 1."""
        ...

    async def list_records_key_pending(self, org_id: str) -> list[RecordsKeyPending]:
        """The organisation's pending changes, oldest first, with their approvals."""
        ...

    async def approve_records_key(
        self,
        org_id: str,
        statement_hash: bytes,
        approval: RecordsKeyApproval,
        *,
        threshold: int,
        now: _dt.datetime,
    ) -> tuple[RecordsKeyPending | None, Organisation]:
        """Add an approval in one unit. When ``threshold`` distinct approvers have approved,
        the change becomes current (compare-and-set on the sequence), the statement and its
        approvals are appended to the log (appended at ``now``) and the pending change is
        dropped: answers (None, organisation). Otherwise (the pending change, organisation).
        :class:`NotFound` ("records_key_pending"); :class:`Conflict` ("duplicate") if this
        approver approved it already, ("records_key_sequence") if it went stale."""
        ...
