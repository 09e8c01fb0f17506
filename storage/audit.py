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

from storage.records import AuditEvent

__all__ = [
    "GENESIS",
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
