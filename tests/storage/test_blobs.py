"""The filesystem blob store: streaming, encryption, atomicity, size cap, tampering."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import BlobTooLarge, CorruptRecord, NotFound, Storage
from storage.blobs import FileBlobStore


async def stream(data: bytes, piece: int = 7777) -> AsyncIterator[bytes]:
    for i in range(0, len(data), piece):
        yield data[i : i + piece]


async def collect(it: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in it])


def blob_files(store: Storage) -> list[Path]:
    assert isinstance(store.blobs, FileBlobStore)
    return sorted(store.blobs.root.glob("??/*.blob"))


@pytest.mark.parametrize("size", [0, 1, 1024 * 1024 - 1, 1024 * 1024, 1024 * 1024 + 1, 3_500_001])
async def test_roundtrip_at_chunk_boundaries(store: Storage, size: int) -> None:
    data = os.urandom(size)
    info = await store.blobs.put(stream(data), max_size=10 * 1024 * 1024)
    assert (info.size, info.sha256) == (size, hashlib.sha256(data).digest())
    assert await collect(store.blobs.open(info.blob_id)) == data
    assert await store.blobs.size(info.blob_id) == size
    [path] = blob_files(store)
    assert path.stat().st_mode & 0o077 == 0
    if size >= 64:
        assert data[:64] not in path.read_bytes()


async def test_reads_stream_in_chunks(store: Storage) -> None:
    data = os.urandom(3 * 1024 * 1024 + 5)
    info = await store.blobs.put(stream(data, 1 << 20), max_size=1 << 30)
    sizes = [len(c) async for c in store.blobs.open(info.blob_id)]
    assert max(sizes) <= 1024 * 1024 and len(sizes) == 4


async def test_size_cap_stores_nothing(store: Storage) -> None:
    with pytest.raises(BlobTooLarge) as e:
        await store.blobs.put(stream(b"x" * 1001), max_size=1000)
    assert e.value.limit == 1000
    assert blob_files(store) == []
    assert isinstance(store.blobs, FileBlobStore)
    assert list((store.blobs.root / "tmp").iterdir()) == []


async def test_failing_stream_stores_nothing(store: Storage) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"a" * 100
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.blobs.put(broken(), max_size=1000)
    assert blob_files(store) == []


async def test_unknown_and_malformed_ids(store: Storage) -> None:
    with pytest.raises(NotFound):
        await collect(store.blobs.open("0" * 32))
    with pytest.raises(NotFound):
        await collect(store.blobs.open("../../etc/passwd"))
    with pytest.raises(NotFound):
        await store.blobs.size("0" * 32)
    await store.blobs.delete("0" * 32)  # idempotent


async def test_delete(store: Storage) -> None:
    info = await store.blobs.put(stream(b"abc"), max_size=10)
    await store.blobs.delete(info.blob_id)
    with pytest.raises(NotFound):
        await collect(store.blobs.open(info.blob_id))


@pytest.mark.parametrize("damage", ["flip", "truncate_chunk", "drop_last_chunk", "header"])
async def test_tampering_is_detected(store: Storage, damage: str) -> None:
    data = os.urandom(2 * 1024 * 1024 + 10)
    info = await store.blobs.put(stream(data), max_size=1 << 30)
    [path] = blob_files(store)
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
        await collect(store.blobs.open(info.blob_id))


async def test_blob_moved_to_another_id_does_not_open(store: Storage) -> None:
    a = await store.blobs.put(stream(b"first"), max_size=100)
    b = await store.blobs.put(stream(b"second"), max_size=100)
    assert isinstance(store.blobs, FileBlobStore)
    pa = store.blobs.root / a.blob_id[:2] / f"{a.blob_id}.blob"
    pb = store.blobs.root / b.blob_id[:2] / f"{b.blob_id}.blob"
    pb.write_bytes(pa.read_bytes())
    with pytest.raises(CorruptRecord):
        await collect(store.blobs.open(b.blob_id))


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


async def test_non_bytes_chunks_are_refused(store: Storage) -> None:
    from storage import InvalidArgument

    async def bad() -> AsyncIterator[bytes]:
        yield "text"  # type: ignore[misc]

    with pytest.raises(InvalidArgument):
        await store.blobs.put(bad(), max_size=100)
    with pytest.raises(InvalidArgument):
        await store.blobs.put(stream(b""), max_size=-1)
    assert blob_files(store) == []


async def test_size_of_a_corrupted_header(store: Storage) -> None:
    info = await store.blobs.put(stream(b"abc"), max_size=100)
    [path] = blob_files(store)
    path.write_bytes(b"garbage")
    with pytest.raises(CorruptRecord):
        await store.blobs.size(info.blob_id)
    with pytest.raises(CorruptRecord):
        await collect(store.blobs.open(info.blob_id))
