"""The user symmetric key (USK) and its three wraps.

The USK is 32 random bytes made at enrolment. It seals the account private keys
(:mod:`crypto.account`) and is itself stored on the server in three wrapped forms:

Under the KEK (type 0x02) and under the recovery key (type 0x03), 63 bytes each::

    01 01 TT | nonce (12) | AES-256-GCM(wrap key, nonce, USK, aad) (48)
    aad = 01 01 TT || "dermline/v1/usk-kek" or "dermline/v1/usk-recovery" || 0x00 || user id

The KEK wrap key is the KEK itself; the recovery wrap key is
``HKDF-SHA256(recovery secret, salt="", info="dermline/v1/recovery-wrap-key", 32)``.

To the organisation recovery key with HPKE (type 0x04), 132 bytes::

    01 01 04 | org key id (16) | enc (65) | HPKE ciphertext (48)
    info = "dermline/v1/usk-org" || 0x00 || user id (16) || org key id (16)
    aad  = 01 01 04 || org key id

Binding the user id means a wrapped USK copied to another account's row does not unwrap.
"""

from __future__ import annotations

import os
import uuid
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
from crypto.errors import (
    PrimitiveError,
    UskKekUnwrapError,
    UskOrgUnwrapError,
    UskRecoveryUnwrapError,
)
from crypto.fingerprint import key_id
from crypto.primitives.aead import aes256gcm_open, aes256gcm_seal
from crypto.primitives.ecc import p256_public_key
from crypto.primitives.hpke import open_base, seal_base
from crypto.primitives.kdf import hkdf_sha256
from crypto.recovery_key import RECOVERY_SECRET_LENGTH

__all__ = [
    "USK_LENGTH",
    "generate_usk",
    "unwrap_usk_for_org",
    "unwrap_usk_with_kek",
    "unwrap_usk_with_recovery_key",
    "wrap_usk_for_org",
    "wrap_usk_for_org_from_parts",
    "wrap_usk_with_kek",
    "wrap_usk_with_kek_from_parts",
    "wrap_usk_with_recovery_key",
    "wrap_usk_with_recovery_key_from_parts",
]

USK_LENGTH: Final = 32
_NONCE: Final = 12
_KEK_LABEL: Final = LABEL_PREFIX + b"usk-kek\x00"
_RECOVERY_LABEL: Final = LABEL_PREFIX + b"usk-recovery\x00"
_RECOVERY_WRAP_INFO: Final = LABEL_PREFIX + b"recovery-wrap-key"
_ORG_INFO: Final = LABEL_PREFIX + b"usk-org\x00"


def generate_usk() -> bytes:
    """A fresh 256-bit user symmetric key."""
    return os.urandom(USK_LENGTH)


def _seal(
    record_type: int, label: bytes, key: bytes, usk: bytes, user_id: uuid.UUID, nonce: bytes
) -> bytes:
    usk = check_bytes("usk", usk, USK_LENGTH)
    nonce = check_bytes("nonce", nonce, _NONCE)
    head = prefix(record_type)
    aad = head + label + check_uuid("user_id", user_id)
    return head + nonce + aes256gcm_seal(key, nonce, usk, aad)


def _open(record_type: int, label: bytes, key: bytes, record: bytes, user_id: uuid.UUID) -> bytes:
    """Raises :class:`Malformed` or :class:`PrimitiveError`; callers map both to one error."""
    aad_tail = label + check_uuid("user_id", user_id)
    reader = Reader(record)
    reader.prefix(record_type)
    nonce = reader.take(_NONCE)
    ciphertext = reader.take(USK_LENGTH + 16)
    reader.end()
    return aes256gcm_open(key, nonce, ciphertext, prefix(record_type) + aad_tail)


def wrap_usk_with_kek_from_parts(
    usk: bytes, kek: bytes, user_id: uuid.UUID, *, nonce: bytes
) -> bytes:
    """Deterministic form of :func:`wrap_usk_with_kek` (the nonce is given)."""
    kek = check_bytes("kek", kek, 32)
    return _seal(RecordType.USK_KEK, _KEK_LABEL, kek, usk, user_id, nonce)


def wrap_usk_with_kek(usk: bytes, kek: bytes, user_id: uuid.UUID) -> bytes:
    """Wrap the USK under the password-derived KEK (record type 0x02)."""
    return wrap_usk_with_kek_from_parts(usk, kek, user_id, nonce=os.urandom(_NONCE))


def unwrap_usk_with_kek(record: bytes, kek: bytes, user_id: uuid.UUID) -> bytes:
    """The USK, or :class:`UskKekUnwrapError` (wrong password or corrupted record)."""
    kek = check_bytes("kek", kek, 32)
    try:
        return _open(RecordType.USK_KEK, _KEK_LABEL, kek, record, user_id)
    except (Malformed, PrimitiveError):
        raise UskKekUnwrapError from None


def _recovery_wrap_key(recovery_secret: bytes) -> bytes:
    secret = check_bytes("recovery_secret", recovery_secret, RECOVERY_SECRET_LENGTH)
    return hkdf_sha256(secret, salt=b"", info=_RECOVERY_WRAP_INFO, length=32)


def wrap_usk_with_recovery_key_from_parts(
    usk: bytes, recovery_secret: bytes, user_id: uuid.UUID, *, nonce: bytes
) -> bytes:
    """Deterministic form of :func:`wrap_usk_with_recovery_key`."""
    key = _recovery_wrap_key(recovery_secret)
    return _seal(RecordType.USK_RECOVERY, _RECOVERY_LABEL, key, usk, user_id, nonce)


def wrap_usk_with_recovery_key(usk: bytes, recovery_secret: bytes, user_id: uuid.UUID) -> bytes:
    """Wrap the USK under the 32-byte recovery secret (record type 0x03).

    ``recovery_secret`` is what :func:`crypto.recovery_key.decode_recovery_key` returns.
    """
    return wrap_usk_with_recovery_key_from_parts(
        usk, recovery_secret, user_id, nonce=os.urandom(_NONCE)
    )


def unwrap_usk_with_recovery_key(
    record: bytes, recovery_secret: bytes, user_id: uuid.UUID
) -> bytes:
    """The USK, or :class:`UskRecoveryUnwrapError`."""
    key = _recovery_wrap_key(recovery_secret)
    try:
        return _open(RecordType.USK_RECOVERY, _RECOVERY_LABEL, key, record, user_id)
    except (Malformed, PrimitiveError):
        raise UskRecoveryUnwrapError from None


def wrap_usk_for_org_from_parts(
    usk: bytes, org_public_key: bytes, user_id: uuid.UUID, *, ikm_e: bytes
) -> bytes:
    """Deterministic form of :func:`wrap_usk_for_org` (HPKE ephemeral ikm given)."""
    usk = check_bytes("usk", usk, USK_LENGTH)
    user = check_uuid("user_id", user_id)
    org_id = key_id(org_public_key)
    head = prefix(RecordType.USK_ORG) + org_id
    enc, ciphertext = seal_base(org_public_key, _ORG_INFO + user + org_id, head, usk, ikm_e=ikm_e)
    return head + enc + ciphertext


def wrap_usk_for_org(usk: bytes, org_public_key: bytes, user_id: uuid.UUID) -> bytes:
    """HPKE-wrap the USK to the organisation recovery public key (record type 0x04).

    Raises :class:`crypto.errors.PublicKeyError` if the public key is not a valid point.
    """
    return wrap_usk_for_org_from_parts(usk, org_public_key, user_id, ikm_e=os.urandom(32))


def unwrap_usk_for_org(record: bytes, org_private_key: bytes, user_id: uuid.UUID) -> bytes:
    """Admin-assisted recovery: the USK, or :class:`UskOrgUnwrapError`."""
    org_private_key = check_bytes("org_private_key", org_private_key, 32)
    user = check_uuid("user_id", user_id)
    own_id = key_id(p256_public_key(org_private_key))  # ValueError if not a valid scalar
    reader = Reader(record)
    try:
        reader.prefix(RecordType.USK_ORG)
        org_id = reader.take(16)
        head = reader.consumed()
        enc = reader.take(65)
        ciphertext = reader.take(USK_LENGTH + 16)
        reader.end()
        if org_id != own_id:
            raise Malformed
        return open_base(org_private_key, enc, _ORG_INFO + user + org_id, head, ciphertext)
    except (Malformed, PrimitiveError):
        raise UskOrgUnwrapError from None
