"""Entries of the transparency log: the leaves of its Merkle tree (docs/protocol.md section 18).

::

    entry = entry type (1) || appended at (u64 Unix ms, the server's clock; <= 2**53 - 1)
            || payload
    0x01 statement           payload = one signed statement record (type 0x0c, any kind)
    0x02 uncertified member  user id, org id, role (1), signing public key (65),
                             encryption public key (65)
    0x03 removal             user id, org id (16 zero bytes: the whole account), reason (1),
                             role (1; 0 = every role)

    leaf hash = SHA-256(0x00 || entry)                      (crypto.merkle.leaf_hash)

Removal reasons, with the only field combinations a parser accepts: 1 removed from the
organisation (org id set, role 0), 2 account disabled (org id zero, role 0), 3 one role
removed (org id set, role 1..5).

The server appends one entry per directory change in the same storage transaction as the
change; a monitor re-parses every entry (:func:`parse_log_entry`) and recomputes the tree.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Final

from crypto._wire import (
    MAX_SAFE_INTEGER,
    Malformed,
    Reader,
    check_bytes,
    check_safe_uint,
    check_uuid,
    u64,
)
from crypto.errors import LogEntryError, PrimitiveError, StatementError
from crypto.primitives.ecc import p256_check_public
from crypto.statement import Role, Statement, parse_statement

__all__ = [
    "LogEntry",
    "LogEntryType",
    "RemovalEntry",
    "RemovalReason",
    "StatementEntry",
    "UncertifiedMemberEntry",
    "encode_removal_entry",
    "encode_statement_entry",
    "encode_uncertified_member_entry",
    "parse_log_entry",
]

_PUBLIC: Final = 65
_NO_ORG: Final = bytes(16)


class LogEntryType(enum.IntEnum):
    STATEMENT = 0x01
    UNCERTIFIED_MEMBER = 0x02
    REMOVAL = 0x03


class RemovalReason(enum.IntEnum):
    REMOVED_FROM_ORGANISATION = 1
    ACCOUNT_DISABLED = 2
    ROLE_REMOVED = 3


@dataclass(frozen=True, kw_only=True)
class LogEntry:
    """What every entry has; ``entry`` is its exact bytes (hash it for the leaf)."""

    entry_type: LogEntryType
    appended_at_ms: int
    entry: bytes


@dataclass(frozen=True, kw_only=True)
class StatementEntry(LogEntry):
    """A signed statement (its signature is not checked by parsing)."""

    statement: Statement


@dataclass(frozen=True, kw_only=True)
class UncertifiedMemberEntry(LogEntry):
    """A member enrolled through a server-made invite: keys on trust on first use."""

    user_id: uuid.UUID
    org_id: uuid.UUID
    role: Role
    signing_public_key: bytes
    encryption_public_key: bytes


@dataclass(frozen=True, kw_only=True)
class RemovalEntry(LogEntry):
    """``org_id`` is None for the whole account; ``role`` None for every role."""

    user_id: uuid.UUID
    org_id: uuid.UUID | None
    reason: RemovalReason
    role: Role | None


def _head(entry_type: LogEntryType, appended_at_ms: int) -> bytes:
    return bytes((entry_type,)) + u64(check_safe_uint("appended_at_ms", appended_at_ms))


def encode_statement_entry(statement: bytes, *, appended_at_ms: int) -> bytes:
    """The entry for a signed statement; ``ValueError`` if it is not a well-formed one."""
    statement = check_bytes("statement", statement)
    try:
        parse_statement(statement)
    except StatementError:
        raise ValueError("statement is not a well-formed signed statement") from None
    return _head(LogEntryType.STATEMENT, appended_at_ms) + statement


def _public(name: str, value: object) -> bytes:
    data = check_bytes(name, value, _PUBLIC)
    try:
        p256_check_public(data)
    except PrimitiveError:
        raise ValueError(f"{name} is not a valid P-256 point") from None
    return data


def encode_uncertified_member_entry(
    *,
    user_id: uuid.UUID,
    org_id: uuid.UUID,
    role: Role,
    signing_public_key: bytes,
    encryption_public_key: bytes,
    appended_at_ms: int,
) -> bytes:
    """The entry for a member whose keys no organisation key certifies (server-made invite)."""
    return (
        _head(LogEntryType.UNCERTIFIED_MEMBER, appended_at_ms)
        + check_uuid("user_id", user_id)
        + check_uuid("org_id", org_id)
        + bytes((Role(role),))
        + _public("signing_public_key", signing_public_key)
        + _public("encryption_public_key", encryption_public_key)
    )


def _removal_ok(org: bytes, reason: RemovalReason, role: int) -> bool:
    if role > max(Role):
        return False
    if reason is RemovalReason.ACCOUNT_DISABLED:
        return org == _NO_ORG and role == 0
    if org == _NO_ORG:
        return False
    return (role == 0) == (reason is RemovalReason.REMOVED_FROM_ORGANISATION)


def encode_removal_entry(
    *,
    user_id: uuid.UUID,
    org_id: uuid.UUID | None,
    reason: RemovalReason,
    role: Role | None,
    appended_at_ms: int,
) -> bytes:
    """The entry for a removal: from an organisation, of one role, or of the whole account."""
    reason = RemovalReason(reason)
    org = _NO_ORG if org_id is None else check_uuid("org_id", org_id)
    role_byte = 0 if role is None else Role(role).value
    if not _removal_ok(org, reason, role_byte):
        raise ValueError("this reason does not go with this organisation and role")
    return (
        _head(LogEntryType.REMOVAL, appended_at_ms)
        + check_uuid("user_id", user_id)
        + org
        + bytes((reason, role_byte))
    )


def _key(reader: Reader) -> bytes:
    value = reader.take(_PUBLIC)
    try:
        p256_check_public(value)
    except PrimitiveError:
        raise Malformed from None
    return value


def _parse(entry: bytes) -> LogEntry:
    reader = Reader(entry)
    try:
        entry_type = LogEntryType(reader.byte())
        appended_at = reader.u64()
        if appended_at > MAX_SAFE_INTEGER:
            raise Malformed
        raw = bytes(entry)
        if entry_type is LogEntryType.STATEMENT:
            return StatementEntry(
                entry_type=entry_type,
                appended_at_ms=appended_at,
                entry=raw,
                statement=parse_statement(reader.rest()),
            )
        user_id = reader.uuid()
        if entry_type is LogEntryType.UNCERTIFIED_MEMBER:
            org_id = reader.uuid()
            role = Role(reader.byte())
            signing = _key(reader)
            encryption = _key(reader)
            reader.end()
            return UncertifiedMemberEntry(
                entry_type=entry_type,
                user_id=user_id,
                org_id=org_id,
                role=role,
                signing_public_key=signing,
                encryption_public_key=encryption,
                appended_at_ms=appended_at,
                entry=raw,
            )
        org = reader.take(16)
        reason = RemovalReason(reader.byte())
        role_byte = reader.byte()
        reader.end()
        if not _removal_ok(org, reason, role_byte):
            raise Malformed
        return RemovalEntry(
            entry_type=entry_type,
            user_id=user_id,
            org_id=None if org == _NO_ORG else uuid.UUID(bytes=org),
            reason=reason,
            role=None if role_byte == 0 else Role(role_byte),
            appended_at_ms=appended_at,
            entry=raw,
        )
    except (Malformed, ValueError, StatementError):
        raise LogEntryError from None


def parse_log_entry(entry: bytes) -> LogEntry:
    """The entry's fields (an instance of its type's subclass); :class:`LogEntryError`.

    A statement entry's statement is parsed (structure) but its signature is not checked:
    which key must have signed it is a rule of the reader (crypto.statement).
    """
    return _parse(entry)
