"""Backups of a SQLite data folder (``storage/backup.py``): made while the store is open,
checked fully, restored; what a damaged backup, a missing or wrong master key and an
occupied data folder answer; the maintenance lock between a backup and a disposal."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import json
import threading
from pathlib import Path

import pytest

from storage import (
    AtRestKeyError,
    AuditEvent,
    CaseState,
    StorageConfig,
    maintenance,
    open_storage,
)
from storage.backup import BackupError, backup_sqlite, restore_sqlite, verify_backup
from storage.records import Attachment
from tests.storage.conftest import T0, World, make_case, make_world

M = dt.timedelta(minutes=1)


async def _chunks(data: bytes):  # type: ignore[no-untyped-def]
    yield data


def _config(data: Path) -> StorageConfig:
    return StorageConfig(data_dir=data, master_key_env="DERMLINE_TEST_UNSET_MASTER_KEY")


async def _filled(data: Path) -> tuple[StorageConfig, str]:
    """A data folder with a case, two messages, a photo and a checkpoint; its blob id."""
    config = _config(data)
    store = await open_storage(config)
    try:
        await make_world(store)
        await make_case(store, "c1")
        for i in range(2):
            await store.append_message("c1", f"m{i}", World.gp, b"envelope %d" % i, T0 + i * M)
        blob = await store.blobs.put(_chunks(b"photo ciphertext" * 1000), max_size=1 << 20)
        await store.create_attachment(
            Attachment("a1", "c1", World.gp, blob.blob_id, b"\x01" * 32, 16, "image/jpeg", b"", T0)
        )
        await store.append_audit(AuditEvent("case.create", T0, World.gp, "c1", None, b""))
        await store.checkpoint_audit(T0 + 5 * M)
        return config, blob.blob_id
    finally:
        await store.close()


async def test_backup_verify_restore(tmp_path: Path) -> None:
    config, blob_id = await _filled(tmp_path / "live")
    manifest = backup_sqlite(config, tmp_path / "bk")
    assert set(manifest.blobs) == {blob_id}
    files = sorted(str(p.relative_to(tmp_path / "bk")) for p in (tmp_path / "bk").rglob("*"))
    assert files == [
        "blobs",
        f"blobs/{blob_id[:2]}",
        f"blobs/{blob_id[:2]}/{blob_id}.blob",
        "dermline.sqlite3",
        "manifest.json",
    ]  # and no master key, no server secret
    key = (tmp_path / "live" / "master.key").read_bytes()
    raw = base64.b64decode(key.strip())
    for path in (tmp_path / "bk").rglob("*"):
        if path.is_file():
            assert raw not in path.read_bytes() and key.strip() not in path.read_bytes()

    report = await verify_backup(tmp_path / "bk", config)
    assert (report.cases, report.messages, report.blobs) == (1, 2, 1)
    assert report.audit_checkpoints == 1

    # Restore needs the master key in the new folder (kept apart, put back by the operator).
    target = _config(tmp_path / "restored")
    with pytest.raises(BackupError):
        await restore_sqlite(tmp_path / "bk", target)
    (tmp_path / "restored").mkdir(mode=0o700)
    (tmp_path / "restored" / "master.key").write_bytes(key)
    (tmp_path / "restored" / "master.key").chmod(0o600)
    restored = await restore_sqlite(tmp_path / "bk", target)
    assert restored == report
    store = await open_storage(target)
    try:
        assert [m.envelope for m in await store.list_messages("c1")] == [
            b"envelope 0",
            b"envelope 1",
        ]
        chunks = [c async for c in store.blobs.open(blob_id)]
        assert b"".join(chunks) == b"photo ciphertext" * 1000
        await store.verify_audit()
    finally:
        await store.close()
    # Never over a folder that holds a database.
    with pytest.raises(BackupError):
        await restore_sqlite(tmp_path / "bk", target)


async def test_a_backup_is_made_while_the_store_writes(tmp_path: Path) -> None:
    """The snapshot is consistent: the messages in the backup are a gap-free prefix of what
    was written, and everything acknowledged before the backup started is in it."""
    config, _ = await _filled(tmp_path / "live")
    store = await open_storage(config)
    try:
        acked: list[int] = []
        stop = asyncio.Event()

        async def writer() -> None:
            i = 10
            while not stop.is_set():
                r = await store.append_message("c1", f"w{i}", World.gp, b"x" * 300, T0)
                acked.append(r.message.seq)
                i += 1

        task = asyncio.create_task(writer())
        await asyncio.sleep(0.2)
        before = len(acked)
        await asyncio.to_thread(backup_sqlite, config, tmp_path / "bk")
        await asyncio.sleep(0.1)
        stop.set()
        await task
    finally:
        await store.close()
    report = await verify_backup(tmp_path / "bk", config)
    assert 2 + before <= report.messages <= 2 + len(acked)


async def test_damage_and_wrong_keys_are_found(tmp_path: Path) -> None:
    config, blob_id = await _filled(tmp_path / "live")
    bk = tmp_path / "bk"
    backup_sqlite(config, bk)
    with pytest.raises(BackupError):
        backup_sqlite(config, bk)  # never into a folder that holds something

    blob = bk / "blobs" / blob_id[:2] / f"{blob_id}.blob"
    good = blob.read_bytes()
    blob.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(BackupError, match="checksum"):
        await verify_backup(bk, config)
    blob.write_bytes(good)
    extra = bk / "blobs" / "ff" / ("f" * 32 + ".blob")
    extra.parent.mkdir()
    extra.write_bytes(b"stray")
    with pytest.raises(BackupError, match="does not name"):
        await verify_backup(bk, config)
    extra.unlink()
    manifest = json.loads((bk / "manifest.json").read_text())
    (bk / "manifest.json").write_text(json.dumps({**manifest, "format": "other"}))
    with pytest.raises(BackupError, match="manifest"):
        await verify_backup(bk, config)
    (bk / "manifest.json").write_text(json.dumps(manifest))

    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    with pytest.raises(BackupError, match="no master key"):
        await verify_backup(bk, dataclasses.replace(config, data_dir=other))
    assert not (other / "master.key").exists()  # never created by a check
    store = await open_storage(_config(other))  # makes another master key there
    await store.close()
    with pytest.raises(AtRestKeyError):
        await verify_backup(bk, dataclasses.replace(config, data_dir=other))
    await verify_backup(bk, config)  # and the backup itself is still whole


async def test_a_disposal_waits_for_a_backup_in_progress(tmp_path: Path) -> None:
    config, _ = await _filled(tmp_path / "live")
    store = await open_storage(config)
    try:
        await store.transition_case("c1", CaseState.SUBMITTED, CaseState.WITHDRAWN, T0)
        now = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
        held = threading.Event()
        release = threading.Event()

        def backup_holding_the_lock() -> None:
            with maintenance.hold(config.resolved_blob_dir):
                held.set()
                release.wait(10)

        thread = threading.Thread(target=backup_holding_the_lock)
        thread.start()
        await asyncio.to_thread(held.wait, 10)
        disposal = asyncio.create_task(store.dispose_case("c1", now))
        await asyncio.sleep(0.5)
        assert not disposal.done()  # waiting for the backup
        assert len(await store.list_messages("c1")) == 2
        release.set()
        result = await asyncio.wait_for(disposal, 10)
        thread.join()
        assert result.messages == 2
    finally:
        await store.close()
