"""Attachments: metadata of encrypted photos and files (the bytes are in the blob store)."""

from __future__ import annotations

from typing import Protocol

from storage.records import Attachment

__all__ = ["AttachmentStore"]


class AttachmentStore(Protocol):
    """Record an uploaded blob as an attachment of a case, and find it again."""

    async def create_attachment(self, attachment: Attachment) -> Attachment:
        """Record an uploaded blob as an attachment of the case. :class:`NotFound` for an
        unknown case, :class:`Conflict` ("duplicate") for a reused id."""
        ...

    async def get_attachment(self, attachment_id: str) -> Attachment:
        """:class:`NotFound` if absent."""
        ...

    async def list_attachments(self, case_id: str) -> list[Attachment]:
        """The case's attachments in upload order (ties by attachment id)."""
        ...
