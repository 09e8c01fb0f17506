"""The message envelope: an encrypted, signed message in a case thread.

Two record types. New messages are type 0x0e (docs/protocol.md section 22): the 0x07 layout
with the epoch's case key commitment in the signed header and a padded body. Type 0x07
(section 9) still parses, verifies and opens, since stored records are never rewritten;
readers label such messages "sent with an older app version: not bound to the case key
commitment".

Type 0x0e (all integers big-endian)::

    off  len
      0    3  01 01 0e                version, suite, record type
      3   16  case id
     19    4  epoch (u32)             which case key
     23   16  client message id       (UUIDv7 made by the sender; de-duplication key)
     39   16  sender user id
     55   16  sender key id           (key id of the sender's signing public key)
     71    1  content type            (crypto.content.ContentType)
     72    8  timestamp (u64, Unix milliseconds, sender's clock; informative only)
     80   32  previous message hash   (message_hash of the previous envelope, or 32 zeros)
    112   32  epoch key commitment    (crypto.case_key.case_key_commitment of this case, epoch)
    144   12  nonce                   (random)
    156    4  ciphertext length N     (N - 16 a multiple of 256, 272 <= N <= 1 MiB + 272)
    160    N  AES-256-GCM ciphertext || tag of the padded body
  160+N   64  ECDSA P-256 signature (r || s)

    message key = HKDF-SHA256(case key, salt="",
                              info="dermline/v1/message-key" || 0x00 || case id || epoch, 32)
    aad         = bytes 0..143 (the header, commitment included)
    signed      = "dermline/v1/sig/message" || 0x00 || bytes 0..159+N
    padded body = body || 0x80 || 0x00 ... up to the next multiple of 256 (at least one byte
                  added; ISO/IEC 7816-4)

Type 0x07 is the same without the commitment: header bytes 0..111 (the AAD), nonce at 112,
length at 124 (16 <= N <= 1 MiB + 16), ciphertext at 128, no padding.

:func:`open_message` parses strictly, checks that the signing key matches the header's
sender key id, verifies the signature, checks the expected case and epoch, for 0x0e checks
that the header's commitment is the one of the case key it was given, and only then
decrypts (and for 0x0e removes the padding, refusing malformed padding); on any failure it
raises :class:`MessageOpenError` and returns nothing. :func:`parse_message_header` reads the
header without keys (for the server's routing) and checks only the structure.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Final, TypedDict, Unpack

from crypto._wire import (
    LABEL_PREFIX,
    Malformed,
    Reader,
    RecordType,
    check_bytes,
    check_uint,
    check_uuid,
    prefix,
    u32,
    u64,
)
from crypto.account import KeyPair
from crypto.case_key import case_key_commitment
from crypto.content import MAX_BODY_BYTES, ContentType
from crypto.errors import (
    MessageHeaderError,
    MessageOpenError,
    MessageSignatureError,
    PrimitiveError,
    PublicKeyError,
)
from crypto.fingerprint import key_id
from crypto.primitives.aead import aes256gcm_open, aes256gcm_seal
from crypto.primitives.ecc import p256_sign, p256_verify
from crypto.primitives.kdf import hkdf_sha256

__all__ = [
    "COMMITTED_HEADER_LENGTH",
    "GENESIS_HASH",
    "HEADER_LENGTH",
    "PADDING_BLOCK",
    "MessageHeader",
    "OpenedMessage",
    "message_hash",
    "open_message",
    "parse_message_header",
    "seal_legacy_message_from_parts",
    "seal_message",
    "seal_message_from_parts",
    "verify_message_signature",
]

#: Header (the AAD) of the legacy record, type 0x07.
HEADER_LENGTH: Final = 112
#: Header (the AAD) of the committed record, type 0x0e: the 0x07 header and the commitment.
COMMITTED_HEADER_LENGTH: Final = 144
PADDING_BLOCK: Final = 256
_COMMITMENT: Final = 32
_MAX_PADDED: Final = (MAX_BODY_BYTES // PADDING_BLOCK + 1) * PADDING_BLOCK
GENESIS_HASH: Final = bytes(32)
_NONCE: Final = 12
_TAG: Final = 16
_SIGNATURE: Final = 64
_KEY_INFO: Final = LABEL_PREFIX + b"message-key\x00"
_SIG_LABEL: Final = LABEL_PREFIX + b"sig/message\x00"


@dataclass(frozen=True)
class MessageHeader:
    """The clear header of an envelope."""

    case_id: uuid.UUID
    epoch: int
    client_message_id: uuid.UUID
    sender_user_id: uuid.UUID
    sender_key_id: bytes
    content_type: ContentType
    timestamp_ms: int
    previous_hash: bytes
    #: The epoch's case key commitment (type 0x0e); None for a legacy 0x07 record, which
    #: readers label as not bound to the case key commitment.
    commitment: bytes | None = None


@dataclass(frozen=True)
class OpenedMessage:
    """A verified, decrypted message: its header and plaintext body.

    ``repr`` leaves the body out: it is patient data and must not reach a log by accident.
    """

    header: MessageHeader
    body: bytes = field(repr=False)


def message_hash(record: bytes) -> bytes:
    """The next message's ``previous_hash``: SHA-256 of the envelope without its signature.

    The signature is left out because ECDSA signatures are malleable (``(r, n - s)`` also
    verifies), so whoever relays a message could change its bytes without the key; the
    signed part cannot change. Raises :class:`MessageHeaderError` if the record is malformed.
    """
    try:
        signed = _parse(record)[1]
    except Malformed:
        raise MessageHeaderError from None
    return hashlib.sha256(signed).digest()


def _message_key(case_key: bytes, case_id: bytes, epoch: int) -> bytes:
    case_key = check_bytes("case_key", case_key, 32)
    return hkdf_sha256(case_key, salt=b"", info=_KEY_INFO + case_id + u32(epoch), length=32)


class _SealArgs(TypedDict):
    """The keyword arguments of the deterministic sealers (see :func:`seal_message`)."""

    case_key: bytes
    case_id: uuid.UUID
    epoch: int
    client_message_id: uuid.UUID
    sender_user_id: uuid.UUID
    sender_signing_key: KeyPair
    content_type: ContentType
    timestamp_ms: int
    previous_hash: bytes
    nonce: bytes


def _pad(body: bytes) -> bytes:
    """ISO/IEC 7816-4: 0x80 then zeros up to the next multiple of 256 (at least one byte)."""
    padded = body + b"\x80"
    return padded + bytes(-len(padded) % PADDING_BLOCK)


def _unpad(padded: bytes) -> bytes:
    """Undo :func:`_pad`; :class:`Malformed` unless the padding is exactly that."""
    body = padded.rstrip(b"\x00")
    if not body.endswith(b"\x80") or len(padded) - len(body) >= PADDING_BLOCK:
        raise Malformed
    return body[:-1]


def _seal(
    body: bytes,
    *,
    committed: bool,
    case_key: bytes,
    case_id: uuid.UUID,
    epoch: int,
    client_message_id: uuid.UUID,
    sender_user_id: uuid.UUID,
    sender_signing_key: KeyPair,
    content_type: ContentType,
    timestamp_ms: int,
    previous_hash: bytes,
    nonce: bytes,
) -> bytes:
    body = check_bytes("body", body)
    if len(body) > MAX_BODY_BYTES:
        raise ValueError("body is larger than 1 MiB")
    if not isinstance(sender_signing_key, KeyPair):
        raise TypeError("sender_signing_key must be a KeyPair")
    case = check_uuid("case_id", case_id)
    epoch = check_uint("epoch", epoch, 32)
    header = (
        prefix(RecordType.MESSAGE_COMMITTED if committed else RecordType.MESSAGE)
        + case
        + u32(epoch)
        + check_uuid("client_message_id", client_message_id)
        + check_uuid("sender_user_id", sender_user_id)
        + sender_signing_key.key_id
        + bytes((ContentType(content_type),))
        + u64(check_uint("timestamp_ms", timestamp_ms, 64))
        + check_bytes("previous_hash", previous_hash, 32)
    )
    key = _message_key(case_key, case, epoch)
    if committed:
        header += case_key_commitment(case_key, case_id=case_id, epoch=epoch)
        body = _pad(body)
    nonce = check_bytes("nonce", nonce, _NONCE)
    ciphertext = aes256gcm_seal(key, nonce, body, header)
    signed = header + nonce + u32(len(ciphertext)) + ciphertext
    return signed + p256_sign(sender_signing_key.private_key, _SIG_LABEL + signed)


def seal_message_from_parts(body: bytes, **args: Unpack[_SealArgs]) -> bytes:
    """Deterministic form of :func:`seal_message` (time and nonce given): type 0x0e."""
    return _seal(body, committed=True, **args)


def seal_legacy_message_from_parts(body: bytes, **args: Unpack[_SealArgs]) -> bytes:
    """The legacy record (type 0x07: no commitment, no padding), deterministically.

    Only for the published v1 vectors and for tests that old records still open: new
    messages are type 0x0e.
    """
    return _seal(body, committed=False, **args)


def seal_message(
    body: bytes,
    *,
    case_key: bytes,
    case_id: uuid.UUID,
    epoch: int,
    client_message_id: uuid.UUID,
    sender_user_id: uuid.UUID,
    sender_signing_key: KeyPair,
    content_type: ContentType,
    previous_hash: bytes,
) -> bytes:
    """Encrypt, pad and sign one message body (from :mod:`crypto.content`): type 0x0e.

    The header carries the commitment of ``case_key`` for this case and epoch
    (crypto.case_key), so a reader given another key for the epoch refuses the message.
    """
    return seal_message_from_parts(
        body,
        case_key=case_key,
        case_id=case_id,
        epoch=epoch,
        client_message_id=client_message_id,
        sender_user_id=sender_user_id,
        sender_signing_key=sender_signing_key,
        content_type=content_type,
        timestamp_ms=time.time_ns() // 1_000_000,
        previous_hash=previous_hash,
        nonce=os.urandom(_NONCE),
    )


def _parse(record: bytes) -> tuple[MessageHeader, bytes, bytes, bytes]:
    """(header, raw signed part, ciphertext, signature); raises :class:`Malformed`."""
    reader = Reader(record)
    kind = reader.take(3)
    if kind == prefix(RecordType.MESSAGE_COMMITTED):
        committed = True
    elif kind == prefix(RecordType.MESSAGE):
        committed = False
    else:
        raise Malformed
    case_id = reader.uuid()
    epoch = reader.u32()
    client_message_id = reader.uuid()
    sender_user_id = reader.uuid()
    sender_key_id = reader.take(16)
    try:
        content_type = ContentType(reader.byte())
    except ValueError:
        raise Malformed from None
    header = MessageHeader(
        case_id=case_id,
        epoch=epoch,
        client_message_id=client_message_id,
        sender_user_id=sender_user_id,
        sender_key_id=sender_key_id,
        content_type=content_type,
        timestamp_ms=reader.u64(),
        previous_hash=reader.take(32),
        commitment=reader.take(_COMMITMENT) if committed else None,
    )
    reader.take(_NONCE)
    length = reader.u32()
    if committed:
        padded = length - _TAG
        if not (PADDING_BLOCK <= padded <= _MAX_PADDED and padded % PADDING_BLOCK == 0):
            raise Malformed
    elif not _TAG <= length <= MAX_BODY_BYTES + _TAG:
        raise Malformed
    ciphertext = reader.take(length)
    signed = reader.consumed()
    signature = reader.take(_SIGNATURE)
    reader.end()
    return header, signed, ciphertext, signature


def parse_message_header(record: bytes) -> MessageHeader:
    """The clear header, for routing (no key, no signature check); either type.

    Checks the whole record's structure (prefix, known content type, length field, no
    trailing bytes; for 0x0e a padded length); raises :class:`MessageHeaderError`.
    """
    try:
        return _parse(record)[0]
    except Malformed:
        raise MessageHeaderError from None


def _verify(record: bytes, sender_signing_public_key: bytes) -> tuple[MessageHeader, bytes, bytes]:
    """(header, signed part, ciphertext) after the key-id and signature checks."""
    header, signed, ciphertext, signature = _parse(record)
    if not hmac.compare_digest(key_id(sender_signing_public_key), header.sender_key_id):
        raise Malformed
    p256_verify(sender_signing_public_key, _SIG_LABEL + signed, signature)
    return header, signed, ciphertext


def verify_message_signature(record: bytes, sender_signing_public_key: bytes) -> MessageHeader:
    """Structure and signature only, no key needed: for the server at upload.

    The server can refuse an envelope whose sender user id is not the session's user or whose
    signature does not verify with that user's directory key, before storing it. Readers
    verify again in :func:`open_message`. Raises :class:`MessageSignatureError`.
    """
    try:
        return _verify(record, sender_signing_public_key)[0]
    except (Malformed, PrimitiveError, PublicKeyError):
        raise MessageSignatureError from None


def open_message(
    record: bytes,
    *,
    case_key: bytes,
    case_id: uuid.UUID,
    epoch: int,
    sender_signing_public_key: bytes,
    sender_user_id: uuid.UUID | None = None,
) -> OpenedMessage:
    """Verify, then decrypt. Raises :class:`MessageOpenError`; never returns partial output.

    ``sender_signing_public_key`` is the key the caller looked up for the header's sender
    user id and sender key id (:func:`parse_message_header`); ``case_id`` and ``epoch`` are
    what the caller expects, and the matching case key.

    ``sender_user_id`` is the user the caller's directory says owns that key. Pass it: the
    signature proves who holds the key, not which user id the header names, so without it
    a participant could sign a header that names another participant as the sender (the
    server refuses that at upload, but a reader should not rely on the server). When given,
    the header's sender user id must equal it.

    Type 0x0e: the header's commitment must be the commitment of ``case_key`` for this case
    and epoch (compared in constant time, before decrypting), and the padding must be
    well-formed. Type 0x07 opens without either; ``header.commitment`` is then None, and the
    reader says so.
    """
    case = check_uuid("case_id", case_id)
    epoch = check_uint("epoch", epoch, 32)
    sender = None if sender_user_id is None else check_uuid("sender_user_id", sender_user_id)
    message_key = _message_key(case_key, case, epoch)
    expected_commitment = case_key_commitment(case_key, case_id=case_id, epoch=epoch)
    try:
        header, signed, ciphertext = _verify(record, sender_signing_public_key)
        if header.case_id.bytes != case or header.epoch != epoch:
            raise Malformed
        if sender is not None and header.sender_user_id.bytes != sender:
            raise Malformed
        if header.commitment is None:
            aad_end = HEADER_LENGTH
        elif hmac.compare_digest(header.commitment, expected_commitment):
            aad_end = COMMITTED_HEADER_LENGTH
        else:
            raise Malformed
        nonce = signed[aad_end : aad_end + _NONCE]
        body = aes256gcm_open(message_key, nonce, ciphertext, signed[:aad_end])
        if header.commitment is not None:
            body = _unpad(body)
    except (Malformed, PrimitiveError, PublicKeyError):
        raise MessageOpenError from None
    return OpenedMessage(header=header, body=body)
