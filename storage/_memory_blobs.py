"""The memory store's blob store (``storage.memory``; tests and development only): blobs
held whole in memory, with the file store's behaviour at the interface (ids, the size cap,
refused chunks, chunked reads, idempotent delete)."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import AsyncIterable, AsyncIterator

from storage.blobs import DEFAULT_CHUNK_SIZE
from storage.errors import BlobTooLarge, InvalidArgument, NotFound, Unavailable
from storage.records import BlobInfo

__all__ = ["MemoryBlobStore"]

_ID_RE = re.compile(r"^[0-9a-f]{32}$")


class MemoryBlobStore:
    """:class:`storage.interface.BlobStore` in memory."""

    def __init__(self, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self.chunk_size = chunk_size
        self.closed = False
        self._blobs: dict[str, bytes] = {}

    def _check_open(self) -> None:
        if self.closed:
            raise Unavailable("storage is closed")

    async def put(self, chunks: AsyncIterable[bytes], *, max_size: int) -> BlobInfo:
        self._check_open()
        if not isinstance(max_size, int) or max_size < 0:
            raise InvalidArgument("max_size must be a non-negative int")
        buf = bytearray()
        async for piece in chunks:
            if not isinstance(piece, bytes | bytearray | memoryview):
                raise InvalidArgument("blob chunks must be bytes")
            if len(buf) + len(piece) > max_size:
                raise BlobTooLarge(max_size)
            buf += piece
        blob_id = secrets.token_hex(16)
        data = bytes(buf)
        self._blobs[blob_id] = data
        return BlobInfo(blob_id=blob_id, size=len(data), sha256=hashlib.sha256(data).digest())

    async def open(self, blob_id: str) -> AsyncIterator[bytes]:
        self._check_open()
        data = self._blobs.get(blob_id) if isinstance(blob_id, str) else None
        if data is None or not _ID_RE.match(blob_id):
            raise NotFound("blob")
        # As the file store streams it: whole chunks, the last one possibly short (or empty).
        for start in range(0, max(len(data), 1), self.chunk_size):
            yield data[start : start + self.chunk_size]

    async def delete(self, blob_id: str) -> None:
        self._check_open()
        self._blobs.pop(blob_id, None)

    def forget(self, blob_id: str) -> None:
        """Drop a blob inside an operation that must not await (a disposal)."""
        self._blobs.pop(blob_id, None)

    def blob_ids(self) -> list[str]:
        """Every stored blob id (as ``FileBlobStore.blob_ids``)."""
        return sorted(self._blobs)
