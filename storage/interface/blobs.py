"""The blob store protocol (photos and files, streamed)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Protocol, runtime_checkable

from storage.records import BlobInfo

__all__ = ["BlobStore"]


@runtime_checkable
class BlobStore(Protocol):
    """Streamed, atomic blob storage. The filesystem store (encrypted at rest) is the
    default; an S3-compatible store can implement the same three methods (multipart upload
    for ``put``, ranged GET for ``open``)."""

    async def put(self, chunks: AsyncIterable[bytes], *, max_size: int) -> BlobInfo:
        """Store the stream under a new random id and return it. Never holds the whole
        stream in memory. Raises :class:`BlobTooLarge` (and stores nothing) when the stream
        exceeds ``max_size`` bytes. The blob is durable when this returns."""
        ...

    def open(self, blob_id: str) -> AsyncIterator[bytes]:
        """Stream the blob's bytes back in chunks. Raises :class:`NotFound` (on first
        iteration) for an unknown id and :class:`CorruptRecord` if the file was tampered
        with, including truncation."""
        ...

    async def delete(self, blob_id: str) -> None:
        """Delete the blob (idempotent)."""
        ...
