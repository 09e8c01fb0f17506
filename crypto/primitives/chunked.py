"""C2SP chunked encryption (https://c2sp.org/chunked-encryption), Cobblestone-256 instance.

Streaming, authenticated encryption of large messages (attachment photos), with key
commitment, in 16 KiB chunks. The instance is fixed: AEAD ``AEAD_AES_256_GCM``, HKDF-Expand
hash SHA-512 (the Wycheproof ``c2sp_chunked_encryption_aes_256_gcm_test.json`` vectors).

Format (all lengths in bytes)::

    ciphertext = salt (24) || commitment (32) || chunk_0 || chunk_1 || ... || chunk_last
    chunk_i    = AES-256-GCM(key, base_nonce XOR I2OSP(i, 12), plaintext_i, aad="")
                 (len(plaintext_i) + 16 bytes: ciphertext || tag)

    key (32) || base_nonce (12) || commitment (32) = HKDF-Expand-SHA512(
        prk = input key (32),
        info = "c2sp.org/chunked-encryption@v1+" || "AEAD_AES_256_GCM" || 0x00 || salt || context,
        L = 76)

Every chunk but the last holds exactly 16384 plaintext bytes; the last holds 0 to 16383
bytes, so a message of ``n`` bytes has ``n // 16384 + 1`` chunks, the ciphertext is
``56 + n + 16 * (n // 16384 + 1)`` bytes (:func:`ciphertext_length`), and an empty message is
one empty chunk. The short final chunk is the end-of-message marker: truncation at a chunk
boundary leaves no short chunk, and anything appended after it fails to authenticate.

API (the protocol helper wraps this as the attachment format):

``ChunkedEncryptor(key, context, *, salt)``
    ``key``: 32 uniformly random bytes (a fresh per-file key); ``context``: any bytes bound
    into the key derivation (may be empty); ``salt``: 24 random bytes, drawn by the caller
    (a per-file key makes reuse harmless, but the spec says it MUST NOT repeat for a key).
    ``update(data) -> bytes`` (``data``: bytes, bytearray or memoryview) returns the
    ciphertext ready so far (the 56-byte header on the first call, then whole chunks);
    ``finalize() -> bytes`` returns the last, short chunk. Concatenating all outputs gives
    exactly :func:`encrypt`'s output. Buffers < 16 KiB.

``ChunkedDecryptor(key, context)``
    ``update(data) -> bytes`` returns plaintext only of chunks that authenticated: the
    commitment is checked as soon as the 56-byte header is in, before any chunk is
    decrypted; a full 16 KiB chunk is released once its tag verifies. ``finalize() -> bytes``
    decrypts the final chunk, which must be 16..16399 bytes long (else truncation), and
    returns its plaintext. Any failure raises :class:`~crypto.errors.PrimitiveError`, and
    every later call raises it again (a failed stream never looks complete). Plaintext
    already released belongs to a message that may still turn out truncated: a caller that
    must not act on partial data keeps it until ``finalize()`` succeeds (or uses
    :func:`decrypt`).

``encrypt(key, context, plaintext, *, salt) -> bytes`` / ``decrypt(key, context, ciphertext)``
    one-shot helpers over whole buffers.

``derive_keys(key, salt, context) -> (aead_key, base_nonce, commitment)``
    the key-derivation step alone (for test vectors).

Misuse (non-``bytes`` arguments, a key that is not 32 bytes, a salt that is not 24 bytes,
calling ``update`` after a successful ``finalize``) raises ``TypeError`` / ``ValueError``.
Nothing here draws randomness or does I/O.

Limits: the spec's chunk limit is 2**38 (4 PiB); both directions enforce it. Objects are not
thread-safe (one stream, one task). Raw mode (spec appendix) is not exposed.
"""

from __future__ import annotations

import hmac
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto.errors import PrimitiveError
from crypto.primitives._checks import require_bytes, require_len
from crypto.primitives.kdf import hkdf_sha512_expand

__all__ = [
    "CHUNK_SIZE",
    "COMMITMENT_LEN",
    "HEADER_LEN",
    "KEY_LEN",
    "SALT_LEN",
    "TAG_LEN",
    "ChunkedDecryptor",
    "ChunkedEncryptor",
    "ciphertext_length",
    "decrypt",
    "derive_keys",
    "encrypt",
]

CHUNK_SIZE: Final = 16384
TAG_LEN: Final = 16
KEY_LEN: Final = 32
SALT_LEN: Final = 24
COMMITMENT_LEN: Final = 32
HEADER_LEN: Final = SALT_LEN + COMMITMENT_LEN
_NONCE_LEN: Final = 12
_FULL_CT: Final = CHUNK_SIZE + TAG_LEN
_AEAD_NAME: Final = b"AEAD_AES_256_GCM"
_INFO_PREFIX: Final = b"c2sp.org/chunked-encryption@v1+" + _AEAD_NAME + b"\x00"
# "The message MUST NOT exceed 2**38 chunks (4 PiB). If the chunk counter reaches or exceeds
# 2**38 while encrypting or decrypting, implementations MUST abort." (spec, Message chunking)
_MAX_CHUNKS = 1 << 38

Buffer = bytes | bytearray | memoryview


def _require_buffer(name: str, value: object) -> memoryview:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name} must be bytes-like, not {type(value).__name__}")
    view = memoryview(value)
    # A non-byte format (e.g. array('I')) would make slice offsets count items, not bytes.
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def derive_keys(key: bytes, salt: bytes, context: bytes) -> tuple[bytes, bytes, bytes]:
    """HKDF-Expand-SHA512 key derivation: ``(aead_key32, base_nonce12, commitment32)``."""
    require_len("key", key, KEY_LEN)
    require_len("salt", salt, SALT_LEN)
    require_bytes("context", context)
    okm = hkdf_sha512_expand(key, _INFO_PREFIX + salt + context, KEY_LEN + _NONCE_LEN + 32)
    return okm[:KEY_LEN], okm[KEY_LEN : KEY_LEN + _NONCE_LEN], okm[KEY_LEN + _NONCE_LEN :]


def ciphertext_length(plaintext_length: int) -> int:
    """Exact ciphertext length for a message of ``plaintext_length`` bytes."""
    if plaintext_length < 0:
        raise ValueError("plaintext_length must not be negative")
    return HEADER_LEN + plaintext_length + TAG_LEN * (plaintext_length // CHUNK_SIZE + 1)


class ChunkedEncryptor:
    """Streaming Cobblestone-256 encryption; see the module docstring for the contract."""

    __slots__ = ("_aead", "_base", "_buf", "_counter", "_done", "_header")

    def __init__(self, key: bytes, context: bytes, *, salt: bytes) -> None:
        aead_key, base_nonce, commitment = derive_keys(key, salt, context)
        self._aead = AESGCM(aead_key)
        self._base = int.from_bytes(base_nonce, "big")
        self._buf = bytearray()
        self._counter = 0
        self._header: bytes | None = salt + commitment
        self._done = False

    def _seal(self, chunk: memoryview | bytearray) -> bytes:
        if self._counter >= _MAX_CHUNKS:
            raise ValueError("message exceeds the 2**38-chunk limit")
        nonce = (self._base ^ self._counter).to_bytes(_NONCE_LEN, "big")
        self._counter += 1
        return self._aead.encrypt(nonce, chunk, None)

    def _feed(self, view: memoryview, out: list[bytes]) -> None:
        # Appends output pieces to ``out`` rather than returning joined bytes, so that the
        # one-shot helper joins a whole message once (each fresh multi-megabyte buffer costs
        # page faults; measured as the dominant cost of one-shot encryption).
        if self._done:
            raise ValueError("update() after finalize()")
        if self._header is not None:
            out.append(self._header)
            self._header = None
        if self._buf:
            take = CHUNK_SIZE - len(self._buf)
            self._buf += view[:take]
            view = view[take:]
            if len(self._buf) < CHUNK_SIZE:
                return
            # A full buffer can be sealed at once: only the final chunk is short, so a full
            # chunk is never the last one (spec, Implementation notes).
            out.append(self._seal(self._buf))
            self._buf.clear()
        whole = len(view) - len(view) % CHUNK_SIZE
        for start in range(0, whole, CHUNK_SIZE):
            out.append(self._seal(view[start : start + CHUNK_SIZE]))
        self._buf += view[whole:]

    def _finish(self, out: list[bytes]) -> None:
        if self._done:
            raise ValueError("finalize() called twice")
        if self._header is not None:
            out.append(self._header)
            self._header = None
        out.append(self._seal(self._buf))
        self._done = True
        self._buf.clear()

    def update(self, data: Buffer) -> bytes:
        """Feed plaintext; return the ciphertext completed by it (possibly empty)."""
        out: list[bytes] = []
        self._feed(_require_buffer("data", data), out)
        return b"".join(out)

    def finalize(self) -> bytes:
        """Seal the final short (possibly empty) chunk; return it (with the header if unsent)."""
        out: list[bytes] = []
        self._finish(out)
        return b"".join(out)


class ChunkedDecryptor:
    """Streaming Cobblestone-256 decryption; see the module docstring for the contract."""

    __slots__ = ("_aead", "_base", "_buf", "_context", "_counter", "_key", "_state")

    # States: reading the header, reading chunks, finished (success), failed (sticky).
    _HEADER, _CHUNKS, _DONE, _FAILED = range(4)

    def __init__(self, key: bytes, context: bytes) -> None:
        # Wycheproof InvalidKeySize: the key length is checked when the key is provided.
        self._key = require_len("key", key, KEY_LEN)
        self._context = require_bytes("context", context)
        self._aead: AESGCM | None = None
        self._base = 0
        self._buf = bytearray()
        self._counter = 0
        self._state = self._HEADER

    def _open(self, chunk: memoryview | bytearray) -> bytes:
        assert self._aead is not None  # set by _check_header before any chunk is read
        if self._counter >= _MAX_CHUNKS:
            raise PrimitiveError
        nonce = (self._base ^ self._counter).to_bytes(_NONCE_LEN, "big")
        self._counter += 1
        try:
            return self._aead.decrypt(nonce, chunk, None)
        except InvalidTag:
            raise PrimitiveError from None

    def _check_header(self, header: bytes) -> None:
        aead_key, base_nonce, commitment = derive_keys(self._key, header[:SALT_LEN], self._context)
        # "When decrypting, implementations MUST check the commitment matches the derived
        # value before continuing." Constant-time compare.
        if not hmac.compare_digest(commitment, header[SALT_LEN:]):
            raise PrimitiveError
        self._aead = AESGCM(aead_key)
        self._base = int.from_bytes(base_nonce, "big")
        self._state = self._CHUNKS

    def _enter(self) -> None:
        if self._state == self._FAILED:
            raise PrimitiveError
        if self._state == self._DONE:
            raise ValueError("decryptor already finalized")

    def _feed(self, view: memoryview, out: list[bytes]) -> None:
        self._enter()
        try:
            self._feed_chunks(view, out)
        except PrimitiveError:
            self._state = self._FAILED
            raise

    def _feed_chunks(self, view: memoryview, out: list[bytes]) -> None:
        if self._state == self._HEADER:
            take = HEADER_LEN - len(self._buf)
            self._buf += view[:take]
            view = view[take:]
            if len(self._buf) < HEADER_LEN:
                return
            self._check_header(bytes(self._buf))
            self._buf.clear()
        if self._buf:
            take = _FULL_CT - len(self._buf)
            self._buf += view[:take]
            view = view[take:]
            if len(self._buf) < _FULL_CT:
                return
            # A 16400-byte chunk is never the final one (which must be shorter), so it can
            # be authenticated and released now.
            out.append(self._open(self._buf))
            self._buf.clear()
        whole = len(view) - len(view) % _FULL_CT
        for start in range(0, whole, _FULL_CT):
            out.append(self._open(view[start : start + _FULL_CT]))
        self._buf += view[whole:]

    def _finish(self, out: list[bytes]) -> None:
        self._enter()
        try:
            # A missing header, or a final chunk too short to hold a tag (which includes a
            # stream cut exactly at a chunk boundary), is a truncated message.
            if self._state == self._HEADER or len(self._buf) < TAG_LEN:
                raise PrimitiveError
            out.append(self._open(self._buf))
        except PrimitiveError:
            self._state = self._FAILED
            raise
        self._buf.clear()
        self._state = self._DONE

    def update(self, data: Buffer) -> bytes:
        """Feed ciphertext; return plaintext of the chunks it completed and authenticated."""
        out: list[bytes] = []
        self._feed(_require_buffer("data", data), out)
        return b"".join(out)

    def finalize(self) -> bytes:
        """Authenticate the final chunk and return its plaintext; fail on truncation."""
        out: list[bytes] = []
        self._finish(out)
        return b"".join(out)


def encrypt(key: bytes, context: bytes, plaintext: Buffer, *, salt: bytes) -> bytes:
    """One-shot encryption; the same bytes as streaming through :class:`ChunkedEncryptor`."""
    enc = ChunkedEncryptor(key, context, salt=salt)
    out: list[bytes] = []
    enc._feed(_require_buffer("plaintext", plaintext), out)
    enc._finish(out)
    return b"".join(out)


def decrypt(key: bytes, context: bytes, ciphertext: Buffer) -> bytes:
    """One-shot decryption; returns the plaintext only if the whole message authenticated."""
    dec = ChunkedDecryptor(key, context)
    out: list[bytes] = []
    dec._feed(_require_buffer("ciphertext", ciphertext), out)
    dec._finish(out)
    return b"".join(out)
