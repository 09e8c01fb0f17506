"""Key derivation and MACs: HKDF (RFC 5869), HMAC (RFC 2104), PBKDF2 (RFC 8018), over pyca.

All functions are pure and deterministic. Arguments are checked as *misuse* (our own code
passed something wrong): ``TypeError`` for a non-``bytes`` argument, ``ValueError`` for a
length or count outside what the RFC allows. The one check that takes hostile input,
:func:`hmac_sha256_verify`, raises :class:`~crypto.errors.PrimitiveError`.

* ``hkdf_sha256`` is Extract-then-Expand. An empty ``salt`` is the RFC 5869 default (a
  string of HashLen zeros; HMAC pads its key with zeros, so both give the same PRK).
* ``hkdf_sha256_extract`` / ``hkdf_sha256_expand`` are the two halves, needed by RFC 9180's
  LabeledExtract / LabeledExpand.
* ``hkdf_sha512_expand`` is the Expand-only step of C2SP chunked encryption.
* Output length is limited to ``255 * HashLen`` (RFC 5869 section 2.3).
"""

from __future__ import annotations

import hmac as _stdlib_hmac
from typing import Final

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from crypto.errors import PrimitiveError
from crypto.primitives._checks import require_bytes

__all__ = [
    "SHA256_LEN",
    "SHA512_LEN",
    "hkdf_sha256",
    "hkdf_sha256_expand",
    "hkdf_sha256_extract",
    "hkdf_sha512_expand",
    "hmac_sha256",
    "hmac_sha256_verify",
    "pbkdf2_sha256",
]

SHA256_LEN: Final = 32
SHA512_LEN: Final = 64


def _check_length(length: object, hash_len: int) -> int:
    # RFC 5869 section 2.3: L <= 255*HashLen. Zero-length output is never useful and is
    # refused so that a bug computing a length of 0 cannot silently yield an empty key.
    if not isinstance(length, int) or isinstance(length, bool):
        raise TypeError("length must be an int")
    if not 1 <= length <= 255 * hash_len:
        raise ValueError(f"length must be between 1 and {255 * hash_len}")
    return length


def hkdf_sha256(ikm: bytes, *, salt: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 Extract-then-Expand (RFC 5869); ``length`` bytes of output keying material."""
    n = _check_length(length, SHA256_LEN)
    return HKDF(
        algorithm=hashes.SHA256(),
        length=n,
        salt=require_bytes("salt", salt),
        info=require_bytes("info", info),
    ).derive(require_bytes("ikm", ikm))


def hkdf_sha256_extract(salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract(salt, IKM) with SHA-256 (RFC 5869 section 2.2): a 32-byte PRK."""
    return HKDF.extract(hashes.SHA256(), require_bytes("salt", salt), require_bytes("ikm", ikm))


def hkdf_sha256_expand(prk: bytes, info: bytes, length: int) -> bytes:
    """HKDF-Expand(PRK, info, L) with SHA-256 (RFC 5869 section 2.3)."""
    n = _check_length(length, SHA256_LEN)
    return HKDFExpand(hashes.SHA256(), n, require_bytes("info", info)).derive(
        require_bytes("prk", prk)
    )


def hkdf_sha512_expand(prk: bytes, info: bytes, length: int) -> bytes:
    """HKDF-Expand(PRK, info, L) with SHA-512 (RFC 5869 section 2.3)."""
    n = _check_length(length, SHA512_LEN)
    return HKDFExpand(hashes.SHA512(), n, require_bytes("info", info)).derive(
        require_bytes("prk", prk)
    )


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA256 (RFC 2104): the full 32-byte tag. Any key length is allowed by the RFC."""
    mac = hmac.HMAC(require_bytes("key", key), hashes.SHA256())
    mac.update(require_bytes("data", data))
    return mac.finalize()


def hmac_sha256_verify(key: bytes, data: bytes, tag: bytes) -> None:
    """Check a full 32-byte HMAC-SHA256 tag in constant time; raise ``PrimitiveError`` if wrong.

    Truncated tags are refused (the protocol never truncates), so a tag of any other length
    fails like a wrong one.
    """
    expected = hmac_sha256(key, data)
    if not _stdlib_hmac.compare_digest(expected, require_bytes("tag", tag)):
        raise PrimitiveError


def pbkdf2_sha256(password: bytes, salt: bytes, iterations: int, length: int) -> bytes:
    """PBKDF2-HMAC-SHA256 (RFC 8018 section 5.2).

    ``iterations`` >= 1 and ``length`` >= 1 (the protocol uses 600,000 iterations and 32 bytes;
    the lower bound here is the RFC's, so public test vectors with small counts can run).
    """
    if not isinstance(iterations, int) or isinstance(iterations, bool):
        raise TypeError("iterations must be an int")
    if iterations < 1:
        raise ValueError("iterations must be at least 1")
    # RFC 8018 caps dkLen at (2**32 - 1) * hLen; a far lower practical cap keeps a bad length
    # from tying up a core.
    n = _check_length(length, SHA256_LEN)
    return PBKDF2HMAC(
        algorithm=hashes.SHA256(),
        length=n,
        salt=require_bytes("salt", salt),
        iterations=iterations,
    ).derive(require_bytes("password", password))
