"""The filesystem blob store: streamed, encrypted at rest, atomic, size-capped.

Rules (``docs/storage.md``, "Blob store"):

* A blob is stored under a fresh random id (128 bits, hex) as
  ``<root>/<id[:2]>/<id>.blob``; the id is the only name, so nothing about the content
  (case, patient, file name) appears in the folder.
* Writing: chunks go to ``<root>/tmp/<id>.part`` (mode 0600) as they arrive, each sealed
  with AES-256-GCM under a per-blob subkey (``crypto.at_rest`` blob format: index-bound nonce
  and a final-chunk flag, so truncation, reordering and splicing are detected). When the
  stream ends the file is fsynced, renamed into place and the folder fsynced: a blob either
  exists completely and durably or not at all. A stream over ``max_size`` is abandoned
  (temp file removed) with :class:`BlobTooLarge`.
* Reading streams the file back chunk by chunk; memory use is one chunk whatever the size.
* File I/O and sealing run in a worker thread (``asyncio.to_thread``) so the event loop is
  never blocked by a disk or by AES on a megabyte.

An S3-compatible store implements the same :class:`storage.interface.BlobStore` methods:
``put`` as a multipart upload of sealed chunks, ``open`` as ranged GETs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import secrets
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import BinaryIO, TypeVar

from crypto import at_rest
from crypto.at_rest import AtRestError
from storage.errors import BlobTooLarge, CorruptRecord, InvalidArgument, NotFound, Unavailable
from storage.keys import PURPOSE_BLOB, KeyRing
from storage.records import BlobInfo

__all__ = ["DEFAULT_CHUNK_SIZE", "FileBlobStore"]

DEFAULT_CHUNK_SIZE = 1024 * 1024
_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_STALE_PART_SECONDS = 3600
T = TypeVar("T")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def _io(fn: Callable[..., T], *args: object) -> T:
    """Run blocking file work in a thread; disk errors become :class:`Unavailable` (errors
    raised by the caller's stream are left as they are).

    If the awaiting task is cancelled, the thread's work cannot be: we wait for it to end
    before the cancellation propagates, so the cleanup that follows (``_Writer.abort``)
    never runs concurrently with a write, an fsync or the rename on the same file.
    """
    work = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        while not work.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({work})
        if not work.cancelled():
            work.exception()  # retrieved: the cancellation is what the caller hears about
        raise
    except OSError:
        raise Unavailable("blob store error") from None


class _Writer:
    """Synchronous half of a blob write (runs in a worker thread)."""

    def __init__(self, path: Path, header: at_rest.BlobHeader, subkey: bytes) -> None:
        self.path = path
        self.header = header
        self.subkey = subkey
        self.index = 0
        #: where finish() renamed the file (so abort() can undo a rename the caller never
        #: heard about, e.g. when it was cancelled while finish() ran)
        self.placed: Path | None = None
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.file: BinaryIO = os.fdopen(fd, "wb", buffering=0)
        self.file.write(header.raw)

    def write_chunk(self, chunk: bytes, final: bool) -> None:
        self.file.write(at_rest.seal_blob_chunk(self.subkey, self.header, self.index, final, chunk))
        self.index += 1

    def finish(self, dest: Path) -> None:
        os.fsync(self.file.fileno())
        self.file.close()
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, dest)
        self.placed = dest
        _fsync_dir(dest.parent)

    def abort(self) -> None:
        """Remove what this write left behind (the temp file, or the renamed file whose
        success nobody was told about). Never raises: it runs while another error
        propagates."""
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)
        if self.placed is not None:
            with contextlib.suppress(OSError):
                self.placed.unlink(missing_ok=True)


class FileBlobStore:
    """:class:`storage.interface.BlobStore` on a local folder."""

    def __init__(self, root: Path, ring: KeyRing, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self.root = root
        self._ring = ring
        #: set by the storage: reloads the key ring from the database
        self.reload_keys: Callable[[], Awaitable[None]] | None = None
        self.chunk_size = chunk_size
        self._tmp = root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(root, 0o700)
        self._clean_stale_parts()

    def _clean_stale_parts(self) -> None:
        # Leftovers of writes interrupted by a crash; a live write elsewhere is younger.
        cutoff = time.time() - _STALE_PART_SECONDS
        for part in self._tmp.glob("*.part"):
            try:
                if part.stat().st_mtime < cutoff:
                    part.unlink()
            except OSError:
                pass

    def _path(self, blob_id: str) -> Path:
        if not isinstance(blob_id, str) or not _ID_RE.match(blob_id):
            raise NotFound("blob")
        return self.root / blob_id[:2] / f"{blob_id}.blob"

    async def _subkey(self, header: at_rest.BlobHeader, blob_id: str) -> bytes:
        key = self._ring.get(header.key_id)
        if key is None and self.reload_keys is not None:
            # Sealed under a key another process made (a rotation): reload, then decide.
            await self.reload_keys()
            key = self._ring.get(header.key_id)
        if key is None:
            raise CorruptRecord("blob")
        return at_rest.blob_subkey(key, header, blob_id)

    def _new_writer(self, blob_id: str) -> _Writer:
        key_id, key = self._ring.active(PURPOSE_BLOB)
        header = at_rest.parse_blob_header(
            at_rest.blob_header(key_id, at_rest.new_blob_salt(), self.chunk_size)
        )
        part = self._tmp / f"{blob_id}.{secrets.token_hex(4)}.part"
        return _Writer(part, header, at_rest.blob_subkey(key, header, blob_id))

    async def put(self, chunks: AsyncIterable[bytes], *, max_size: int) -> BlobInfo:
        if not isinstance(max_size, int) or max_size < 0:
            raise InvalidArgument("max_size must be a non-negative int")
        blob_id = secrets.token_hex(16)
        writer = await _io(self._new_writer, blob_id)
        digest = hashlib.sha256()
        size = 0
        buf = bytearray()
        try:
            async for piece in chunks:
                if not isinstance(piece, bytes | bytearray | memoryview):
                    raise InvalidArgument("blob chunks must be bytes")
                size += len(piece)
                if size > max_size:
                    raise BlobTooLarge(max_size)
                digest.update(piece)
                buf += piece
                # A full chunk is known to be non-final only once more bytes follow it.
                while len(buf) > self.chunk_size:
                    chunk = bytes(buf[: self.chunk_size])
                    del buf[: self.chunk_size]
                    await _io(writer.write_chunk, chunk, False)
            await _io(writer.write_chunk, bytes(buf), True)
            await _io(writer.finish, self._path(blob_id))
        except BaseException:
            # Shielded: a second cancellation must not leave the temp file behind.
            await asyncio.shield(asyncio.to_thread(writer.abort))
            raise
        return BlobInfo(blob_id=blob_id, size=size, sha256=digest.digest())

    async def open(self, blob_id: str) -> AsyncIterator[bytes]:
        path = self._path(blob_id)
        try:
            f = await asyncio.to_thread(open, path, "rb")
        except FileNotFoundError:
            raise NotFound("blob") from None
        except OSError:
            raise Unavailable("blob store error") from None
        try:
            try:
                header = at_rest.parse_blob_header(
                    await asyncio.to_thread(f.read, at_rest.BLOB_HEADER_LEN)
                )
                subkey = await self._subkey(header, blob_id)
            except AtRestError:
                raise CorruptRecord("blob") from None
            step = header.chunk_size + at_rest.BLOB_TAG_LEN
            current = await asyncio.to_thread(f.read, step)
            index = 0
            while True:
                following = await asyncio.to_thread(f.read, step)
                final = not following
                try:
                    plain = await asyncio.to_thread(
                        at_rest.open_blob_chunk, subkey, header, index, final, current
                    )
                except AtRestError:
                    raise CorruptRecord("blob") from None
                yield plain
                if final:
                    return
                current, index = following, index + 1
        finally:
            f.close()

    async def delete(self, blob_id: str) -> None:
        path = self._path(blob_id)
        try:
            await asyncio.to_thread(path.unlink, True)
        except OSError:
            raise Unavailable("blob store error") from None

    def blob_ids(self) -> list[str]:
        """Every stored blob id (for rotation and housekeeping)."""
        return sorted(p.stem for p in self.root.glob("??/*.blob") if _ID_RE.match(p.stem))

    @staticmethod
    def _header_of(path: Path) -> at_rest.BlobHeader:
        with open(path, "rb") as f:
            return at_rest.parse_blob_header(f.read(at_rest.BLOB_HEADER_LEN))

    def _key_id_of(self, blob_id: str) -> int:
        return self._header_of(self._path(blob_id)).key_id

    async def reencrypt_all(self) -> int:
        """Re-seal every blob not under the active blob key (rotation). Each blob is
        rewritten to a temp file and renamed over the old one, so a reader sees the old or
        the new file, never a mix; an interrupted run is resumed by running it again."""
        active_id, _ = self._ring.active(PURPOSE_BLOB)
        done = 0
        for blob_id in await _io(self.blob_ids):
            try:
                if await asyncio.to_thread(self._key_id_of, blob_id) == active_id:
                    continue
            except FileNotFoundError:
                continue  # deleted since we listed the folder
            except OSError:
                raise Unavailable("blob store error") from None
            except AtRestError:
                raise CorruptRecord("blob") from None
            writer = await _io(self._new_writer, blob_id)
            try:
                pending: bytes | None = None
                async for plain in self.open(blob_id):
                    # Re-chunk at this store's chunk size (the old file may differ).
                    data = (pending or b"") + plain
                    while len(data) > self.chunk_size:
                        await _io(writer.write_chunk, data[: self.chunk_size], False)
                        data = data[self.chunk_size :]
                    pending = data
                await _io(writer.write_chunk, pending or b"", True)
                await _io(writer.finish, self._path(blob_id))
            except NotFound:
                # Deleted while we re-encrypted it: drop the copy (never resurrect a blob).
                await asyncio.shield(asyncio.to_thread(writer.abort))
                continue
            except BaseException:
                await asyncio.shield(asyncio.to_thread(writer.abort))
                raise
            done += 1
        return done
