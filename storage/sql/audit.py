# ruff: noqa: S608
# (S608: every SQL string here is assembled from module constants and our own table/column
# names; values are always bound as parameters, never interpolated.)
"""The audit log in SQL (:class:`storage.interface.AuditStore`; ``docs/storage.md``, "Audit
log"). The forms are :mod:`storage.audit`, the checkpoint signature
:mod:`crypto.audit_checkpoint`; the audit key is kept sealed in ``server_keys``."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import os

from crypto import audit_checkpoint
from crypto.errors import AuditCheckpointError
from storage import audit as audit_fmt
from storage._engine import Row, Txn
from storage._values import check_audit_event, check_int64, check_limit, dt_of, us
from storage.errors import (
    AtRestKeyError,
    AuditIntegrityError,
    CorruptRecord,
    NotFound,
    StorageError,
)
from storage.keys import UnknownDataKey
from storage.records import AuditCheckpoint, AuditEntry, AuditEvent, AuditVerification
from storage.sql._base import SqlBase, unit

__all__ = ["AuditSql"]

_AUDIT_KEY_NAME = "audit_signing_key"
#: pending entries chained per transaction (PostgreSQL; docs/storage.md section 9)
_CHAIN_BATCH = 500


class AuditSql(SqlBase):
    """:class:`storage.interface.AuditStore` over the engine."""

    #: the audit signing key's scalar and public point, loaded at start (None without
    #: at-rest encryption: the audit log needs it)
    _audit_sk: bytes | None = None
    _audit_pk: bytes = b""
    #: the task chaining pending entries (PostgreSQL), started by the append that wrote one
    _chainer: asyncio.Task[None] | None = None
    _chain_again: bool = False

    async def _init_audit(self) -> None:
        """Create the audit signing key and the chain head on first start; load the key."""
        sealed_key = self._seal(
            "server_keys",
            "value_sealed",
            _AUDIT_KEY_NAME,
            audit_checkpoint.new_signing_key(os.urandom(32)),
        )
        sealed_head = self._seal(
            "audit_head", "head_sealed", "1", audit_fmt.encode_head(0, audit_fmt.GENESIS)
        )

        async def init_txn(txn: Txn) -> bytes:
            await txn.execute(
                "INSERT INTO server_keys (name, value_sealed) VALUES (?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                _AUDIT_KEY_NAME,
                sealed_key,
            )
            await txn.execute(
                "INSERT INTO audit_head (id, head_sealed) VALUES (1, ?)"
                " ON CONFLICT (id) DO NOTHING",
                sealed_head,
            )
            row = await txn.fetchone(
                "SELECT value_sealed FROM server_keys WHERE name = ?", _AUDIT_KEY_NAME
            )
            assert row is not None
            return bytes(row[0])

        stored = await self._write(init_txn)
        der = self._open("server_keys", "value_sealed", _AUDIT_KEY_NAME, stored)
        try:
            self._audit_sk = audit_checkpoint.load_signing_key(der)
        except AuditCheckpointError:
            raise CorruptRecord("server_keys.value_sealed") from None
        self._audit_pk = audit_checkpoint.public_key(self._audit_sk)
        # Entries a crash left pending (PostgreSQL) join the chain before anything else.
        await self._chain_pending()

    def _require_audit(self) -> bytes:
        if self._audit_sk is None:
            raise AtRestKeyError("the audit log needs at-rest encryption")
        return self._audit_sk

    @unit
    async def append_audit(self, event: AuditEvent) -> AuditEntry:
        self._require_audit()
        check_audit_event(event)
        salt = os.urandom(16)
        return await self._write(lambda txn: self._append_audit_txn(txn, event, salt))

    async def _append_audit_txn(self, txn: Txn, event: AuditEvent, salt: bytes) -> AuditEntry:
        """Append ``event`` inside the caller's transaction (a unit that must record its
        own audit entry atomically, such as a disposal); the event is checked already.
        Pending entries (PostgreSQL) committed before this unit are chained first, so the
        chain keeps the order in which entries were committed."""
        seq, prev = await self._lock_head_txn(txn)
        seq, prev, _ = await self._drain_pending_txn(txn, seq, prev)
        seq += 1
        entry_hash = await self._insert_entry_txn(
            txn, seq, prev, audit_fmt.encode_canonical(seq, event, salt)
        )
        await self._set_head_txn(txn, seq, entry_hash)
        return AuditEntry(seq, event, prev, entry_hash)

    async def _lock_head_txn(self, txn: Txn) -> tuple[int, bytes]:
        """The chain head (seq, hash), locked until commit on PostgreSQL."""
        head = await txn.fetchone(
            f"SELECT head_sealed FROM audit_head WHERE id = 1{txn.dialect.for_update}"
        )
        assert head is not None
        return audit_fmt.decode_head(self._open("audit_head", "head_sealed", "1", head[0]))

    async def _insert_entry_txn(self, txn: Txn, seq: int, prev: bytes, canonical: bytes) -> bytes:
        entry_hash = audit_fmt.chain_hash(prev, canonical)
        await txn.execute(
            "INSERT INTO audit_log (seq, prev_hash, entry_hash, content_sealed)"
            " VALUES (?, ?, ?, ?)",
            seq,
            prev,
            entry_hash,
            self._seal("audit_log", "content_sealed", str(seq), canonical),
        )
        return entry_hash

    async def _set_head_txn(self, txn: Txn, seq: int, entry_hash: bytes) -> None:
        await txn.execute(
            "UPDATE audit_head SET head_sealed = ? WHERE id = 1",
            self._seal("audit_head", "head_sealed", "1", audit_fmt.encode_head(seq, entry_hash)),
        )

    # ------------------------------------------------------------------ entries of messages

    def _audit_in_message_txn(self, event: AuditEvent) -> tuple[str, bytes, bytes]:
        """What a message append needs to record ``event`` in its own transaction: a pending
        row's id and sealed content (PostgreSQL) and the salt (SQLite chains inline)."""
        self._require_audit()
        check_audit_event(event)
        salt = os.urandom(16)
        pending_id = os.urandom(16).hex()
        sealed = b""
        if self.dialect.server_side_append:
            sealed = self._seal(
                "audit_pending",
                "content_sealed",
                pending_id,
                audit_fmt.encode_canonical(0, event, salt),
            )
        return pending_id, sealed, salt

    async def _drain_pending_txn(self, txn: Txn, seq: int, prev: bytes) -> tuple[int, bytes, int]:
        """Chain up to ``_CHAIN_BATCH`` pending entries after the head ``(seq, prev)``, which
        the caller holds locked; returns the new head and how many rows were read. A row that
        does not open (edited, or moved from another row) stays where it is, for
        ``verify_audit`` to report."""
        if not txn.dialect.server_side_append:
            return seq, prev, 0  # SQLite chains message entries inline: nothing is pending
        rows = await txn.fetchall(
            "SELECT pending_id, content_sealed FROM audit_pending ORDER BY pos LIMIT ?",
            _CHAIN_BATCH,
        )
        chained: list[tuple[str]] = []
        for pending_id, sealed in rows:
            try:
                pending = self._open("audit_pending", "content_sealed", str(pending_id), sealed)
                _, event = audit_fmt.decode_canonical(pending)
            except (CorruptRecord, ValueError):
                continue
            seq += 1
            # The entry's salt is the pending form's last 16 bytes (storage.audit).
            canonical = audit_fmt.encode_canonical(seq, event, pending[-16:])
            prev = await self._insert_entry_txn(txn, seq, prev, canonical)
            chained.append((str(pending_id),))
        if chained:
            await txn.executemany("DELETE FROM audit_pending WHERE pending_id = ?", chained)
            await self._set_head_txn(txn, seq, prev)
        return seq, prev, len(rows)

    async def _chain_pending_txn(self, txn: Txn) -> int:
        seq, prev = await self._lock_head_txn(txn)
        _, _, n = await self._drain_pending_txn(txn, seq, prev)
        return n

    async def _chain_pending(self) -> None:
        """Chain every pending entry now (PostgreSQL), one batch per transaction."""
        if not self.dialect.server_side_append or self._audit_sk is None:
            return
        while True:
            try:
                n = await self._write(self._chain_pending_txn)
            except UnknownDataKey:  # a rotation in another process: reload, go on
                await self._load_ring()
                continue
            if n < _CHAIN_BATCH:
                return

    def _kick_chainer(self) -> None:
        """A pending entry was committed: make sure the chainer runs (one task per process;
        entries committed while it works go into its next batch)."""
        self._chain_again = True
        if self._chainer is None or self._chainer.done():
            self._chainer = asyncio.get_running_loop().create_task(self._chain_loop())

    async def _chain_loop(self) -> None:
        while self._chain_again:
            self._chain_again = False
            try:
                await self._chain_pending()
            except (StorageError, OSError):
                # Left pending: the next send, append_audit, checkpoint, list or verify
                # chains it (and a restart: storage start chains what a crash left).
                return

    async def _finish_chaining(self) -> None:
        """At close: let the chainer finish its batch."""
        task = self._chainer
        if task is not None:
            with contextlib.suppress(Exception):
                await task

    def _audit_entry(self, r: Row) -> AuditEntry:
        seq = int(r[0])
        canonical = self._open("audit_log", "content_sealed", str(seq), r[3])
        try:
            _, event = audit_fmt.decode_canonical(canonical)
        except ValueError:
            raise CorruptRecord("audit_log.content_sealed") from None
        return AuditEntry(seq, event, bytes(r[1]), bytes(r[2]))

    @unit
    async def list_audit(self, *, after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        n = check_limit(limit)
        check_int64(after_seq, "after_seq")
        # Entries committed with their messages join the chain first (PostgreSQL), so a
        # reader sees every committed entry.
        await self._chain_pending()
        rows = await self._read(
            lambda txn: txn.fetchall(
                "SELECT seq, prev_hash, entry_hash, content_sealed FROM audit_log"
                " WHERE seq > ? ORDER BY seq LIMIT ?",
                after_seq,
                n,
            )
        )
        return [self._audit_entry(r) for r in rows]

    @unit
    async def checkpoint_audit(self, now: _dt.datetime) -> AuditCheckpoint:
        sk = self._require_audit()
        when = us(now)

        async def checkpoint_txn(txn: Txn) -> AuditCheckpoint:
            # The head row lock (PostgreSQL) serialises this with appends and with another
            # checkpoint of the same head, which would otherwise meet a unique violation.
            seq, h = await self._lock_head_txn(txn)
            # What is pending now is committed: the checkpoint covers it too.
            n = _CHAIN_BATCH
            while n == _CHAIN_BATCH:
                seq, h, n = await self._drain_pending_txn(txn, seq, h)
            if seq == 0:
                raise NotFound("audit_entry")
            existing = await txn.fetchone(
                "SELECT seq, entry_hash, signature, created_at FROM audit_checkpoints"
                " WHERE seq = ?",
                seq,
            )
            if existing is not None:
                return AuditCheckpoint(
                    seq, bytes(existing[1]), bytes(existing[2]), dt_of(existing[3])
                )
            sig = audit_checkpoint.sign_checkpoint(sk, seq, h, when)
            await txn.execute(
                "INSERT INTO audit_checkpoints (seq, entry_hash, signature, created_at)"
                " VALUES (?, ?, ?, ?)",
                seq,
                h,
                sig,
                when,
            )
            return AuditCheckpoint(seq, h, sig, dt_of(when))

        return await self._write(checkpoint_txn)

    @unit
    async def verify_audit(self) -> AuditVerification:
        """Re-derive the chain and check every checkpoint (``docs/storage.md``, "Audit log").

        Safe beside live appends: the order of the reads is what makes it so. Checkpoints are
        read first, then the sealed head, then the entries. Every checkpoint read covers an
        entry at or below the head read after it, and every entry at or below that head was
        committed together with (or before) it, so nothing appended meanwhile can look like
        a truncation. Entries appended after the head was read are verified too (they must
        still decrypt under their seq and chain on), they just are not required.
        """
        self._require_audit()
        await self._chain_pending()
        checkpoints = await self._read(
            lambda txn: txn.fetchall(
                "SELECT seq, entry_hash, signature, created_at FROM audit_checkpoints ORDER BY seq"
            )
        )
        for seq, h, sig, created in checkpoints:
            try:
                audit_checkpoint.verify_checkpoint(
                    self._audit_pk, int(seq), bytes(h), int(created), bytes(sig)
                )
            except AuditCheckpointError:
                raise AuditIntegrityError(int(seq), "bad_checkpoint") from None
        wanted = {int(r[0]): bytes(r[1]) for r in checkpoints}
        head = await self._read(
            lambda txn: txn.fetchone("SELECT head_sealed FROM audit_head WHERE id = 1")
        )
        try:
            if head is None:
                raise ValueError("no audit head")
            head_seq, head_hash = audit_fmt.decode_head(
                self._open("audit_head", "head_sealed", "1", head[0])
            )
        except (CorruptRecord, ValueError):
            raise AuditIntegrityError(1, "truncated") from None
        check = audit_fmt.ChainCheck(wanted, head_seq, head_hash)
        batch = 1000
        while True:
            after = check.expected - 1
            rows = await self._read(
                lambda txn, after=after: txn.fetchall(  # type: ignore[misc]
                    "SELECT seq, prev_hash, entry_hash, content_sealed FROM audit_log"
                    " WHERE seq > ? ORDER BY seq LIMIT ?",
                    after,
                    batch,
                )
            )
            for seq_v, prev_hash, entry_hash, sealed in rows:
                seq = int(seq_v)
                canonical: bytes | None = None
                if seq == check.expected:  # (a gap is reported before anything is opened)
                    try:
                        canonical = self._open("audit_log", "content_sealed", str(seq), sealed)
                    except CorruptRecord:
                        canonical = None
                check.entry(seq, bytes(prev_hash), bytes(entry_hash), canonical)
            if len(rows) < batch:
                break
        result = check.finish()
        # A pending entry that would not chain (its content does not open under its row id)
        # was edited or moved: tampering, named at the seq it would have taken.
        pending = await self._read(
            lambda txn: txn.fetchall("SELECT pending_id, content_sealed FROM audit_pending")
        )
        for pending_id, sealed in pending:
            try:
                audit_fmt.decode_canonical(
                    self._open("audit_pending", "content_sealed", str(pending_id), sealed)
                )
            except (CorruptRecord, ValueError):
                raise AuditIntegrityError(check.expected, "undecryptable") from None
        return result
