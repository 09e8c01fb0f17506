"""The audit log (issue 3, item 8): hash chain, signed checkpoints, and tampering directly in
the database (edit, delete, swap, truncate) that ``verify_audit`` detects and locates."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from crypto import audit_checkpoint
from storage import AuditEvent, AuditIntegrityError, NotFound, Storage
from storage import audit as audit_fmt
from tests.storage.conftest import T0, Raw


async def fill(store: Storage, n: int = 6) -> None:
    for i in range(n):
        await store.append_audit(
            AuditEvent(
                "case.view",
                T0 + dt.timedelta(seconds=i),
                actor_id=f"user-{i}",
                target="case-1",
                client_address="198.51.100.4",
                detail=bytes([i]),
            )
        )


async def test_append_list_verify_and_checkpoint(store: Storage) -> None:
    empty = await store.verify_audit()
    assert (empty.entries, empty.head_hash) == (0, audit_fmt.GENESIS)
    with pytest.raises(NotFound):
        await store.checkpoint_audit(T0)
    await fill(store, 3)
    entries = await store.list_audit()
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == audit_fmt.GENESIS
    assert entries[1].prev_hash == entries[0].entry_hash
    assert entries[2].event.actor_id == "user-2" and entries[2].event.detail == b"\x02"
    assert entries[2].event.occurred_at == T0 + dt.timedelta(seconds=2)
    cp = await store.checkpoint_audit(T0)
    assert (cp.seq, cp.entry_hash) == (3, entries[2].entry_hash)
    assert await store.checkpoint_audit(T0 + dt.timedelta(hours=1)) == cp  # same head
    assert cp.created_at == T0
    assert (await store.verify_audit()).checkpoints == 1
    await fill(store, 2)
    ok = await store.verify_audit()
    assert (ok.entries, ok.checkpoints, ok.head_seq) == (5, 1, 5)
    assert [e.seq for e in await store.list_audit(after_seq=3, limit=1)] == [4]


def expect(seq: int, reason: str) -> Any:
    return pytest.raises(AuditIntegrityError, match=rf"entry {seq}: {reason}$")


async def test_edit_of_content_is_detected(sql_store: Storage, raw: Raw) -> None:
    await fill(sql_store)
    [(blob,)] = await raw("SELECT content_sealed FROM audit_log WHERE seq = 3")
    edited = bytes(blob[:-1]) + bytes([blob[-1] ^ 1])
    await raw("UPDATE audit_log SET content_sealed = ? WHERE seq = 3", edited)
    with expect(3, "undecryptable") as e:
        await sql_store.verify_audit()
    assert e.value.seq == 3


async def test_edit_of_hash_is_detected(sql_store: Storage, raw: Raw) -> None:
    await fill(sql_store)
    await raw("UPDATE audit_log SET entry_hash = ? WHERE seq = 4", b"\x00" * 32)
    with expect(4, "hash_mismatch"):
        await sql_store.verify_audit()


async def test_edit_of_prev_hash_is_detected(sql_store: Storage, raw: Raw) -> None:
    await fill(sql_store)
    await raw("UPDATE audit_log SET prev_hash = ? WHERE seq = 2", b"\x01" * 32)
    with expect(2, "chain_broken"):
        await sql_store.verify_audit()


async def test_deletion_is_detected(sql_store: Storage, raw: Raw) -> None:
    await fill(sql_store)
    await raw("DELETE FROM audit_log WHERE seq = 3")
    with expect(3, "gap"):
        await sql_store.verify_audit()


async def test_deletion_with_renumbering_is_detected(sql_store: Storage, raw: Raw) -> None:
    """A careful attacker deletes entry 3 and renumbers the rest to close the gap."""
    await fill(sql_store)
    await raw("DELETE FROM audit_log WHERE seq = 3")
    for seq in (4, 5, 6):
        await raw("UPDATE audit_log SET seq = ? WHERE seq = ?", seq - 1, seq)
    with expect(3, "undecryptable"):
        await sql_store.verify_audit()


async def test_swap_of_contents_is_detected(sql_store: Storage, raw: Raw) -> None:
    await fill(sql_store)
    rows = await raw(
        "SELECT seq, prev_hash, entry_hash, content_sealed FROM audit_log"
        " WHERE seq IN (3, 4) ORDER BY seq"
    )
    (_, p3, h3, c3), (_, p4, h4, c4) = rows
    await raw(
        "UPDATE audit_log SET prev_hash = ?, entry_hash = ?, content_sealed = ? WHERE seq = 3",
        p4,
        h4,
        c4,
    )
    await raw(
        "UPDATE audit_log SET prev_hash = ?, entry_hash = ?, content_sealed = ? WHERE seq = 4",
        p3,
        h3,
        c3,
    )
    with expect(3, "undecryptable"):
        await sql_store.verify_audit()


async def test_swap_of_sequence_numbers_is_detected(sql_store: Storage, raw: Raw) -> None:
    await fill(sql_store)
    await raw("UPDATE audit_log SET seq = 100 WHERE seq = 2")
    await raw("UPDATE audit_log SET seq = 2 WHERE seq = 5")
    await raw("UPDATE audit_log SET seq = 5 WHERE seq = 100")
    with expect(2, "undecryptable"):
        await sql_store.verify_audit()


async def test_truncation_after_checkpoint_is_detected(sql_store: Storage, raw: Raw) -> None:
    await fill(sql_store)
    await sql_store.checkpoint_audit(T0)
    await raw("DELETE FROM audit_log WHERE seq >= 5")
    with expect(5, "truncated"):
        await sql_store.verify_audit()


async def test_truncation_of_unchecked_tail_is_detected_by_sealed_head(
    sql_store: Storage, raw: Raw
) -> None:
    await fill(sql_store)
    await raw("DELETE FROM audit_log WHERE seq = 6")
    with expect(6, "truncated"):
        await sql_store.verify_audit()


async def test_forged_checkpoint_is_detected(sql_store: Storage, raw: Raw) -> None:
    await fill(sql_store)
    await sql_store.checkpoint_audit(T0)
    forger = ec.generate_private_key(ec.SECP256R1())
    [(h,)] = await raw("SELECT entry_hash FROM audit_checkpoints WHERE seq = 6")
    message = audit_checkpoint.checkpoint_message(6, bytes(h), 0)
    sig = forger.sign(message, ec.ECDSA(hashes.SHA256()))
    await raw("UPDATE audit_checkpoints SET signature = ?, created_at = 0 WHERE seq = 6", sig)
    with expect(6, "bad_checkpoint"):
        await sql_store.verify_audit()


async def test_canonical_form_roundtrip_and_rejects_garbage() -> None:
    ev = AuditEvent("x", T0, actor_id=None, target="t", client_address=None, detail=b"d")
    canon = audit_fmt.encode_canonical(9, ev, b"s" * 16)
    assert audit_fmt.decode_canonical(canon) == (9, ev)
    for bad in (canon[:-1], canon + b"x", b"\x02" + canon[1:], canon[:17] + b"\x07" + canon[18:]):
        with pytest.raises(ValueError):
            audit_fmt.decode_canonical(bad)
    with pytest.raises(ValueError):
        audit_fmt.encode_canonical(1, ev, b"short")
    with pytest.raises(ValueError):
        audit_fmt.decode_head(b"short")
