"""The audit chain's binary forms (``docs/storage.md``, "Audit log").

Each entry's **canonical form** is hashed into the chain; the same bytes are what is sealed at
rest (column ``audit_log.content_sealed``, row id = the sequence number)::

    canonical = 0x01 | seq:u64be | occurred_at_us:i64be | opt(actor) | lp(action)
                | opt(target) | opt(client_address) | lp32(detail) | salt:16
    opt(x)    = 0x00 (absent) | 0x01 lp(x)            lp(x) = len:u16be | UTF-8
    entry_hash = SHA-256("dermline/audit/v1" | prev_hash | canonical)     (genesis: 32 x 0x00)

Why hash the plaintext canonical form rather than the stored ciphertext: a key rotation
re-encrypts every row, which would change a ciphertext hash and break every signed
checkpoint; the plaintext form is stable across rotations. The random 16-byte salt inside
the (sealed) canonical form keeps the clear ``entry_hash`` from confirming a guess such as
"user X viewed case Y" by brute force.

A **checkpoint** signs the head (seq, entry_hash, time) with the server's audit key: the
recipe and its format are :mod:`crypto.audit_checkpoint`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import struct
from collections.abc import Mapping

from storage.errors import AuditIntegrityError
from storage.records import AuditEvent, AuditVerification

__all__ = [
    "GENESIS",
    "ChainCheck",
    "chain_hash",
    "decode_canonical",
    "decode_head",
    "encode_canonical",
    "encode_head",
]

GENESIS = bytes(32)
_VERSION = 1
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


def _us(value: _dt.datetime) -> int:
    return (value - _EPOCH) // _dt.timedelta(microseconds=1)


def _lp(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise ValueError("audit field too long")
    return struct.pack(">H", len(raw)) + raw


def _opt(text: str | None) -> bytes:
    return b"\x00" if text is None else b"\x01" + _lp(text)


def encode_canonical(seq: int, event: AuditEvent, salt: bytes) -> bytes:
    """The canonical binary form of entry ``seq``."""
    if len(salt) != 16:
        raise ValueError("salt must be 16 bytes")
    return (
        struct.pack(">BQq", _VERSION, seq, _us(event.occurred_at))
        + _opt(event.actor_id)
        + _lp(event.action)
        + _opt(event.target)
        + _opt(event.client_address)
        + struct.pack(">I", len(event.detail))
        + event.detail
        + salt
    )


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("truncated audit entry")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def text(self) -> str:
        (n,) = struct.unpack(">H", self.take(2))
        return self.take(n).decode("utf-8")

    def opt(self) -> str | None:
        flag = self.take(1)
        if flag == b"\x00":
            return None
        if flag != b"\x01":
            raise ValueError("bad optional flag")
        return self.text()


def decode_canonical(data: bytes) -> tuple[int, AuditEvent]:
    """Parse a canonical form; ``ValueError`` if malformed."""
    r = _Reader(data)
    version, seq, us = struct.unpack(">BQq", r.take(17))
    if version != _VERSION:
        raise ValueError("unknown audit entry version")
    actor = r.opt()
    action = r.text()
    target = r.opt()
    address = r.opt()
    (n,) = struct.unpack(">I", r.take(4))
    detail = r.take(n)
    r.take(16)
    if r.pos != len(data):
        raise ValueError("trailing bytes in audit entry")
    event = AuditEvent(
        action=action,
        occurred_at=_EPOCH + _dt.timedelta(microseconds=us),
        actor_id=actor,
        target=target,
        client_address=address,
        detail=detail,
    )
    return seq, event


def chain_hash(prev_hash: bytes, canonical: bytes) -> bytes:
    """``entry_hash`` of an entry given the previous entry's hash."""
    return hashlib.sha256(b"dermline/audit/v1" + prev_hash + canonical).digest()


def encode_head(seq: int, head_hash: bytes) -> bytes:
    """The sealed head record: seq and hash of the newest entry."""
    return struct.pack(">Q", seq) + head_hash


def decode_head(data: bytes) -> tuple[int, bytes]:
    """Inverse of :func:`encode_head`."""
    if len(data) != 40:
        raise ValueError("bad audit head")
    (seq,) = struct.unpack(">Q", data[:8])
    return seq, data[8:]


class ChainCheck:
    """Re-derives the chain entry by entry and names the first bad one (``verify_audit`` of
    every backend feeds it). Built with the checkpointed hashes (signatures already
    checked by the caller) and the head as stored; entries are fed in ``seq`` order, each
    with its canonical form, or None if that did not open (``undecryptable``)."""

    def __init__(self, checkpoints: Mapping[int, bytes], head_seq: int, head_hash: bytes) -> None:
        self._wanted = dict(checkpoints)
        self._head_seq = head_seq
        self._head_hash = head_hash
        self._hash_at_head: bytes | None = GENESIS if head_seq == 0 else None
        self.prev = GENESIS
        #: the seq the next entry must have
        self.expected = 1

    def entry(self, seq: int, prev_hash: bytes, entry_hash: bytes, canonical: bytes | None) -> None:
        """Check the next entry; :class:`AuditIntegrityError` if it breaks the chain."""
        if seq != self.expected:
            raise AuditIntegrityError(self.expected, "gap")
        try:
            if canonical is None:
                raise ValueError("did not open")
            inner_seq, _ = decode_canonical(canonical)
        except ValueError:
            raise AuditIntegrityError(seq, "undecryptable") from None
        if inner_seq != seq:
            raise AuditIntegrityError(seq, "undecryptable")
        if prev_hash != self.prev:
            raise AuditIntegrityError(seq, "chain_broken")
        computed = chain_hash(self.prev, canonical)
        if computed != entry_hash:
            raise AuditIntegrityError(seq, "hash_mismatch")
        if seq in self._wanted and self._wanted[seq] != computed:
            raise AuditIntegrityError(seq, "bad_checkpoint")
        if seq == self._head_seq:
            self._hash_at_head = computed
        self.prev = computed
        self.expected += 1

    def finish(self) -> AuditVerification:
        """After the last entry: nothing checkpointed or recorded in the head is missing."""
        last = self.expected - 1
        if self._wanted and max(self._wanted) > last:
            raise AuditIntegrityError(last + 1, "truncated")
        if last < self._head_seq:
            raise AuditIntegrityError(last + 1, "truncated")
        if self._hash_at_head != self._head_hash:
            raise AuditIntegrityError(max(self._head_seq, 1), "truncated")
        return AuditVerification(last, len(self._wanted), last, self.prev)
