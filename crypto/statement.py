"""Signed directory statements (record type 0x0c, docs/protocol.md section 19).

Every fact a client needs to trust about the directory (an organisation's key, an invite,
a member's keys, the records key, an administrator's approval) is one signed statement,
published in the transparency log::

    off   len
      0     3  01 01 0c
      3     1  kind
      4    16  signer key id
     20     8  issued at (u64 Unix ms, the signer's clock; informative; <= 2**53 - 1)
     28     2  body length L (u16, <= 1024)
     30     L  body (fixed layout per kind; nothing may follow it)
   30+L    64  ECDSA P-256 signature, P1363

    signed         = "dermline/v1/sig/statement" || 0x00 || bytes 0..29+L
    statement hash = SHA-256(bytes 0..29+L)       (the signature is malleable: left out)

Kinds and bodies (ids 16 bytes, public keys 65-byte uncompressed points)::

    0x01 organisation key  org id, org kind (1), OK public key, name length (u8, 1..200),
                           name (UTF-8, NFC, no control characters)        signed by OK
    0x02 invite            org id, role (1), invite public key, expires at (u64 ms),
                           SHA-256(invite token text) (32)                  signed by OK
    0x03 member            user id, org id, role (1), signing public key, encryption
                           public key, invite statement hash (32; zeros if signed by OK)
                                                             signed by the invite key or OK
    0x04 records key       org id, sequence (u32), records public key, records signing
                           public key, previous records key id (16; zeros for sequence 0)
                           signed by OK (sequence 0, or a change with two approvals) or by
                           the records signing key of the previous sequence (rollover)
    0x05 approval          approved statement hash (32), approver user id
                                                  signed by the approver's account signing key

Roles: 1 gp, 2 dermatologist, 3 admin, 4 records officer, 5 auditor. Organisation kinds:
1 practice, 2 service.

:func:`parse_statement` checks structure only; :func:`verify_statement` adds one signature;
the ``verify_*`` functions below it apply the trust rules, each a pure function the server
and both clients run alike.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TypedDict, TypeVar

from crypto._wire import (
    LABEL_PREFIX,
    MAX_SAFE_INTEGER,
    Malformed,
    Reader,
    RecordType,
    check_bytes,
    check_safe_uint,
    check_uint,
    check_uuid,
    prefix,
    u32,
    u64,
)
from crypto.account import KeyPair
from crypto.errors import (
    InviteStatementError,
    MemberStatementError,
    OrganisationKeyStatementError,
    PrimitiveError,
    PublicKeyError,
    RecordsKeyChainError,
    StatementError,
    StatementSignatureError,
)
from crypto.fingerprint import KEY_ID_LENGTH, key_id
from crypto.primitives.ecc import p256_check_public, p256_sign, p256_verify

__all__ = [
    "MAX_BODY_LENGTH",
    "MAX_NAME_BYTES",
    "MAX_TIMESTAMP_MS",
    "ApprovalStatement",
    "CertifiedMember",
    "InviteStatement",
    "MemberStatement",
    "OrganisationKeyStatement",
    "OrganisationKind",
    "RecordsKeyChange",
    "RecordsKeyPin",
    "RecordsKeyStatement",
    "Role",
    "Statement",
    "StatementKind",
    "invite_token_hash",
    "make_approval_statement",
    "make_invite_statement",
    "make_member_statement",
    "make_organisation_key_statement",
    "make_records_key_statement",
    "parse_statement",
    "statement_hash",
    "verify_invite_statement",
    "verify_member_statement",
    "verify_organisation_key_statement",
    "verify_records_key_chain",
    "verify_statement",
]

MAX_BODY_LENGTH: Final = 1024
MAX_NAME_BYTES: Final = 200
#: Timestamps in new records stay within JavaScript's exact integers.
MAX_TIMESTAMP_MS: Final = MAX_SAFE_INTEGER
_HEADER: Final = 30
_SIGNATURE: Final = 64
_PUBLIC: Final = 65
_HASH: Final = 32
_ZERO_HASH: Final = bytes(_HASH)
_ZERO_ID: Final = bytes(KEY_ID_LENGTH)
_SIG_LABEL: Final = LABEL_PREFIX + b"sig/statement\x00"


class StatementKind(enum.IntEnum):
    """Byte 3 of a statement."""

    ORGANISATION_KEY = 0x01
    INVITE = 0x02
    MEMBER = 0x03
    RECORDS_KEY = 0x04
    APPROVAL = 0x05


class Role(enum.IntEnum):
    """A member's role in an organisation (one role per member statement)."""

    GP = 1
    DERMATOLOGIST = 2
    ADMIN = 3
    RECORDS_OFFICER = 4
    AUDITOR = 5


class OrganisationKind(enum.IntEnum):
    PRACTICE = 1
    SERVICE = 2


@dataclass(frozen=True, kw_only=True)
class Statement:
    """What every statement has. ``record`` is the whole record, ``hash`` its statement hash."""

    kind: StatementKind
    signer_key_id: bytes
    issued_at_ms: int
    hash: bytes
    record: bytes


@dataclass(frozen=True, kw_only=True)
class OrganisationKeyStatement(Statement):
    org_id: uuid.UUID
    org_kind: OrganisationKind
    org_public_key: bytes
    name: str


@dataclass(frozen=True, kw_only=True)
class InviteStatement(Statement):
    org_id: uuid.UUID
    role: Role
    invite_public_key: bytes
    expires_at_ms: int
    token_hash: bytes


@dataclass(frozen=True, kw_only=True)
class MemberStatement(Statement):
    """``invite_statement_hash`` is None for a member certified directly by the OK."""

    user_id: uuid.UUID
    org_id: uuid.UUID
    role: Role
    signing_public_key: bytes
    encryption_public_key: bytes
    invite_statement_hash: bytes | None


@dataclass(frozen=True, kw_only=True)
class RecordsKeyStatement(Statement):
    """``previous_records_key_id`` is None exactly for sequence 0."""

    org_id: uuid.UUID
    sequence: int
    records_public_key: bytes
    records_signing_public_key: bytes
    previous_records_key_id: bytes | None


@dataclass(frozen=True, kw_only=True)
class ApprovalStatement(Statement):
    approved_statement_hash: bytes
    approver_user_id: uuid.UUID


@dataclass(frozen=True)
class CertifiedMember:
    """A member statement with the invite statement it names (None if signed by the OK)."""

    statement: bytes
    invite_statement: bytes | None = None


@dataclass(frozen=True)
class RecordsKeyChange:
    """One link of the records-key chain and the approvals of a two-person change."""

    statement: bytes
    approvals: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class RecordsKeyPin:
    """The highest records key a client accepted: a new chain must contain it."""

    sequence: int
    records_public_key: bytes


def invite_token_hash(token: str) -> bytes:
    """SHA-256 of the invite token's text as it appears in the link (what the server keeps)."""
    if not isinstance(token, str):
        raise TypeError("token must be str")
    return hashlib.sha256(token.encode("ascii")).digest()


# --- making ----------------------------------------------------------------------------


def _public(name: str, value: object) -> bytes:
    data = check_bytes(name, value, _PUBLIC)
    try:
        p256_check_public(data)
    except PrimitiveError:
        raise ValueError(f"{name} is not a valid P-256 point") from None
    return data


def _sign(kind: StatementKind, body: bytes, signer: KeyPair, issued_at_ms: int) -> bytes:
    if not isinstance(signer, KeyPair):
        raise TypeError("the signing key must be a KeyPair")
    signed = (
        prefix(RecordType.STATEMENT)
        + bytes((kind,))
        + signer.key_id
        + u64(check_safe_uint("issued_at_ms", issued_at_ms))
        + len(body).to_bytes(2, "big")
        + body
    )
    return signed + p256_sign(signer.private_key, _SIG_LABEL + signed)


def _name_ok(name: str) -> bool:
    encoded = name.encode("utf-8", "surrogatepass")
    return (
        1 <= len(encoded) <= MAX_NAME_BYTES
        and unicodedata.is_normalized("NFC", name)
        and not any(unicodedata.category(c) in ("Cc", "Cs") for c in name)
    )


def make_organisation_key_statement(
    *,
    org_id: uuid.UUID,
    org_kind: OrganisationKind,
    name: str,
    org_key: KeyPair,
    issued_at_ms: int,
) -> bytes:
    """The organisation key's self-signed statement (kind 0x01). ``name`` is NFC-normalised."""
    if not isinstance(name, str):
        raise TypeError("name must be str")
    name = unicodedata.normalize("NFC", name)
    if not _name_ok(name):
        raise ValueError("name must be 1..200 UTF-8 bytes without control characters")
    if not isinstance(org_key, KeyPair):
        raise TypeError("org_key must be a KeyPair")
    encoded = name.encode("utf-8")
    body = (
        check_uuid("org_id", org_id)
        + bytes((OrganisationKind(org_kind),))
        + org_key.public_key
        + bytes((len(encoded),))
        + encoded
    )
    return _sign(StatementKind.ORGANISATION_KEY, body, org_key, issued_at_ms)


def make_invite_statement(
    *,
    org_id: uuid.UUID,
    role: Role,
    invite_public_key: bytes,
    expires_at_ms: int,
    token_hash: bytes,
    org_key: KeyPair,
    issued_at_ms: int,
) -> bytes:
    """An invite certified by the organisation key (kind 0x02)."""
    body = (
        check_uuid("org_id", org_id)
        + bytes((Role(role),))
        + _public("invite_public_key", invite_public_key)
        + u64(check_safe_uint("expires_at_ms", expires_at_ms))
        + check_bytes("token_hash", token_hash, _HASH)
    )
    return _sign(StatementKind.INVITE, body, org_key, issued_at_ms)


def make_member_statement(
    *,
    user_id: uuid.UUID,
    org_id: uuid.UUID,
    role: Role,
    signing_public_key: bytes,
    encryption_public_key: bytes,
    invite_statement_hash: bytes | None,
    signer: KeyPair,
    issued_at_ms: int,
) -> bytes:
    """A member's keys (kind 0x03), signed by the invite key of the invite statement whose
    hash is ``invite_statement_hash`` or, when it is None, directly by the organisation key
    (``signer`` is that key)."""
    invite_hash = (
        _ZERO_HASH
        if invite_statement_hash is None
        else check_bytes("invite_statement_hash", invite_statement_hash, _HASH)
    )
    if invite_hash == _ZERO_HASH and invite_statement_hash is not None:
        raise ValueError("invite_statement_hash must not be zero")
    body = (
        check_uuid("user_id", user_id)
        + check_uuid("org_id", org_id)
        + bytes((Role(role),))
        + _public("signing_public_key", signing_public_key)
        + _public("encryption_public_key", encryption_public_key)
        + invite_hash
    )
    return _sign(StatementKind.MEMBER, body, signer, issued_at_ms)


def make_records_key_statement(
    *,
    org_id: uuid.UUID,
    sequence: int,
    records_public_key: bytes,
    records_signing_public_key: bytes,
    previous_records_key_id: bytes | None,
    signer: KeyPair,
    issued_at_ms: int,
) -> bytes:
    """One link of the records-key chain (kind 0x04).

    ``previous_records_key_id`` is the key id of the previous sequence's records public key,
    None for sequence 0. ``signer``: the OK (sequence 0, or a two-person change that also
    needs two approvals) or the previous sequence's records signing key (rollover).
    """
    sequence = check_uint("sequence", sequence, 32)
    if (sequence == 0) != (previous_records_key_id is None):
        raise ValueError("exactly sequence 0 has no previous records key")
    previous = (
        _ZERO_ID
        if previous_records_key_id is None
        else check_bytes("previous_records_key_id", previous_records_key_id, KEY_ID_LENGTH)
    )
    if previous_records_key_id is not None and previous == _ZERO_ID:
        raise ValueError("previous_records_key_id must not be zero")
    body = (
        check_uuid("org_id", org_id)
        + u32(sequence)
        + _public("records_public_key", records_public_key)
        + _public("records_signing_public_key", records_signing_public_key)
        + previous
    )
    return _sign(StatementKind.RECORDS_KEY, body, signer, issued_at_ms)


def make_approval_statement(
    *,
    approved_statement_hash: bytes,
    approver_user_id: uuid.UUID,
    approver_signing_key: KeyPair,
    issued_at_ms: int,
) -> bytes:
    """An administrator's approval (kind 0x05) of another statement, by its hash."""
    body = check_bytes("approved_statement_hash", approved_statement_hash, _HASH) + check_uuid(
        "approver_user_id", approver_user_id
    )
    return _sign(StatementKind.APPROVAL, body, approver_signing_key, issued_at_ms)


# --- parsing ---------------------------------------------------------------------------


def _key(reader: Reader) -> bytes:
    value = reader.take(_PUBLIC)
    try:
        p256_check_public(value)
    except PrimitiveError:
        raise Malformed from None
    return value


def _role(value: int) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise Malformed from None


class _Common(TypedDict):
    kind: StatementKind
    signer_key_id: bytes
    issued_at_ms: int
    hash: bytes
    record: bytes


def _parse(record: bytes) -> tuple[Statement, bytes, bytes]:
    """(statement, signed part, signature); raises :class:`Malformed`."""
    reader = Reader(record)
    reader.prefix(RecordType.STATEMENT)
    try:
        kind = StatementKind(reader.byte())
    except ValueError:
        raise Malformed from None
    signer_key_id = reader.take(KEY_ID_LENGTH)
    issued_at = reader.u64()
    length = int.from_bytes(reader.take(2), "big")
    if issued_at > MAX_TIMESTAMP_MS or length > MAX_BODY_LENGTH:
        raise Malformed
    body = Reader(reader.take(length))
    signed = reader.consumed()
    signature = reader.take(_SIGNATURE)
    reader.end()
    common: _Common = {
        "kind": kind,
        "signer_key_id": signer_key_id,
        "issued_at_ms": issued_at,
        "hash": hashlib.sha256(signed).digest(),
        "record": bytes(record),
    }
    statement: Statement
    if kind is StatementKind.ORGANISATION_KEY:
        org_id = body.uuid()
        try:
            org_kind = OrganisationKind(body.byte())
        except ValueError:
            raise Malformed from None
        org_key = _key(body)
        raw_name = body.take(body.byte())
        try:
            name = raw_name.decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed from None
        if not _name_ok(name):
            raise Malformed
        statement = OrganisationKeyStatement(
            org_id=org_id, org_kind=org_kind, org_public_key=org_key, name=name, **common
        )
    elif kind is StatementKind.INVITE:
        org_id = body.uuid()
        role = _role(body.byte())
        invite_key = _key(body)
        expires = body.u64()
        if expires > MAX_TIMESTAMP_MS:
            raise Malformed
        statement = InviteStatement(
            org_id=org_id,
            role=role,
            invite_public_key=invite_key,
            expires_at_ms=expires,
            token_hash=body.take(_HASH),
            **common,
        )
    elif kind is StatementKind.MEMBER:
        user_id = body.uuid()
        org_id = body.uuid()
        role = _role(body.byte())
        signing = _key(body)
        encryption = _key(body)
        invite_hash = body.take(_HASH)
        statement = MemberStatement(
            user_id=user_id,
            org_id=org_id,
            role=role,
            signing_public_key=signing,
            encryption_public_key=encryption,
            invite_statement_hash=None if invite_hash == _ZERO_HASH else invite_hash,
            **common,
        )
    elif kind is StatementKind.RECORDS_KEY:
        org_id = body.uuid()
        sequence = body.u32()
        records = _key(body)
        records_signing = _key(body)
        previous = body.take(KEY_ID_LENGTH)
        if (sequence == 0) != (previous == _ZERO_ID):
            raise Malformed
        statement = RecordsKeyStatement(
            org_id=org_id,
            sequence=sequence,
            records_public_key=records,
            records_signing_public_key=records_signing,
            previous_records_key_id=None if sequence == 0 else previous,
            **common,
        )
    else:
        statement = ApprovalStatement(
            approved_statement_hash=body.take(_HASH), approver_user_id=body.uuid(), **common
        )
    body.end()
    return statement, signed, signature


def parse_statement(record: bytes) -> Statement:
    """The statement's fields (an instance of the kind's subclass), without any signature
    check. Raises :class:`StatementError` for anything but the exact layout of a known kind
    (including invalid public keys and a name that is not NFC)."""
    try:
        return _parse(record)[0]
    except Malformed:
        raise StatementError from None


def statement_hash(record: bytes) -> bytes:
    """SHA-256 of the record without its signature; :class:`StatementError` if malformed."""
    return parse_statement(record).hash


_S = TypeVar("_S", bound=Statement)


def _verified(record: bytes, signer_public_key: bytes, cls: type[_S]) -> _S:
    """Parse, require the kind's class, the signer key id and the signature; Malformed."""
    statement, signed, signature = _parse(record)
    if not isinstance(statement, cls):
        raise Malformed
    if not hmac.compare_digest(key_id(signer_public_key), statement.signer_key_id):
        raise Malformed
    p256_verify(signer_public_key, _SIG_LABEL + signed, signature)
    return statement


_KIND_CLASS: Final[dict[StatementKind, type[Statement]]] = {
    StatementKind.ORGANISATION_KEY: OrganisationKeyStatement,
    StatementKind.INVITE: InviteStatement,
    StatementKind.MEMBER: MemberStatement,
    StatementKind.RECORDS_KEY: RecordsKeyStatement,
    StatementKind.APPROVAL: ApprovalStatement,
}
_ERRORS: Final = (Malformed, PrimitiveError, PublicKeyError)


def verify_statement(
    record: bytes, signer_public_key: bytes, kind: StatementKind | None = None
) -> Statement:
    """Structure, the signer key id and the signature, and the kind when given.

    Only that this key signed this statement; the trust rules are the functions below.
    Raises :class:`StatementSignatureError`.
    """
    cls = Statement if kind is None else _KIND_CLASS[StatementKind(kind)]
    try:
        return _verified(record, signer_public_key, cls)
    except _ERRORS:
        raise StatementSignatureError from None


def _organisation_key(record: bytes, org_id: bytes) -> OrganisationKeyStatement:
    statement, _signed, _signature = _parse(record)
    if not isinstance(statement, OrganisationKeyStatement):
        raise Malformed
    verified = _verified(record, statement.org_public_key, OrganisationKeyStatement)
    if verified.org_id.bytes != org_id:
        raise Malformed
    return verified


def verify_organisation_key_statement(
    record: bytes, *, org_id: uuid.UUID
) -> OrganisationKeyStatement:
    """The organisation key statement of ``org_id``, signed by the key it names.

    Self-signed, so it proves possession, not authority: the caller pins ``org_public_key``
    (from the invite link's key id for its own organisation, on first use for others) and
    treats any other key for the organisation as a hard stop. Raises
    :class:`OrganisationKeyStatementError`.
    """
    org = check_uuid("org_id", org_id)
    try:
        return _organisation_key(record, org)
    except _ERRORS:
        raise OrganisationKeyStatementError from None


def _invite(record: bytes, org_id: bytes, org_public_key: bytes) -> InviteStatement:
    statement = _verified(record, org_public_key, InviteStatement)
    if statement.org_id.bytes != org_id:
        raise Malformed
    return statement


def verify_invite_statement(
    record: bytes, *, org_id: uuid.UUID, org_public_key: bytes
) -> InviteStatement:
    """An invite of ``org_id`` signed by its organisation key; :class:`InviteStatementError`.

    The expiry is the server's to check when the invite is accepted (readers cannot know
    the true time and do not re-check it).
    """
    org = check_uuid("org_id", org_id)
    try:
        return _invite(record, org, org_public_key)
    except _ERRORS:
        raise InviteStatementError from None


def _member(
    record: bytes, org_id: bytes, org_public_key: bytes, invite_record: bytes | None
) -> MemberStatement:
    statement, _signed, _signature = _parse(record)
    if not isinstance(statement, MemberStatement) or statement.org_id.bytes != org_id:
        raise Malformed
    if invite_record is None:
        if statement.invite_statement_hash is not None:
            raise Malformed
        return _verified(record, org_public_key, MemberStatement)
    invite = _invite(invite_record, org_id, org_public_key)
    if (
        invite.role is not statement.role
        or statement.invite_statement_hash is None
        or not hmac.compare_digest(statement.invite_statement_hash, invite.hash)
    ):
        raise Malformed
    return _verified(record, invite.invite_public_key, MemberStatement)


def verify_member_statement(
    record: bytes,
    *,
    org_id: uuid.UUID,
    org_public_key: bytes,
    invite_statement: bytes | None,
) -> MemberStatement:
    """A member of ``org_id`` certified by its organisation key, directly or through an invite.

    With ``invite_statement``: the invite verifies under ``org_public_key`` for this
    organisation, has the member's role, the member statement names its hash and is signed
    by its invite key. Without: the member statement names no invite and is signed by the
    organisation key. The caller still compares the user id and keys with the directory's
    answer. Raises :class:`MemberStatementError`.
    """
    org = check_uuid("org_id", org_id)
    if invite_statement is not None:
        invite_statement = check_bytes("invite_statement", invite_statement)
    try:
        return _member(record, org, org_public_key, invite_statement)
    except _ERRORS:
        raise MemberStatementError from None


def _approvers(
    change: RecordsKeyChange,
    approved_hash: bytes,
    admin_keys: dict[bytes, bytes],
) -> set[bytes]:
    """The distinct certified administrators whose approvals of ``approved_hash`` verify."""
    approvers: set[bytes] = set()
    for record in change.approvals:
        approval, _signed, _signature = _parse(record)
        if not isinstance(approval, ApprovalStatement):
            raise Malformed
        user = approval.approver_user_id.bytes
        signing_key = admin_keys.get(user)
        if signing_key is None or not hmac.compare_digest(
            approval.approved_statement_hash, approved_hash
        ):
            raise Malformed
        _verified(record, signing_key, ApprovalStatement)
        approvers.add(user)
    return approvers


def _admin_keys(
    org_id: bytes, org_public_key: bytes, admins: Sequence[object]
) -> dict[bytes, bytes]:
    """User id -> signing key of every certified administrator (others cannot approve)."""
    keys: dict[bytes, bytes] = {}
    for admin in admins:
        if not isinstance(admin, CertifiedMember):
            raise TypeError("admins must be CertifiedMember values")
        try:
            member = _member(admin.statement, org_id, org_public_key, admin.invite_statement)
        except _ERRORS:
            continue
        if member.role is Role.ADMIN:
            keys[member.user_id.bytes] = member.signing_public_key
    return keys


def _chain(
    changes: Sequence[RecordsKeyChange],
    org_id: bytes,
    org_public_key: bytes,
    admins: Sequence[CertifiedMember],
    pin: RecordsKeyPin | None,
) -> RecordsKeyStatement:
    admin_keys = _admin_keys(org_id, org_public_key, admins)
    chain: list[RecordsKeyStatement] = []
    for sequence, change in enumerate(changes):
        statement, _signed, _signature = _parse(change.statement)
        if (
            not isinstance(statement, RecordsKeyStatement)
            or statement.org_id.bytes != org_id
            or statement.sequence != sequence
        ):
            raise Malformed
        if not chain:
            _verified(change.statement, org_public_key, RecordsKeyStatement)
        else:
            previous = chain[-1]
            if statement.previous_records_key_id != key_id(previous.records_public_key):
                raise Malformed
            rollover_key = previous.records_signing_public_key
            if statement.signer_key_id == key_id(rollover_key):
                _verified(change.statement, rollover_key, RecordsKeyStatement)
            else:
                _verified(change.statement, org_public_key, RecordsKeyStatement)
                if len(_approvers(change, statement.hash, admin_keys)) < 2:
                    raise Malformed
        chain.append(statement)
    if not chain:
        raise Malformed
    if pin is not None and (
        pin.sequence >= len(chain)
        or chain[pin.sequence].records_public_key != pin.records_public_key
    ):
        raise Malformed
    return chain[-1]


def verify_records_key_chain(
    changes: Sequence[RecordsKeyChange],
    *,
    org_id: uuid.UUID,
    org_public_key: bytes,
    admins: Sequence[CertifiedMember] = (),
    pin: RecordsKeyPin | None = None,
) -> RecordsKeyStatement:
    """Verify the whole records-key chain of ``org_id``; return its newest statement.

    ``changes[i]`` is sequence ``i``. Sequence 0 is signed by the organisation key. Every
    later one names the previous records key's id and is signed either by the previous
    sequence's records signing key (a rollover by whoever holds the old records key file)
    or by the organisation key together with approvals (kind 0x05) of its statement hash by
    at least two distinct administrators of the organisation, each certified by a member
    statement with role admin in ``admins`` (entries that do not verify simply cannot
    approve). An approval that does not verify, or by anyone else, fails the chain.

    ``pin`` is the highest records key the caller accepted before: the chain must contain it
    at its sequence (a chain that does not extend it is refused). Raises
    :class:`RecordsKeyChainError`.
    """
    org = check_uuid("org_id", org_id)
    if pin is not None and not isinstance(pin, RecordsKeyPin):
        raise TypeError("pin must be a RecordsKeyPin")
    for change in changes:
        if not isinstance(change, RecordsKeyChange):
            raise TypeError("changes must be RecordsKeyChange values")
    try:
        return _chain(changes, org, org_public_key, admins, pin)
    except _ERRORS:
        raise RecordsKeyChainError from None
