"""AES-GCM with a 96-bit nonce and a 128-bit tag (NIST SP 800-38D), over pyca's ``AESGCM``.

Output framing is ``ciphertext || tag`` (the tag is the last 16 bytes), which is also what
WebCrypto's ``AES-GCM`` returns, so records are byte-identical between the Python core and
the browser port.

Rules enforced here:

* the key is exactly 32 bytes (AES-256) for :func:`aes256gcm_seal` / :func:`aes256gcm_open`;
  AES-128 exists only because two RFC 9180 test-vector suites use it;
* the nonce is exactly 12 bytes: other GCM nonce lengths go through GHASH and have weaker
  bounds (SP 800-38D section 8.2), and WebCrypto callers always use 12;
* a wrong key or nonce *length* or a non-``bytes`` argument is misuse by our own code
  (``ValueError`` / ``TypeError``); a ciphertext that fails authentication, or is too short
  to hold a tag, is hostile input and raises :class:`~crypto.errors.PrimitiveError`, with no
  hint of what was wrong and no partial plaintext.

Nonce uniqueness is the caller's job (random 96-bit nonces, at most 2**32 messages per key,
SP 800-38D section 8.3).
"""

from __future__ import annotations

from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto.errors import PrimitiveError
from crypto.primitives._checks import require_bytes, require_len

__all__ = [
    "AES128_KEY_LEN",
    "AES256_KEY_LEN",
    "GCM_NONCE_LEN",
    "GCM_TAG_LEN",
    "aes128gcm_open",
    "aes128gcm_seal",
    "aes256gcm_open",
    "aes256gcm_seal",
]

AES256_KEY_LEN: Final = 32
AES128_KEY_LEN: Final = 16
GCM_NONCE_LEN: Final = 12
GCM_TAG_LEN: Final = 16


def _seal(key: bytes, key_len: int, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    aead = AESGCM(require_len("key", key, key_len))
    return aead.encrypt(
        require_len("nonce", nonce, GCM_NONCE_LEN),
        require_bytes("plaintext", plaintext),
        require_bytes("aad", aad),
    )


def _open(key: bytes, key_len: int, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    aead = AESGCM(require_len("key", key, key_len))
    require_len("nonce", nonce, GCM_NONCE_LEN)
    require_bytes("ciphertext", ciphertext)
    require_bytes("aad", aad)
    if len(ciphertext) < GCM_TAG_LEN:
        # Too short to even hold the tag: hostile, not misuse.
        raise PrimitiveError
    try:
        return aead.decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise PrimitiveError from None


def aes256gcm_seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt with AES-256-GCM; return ``ciphertext || tag`` (``len(plaintext) + 16`` bytes).

    >>> aes256gcm_seal(bytes(32), bytes(12), b"", b"").hex()
    '530f8afbc74536b9a963b4f1c4cb738b'
    """
    return _seal(key, AES256_KEY_LEN, nonce, plaintext, aad)


def aes256gcm_open(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """Authenticate and decrypt ``ciphertext || tag``; raise ``PrimitiveError`` if it fails."""
    return _open(key, AES256_KEY_LEN, nonce, ciphertext, aad)


def aes128gcm_seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-128-GCM seal. Only for RFC 9180 suites with ``aead_id`` 1 (test vectors)."""
    return _seal(key, AES128_KEY_LEN, nonce, plaintext, aad)


def aes128gcm_open(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """AES-128-GCM open. Only for RFC 9180 suites with ``aead_id`` 1 (test vectors)."""
    return _open(key, AES128_KEY_LEN, nonce, ciphertext, aad)
