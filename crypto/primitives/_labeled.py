"""RFC 9180 section 4 LabeledExtract / LabeledExpand over HKDF-SHA256 (private).

Shared by ``ecc`` (DeriveKeyPair uses the KEM's labels) and ``hpke`` (KEM and key schedule)::

    LabeledExtract(salt, label, ikm) =
        Extract(salt, "HPKE-v1" || suite_id || label || ikm)
    LabeledExpand(prk, label, info, L) =
        Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info, L)

``suite_id`` is ``"KEM" || I2OSP(kem_id, 2)`` inside the KEM (section 4.1) and
``"HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2)`` in the key schedule
(section 5.1).
"""

from __future__ import annotations

from typing import Final

from crypto.primitives.kdf import hkdf_sha256_expand, hkdf_sha256_extract

__all__ = ["hpke_suite_id", "kem_suite_id", "labeled_expand", "labeled_extract"]

_HPKE_V1: Final = b"HPKE-v1"


def kem_suite_id(kem_id: int) -> bytes:
    """``"KEM" || I2OSP(kem_id, 2)`` (RFC 9180 section 4.1)."""
    return b"KEM" + kem_id.to_bytes(2, "big")


def hpke_suite_id(kem_id: int, kdf_id: int, aead_id: int) -> bytes:
    """``"HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2)`` (section 5.1)."""
    return (
        b"HPKE" + kem_id.to_bytes(2, "big") + kdf_id.to_bytes(2, "big") + aead_id.to_bytes(2, "big")
    )


def labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    """RFC 9180 LabeledExtract with HKDF-SHA256."""
    return hkdf_sha256_extract(salt, _HPKE_V1 + suite_id + label + ikm)


def labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    """RFC 9180 LabeledExpand with HKDF-SHA256 (``length`` < 2**16, encoded in 2 bytes)."""
    labeled_info = length.to_bytes(2, "big") + _HPKE_V1 + suite_id + label + info
    return hkdf_sha256_expand(prk, labeled_info, length)
