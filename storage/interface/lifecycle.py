"""Opening is :func:`storage.open_storage`; this is the rest of a store's life."""

from __future__ import annotations

from typing import Protocol

from storage.interface.blobs import BlobStore

__all__ = ["StorageLifecycle"]


class StorageLifecycle(Protocol):
    """Health, schema version, the blob store that belongs to the store, and closing."""

    @property
    def blobs(self) -> BlobStore:
        """The blob store that belongs to this storage (same at-rest keys)."""
        ...

    async def close(self) -> None:
        """Flush pending writes and close every connection. Idempotent."""
        ...

    async def check_health(self) -> None:
        """Raise :class:`Unavailable` unless a read and a write round trip succeed."""
        ...

    async def schema_version(self) -> int:
        """The highest migration applied."""
        ...
