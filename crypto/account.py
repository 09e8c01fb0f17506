"""Account key pairs and their private parts sealed under the USK.

Every account has two P-256 key pairs, both generated with RFC 9180 ``DeriveKeyPair`` from 32
random bytes (so generation is reproducible in test vectors):

* the *encryption* pair (ECDH; case keys are HPKE-wrapped to its public key);
* the *signing* pair (ECDSA P-256 / SHA-256; signs message envelopes and case-key wraps).

Sealed private key record (type 0x05), 80 bytes::

    01 01 05 | purpose (1) | key id (16) | nonce (12) | AES-256-GCM ciphertext (48)
    seal key = HKDF-SHA256(USK, salt="", info="dermline/v1/private-key-seal", 32)
    aad      = the first 20 bytes (01 01 05 | purpose | key id)
               || "dermline/v1/private-key" || 0x00 || user id (16)

Purpose is 0x01 encryption, 0x02 signing, 0x03 hybrid encryption (suite 2: the private part is
the 32-byte X-Wing seed, sealed the same way; :func:`seal_hybrid_private_key`). On unseal the
purpose must be the expected one and the decrypted scalar (or seed) must give a public key
whose key id equals the one in the record, so a record cannot be swapped for another key of
the same user.
"""

from __future__ import annotations

import enum
import os
import uuid
from dataclasses import dataclass, field
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
from crypto.errors import PrimitiveError, PrivateKeyUnsealError
from crypto.fingerprint import hybrid_key_id, key_id
from crypto.primitives import xwing
from crypto.primitives.aead import aes256gcm_open, aes256gcm_seal
from crypto.primitives.ecc import P256_N, p256_derive_keypair, p256_public_key
from crypto.primitives.kdf import hkdf_sha256
from crypto.usk import USK_LENGTH

__all__ = [
    "HYBRID_ENCRYPTION_PURPOSE",
    "AccountKeys",
    "HybridKeyPair",
    "KeyPair",
    "KeyPurpose",
    "generate_account_keys",
    "generate_account_keys_from_parts",
    "generate_hybrid_key_pair",
    "generate_key_pair",
    "hybrid_key_pair_from_seed",
    "key_pair_from_private",
    "key_pair_from_seed",
    "seal_hybrid_private_key",
    "seal_hybrid_private_key_from_parts",
    "seal_private_key",
    "seal_private_key_from_parts",
    "unseal_hybrid_private_key",
    "unseal_private_key",
]

_NONCE: Final = 12
_SEAL_INFO: Final = LABEL_PREFIX + b"private-key-seal"
_AAD_LABEL: Final = LABEL_PREFIX + b"private-key\x00"


class KeyPurpose(enum.IntEnum):
    """What an account key pair is for (byte 3 of a sealed private key record)."""

    ENCRYPTION = 0x01
    SIGNING = 0x02


#: Byte 3 of a sealed private key record holding an X-Wing seed (suite 2). Not a
#: :class:`KeyPurpose`: those are the P-256 pairs, and ``seal_private_key`` takes only them.
HYBRID_ENCRYPTION_PURPOSE: Final = 0x03


@dataclass(frozen=True)
class KeyPair:
    """A P-256 key pair: 32-byte scalar, 65-byte uncompressed point, 16-byte key id."""

    private_key: bytes = field(repr=False)
    public_key: bytes
    key_id: bytes


@dataclass(frozen=True)
class HybridKeyPair:
    """An X-Wing key pair (suite 2): 32-byte seed, 1216-byte public key, 16-byte key id."""

    seed: bytes = field(repr=False)
    public_key: bytes
    key_id: bytes


@dataclass(frozen=True)
class AccountKeys:
    """An account's encryption and signing key pairs."""

    encryption: KeyPair
    signing: KeyPair


def key_pair_from_seed(ikm: bytes) -> KeyPair:
    """RFC 9180 DeriveKeyPair(ikm) for DHKEM(P-256); ``ikm`` is 32 random bytes."""
    private_key, public_key = p256_derive_keypair(check_bytes("ikm", ikm, 32))
    return KeyPair(private_key=private_key, public_key=public_key, key_id=key_id(public_key))


def key_pair_from_private(private_key: bytes) -> KeyPair:
    """Rebuild a key pair from its scalar (``ValueError`` if it is not a valid scalar)."""
    public_key = p256_public_key(check_bytes("private_key", private_key, 32))
    return KeyPair(private_key=private_key, public_key=public_key, key_id=key_id(public_key))


def generate_key_pair() -> KeyPair:
    """A fresh P-256 key pair."""
    return key_pair_from_seed(os.urandom(32))


def hybrid_key_pair_from_seed(seed: bytes) -> HybridKeyPair:
    """The X-Wing pair of a 32-byte seed (GenerateKeyPairDerand: the seed is the private key)."""
    seed, public_key = xwing.derive_key_pair(check_bytes("seed", seed, xwing.SEED_LEN))
    return HybridKeyPair(seed=seed, public_key=public_key, key_id=hybrid_key_id(public_key))


def generate_hybrid_key_pair() -> HybridKeyPair:
    """A fresh X-Wing key pair (an account's, the records key's or a drop box's)."""
    return hybrid_key_pair_from_seed(os.urandom(xwing.SEED_LEN))


def generate_account_keys_from_parts(*, encryption_ikm: bytes, signing_ikm: bytes) -> AccountKeys:
    """Deterministic form of :func:`generate_account_keys`."""
    return AccountKeys(
        encryption=key_pair_from_seed(encryption_ikm), signing=key_pair_from_seed(signing_ikm)
    )


def generate_account_keys() -> AccountKeys:
    """Fresh encryption and signing key pairs for a new account."""
    return generate_account_keys_from_parts(
        encryption_ikm=os.urandom(32), signing_ikm=os.urandom(32)
    )


def _seal_key(usk: bytes) -> bytes:
    usk = check_bytes("usk", usk, USK_LENGTH)
    return hkdf_sha256(usk, salt=b"", info=_SEAL_INFO, length=32)


def _seal(
    purpose: int,
    record_key_id: bytes,
    secret: bytes,
    usk: bytes,
    user_id: uuid.UUID,
    nonce: bytes,
) -> bytes:
    nonce = check_bytes("nonce", nonce, _NONCE)
    head = prefix(RecordType.SEALED_PRIVATE_KEY) + bytes((purpose,)) + record_key_id
    aad = head + _AAD_LABEL + check_uuid("user_id", user_id)
    return head + nonce + aes256gcm_seal(_seal_key(usk), nonce, secret, aad)


def _unseal(record: bytes, purpose: int, usk: bytes, user_id: uuid.UUID) -> tuple[bytes, bytes]:
    """``(key id in the record, decrypted 32 bytes)``; raises :class:`Malformed` or
    :class:`PrimitiveError` for a bad record."""
    seal_key = _seal_key(usk)
    user = check_uuid("user_id", user_id)
    reader = Reader(record)
    reader.prefix(RecordType.SEALED_PRIVATE_KEY)
    if reader.byte() != purpose:
        raise Malformed
    record_key_id = reader.take(16)
    head = reader.consumed()
    nonce = reader.take(_NONCE)
    ciphertext = reader.take(32 + 16)
    reader.end()
    return record_key_id, aes256gcm_open(seal_key, nonce, ciphertext, head + _AAD_LABEL + user)


def seal_private_key_from_parts(
    key_pair: KeyPair, purpose: KeyPurpose, usk: bytes, user_id: uuid.UUID, *, nonce: bytes
) -> bytes:
    """Deterministic form of :func:`seal_private_key`."""
    if not isinstance(key_pair, KeyPair):
        raise TypeError("key_pair must be a KeyPair")
    purpose = KeyPurpose(purpose)
    return _seal(purpose, key_pair.key_id, key_pair.private_key, usk, user_id, nonce)


def seal_private_key(
    key_pair: KeyPair, purpose: KeyPurpose, usk: bytes, user_id: uuid.UUID
) -> bytes:
    """Seal a private key under the USK for storage on the server (record type 0x05)."""
    return seal_private_key_from_parts(key_pair, purpose, usk, user_id, nonce=os.urandom(_NONCE))


def unseal_private_key(
    record: bytes, purpose: KeyPurpose, usk: bytes, user_id: uuid.UUID
) -> KeyPair:
    """The key pair, or :class:`PrivateKeyUnsealError` for anything wrong with the record."""
    purpose = KeyPurpose(purpose)
    try:
        record_key_id, private_key = _unseal(record, purpose, usk, user_id)
        # An authentic but invalid scalar (0 or >= n) can only come from a holder of the USK;
        # it is still refused with the same error. Checked here rather than by catching the
        # ValueError of p256_public_key, so that no misuse error of ours is ever swallowed.
        if not 1 <= int.from_bytes(private_key, "big") < P256_N:
            raise Malformed
    except (Malformed, PrimitiveError):
        raise PrivateKeyUnsealError from None
    public_key = p256_public_key(private_key)
    pair = KeyPair(private_key=private_key, public_key=public_key, key_id=key_id(public_key))
    if pair.key_id != record_key_id:
        raise PrivateKeyUnsealError
    return pair


def seal_hybrid_private_key_from_parts(
    key_pair: HybridKeyPair, usk: bytes, user_id: uuid.UUID, *, nonce: bytes
) -> bytes:
    """Deterministic form of :func:`seal_hybrid_private_key`."""
    if not isinstance(key_pair, HybridKeyPair):
        raise TypeError("key_pair must be a HybridKeyPair")
    return _seal(HYBRID_ENCRYPTION_PURPOSE, key_pair.key_id, key_pair.seed, usk, user_id, nonce)


def seal_hybrid_private_key(key_pair: HybridKeyPair, usk: bytes, user_id: uuid.UUID) -> bytes:
    """Seal an X-Wing seed under the USK (record type 0x05, purpose 0x03), 80 bytes."""
    return seal_hybrid_private_key_from_parts(key_pair, usk, user_id, nonce=os.urandom(_NONCE))


def unseal_hybrid_private_key(record: bytes, usk: bytes, user_id: uuid.UUID) -> HybridKeyPair:
    """The hybrid key pair, or :class:`PrivateKeyUnsealError`.

    As for the classical keys, the public key made from the decrypted seed must have the
    record's key id, so the record cannot be swapped for another key of the same user.
    """
    try:
        record_key_id, seed = _unseal(record, HYBRID_ENCRYPTION_PURPOSE, usk, user_id)
    except (Malformed, PrimitiveError):
        raise PrivateKeyUnsealError from None
    pair = hybrid_key_pair_from_seed(seed)
    if pair.key_id != record_key_id:
        raise PrivateKeyUnsealError
    return pair
