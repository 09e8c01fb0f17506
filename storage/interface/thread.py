"""A case's thread: end-to-end encrypted messages with per-case sequence numbers."""

from __future__ import annotations

import datetime as _dt
from typing import Protocol

from storage.records import AppendResult, AuditEvent, Message

__all__ = ["ThreadStore"]


class ThreadStore(Protocol):
    """Append (idempotently, gap-free) and replay messages."""

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
        """Insert a message and assign the next per-case sequence number in the same
        transaction. ``audit``: the message's audit entry, recorded in the same
        transaction when the message is created (not for a retry): one durable commit
        per message (``docs/storage.md`` section 9). A repeated ``client_msg_id`` returns
        the stored original with ``created=False`` (idempotent retry); the same id from
        another sender raises
        :class:`Conflict` ("message_id_taken"). :class:`NotFound` for an unknown case.
        Sequence numbers have no gaps and no duplicates under any concurrency. The first
        message from someone other than the case's creator sets ``first_response_at``."""
        ...

    async def list_messages(
        self, case_id: str, *, after_seq: int = 0, limit: int = 1000
    ) -> list[Message]:
        """Replay: messages with ``seq > after_seq`` in order, at most ``limit``."""
        ...
