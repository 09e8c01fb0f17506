"""Audit checkpoints: the server's signature over the head of its audit hash chain
(``docs/storage.md``, "Audit log").

The storage layer keeps a hash-chained audit log and now and then signs "the chain up to
entry ``seq`` has head hash ``head_hash``" with the server's audit key, so that a later
edit, deletion or truncation is detected even if the whole chain were re-hashed. This module
is that signature, and nothing else: making the key, reading it back, signing, verifying.

Wire formats (unchanged since the first stored checkpoint)::

    signing key   = PKCS#8 DER (RFC 5208, RFC 5915) of a P-256 private key
    message       = "dermline/audit-checkpoint/v1" | seq:u64be | head_hash:32
                    | created_at_us:i64be
    signature     = DER Ecdsa-Sig-Value (RFC 3279): ECDSA P-256 / SHA-256 over ``message``,
                    RFC 6979 deterministic (the same checkpoint always signs the same)

Pure functions over bytes, no I/O and no randomness: :func:`new_signing_key` derives the key
from caller-supplied randomness (RFC 9180 ``DeriveKeyPair``, as every other key here).
Errors follow :mod:`crypto.errors`: our own caller's misuse raises ``TypeError`` /
``ValueError``; a stored key or signature that does not parse or verify raises
:class:`~crypto.errors.AuditCheckpointError`.
"""

from __future__ import annotations

import struct
from typing import Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from crypto.errors import AuditCheckpointError, PrimitiveError
from crypto.primitives import ecc
from crypto.primitives._checks import require_bytes, require_len

__all__ = [
    "CHECKPOINT_LABEL",
    "HEAD_HASH_LEN",
    "checkpoint_message",
    "load_signing_key",
    "new_signing_key",
    "public_key",
    "sign_checkpoint",
    "verify_checkpoint",
]

CHECKPOINT_LABEL: Final = b"dermline/audit-checkpoint/v1"
HEAD_HASH_LEN: Final = 32


def new_signing_key(ikm: bytes) -> bytes:
    """A new audit signing key as PKCS#8 DER, derived from ``ikm`` (at least 32 bytes of
    fresh randomness)."""
    sk, _ = ecc.p256_derive_keypair(ikm)
    private = ec.derive_private_key(int.from_bytes(sk, "big"), ec.SECP256R1())
    return private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_signing_key(pkcs8: bytes) -> bytes:
    """Parse a stored PKCS#8 DER key; return its 32-byte P-256 scalar.
    :class:`AuditCheckpointError` for anything that is not an unencrypted P-256 key."""
    require_bytes("pkcs8", pkcs8)
    try:
        key = serialization.load_der_private_key(pkcs8, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise AuditCheckpointError from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise AuditCheckpointError
    return key.private_numbers().private_value.to_bytes(ecc.P256_SCALAR_LEN, "big")


def public_key(sk: bytes) -> bytes:
    """The 65-byte uncompressed public point of the signing key ``sk`` (its SPKI DER is
    ``crypto.primitives.ecc.p256_spki_der`` of this)."""
    return ecc.p256_public_key(sk)


def checkpoint_message(seq: int, head_hash: bytes, created_at_us: int) -> bytes:
    """The bytes a checkpoint signature covers. ``ValueError`` for a ``seq`` outside
    0..2**64-1, a hash that is not 32 bytes, or a time outside a signed 64-bit range."""
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**64:
        raise ValueError("seq must be an unsigned 64-bit int")
    if (
        not isinstance(created_at_us, int)
        or isinstance(created_at_us, bool)
        or not -(2**63) <= created_at_us < 2**63
    ):
        raise ValueError("created_at_us must be a signed 64-bit int")
    require_len("head_hash", head_hash, HEAD_HASH_LEN)
    return CHECKPOINT_LABEL + struct.pack(">Q", seq) + head_hash + struct.pack(">q", created_at_us)


def sign_checkpoint(sk: bytes, seq: int, head_hash: bytes, created_at_us: int) -> bytes:
    """Sign the checkpoint (seq, head_hash, created_at_us) with ``sk``: a DER signature,
    deterministic (RFC 6979)."""
    message = checkpoint_message(seq, head_hash, created_at_us)
    return ecc.p1363_to_der(ecc.p256_sign(sk, message))


def verify_checkpoint(
    pk: bytes, seq: int, head_hash: bytes, created_at_us: int, signature: bytes
) -> None:
    """Check a stored checkpoint against the 65-byte public key ``pk``; return ``None`` if
    it verifies. Everything but ``pk`` comes from storage and may have been tampered with:
    a malformed hash, time or signature, or a signature that does not verify, raises
    :class:`AuditCheckpointError`."""
    require_bytes("signature", signature)
    require_bytes("head_hash", head_hash)
    try:
        message = checkpoint_message(seq, head_hash, created_at_us)
        ecc.p256_verify(pk, message, ecc.der_to_p1363(signature))
    except (ValueError, PrimitiveError):
        raise AuditCheckpointError from None
