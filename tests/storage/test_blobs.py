"""Blob stores: the contract on every store (streaming, size cap, nothing stored on a
failure), then the filesystem store's own properties (encryption, private files, no partial
files left, tampering, cancellation, a bounded heap)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import BlobTooLarge, CorruptRecord, NotFound, Storage
from storage._memory_blobs import MemoryBlobStore
from storage.blobs import FileBlobStore


async def stream(data: bytes, piece: int = 7777) -> AsyncIterator[bytes]:
    for i in range(0, len(data), piece):
        yield data[i : i + piece]


async def collect(it: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in it])


def stored_ids(store: Storage) -> list[str]:
    """The ids of every blob the store holds (both stores list them; not in the protocol)."""
    assert isinstance(store.blobs, FileBlobStore | MemoryBlobStore)
    return store.blobs.blob_ids()


def blob_files(store: Storage) -> list[Path]:
    assert isinstance(store.blobs, FileBlobStore)
    return sorted(store.blobs.root.glob("??/*.blob"))


def partial_files(store: Storage) -> list[Path]:
    assert isinstance(store.blobs, FileBlobStore)
    return sorted((store.blobs.root / "tmp").iterdir())


# --------------------------------------------------------------------------- every store


@pytest.mark.parametrize("size", [0, 1, 1024 * 1024 - 1, 1024 * 1024, 1024 * 1024 + 1, 3_500_001])
async def test_roundtrip_at_chunk_boundaries(store: Storage, size: int) -> None:
    data = os.urandom(size)
    info = await store.blobs.put(stream(data), max_size=10 * 1024 * 1024)
    assert (info.size, info.sha256) == (size, hashlib.sha256(data).digest())
    assert await collect(store.blobs.open(info.blob_id)) == data
    assert stored_ids(store) == [info.blob_id]


async def test_reads_stream_in_chunks(store: Storage) -> None:
    data = os.urandom(3 * 1024 * 1024 + 5)
    info = await store.blobs.put(stream(data, 1 << 20), max_size=1 << 30)
    sizes = [len(c) async for c in store.blobs.open(info.blob_id)]
    assert max(sizes) <= 1024 * 1024 and len(sizes) == 4


async def test_size_cap_stores_nothing(store: Storage) -> None:
    with pytest.raises(BlobTooLarge) as e:
        await store.blobs.put(stream(b"x" * 1001), max_size=1000)
    assert e.value.limit == 1000
    assert stored_ids(store) == []
    info = await store.blobs.put(stream(b"x" * 1000), max_size=1000)  # the cap itself fits
    assert stored_ids(store) == [info.blob_id]


async def test_failing_stream_stores_nothing(store: Storage) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"a" * 100
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.blobs.put(broken(), max_size=1000)
    assert stored_ids(store) == []


async def test_unknown_and_malformed_ids(store: Storage) -> None:
    with pytest.raises(NotFound):
        await collect(store.blobs.open("0" * 32))
    with pytest.raises(NotFound):
        await collect(store.blobs.open("../../etc/passwd"))
    await store.blobs.delete("0" * 32)  # idempotent


async def test_delete(store: Storage) -> None:
    info = await store.blobs.put(stream(b"abc"), max_size=10)
    await store.blobs.delete(info.blob_id)
    with pytest.raises(NotFound):
        await collect(store.blobs.open(info.blob_id))
    assert stored_ids(store) == []


async def test_non_bytes_chunks_are_refused(store: Storage) -> None:
    from storage import InvalidArgument

    async def bad() -> AsyncIterator[bytes]:
        yield "text"  # type: ignore[misc]

    with pytest.raises(InvalidArgument):
        await store.blobs.put(bad(), max_size=100)
    with pytest.raises(InvalidArgument):
        await store.blobs.put(stream(b""), max_size=-1)
    assert stored_ids(store) == []


# --------------------------------------------------------------------------- the file store


@pytest.mark.parametrize("size", [0, 64, 1024 * 1024 + 1])
async def test_blob_files_are_private_and_sealed(sql_store: Storage, size: int) -> None:
    data = os.urandom(size)
    await sql_store.blobs.put(stream(data), max_size=10 * 1024 * 1024)
    [path] = blob_files(sql_store)
    assert path.stat().st_mode & 0o077 == 0
    if size >= 64:
        assert data[:64] not in path.read_bytes()


async def test_refused_streams_leave_no_partial_file(sql_store: Storage) -> None:
    from storage import InvalidArgument

    async def bad() -> AsyncIterator[bytes]:
        yield b"ok"
        yield "text"  # type: ignore[misc]

    with pytest.raises(BlobTooLarge):
        await sql_store.blobs.put(stream(b"x" * 1001), max_size=1000)
    with pytest.raises(InvalidArgument):
        await sql_store.blobs.put(bad(), max_size=100)
    assert blob_files(sql_store) == [] and partial_files(sql_store) == []


@pytest.mark.parametrize("damage", ["flip", "truncate_chunk", "drop_last_chunk", "header"])
async def test_tampering_is_detected(sql_store: Storage, damage: str) -> None:
    data = os.urandom(2 * 1024 * 1024 + 10)
    info = await sql_store.blobs.put(stream(data), max_size=1 << 30)
    [path] = blob_files(sql_store)
    raw = bytearray(path.read_bytes())
    step = 1024 * 1024 + 16
    if damage == "flip":
        raw[44 + step + 100] ^= 1
    elif damage == "truncate_chunk":
        raw = raw[:-5]
    elif damage == "drop_last_chunk":
        raw = raw[: 44 + 2 * step]
    else:
        raw[10] ^= 1  # the salt: wrong subkey
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptRecord):
        await collect(sql_store.blobs.open(info.blob_id))


async def test_blob_moved_to_another_id_does_not_open(sql_store: Storage) -> None:
    a = await sql_store.blobs.put(stream(b"first"), max_size=100)
    b = await sql_store.blobs.put(stream(b"second"), max_size=100)
    assert isinstance(sql_store.blobs, FileBlobStore)
    pa = sql_store.blobs.root / a.blob_id[:2] / f"{a.blob_id}.blob"
    pb = sql_store.blobs.root / b.blob_id[:2] / f"{b.blob_id}.blob"
    pb.write_bytes(pa.read_bytes())
    with pytest.raises(CorruptRecord):
        await collect(sql_store.blobs.open(b.blob_id))


async def test_stale_partial_uploads_are_swept_at_start(tmp_path: Path) -> None:
    from storage import StorageConfig, open_storage

    cfg = StorageConfig(data_dir=tmp_path, master_key_env="DERMLINE_TEST_UNSET")
    s = await open_storage(cfg)
    await s.close()
    tmp = cfg.resolved_blob_dir / "tmp"
    old, new = tmp / "a.1.part", tmp / "b.2.part"
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    os.utime(old, (0, 0))
    s = await open_storage(cfg)
    try:
        assert not old.exists() and new.exists()  # a young one may be a live upload elsewhere
    finally:
        await s.close()


async def test_a_corrupted_header_is_a_corrupt_record(sql_store: Storage) -> None:
    info = await sql_store.blobs.put(stream(b"abc"), max_size=100)
    [path] = blob_files(sql_store)
    path.write_bytes(b"garbage")
    with pytest.raises(CorruptRecord):
        await collect(sql_store.blobs.open(info.blob_id))


# --------------------------------------------------------------------------- review additions
# Backend-independent: these use the blob store directly with its own key ring.


@pytest.fixture
def blobs(tmp_path: Path) -> FileBlobStore:
    from storage.keys import PURPOSE_BLOB, KeyRing

    ring = KeyRing()
    ring.add(1, PURPOSE_BLOB, os.urandom(32), active=True)
    return FileBlobStore(tmp_path / "blobs", ring)


def leftovers(store: FileBlobStore) -> list[Path]:
    return sorted(store.root.glob("??/*.blob")) + sorted((store.root / "tmp").iterdir())


async def test_cancel_while_streaming_in_leaves_nothing(blobs: FileBlobStore) -> None:
    started = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        for _ in range(1000):
            yield os.urandom(300_000)
            started.set()
            await asyncio.sleep(0.001)

    task = asyncio.ensure_future(blobs.put(slow(), max_size=1 << 40))
    await started.wait()
    await asyncio.sleep(0.05)  # some chunks are sealed and written by now
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert leftovers(blobs) == []


async def test_cancel_during_the_final_fsync_and_rename_leaves_nothing(
    blobs: FileBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller is cancelled while the worker thread fsyncs and renames: the thread's work
    cannot be stopped, so the store waits for it and then removes the blob nobody will ever
    hear about (no orphan, and no cleanup racing the rename)."""
    from storage import blobs as blobs_mod

    in_finish = threading.Event()
    real_fsync_dir = blobs_mod._fsync_dir

    def slow_fsync_dir(path: Path) -> None:  # runs after the rename, before put returns
        in_finish.set()
        time.sleep(0.2)
        real_fsync_dir(path)

    monkeypatch.setattr(blobs_mod, "_fsync_dir", slow_fsync_dir)
    task = asyncio.ensure_future(blobs.put(stream(b"x" * 5000), max_size=10_000))
    assert await asyncio.to_thread(in_finish.wait, 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert leftovers(blobs) == []


async def test_memory_stays_bounded_by_the_chunk_size(blobs: FileBlobStore) -> None:
    """Streaming (issue 3, item 7: "never a whole file in memory"): 48 MiB in and out with
    the Python heap's peak far below the blob size."""
    total, piece = 48 * 1024 * 1024, 64 * 1024
    block = os.urandom(piece)

    async def gen() -> AsyncIterator[bytes]:
        for _ in range(total // piece):
            yield block

    tracemalloc.start()
    try:
        info = await blobs.put(gen(), max_size=total)
        _, peak_in = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        seen = 0
        async for chunk in blobs.open(info.blob_id):
            seen += len(chunk)
        _, peak_out = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == total == info.size
    assert peak_in < 8 * 1024 * 1024, peak_in
    assert peak_out < 8 * 1024 * 1024, peak_out


async def test_disk_errors_are_unavailable_not_oserror(blobs: FileBlobStore) -> None:
    from storage import Unavailable

    info = await blobs.put(stream(b"abc"), max_size=10)
    path = blobs.root / info.blob_id[:2] / f"{info.blob_id}.blob"
    path.unlink()
    path.mkdir()  # something that is not a readable file where the blob was
    with pytest.raises(Unavailable):
        await collect(blobs.open(info.blob_id))
    tmp = blobs.root / "tmp"
    tmp.rmdir()
    tmp.write_bytes(b"")  # the temp folder is gone: nowhere to write
    with pytest.raises(Unavailable):
        await blobs.put(stream(b"abc"), max_size=10)


async def test_reencryption_skips_blobs_deleted_meanwhile(
    blobs: FileBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep = await blobs.put(stream(b"kept"), max_size=10)
    gone = "f" * 32  # listed, then deleted before it is re-encrypted
    listed = [gone, keep.blob_id]
    monkeypatch.setattr(blobs, "blob_ids", lambda: sorted(listed))
    from storage.keys import PURPOSE_BLOB

    blobs._ring.add(2, PURPOSE_BLOB, os.urandom(32), active=True)
    assert await blobs.reencrypt_all() == 1
    assert await collect(blobs.open(keep.blob_id)) == b"kept"
    assert not (blobs.root / gone[:2] / f"{gone}.blob").exists()
    assert leftovers(blobs) == sorted(blobs.root.glob("??/*.blob"))
