"""The user symmetric key (USK) and its wraps.

The USK is 32 random bytes made at enrolment. It seals the account private keys
(:mod:`crypto.account`) and is itself stored on the server in three wrapped forms:

Under the KEK (type 0x02) and under the recovery key (type 0x03), 63 bytes each::

    01 01 TT | nonce (12) | AES-256-GCM(wrap key, nonce, USK, aad) (48)
    aad = 01 01 TT || "dermline/v1/usk-kek" or "dermline/v1/usk-recovery" || 0x00 || user id

The KEK wrap key is the KEK itself; the recovery wrap key is
``HKDF-SHA256(recovery secret, salt="", info="dermline/v1/recovery-wrap-key", 32)``.

To the organisation recovery key with HPKE (type 0x04), 132 bytes (suite 2, ``01 02 04``:
the X-Wing key's id, a 1120-byte ``enc``, 1187 bytes; same labels)::

    01 01 04 | org key id (16) | enc (65) | HPKE ciphertext (48)
    info = "dermline/v1/usk-org" || 0x00 || user id (16) || org key id (16)
    aad  = 01 01 04 || org key id

Under a passkey's PRF output (type 0x11), 63 bytes, for unlocking on a device with the
passkey instead of the password (docs/protocol.md section 25)::

    01 01 11 | nonce (12) | AES-256-GCM(wrap key, nonce, USK, aad) (48)
    wrap key = HKDF-SHA256(PRF output (32), salt="", info="dermline/v1/passkey-wrap-key", 32)
    aad      = 01 01 11 || "dermline/v1/usk-passkey" || 0x00 || user id (16)
               || SHA-256(credential id) (32)

The PRF output is what the authenticator answers to the WebAuthn ``prf`` extension with
``eval.first = PASSKEY_PRF_INPUT``.

Binding the user id means a wrapped USK copied to another account's row does not unwrap; the
passkey wrap also binds the credential, so it does not open as another passkey's wrap.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import Final

from crypto._wire import (
    LABEL_PREFIX,
    SUITE_HYBRID,
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
    UskPasskeyUnwrapError,
    UskRecoveryUnwrapError,
)
from crypto.fingerprint import hybrid_key_id, key_id
from crypto.primitives import xwing
from crypto.primitives.aead import aes256gcm_open, aes256gcm_seal
from crypto.primitives.ecc import p256_public_key
from crypto.primitives.hpke import open_base, open_base_hybrid, seal_base, seal_base_hybrid
from crypto.primitives.kdf import hkdf_sha256
from crypto.recovery_key import RECOVERY_SECRET_LENGTH

__all__ = [
    "PASSKEY_PRF_INPUT",
    "PASSKEY_WRAP_LENGTH",
    "PRF_OUTPUT_LENGTH",
    "USK_LENGTH",
    "check_passkey_wrap_form",
    "generate_usk",
    "unwrap_usk_for_org",
    "unwrap_usk_for_org_hybrid",
    "unwrap_usk_with_kek",
    "unwrap_usk_with_passkey",
    "unwrap_usk_with_recovery_key",
    "wrap_usk_for_org",
    "wrap_usk_for_org_from_parts",
    "wrap_usk_for_org_hybrid",
    "wrap_usk_for_org_hybrid_from_parts",
    "wrap_usk_with_kek",
    "wrap_usk_with_kek_from_parts",
    "wrap_usk_with_passkey",
    "wrap_usk_with_passkey_from_parts",
    "wrap_usk_with_recovery_key",
    "wrap_usk_with_recovery_key_from_parts",
]

USK_LENGTH: Final = 32
_NONCE: Final = 12
_KEK_LABEL: Final = LABEL_PREFIX + b"usk-kek\x00"
_RECOVERY_LABEL: Final = LABEL_PREFIX + b"usk-recovery\x00"
_RECOVERY_WRAP_INFO: Final = LABEL_PREFIX + b"recovery-wrap-key"
_ORG_INFO: Final = LABEL_PREFIX + b"usk-org\x00"
_PASSKEY_LABEL: Final = LABEL_PREFIX + b"usk-passkey\x00"
_PASSKEY_WRAP_INFO: Final = LABEL_PREFIX + b"passkey-wrap-key"
#: The WebAuthn PRF extension's input (``prf.eval.first``), the same for every passkey: the
#: authenticator's secret differs per credential, so the outputs do.
PASSKEY_PRF_INPUT: Final = LABEL_PREFIX + b"passkey-prf"
#: WebAuthn PRF results are 32 bytes (CTAP2 hmac-secret: HMAC-SHA-256).
PRF_OUTPUT_LENGTH: Final = 32
PASSKEY_WRAP_LENGTH: Final = 3 + 12 + 32 + 16
#: WebAuthn Level 3: a credential id is at most 1023 bytes.
_MAX_CREDENTIAL_ID: Final = 1023


def generate_usk() -> bytes:
    """A fresh 256-bit user symmetric key."""
    return os.urandom(USK_LENGTH)


def _seal(
    record_type: int, label: bytes, key: bytes, usk: bytes, bound: bytes, nonce: bytes
) -> bytes:
    """``bound``: what the AAD binds after the label (the user id's 16 bytes, and for 0x11 the
    credential id's hash)."""
    usk = check_bytes("usk", usk, USK_LENGTH)
    nonce = check_bytes("nonce", nonce, _NONCE)
    head = prefix(record_type)
    return head + nonce + aes256gcm_seal(key, nonce, usk, head + label + bound)


def _open(record_type: int, label: bytes, key: bytes, record: bytes, bound: bytes) -> bytes:
    """Raises :class:`Malformed` or :class:`PrimitiveError`; callers map both to one error."""
    reader = Reader(record)
    reader.prefix(record_type)
    nonce = reader.take(_NONCE)
    ciphertext = reader.take(USK_LENGTH + 16)
    reader.end()
    return aes256gcm_open(key, nonce, ciphertext, prefix(record_type) + label + bound)


def wrap_usk_with_kek_from_parts(
    usk: bytes, kek: bytes, user_id: uuid.UUID, *, nonce: bytes
) -> bytes:
    """Deterministic form of :func:`wrap_usk_with_kek` (the nonce is given)."""
    kek = check_bytes("kek", kek, 32)
    return _seal(RecordType.USK_KEK, _KEK_LABEL, kek, usk, check_uuid("user_id", user_id), nonce)


def wrap_usk_with_kek(usk: bytes, kek: bytes, user_id: uuid.UUID) -> bytes:
    """Wrap the USK under the password-derived KEK (record type 0x02)."""
    return wrap_usk_with_kek_from_parts(usk, kek, user_id, nonce=os.urandom(_NONCE))


def unwrap_usk_with_kek(record: bytes, kek: bytes, user_id: uuid.UUID) -> bytes:
    """The USK, or :class:`UskKekUnwrapError` (wrong password or corrupted record)."""
    kek = check_bytes("kek", kek, 32)
    user = check_uuid("user_id", user_id)
    try:
        return _open(RecordType.USK_KEK, _KEK_LABEL, kek, record, user)
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
    user = check_uuid("user_id", user_id)
    return _seal(RecordType.USK_RECOVERY, _RECOVERY_LABEL, key, usk, user, nonce)


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
    user = check_uuid("user_id", user_id)
    try:
        return _open(RecordType.USK_RECOVERY, _RECOVERY_LABEL, key, record, user)
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


def wrap_usk_for_org_hybrid_from_parts(
    usk: bytes, org_public_key: bytes, user_id: uuid.UUID, *, encapsulation: xwing.Encapsulation
) -> bytes:
    """Deterministic form of :func:`wrap_usk_for_org_hybrid` (the X-Wing encapsulation given)."""
    usk = check_bytes("usk", usk, USK_LENGTH)
    user = check_uuid("user_id", user_id)
    org_id = hybrid_key_id(org_public_key)
    head = prefix(RecordType.USK_ORG, SUITE_HYBRID) + org_id
    enc, ciphertext = seal_base_hybrid(encapsulation, _ORG_INFO + user + org_id, head, usk)
    return head + enc + ciphertext


def wrap_usk_for_org_hybrid(usk: bytes, org_public_key: bytes, user_id: uuid.UUID) -> bytes:
    """The suite-2 record ``01 02 04`` (1187 bytes) to the organisation's X-Wing key.

    Layout as 0x04 with the hybrid key's id and X-Wing's 1120-byte ``enc``; same labels.
    Raises :class:`crypto.errors.PublicKeyError` if the key is not a valid X-Wing key.
    """
    hybrid_key_id(org_public_key)  # PublicKeyError before any work
    encapsulation = xwing.encapsulate(org_public_key)
    return wrap_usk_for_org_hybrid_from_parts(
        usk, org_public_key, user_id, encapsulation=encapsulation
    )


def unwrap_usk_for_org_hybrid(record: bytes, org_hybrid_seed: bytes, user_id: uuid.UUID) -> bytes:
    """Admin-assisted recovery from a suite-2 record: the USK, or :class:`UskOrgUnwrapError`.

    ``org_hybrid_seed`` is the organisation's X-Wing private key (its 32-byte seed). A
    suite-1 record is refused here (it opens with :func:`unwrap_usk_for_org`).
    """
    own_id = hybrid_key_id(xwing.public_key(check_bytes("org_hybrid_seed", org_hybrid_seed, 32)))
    user = check_uuid("user_id", user_id)
    reader = Reader(record)
    try:
        if reader.suite_prefix(RecordType.USK_ORG) != SUITE_HYBRID:
            raise Malformed
        org_id = reader.take(16)
        head = reader.consumed()
        enc = reader.take(xwing.CIPHERTEXT_LEN)
        ciphertext = reader.take(USK_LENGTH + 16)
        reader.end()
        if org_id != own_id:
            raise Malformed
        info = _ORG_INFO + user + org_id
        return open_base_hybrid(org_hybrid_seed, enc, info, head, ciphertext)
    except (Malformed, PrimitiveError):
        raise UskOrgUnwrapError from None


def _passkey_parts(prf_output: bytes, credential_id: bytes) -> tuple[bytes, bytes]:
    """The wrap key and the AAD tail's credential part (misuse checks on both)."""
    prf = check_bytes("prf_output", prf_output, PRF_OUTPUT_LENGTH)
    cred = check_bytes("credential_id", credential_id)
    if not 1 <= len(cred) <= _MAX_CREDENTIAL_ID:
        raise ValueError("credential_id must be 1..1023 bytes")
    key = hkdf_sha256(prf, salt=b"", info=_PASSKEY_WRAP_INFO, length=32)
    return key, hashlib.sha256(cred).digest()


def wrap_usk_with_passkey_from_parts(
    usk: bytes, prf_output: bytes, user_id: uuid.UUID, credential_id: bytes, *, nonce: bytes
) -> bytes:
    """Deterministic form of :func:`wrap_usk_with_passkey` (the nonce is given)."""
    key, cred_hash = _passkey_parts(prf_output, credential_id)
    bound = check_uuid("user_id", user_id) + cred_hash
    return _seal(RecordType.USK_PASSKEY, _PASSKEY_LABEL, key, usk, bound, nonce)


def wrap_usk_with_passkey(
    usk: bytes, prf_output: bytes, user_id: uuid.UUID, credential_id: bytes
) -> bytes:
    """Wrap the USK under a passkey's 32-byte PRF output (record type 0x11)."""
    return wrap_usk_with_passkey_from_parts(
        usk, prf_output, user_id, credential_id, nonce=os.urandom(_NONCE)
    )


def unwrap_usk_with_passkey(
    record: bytes, prf_output: bytes, user_id: uuid.UUID, credential_id: bytes
) -> bytes:
    """The USK, or :class:`UskPasskeyUnwrapError`."""
    key, cred_hash = _passkey_parts(prf_output, credential_id)
    user = check_uuid("user_id", user_id)
    try:
        return _open(RecordType.USK_PASSKEY, _PASSKEY_LABEL, key, record, user + cred_hash)
    except (Malformed, PrimitiveError):
        raise UskPasskeyUnwrapError from None


def check_passkey_wrap_form(record: bytes) -> None:
    """What the server can check of a 0x11 record it stores (it holds no key to open it):
    its prefix and length. :class:`UskPasskeyUnwrapError` otherwise."""
    reader = Reader(record)
    try:
        reader.prefix(RecordType.USK_PASSKEY)
        reader.take(PASSKEY_WRAP_LENGTH - 3)
        reader.end()
    except Malformed:
        raise UskPasskeyUnwrapError from None
