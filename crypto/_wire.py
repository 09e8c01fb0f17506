"""Private helpers for Dermline v1 binary records: the common prefix, fixed-width integers,
UUIDs and a strict reader that never reads past the end and refuses trailing bytes.

Every record of protocol v1 starts with three bytes::

    version (0x01) | suite | record type

    suite 0x01 = P-256 (HPKE DHKEM, ECDSA) / HKDF-SHA256 / AES-256-GCM
    suite 0x02 = the same, with HPKE's KEM X-Wing (ML-KEM-768 + X25519) instead of
                 DHKEM(P-256), for the records that wrap a key to a recipient
                 (docs/protocol.md section 26)

The reader raises :class:`Malformed` on any structural problem; each public operation
catches it and raises its own opaque :class:`crypto.errors.CryptoError` subclass, so callers
never learn which check failed.
"""

from __future__ import annotations

import struct
import uuid
from typing import Final

__all__ = [
    "LABEL_PREFIX",
    "MAX_SAFE_INTEGER",
    "SUITE_HYBRID",
    "SUITE_P256_SHA256_AES256GCM",
    "VERSION_1",
    "Malformed",
    "Reader",
    "RecordType",
    "check_bytes",
    "check_safe_uint",
    "check_uint",
    "check_uuid",
    "prefix",
    "u32",
    "u64",
]

VERSION_1: Final = 0x01
SUITE_P256_SHA256_AES256GCM: Final = 0x01
SUITE_HYBRID: Final = 0x02
# Every label (HKDF info, HPKE info, AAD, signature context) starts with this, so no Dermline
# key or signature can be confused with another protocol's (domain separation).
LABEL_PREFIX: Final = b"dermline/v1/"
# Sizes, indices and timestamps of the records added with the transparency log stay within
# JavaScript's exact integers, so the browser port can hold them in a number.
MAX_SAFE_INTEGER: Final = (1 << 53) - 1


class RecordType:
    """The third byte of every record. Values are never reused."""

    KDF_PARAMS: Final = 0x01
    USK_KEK: Final = 0x02
    USK_RECOVERY: Final = 0x03
    USK_ORG: Final = 0x04
    SEALED_PRIVATE_KEY: Final = 0x05
    CASE_KEY_WRAP: Final = 0x06
    MESSAGE: Final = 0x07
    ATTACHMENT: Final = 0x08
    RECORDS_KEY_FILE: Final = 0x09
    PATIENT_DROP: Final = 0x0A
    CASE_KEY_WRAP_COMMITTED: Final = 0x0B
    STATEMENT: Final = 0x0C
    TREE_HEAD: Final = 0x0D
    MESSAGE_COMMITTED: Final = 0x0E
    ORG_KEY_WRAP: Final = 0x0F
    ORG_KEY_HANDOVER: Final = 0x10
    USK_PASSKEY: Final = 0x11


class Malformed(Exception):
    """Internal: the bytes do not parse. Never escapes a public function."""


def prefix(record_type: int, suite: int = SUITE_P256_SHA256_AES256GCM) -> bytes:
    """The three-byte prefix of a v1 record (suite 0x01 unless told)."""
    return bytes((VERSION_1, suite, record_type))


def u32(value: int) -> bytes:
    return struct.pack(">I", value)


def u64(value: int) -> bytes:
    return struct.pack(">Q", value)


def check_bytes(name: str, value: object, length: int | None = None) -> bytes:
    """Misuse check for a bytes argument supplied by our own caller."""
    if not isinstance(value, bytes | bytearray | memoryview):
        raise TypeError(f"{name} must be bytes")
    data = bytes(value)
    if length is not None and len(data) != length:
        raise ValueError(f"{name} must be {length} bytes")
    return data


def check_uint(name: str, value: object, bits: int) -> int:
    """Misuse check for an unsigned integer field of ``bits`` bits."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be int")
    if not 0 <= value < (1 << bits):
        raise ValueError(f"{name} must fit in {bits} unsigned bits")
    return value


def check_safe_uint(name: str, value: object) -> int:
    """Misuse check for a u64 field that must also be at most 2**53 - 1."""
    value = check_uint(name, value, 64)
    if value > MAX_SAFE_INTEGER:
        raise ValueError(f"{name} must be at most 2**53 - 1")
    return value


def check_uuid(name: str, value: object) -> bytes:
    """Misuse check for an identifier; returns its 16 wire bytes."""
    if not isinstance(value, uuid.UUID):
        raise TypeError(f"{name} must be a uuid.UUID")
    return value.bytes


class Reader:
    """Reads a record front to back. Any shortfall raises :class:`Malformed`."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: object) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError("record must be bytes")
        self._data = bytes(data)
        self._pos = 0

    def take(self, length: int) -> bytes:
        end = self._pos + length
        if end > len(self._data):
            raise Malformed
        out = self._data[self._pos : end]
        self._pos = end
        return out

    def byte(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        value: int = struct.unpack(">I", self.take(4))[0]
        return value

    def u64(self) -> int:
        value: int = struct.unpack(">Q", self.take(8))[0]
        return value

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(bytes=self.take(16))

    def prefix(self, record_type: int) -> None:
        """Check version, suite and record type; unknown values are rejected (not skipped)."""
        if self.take(3) != prefix(record_type):
            raise Malformed

    def suite_prefix(self, record_type: int) -> int:
        """Check version and record type and return the suite, which must be 0x01 or 0x02."""
        head = self.take(3)
        if head not in (prefix(record_type), prefix(record_type, SUITE_HYBRID)):
            raise Malformed
        return head[1]

    def rest(self) -> bytes:
        """Everything not read yet (for a record that ends with another record)."""
        return self.take(len(self._data) - self._pos)

    def end(self) -> None:
        """Trailing bytes are an error: a record has exactly one encoding."""
        if self._pos != len(self._data):
            raise Malformed

    def consumed(self) -> bytes:
        """Everything read so far (for AAD and signatures over a header)."""
        return self._data[: self._pos]
