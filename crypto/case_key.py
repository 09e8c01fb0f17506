"""Case keys and their signed HPKE wrap records.

A case key (CK) is 32 random bytes per case and epoch (the epoch goes up when membership
changes). The client that makes an epoch wraps CK to every recipient: each participant's
account encryption key and the practice's records key. Wrap record (type 0x06), 248 bytes::

    off  len
      0    3  01 01 06
      3   16  case id
     19    4  epoch (u32 BE)
     23   16  recipient key id     (key id of the HPKE recipient public key)
     39   16  wrapper user id
     55   16  wrapper key id       (key id of the wrapper's signing public key)
     71   65  HPKE enc             (ephemeral public key, uncompressed point)
    136   48  HPKE ciphertext      (CK || tag)
    184   64  ECDSA P-256 signature (r || s)

    info      = "dermline/v1/case-key" || 0x00 || case id || epoch || recipient key id
    aad       = bytes 0..70 (the clear header)
    signed    = "dermline/v1/sig/case-key-wrap" || 0x00 || bytes 0..183

The clear header (bytes 0..70) can be read without any key
(:func:`parse_case_key_wrap_header`): the server uses it to refuse a case that is not wrapped
to the records key. :func:`verify_case_key_wrap` additionally checks the signature, and
:func:`open_case_key_wrap` checks the signature, the expected case and epoch and the
recipient, then decrypts.
"""

from __future__ import annotations

import hmac
import os
import uuid
from dataclasses import dataclass
from typing import Final

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
)
from crypto.account import KeyPair
from crypto.errors import (
    CaseKeyUnwrapError,
    CaseKeyWrapHeaderError,
    CaseKeyWrapSignatureError,
    PrimitiveError,
    PublicKeyError,
)
from crypto.fingerprint import key_id
from crypto.primitives.ecc import p256_sign, p256_verify
from crypto.primitives.hpke import open_base, seal_base

__all__ = [
    "CASE_KEY_LENGTH",
    "CASE_KEY_WRAP_LENGTH",
    "MAX_EPOCH",
    "CaseKeyWrapHeader",
    "generate_case_key",
    "open_case_key_wrap",
    "parse_case_key_wrap_header",
    "verify_case_key_wrap",
    "wrap_case_key",
    "wrap_case_key_from_parts",
]

CASE_KEY_LENGTH: Final = 32
CASE_KEY_WRAP_LENGTH: Final = 248
MAX_EPOCH: Final = 0xFFFFFFFF
_HEADER: Final = 71
_SIGNED_END: Final = 184
_INFO_LABEL: Final = LABEL_PREFIX + b"case-key\x00"
_SIG_LABEL: Final = LABEL_PREFIX + b"sig/case-key-wrap\x00"


@dataclass(frozen=True)
class CaseKeyWrapHeader:
    """The clear part of a wrap record."""

    case_id: uuid.UUID
    epoch: int
    recipient_key_id: bytes
    wrapper_user_id: uuid.UUID
    wrapper_key_id: bytes


def generate_case_key() -> bytes:
    """A fresh 256-bit case key for a new case or epoch."""
    return os.urandom(CASE_KEY_LENGTH)


def _info(case_id: bytes, epoch: int, recipient_key_id: bytes) -> bytes:
    return _INFO_LABEL + case_id + u32(epoch) + recipient_key_id


def wrap_case_key_from_parts(
    case_key: bytes,
    *,
    case_id: uuid.UUID,
    epoch: int,
    recipient_public_key: bytes,
    wrapper_user_id: uuid.UUID,
    wrapper_signing_key: KeyPair,
    ikm_e: bytes,
) -> bytes:
    """Deterministic form of :func:`wrap_case_key` (HPKE ephemeral ikm given)."""
    case_key = check_bytes("case_key", case_key, CASE_KEY_LENGTH)
    case = check_uuid("case_id", case_id)
    epoch = check_uint("epoch", epoch, 32)
    wrapper = check_uuid("wrapper_user_id", wrapper_user_id)
    if not isinstance(wrapper_signing_key, KeyPair):
        raise TypeError("wrapper_signing_key must be a KeyPair")
    recipient_id = key_id(recipient_public_key)
    header = (
        prefix(RecordType.CASE_KEY_WRAP)
        + case
        + u32(epoch)
        + recipient_id
        + wrapper
        + wrapper_signing_key.key_id
    )
    enc, ciphertext = seal_base(
        recipient_public_key, _info(case, epoch, recipient_id), header, case_key, ikm_e=ikm_e
    )
    body = header + enc + ciphertext
    return body + p256_sign(wrapper_signing_key.private_key, _SIG_LABEL + body)


def wrap_case_key(
    case_key: bytes,
    *,
    case_id: uuid.UUID,
    epoch: int,
    recipient_public_key: bytes,
    wrapper_user_id: uuid.UUID,
    wrapper_signing_key: KeyPair,
) -> bytes:
    """HPKE-wrap a case key to one recipient and sign the record (type 0x06).

    Raises :class:`crypto.errors.PublicKeyError` if the recipient key is not a valid point.
    """
    return wrap_case_key_from_parts(
        case_key,
        case_id=case_id,
        epoch=epoch,
        recipient_public_key=recipient_public_key,
        wrapper_user_id=wrapper_user_id,
        wrapper_signing_key=wrapper_signing_key,
        ikm_e=os.urandom(32),
    )


def _parse(record: bytes) -> tuple[CaseKeyWrapHeader, bytes]:
    """Header and the raw record; raises :class:`Malformed`."""
    reader = Reader(record)
    reader.prefix(RecordType.CASE_KEY_WRAP)
    header = CaseKeyWrapHeader(
        case_id=reader.uuid(),
        epoch=reader.u32(),
        recipient_key_id=reader.take(16),
        wrapper_user_id=reader.uuid(),
        wrapper_key_id=reader.take(16),
    )
    reader.take(65 + CASE_KEY_LENGTH + 16 + 64)
    reader.end()
    return header, reader.consumed()


def parse_case_key_wrap_header(record: bytes) -> CaseKeyWrapHeader:
    """Read the clear header without any key (no signature check, no decryption).

    Raises :class:`CaseKeyWrapHeaderError` unless the record has the exact v1 shape.
    """
    try:
        return _parse(record)[0]
    except Malformed:
        raise CaseKeyWrapHeaderError from None


def _verify(record: bytes, wrapper_signing_public_key: bytes) -> tuple[CaseKeyWrapHeader, bytes]:
    header, raw = _parse(record)
    if not hmac.compare_digest(key_id(wrapper_signing_public_key), header.wrapper_key_id):
        raise Malformed
    p256_verify(wrapper_signing_public_key, _SIG_LABEL + raw[:_SIGNED_END], raw[_SIGNED_END:])
    return header, raw


def verify_case_key_wrap(record: bytes, wrapper_signing_public_key: bytes) -> CaseKeyWrapHeader:
    """Check the record's shape and the wrapper's signature; return the clear header.

    ``wrapper_signing_public_key`` is the signing key the caller looked up for the header's
    wrapper user id and key id. Raises :class:`CaseKeyWrapSignatureError`.
    """
    try:
        return _verify(record, wrapper_signing_public_key)[0]
    except (Malformed, PrimitiveError, PublicKeyError):
        raise CaseKeyWrapSignatureError from None


def open_case_key_wrap(
    record: bytes,
    *,
    case_id: uuid.UUID,
    epoch: int,
    recipient: KeyPair,
    wrapper_signing_public_key: bytes,
    wrapper_user_id: uuid.UUID | None = None,
) -> bytes:
    """Verify the signature, check case, epoch and recipient, then decrypt the case key.

    Nothing is decrypted unless the signature verifies. Raises :class:`CaseKeyUnwrapError`.
    ``wrapper_user_id`` is the user the caller's directory says owns
    ``wrapper_signing_public_key``; when given (recommended), the header's wrapper user id
    must equal it, so a record cannot claim to come from another member.
    """
    case = check_uuid("case_id", case_id)
    epoch = check_uint("epoch", epoch, 32)
    wrapper = None if wrapper_user_id is None else check_uuid("wrapper_user_id", wrapper_user_id)
    if not isinstance(recipient, KeyPair):
        raise TypeError("recipient must be a KeyPair")
    try:
        header, raw = _verify(record, wrapper_signing_public_key)
        if (
            header.case_id.bytes != case
            or header.epoch != epoch
            or header.recipient_key_id != recipient.key_id
            or (wrapper is not None and header.wrapper_user_id.bytes != wrapper)
        ):
            raise Malformed
        return open_base(
            recipient.private_key,
            raw[_HEADER : _HEADER + 65],
            _info(case, epoch, recipient.key_id),
            raw[:_HEADER],
            raw[_HEADER + 65 : _SIGNED_END],
        )
    except (Malformed, PrimitiveError, PublicKeyError):
        raise CaseKeyUnwrapError from None
