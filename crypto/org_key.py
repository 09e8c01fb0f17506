"""The organisation key's custody: wraps to administrators (0x0f) and the handover in an
administrator's invite (0x10). docs/protocol.md section 21.

The organisation key ``OK`` is an ordinary P-256 pair (made like every key by DeriveKeyPair).
Its private scalar lives only in administrators' clients; the server stores it wrapped.

Wrap to an administrator (type 0x0f), 260 bytes, laid out like a case-key wrap::

    off  len
      0    3  01 01 0f
      3   16  org id
     19   16  recipient key id       (the administrator's account encryption key)
     35   16  wrapper user id
     51   16  wrapper key id         (the wrapper's account signing key)
     67   16  organisation key id
     83   65  HPKE enc
    148   48  HPKE ciphertext of the OK scalar (32 + 16)
    196   64  ECDSA P-256 signature by the wrapper

    HPKE info = "dermline/v1/org-key" || 0x00 || org id || recipient key id
    HPKE aad  = bytes 0..82
    signed    = "dermline/v1/sig/org-key-wrap" || 0x00 || bytes 0..195

Handover in an administrator's invite (type 0x10), 95 bytes, so that a newly invited
administrator gets the key without the inviter coming back::

      0    3  01 01 10
      3   16  org id
     19   16  invite key id          (of the invite key derived from the invite secret s)
     35   12  nonce
     47   48  AES-256-GCM(HKDF-SHA256(s, "", "dermline/v1/invite-org-key", 32), OK scalar),
              aad = bytes 0..34

Opening either recomputes the public key from the scalar and requires its key id to be the
expected organisation key id (the one the caller pinned, and for 0x0f the one in the header).
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
    check_uuid,
    prefix,
)
from crypto.account import KeyPair, key_pair_from_private
from crypto.errors import (
    OrgKeyHandoverError,
    OrgKeyUnwrapError,
    OrgKeyWrapHeaderError,
    PrimitiveError,
    PublicKeyError,
)
from crypto.fingerprint import KEY_ID_LENGTH, key_id
from crypto.invite import INVITE_SECRET_LENGTH, derive_invite_key
from crypto.primitives.aead import aes256gcm_open, aes256gcm_seal
from crypto.primitives.ecc import P256_N, p256_sign, p256_verify
from crypto.primitives.hpke import open_base, seal_base
from crypto.primitives.kdf import hkdf_sha256

__all__ = [
    "ORG_KEY_HANDOVER_LENGTH",
    "ORG_KEY_WRAP_LENGTH",
    "OrgKeyWrapHeader",
    "open_org_key_handover",
    "open_org_key_wrap",
    "parse_org_key_wrap_header",
    "seal_org_key_handover",
    "seal_org_key_handover_from_parts",
    "wrap_org_key",
    "wrap_org_key_from_parts",
]

ORG_KEY_WRAP_LENGTH: Final = 260
ORG_KEY_HANDOVER_LENGTH: Final = 95
_WRAP_HEADER: Final = 83
_ENC: Final = 65
_SCALAR: Final = 32
_TAG: Final = 16
_SIGNATURE: Final = 64
_NONCE: Final = 12
_HANDOVER_AAD: Final = 35
_INFO_LABEL: Final = LABEL_PREFIX + b"org-key\x00"
_SIG_LABEL: Final = LABEL_PREFIX + b"sig/org-key-wrap\x00"
_HANDOVER_INFO: Final = LABEL_PREFIX + b"invite-org-key"


@dataclass(frozen=True)
class OrgKeyWrapHeader:
    """The clear part of a 0x0f record (readable without any key)."""

    org_id: uuid.UUID
    recipient_key_id: bytes
    wrapper_user_id: uuid.UUID
    wrapper_key_id: bytes
    org_key_id: bytes


def _org_key(value: object) -> KeyPair:
    if not isinstance(value, KeyPair):
        raise TypeError("org_key must be a KeyPair")
    return value


def wrap_org_key_from_parts(
    org_key: KeyPair,
    *,
    org_id: uuid.UUID,
    recipient_public_key: bytes,
    wrapper_user_id: uuid.UUID,
    wrapper_signing_key: KeyPair,
    ikm_e: bytes,
) -> bytes:
    """Deterministic form of :func:`wrap_org_key` (HPKE ephemeral ``ikm_e`` given)."""
    org_key = _org_key(org_key)
    if not isinstance(wrapper_signing_key, KeyPair):
        raise TypeError("wrapper_signing_key must be a KeyPair")
    org = check_uuid("org_id", org_id)
    recipient_id = key_id(recipient_public_key)
    header = (
        prefix(RecordType.ORG_KEY_WRAP)
        + org
        + recipient_id
        + check_uuid("wrapper_user_id", wrapper_user_id)
        + wrapper_signing_key.key_id
        + org_key.key_id
    )
    enc, ciphertext = seal_base(
        recipient_public_key,
        _INFO_LABEL + org + recipient_id,
        header,
        org_key.private_key,
        ikm_e=ikm_e,
    )
    body = header + enc + ciphertext
    return body + p256_sign(wrapper_signing_key.private_key, _SIG_LABEL + body)


def wrap_org_key(
    org_key: KeyPair,
    *,
    org_id: uuid.UUID,
    recipient_public_key: bytes,
    wrapper_user_id: uuid.UUID,
    wrapper_signing_key: KeyPair,
) -> bytes:
    """HPKE-wrap the organisation private key to an administrator's encryption key, signed by
    the wrapping administrator. :class:`PublicKeyError` for an invalid recipient key."""
    return wrap_org_key_from_parts(
        org_key,
        org_id=org_id,
        recipient_public_key=recipient_public_key,
        wrapper_user_id=wrapper_user_id,
        wrapper_signing_key=wrapper_signing_key,
        ikm_e=os.urandom(32),
    )


def _parse(record: bytes) -> tuple[OrgKeyWrapHeader, bytes]:
    reader = Reader(record)
    reader.prefix(RecordType.ORG_KEY_WRAP)
    header = OrgKeyWrapHeader(
        org_id=reader.uuid(),
        recipient_key_id=reader.take(KEY_ID_LENGTH),
        wrapper_user_id=reader.uuid(),
        wrapper_key_id=reader.take(KEY_ID_LENGTH),
        org_key_id=reader.take(KEY_ID_LENGTH),
    )
    reader.take(_ENC + _SCALAR + _TAG + _SIGNATURE)
    reader.end()
    return header, reader.consumed()


def parse_org_key_wrap_header(record: bytes) -> OrgKeyWrapHeader:
    """The clear header, no key needed (the server files the record by it);
    :class:`OrgKeyWrapHeaderError` unless the record has the exact 0x0f shape."""
    try:
        return _parse(record)[0]
    except Malformed:
        raise OrgKeyWrapHeaderError from None


def _scalar_pair(scalar: bytes, expected_key_id: bytes) -> KeyPair:
    """The key pair of a decrypted scalar, which must be valid and have the expected id."""
    if not 1 <= int.from_bytes(scalar, "big") < P256_N:
        raise Malformed
    pair = key_pair_from_private(scalar)
    if not hmac.compare_digest(pair.key_id, expected_key_id):
        raise Malformed
    return pair


def open_org_key_wrap(
    record: bytes,
    *,
    org_id: uuid.UUID,
    org_key_id: bytes,
    recipient: KeyPair,
    wrapper_signing_public_key: bytes,
    wrapper_user_id: uuid.UUID | None = None,
) -> KeyPair:
    """Verify the wrapper's signature, check the addressing, decrypt, check the key.

    ``org_key_id`` is the id of the organisation key the caller pinned; the header must name
    it and the decrypted scalar must be that key. ``wrapper_signing_public_key`` is the
    wrapper's signing key as the caller's directory knows it (a certified administrator of
    the organisation: the caller's check), and ``wrapper_user_id`` its user (recommended).
    Raises :class:`OrgKeyUnwrapError`.
    """
    org = check_uuid("org_id", org_id)
    expected_key_id = check_bytes("org_key_id", org_key_id, KEY_ID_LENGTH)
    wrapper = None if wrapper_user_id is None else check_uuid("wrapper_user_id", wrapper_user_id)
    if not isinstance(recipient, KeyPair):
        raise TypeError("recipient must be a KeyPair")
    try:
        header, raw = _parse(record)
        if not hmac.compare_digest(key_id(wrapper_signing_public_key), header.wrapper_key_id):
            raise Malformed
        signed_end = len(raw) - _SIGNATURE
        p256_verify(wrapper_signing_public_key, _SIG_LABEL + raw[:signed_end], raw[signed_end:])
        if (
            header.org_id.bytes != org
            or header.recipient_key_id != recipient.key_id
            or header.org_key_id != expected_key_id
            or (wrapper is not None and header.wrapper_user_id.bytes != wrapper)
        ):
            raise Malformed
        scalar = open_base(
            recipient.private_key,
            raw[_WRAP_HEADER : _WRAP_HEADER + _ENC],
            _INFO_LABEL + org + recipient.key_id,
            raw[:_WRAP_HEADER],
            raw[_WRAP_HEADER + _ENC : signed_end],
        )
        return _scalar_pair(scalar, expected_key_id)
    except (Malformed, PrimitiveError, PublicKeyError):
        raise OrgKeyUnwrapError from None


def _handover_key(secret: bytes) -> bytes:
    return hkdf_sha256(secret, salt=b"", info=_HANDOVER_INFO, length=32)


def seal_org_key_handover_from_parts(
    org_key: KeyPair, *, org_id: uuid.UUID, invite_secret: bytes, nonce: bytes
) -> bytes:
    """Deterministic form of :func:`seal_org_key_handover` (nonce given)."""
    org_key = _org_key(org_key)
    secret = check_bytes("invite_secret", invite_secret, INVITE_SECRET_LENGTH)
    aad = (
        prefix(RecordType.ORG_KEY_HANDOVER)
        + check_uuid("org_id", org_id)
        + derive_invite_key(secret).key_id
    )
    nonce = check_bytes("nonce", nonce, _NONCE)
    return aad + nonce + aes256gcm_seal(_handover_key(secret), nonce, org_key.private_key, aad)


def seal_org_key_handover(org_key: KeyPair, *, org_id: uuid.UUID, invite_secret: bytes) -> bytes:
    """The organisation private key for whoever opens an administrator's invite link: sealed
    under a key derived from the link's secret ``s``, which the server never sees."""
    return seal_org_key_handover_from_parts(
        org_key, org_id=org_id, invite_secret=invite_secret, nonce=os.urandom(_NONCE)
    )


def open_org_key_handover(
    record: bytes, *, org_id: uuid.UUID, invite_secret: bytes, org_key_id: bytes
) -> KeyPair:
    """Open a 0x10 record with the invite link's secret and check the key against the link's
    organisation key id. Raises :class:`OrgKeyHandoverError`."""
    org = check_uuid("org_id", org_id)
    secret = check_bytes("invite_secret", invite_secret, INVITE_SECRET_LENGTH)
    expected_key_id = check_bytes("org_key_id", org_key_id, KEY_ID_LENGTH)
    try:
        reader = Reader(record)
        reader.prefix(RecordType.ORG_KEY_HANDOVER)
        if reader.take(16) != org or reader.take(KEY_ID_LENGTH) != derive_invite_key(secret).key_id:
            raise Malformed
        aad = reader.consumed()
        nonce = reader.take(_NONCE)
        ciphertext = reader.take(_SCALAR + _TAG)
        reader.end()
        scalar = aes256gcm_open(_handover_key(secret), nonce, ciphertext, aad)
        return _scalar_pair(scalar, expected_key_id)
    except (Malformed, PrimitiveError):
        raise OrgKeyHandoverError from None
