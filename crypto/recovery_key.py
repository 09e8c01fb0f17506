"""The printed recovery key: 256 random bits in a form people can type back.

Encoding (docs/protocol.md, "Recovery key"): ``secret (32 bytes) || checksum (3 bytes)``
where ``checksum = SHA-256("dermline/v1/recovery-key" || 0x00 || secret)[:3]``; the 35 bytes
(280 bits) are written in Crockford base32 (digits and capitals without I, L, O, U) as 56
characters in 14 groups of 4 joined by ``-``. Example shape::

    0F3K-9QXA-...-7ZT2     (14 groups)

Decoding is forgiving about what people do (case, spaces, hyphens, ``O`` for ``0``, ``I`` or
``L`` for ``1``) and strict about everything else. A single mistyped character changes 5 bits
of the payload, so the 24-bit checksum catches it except with probability 2^-24; the error
then says the text does not look like a recovery key, before any decryption is attempted.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Final

from crypto._wire import LABEL_PREFIX, check_bytes
from crypto.errors import RecoveryKeyFormatError

__all__ = [
    "RECOVERY_KEY_CHARACTERS",
    "RECOVERY_SECRET_LENGTH",
    "decode_recovery_key",
    "encode_recovery_key",
    "new_recovery_secret",
]

RECOVERY_SECRET_LENGTH: Final = 32
_CHECKSUM_LENGTH: Final = 3
RECOVERY_KEY_CHARACTERS: Final = 56
_GROUP: Final = 4
_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUES: Final = {c: i for i, c in enumerate(_ALPHABET)} | {"O": 0, "I": 1, "L": 1}
_CHECKSUM_LABEL: Final = LABEL_PREFIX + b"recovery-key\x00"
_SEPARATORS: Final = frozenset(" -\t\n\r")


def _checksum(secret: bytes) -> bytes:
    return hashlib.sha256(_CHECKSUM_LABEL + secret).digest()[:_CHECKSUM_LENGTH]


def new_recovery_secret() -> bytes:
    """32 fresh random bytes for a new recovery key."""
    return os.urandom(RECOVERY_SECRET_LENGTH)


def encode_recovery_key(secret: bytes) -> str:
    """The printable form of a 32-byte recovery secret (56 characters in groups of 4)."""
    secret = check_bytes("secret", secret, RECOVERY_SECRET_LENGTH)
    number = int.from_bytes(secret + _checksum(secret), "big")
    chars = [
        _ALPHABET[(number >> (5 * (RECOVERY_KEY_CHARACTERS - 1 - i))) & 31]
        for i in range(RECOVERY_KEY_CHARACTERS)
    ]
    text = "".join(chars)
    return "-".join(text[i : i + _GROUP] for i in range(0, RECOVERY_KEY_CHARACTERS, _GROUP))


def decode_recovery_key(text: str) -> bytes:
    """The 32-byte secret from what the person typed.

    Raises :class:`crypto.errors.RecoveryKeyFormatError` (a ``ValueError``) with a message
    meant for the person when the text is not a recovery key. The message never repeats the
    text.
    """
    if not isinstance(text, str):
        raise TypeError("recovery key must be str")
    number = 0
    count = 0
    for char in text:
        if char in _SEPARATORS:
            continue
        value = _VALUES.get(char.upper())
        if value is None:
            raise RecoveryKeyFormatError(
                "That does not look like a recovery key: it contains a character that "
                "recovery keys never use. Recovery keys use digits and the letters A to Z "
                "except I, L, O and U."
            )
        count += 1
        if count <= RECOVERY_KEY_CHARACTERS:  # do not build a huge integer from a long paste
            number = (number << 5) | value
    if count != RECOVERY_KEY_CHARACTERS:
        raise RecoveryKeyFormatError(
            f"That does not look like a recovery key: a recovery key has "
            f"{RECOVERY_KEY_CHARACTERS} characters (14 groups of 4), this has {count}."
        )
    payload = number.to_bytes(RECOVERY_SECRET_LENGTH + _CHECKSUM_LENGTH, "big")
    secret, checksum = payload[:RECOVERY_SECRET_LENGTH], payload[RECOVERY_SECRET_LENGTH:]
    # Constant-time out of habit: the checksum is derived from the secret.
    if not hmac.compare_digest(_checksum(secret), checksum):
        raise RecoveryKeyFormatError(
            "That does not look like a recovery key: the characters do not add up, so "
            "something was probably mistyped. Please check each group against the printout."
        )
    return secret
