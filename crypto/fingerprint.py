"""Key ids and the numbers people compare ("safety numbers").

* ``key_id(pk) = SHA-256(SubjectPublicKeyInfo DER of pk)[:16]``: the 16-byte id that records
  use to name a P-256 public key (the SPKI form is what WebCrypto exports, so the browser
  port computes the same id with ``crypto.subtle.exportKey("spki", ...)``).
* ``account_fingerprint(signing_pk, encryption_pk)``: 30 decimal digits derived from
  ``SHA-256("dermline/v1/fingerprint" || 0x00 || SPKI(signing_pk) || SPKI(encryption_pk))``:
  the first 30 bytes are read as six 5-byte big-endian integers, each reduced mod 100,000 and
  written as 5 digits (after Signal's numeric fingerprints). About 99.6 bits.
* ``safety_number(ours, theirs)``: both parties' account fingerprints, the numerically smaller
  first, so both people see the same 60 digits; rendered as 12 groups of 5 digits.
* Hybrid (suite 2) keys: ``hybrid_key_id(pk) = SHA-256(SPKI DER of the X-Wing key)[:16]``
  (draft-connolly-cfrg-xwing-kem section 6 SPKI, 1240 bytes). An account that has a hybrid
  encryption key has the fingerprint ``SHA-256("dermline/v1/fingerprint-hybrid" || 0x00 ||
  SPKI(signing) || SPKI(encryption) || SPKI(hybrid))`` in the same digits, so the number two
  people compare covers all three keys (docs/protocol.md section 26).
"""

from __future__ import annotations

import hashlib
from typing import Final

from crypto._wire import LABEL_PREFIX, check_bytes
from crypto.errors import PrimitiveError, PublicKeyError
from crypto.primitives import xwing
from crypto.primitives.ecc import p256_check_public, p256_spki_der

__all__ = [
    "KEY_ID_LENGTH",
    "account_fingerprint",
    "format_digits",
    "hybrid_key_id",
    "hybrid_spki_der",
    "key_id",
    "safety_number",
    "spki_der",
]

KEY_ID_LENGTH: Final = 16
_PUBLIC_KEY_LENGTH: Final = 65
_FINGERPRINT_LABEL: Final = LABEL_PREFIX + b"fingerprint\x00"
_HYBRID_FINGERPRINT_LABEL: Final = LABEL_PREFIX + b"fingerprint-hybrid\x00"


def spki_der(public_key: bytes) -> bytes:
    """SPKI DER of a 65-byte uncompressed P-256 point; :class:`PublicKeyError` if invalid."""
    public_key = check_bytes("public_key", public_key)
    if len(public_key) != _PUBLIC_KEY_LENGTH:
        raise PublicKeyError
    try:
        p256_check_public(public_key)
        return p256_spki_der(public_key)
    except PrimitiveError:
        raise PublicKeyError from None


def key_id(public_key: bytes) -> bytes:
    """First 16 bytes of SHA-256 of the key's SPKI DER."""
    return hashlib.sha256(spki_der(public_key)).digest()[:KEY_ID_LENGTH]


def hybrid_spki_der(public_key: bytes) -> bytes:
    """SPKI DER of a 1216-byte X-Wing public key; :class:`PublicKeyError` if invalid."""
    public_key = check_bytes("public_key", public_key)
    try:
        return xwing.spki_der(public_key)
    except PrimitiveError:
        raise PublicKeyError from None


def hybrid_key_id(public_key: bytes) -> bytes:
    """First 16 bytes of SHA-256 of the X-Wing key's SPKI DER (the suite-2 key id)."""
    return hashlib.sha256(hybrid_spki_der(public_key)).digest()[:KEY_ID_LENGTH]


def _digits(digest: bytes) -> str:
    return "".join(
        f"{int.from_bytes(digest[i : i + 5], 'big') % 100_000:05d}" for i in range(0, 30, 5)
    )


def account_fingerprint(
    signing_public_key: bytes,
    encryption_public_key: bytes,
    hybrid_public_key: bytes | None = None,
) -> str:
    """30 digits that identify one account's public keys (two, or three with a hybrid key).

    Adding a hybrid key changes the fingerprint (another label, one more SPKI), so a contact
    who compared the old number sees a change, as with any key change.
    """
    keys = spki_der(signing_public_key) + spki_der(encryption_public_key)
    if hybrid_public_key is None:
        return _digits(hashlib.sha256(_FINGERPRINT_LABEL + keys).digest())
    keys += hybrid_spki_der(hybrid_public_key)
    return _digits(hashlib.sha256(_HYBRID_FINGERPRINT_LABEL + keys).digest())


def format_digits(digits: str) -> str:
    """Groups of 5 separated by spaces, e.g. ``"12345 67890"``."""
    return " ".join(digits[i : i + 5] for i in range(0, len(digits), 5))


def safety_number(
    ours: tuple[bytes, bytes] | tuple[bytes, bytes, bytes],
    theirs: tuple[bytes, bytes] | tuple[bytes, bytes, bytes],
) -> str:
    """The 60-digit number two people compare, in 12 groups of 5.

    Each argument is ``(signing_public_key, encryption_public_key)``, with the hybrid public
    key as a third element when the account has one. The result does not depend on which
    side computes it.
    """
    first, second = sorted((account_fingerprint(*ours), account_fingerprint(*theirs)))
    return format_digits(first + second)
