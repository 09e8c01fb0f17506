"""Checks and conversions of the values every backend takes (``docs/storage.md``, "The
interface": ids, times, integers, text, cursors, audit events, drop records).

Both the SQL backends and the memory store call these before a unit runs, so bad input is
the same :class:`InvalidArgument` everywhere and never a driver exception.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import re
from collections.abc import Sequence
from typing import Any

from storage.errors import InvalidArgument
from storage.records import AuditEvent, CaseState

__all__ = [
    "MAX_AUDIT_DETAIL",
    "MAX_DROP_RECORDS",
    "MAX_LIMIT",
    "check_audit_event",
    "check_bytes",
    "check_epoch",
    "check_id",
    "check_int64",
    "check_limit",
    "check_text",
    "dec_cursor",
    "dt_of",
    "dt_opt",
    "enc_cursor",
    "pack_records",
    "states_of",
    "unpack_records",
    "us",
    "us_opt",
]

ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")
EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
MAX_LIMIT = 10_000
_MAX_CURSOR = 512
#: Audit entries are small, non-clinical facts (docs/storage.md, "Audit log"); a cap keeps one
#: request from growing the log without bound.
MAX_AUDIT_DETAIL = 64 * 1024
#: A submission holds at most this many drop records, each of a bounded size
#: (crypto.patient_drop: 23 + 65 + 64 KiB body + 16 < 70,000).
MAX_DROP_RECORDS = 100
_MAX_DROP_RECORD_BYTES = 70_000


def check_id(value: object, what: str) -> str:
    """An opaque id: 1..64 characters from ``[A-Za-z0-9._:-]``."""
    if not isinstance(value, str) or not ID_RE.match(value):
        raise InvalidArgument(f"malformed {what}")
    return value


def check_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise InvalidArgument(f"{what} must be bytes")
    return value


def check_limit(limit: int) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgument("limit out of range")
    return limit


def check_int64(value: object, what: str, *, minimum: int = 0) -> int:
    """An int that fits a signed 64-bit column (larger ones would make the drivers raise
    their own exceptions: sqlite3's OverflowError, asyncpg's DataError)."""
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value < 2**63:
        raise InvalidArgument(f"{what} out of range")
    return value


def check_epoch(value: object) -> int:
    """A case-key epoch: PostgreSQL keeps it in a 32-bit INTEGER column."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**31:
        raise InvalidArgument("epoch must be a non-negative 32-bit int")
    return value


def check_text(value: object, what: str, *, max_bytes: int = 0xFFFF) -> str:
    """A string that encodes to UTF-8 (no lone surrogates) within ``max_bytes``."""
    if not isinstance(value, str):
        raise InvalidArgument(f"{what} must be a string")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidArgument(f"{what} is not valid Unicode") from None
    if size > max_bytes:
        raise InvalidArgument(f"{what} too long")
    return value


def check_audit_event(event: AuditEvent) -> None:
    """Validate before the unit runs, so a malformed event is the caller's
    :class:`InvalidArgument` and never a failure inside the append transaction."""
    if not isinstance(event, AuditEvent):
        raise InvalidArgument("event must be an AuditEvent")
    if not check_text(event.action, "action", max_bytes=200):
        raise InvalidArgument("action must be a non-empty string")
    for name in ("actor_id", "target", "client_address"):
        value = getattr(event, name)
        if value is not None:
            check_text(value, name, max_bytes=1024)
    us(event.occurred_at)
    if len(check_bytes(event.detail, "detail")) > MAX_AUDIT_DETAIL:
        raise InvalidArgument("detail too long")


def us(value: _dt.datetime) -> int:
    """A timezone-aware time as integer microseconds since the epoch (UTC)."""
    if not isinstance(value, _dt.datetime) or value.tzinfo is None:
        raise InvalidArgument("times must be timezone-aware datetimes")
    return (value - EPOCH) // _dt.timedelta(microseconds=1)


def us_opt(value: _dt.datetime | None) -> int | None:
    return None if value is None else us(value)


def dt_of(micros: int) -> _dt.datetime:
    """Inverse of :func:`us` (always UTC)."""
    return EPOCH + _dt.timedelta(microseconds=micros)


def dt_opt(micros: int | None) -> _dt.datetime | None:
    return None if micros is None else dt_of(micros)


def enc_cursor(*parts: object) -> str:
    """An opaque keyset cursor: the sort key of the last row returned."""
    raw = json.dumps(list(parts), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def dec_cursor(cursor: str, types: tuple[type, ...]) -> list[Any]:
    """Decode a cursor whose parts must have ``types``; :class:`InvalidArgument` otherwise."""
    # Cursors come back from clients: bound the length before parsing (deeply nested JSON
    # would raise RecursionError) and check every part, so that an int too large for a
    # 64-bit column or a malformed id is InvalidArgument, never a driver exception.
    try:
        if not isinstance(cursor, str) or len(cursor) > _MAX_CURSOR:
            raise ValueError
        pad = "=" * (-len(cursor) % 4)
        parts = json.loads(base64.urlsafe_b64decode(cursor + pad))
        if not isinstance(parts, list) or len(parts) != len(types):
            raise ValueError
        for p, t in zip(parts, types, strict=True):
            if not isinstance(p, t) or isinstance(p, bool):
                raise ValueError
            if isinstance(p, int) and not -(2**63) <= p < 2**63:
                raise ValueError
            if isinstance(p, str) and not ID_RE.match(p):
                raise ValueError
        return parts
    except (ValueError, TypeError, RecursionError):
        raise InvalidArgument("malformed cursor") from None


def states_of(states: Sequence[CaseState]) -> list[str]:
    """A non-empty list of case states as their stored values."""
    out = [CaseState(s).value for s in states]
    if not out:
        raise InvalidArgument("states must not be empty")
    return out


def pack_records(records: Sequence[bytes]) -> bytes:
    """A patient submission's drop records, length-prefixed into one value."""
    if isinstance(records, bytes | str) or not 1 <= len(records) <= MAX_DROP_RECORDS:
        raise InvalidArgument("records must be 1..100 drop records")
    out = bytearray()
    for record in records:
        if not 1 <= len(check_bytes(record, "record")) <= _MAX_DROP_RECORD_BYTES:
            raise InvalidArgument("a drop record is empty or too long")
        out += len(record).to_bytes(4, "big") + record
    return bytes(out)


def unpack_records(packed: bytes) -> list[bytes]:
    """Inverse of :func:`pack_records`."""
    out: list[bytes] = []
    pos = 0
    while pos < len(packed):
        size = int.from_bytes(packed[pos : pos + 4], "big")
        out.append(packed[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return out
