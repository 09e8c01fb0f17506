"""Attachments (photos): streaming encryption with a per-file key (record type 0x08).

Format::

    01 01 08 || C2SP chunked ciphertext (Cobblestone-256, crypto.primitives.chunked)
    chunked context = "dermline/v1/attachment"

The C2SP construction gives a 24-byte salt and a 32-byte key commitment, then 16 KiB chunks
of AES-256-GCM, each authenticated, with a short final chunk that marks the end, so
truncation, reordering and trailing data are detected. A 10 MB photo is 10 MB + 56 + 16 per
16 KiB + 3 bytes.

The sender draws a fresh 32-byte file key per attachment, encrypts, and puts the file key,
the SHA-256 of the whole attachment record (``attachment_sha256``) and its size into the
photo-reference message (:class:`crypto.content.PhotoReference`), which is itself encrypted
and signed. The recipient decrypts with the file key and checks the hash, so the server can
neither read nor swap the blob; the server itself can check the hash and size on upload
without any key.

Streaming contract: :class:`AttachmentDecryptor` releases plaintext only of chunks that
authenticated under the file key, and only :meth:`AttachmentDecryptor.finalize` says the
attachment is complete and matches its hash; a caller that must not use partial data keeps
the output until then (or uses :func:`decrypt_attachment`). After a failure every later call
fails too.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Final

from crypto._wire import LABEL_PREFIX, RecordType, check_bytes, prefix
from crypto.errors import AttachmentError, PrimitiveError
from crypto.primitives.chunked import (
    KEY_LEN,
    SALT_LEN,
    Buffer,
    ChunkedDecryptor,
    ChunkedEncryptor,
    ciphertext_length,
)

__all__ = [
    "FILE_KEY_LENGTH",
    "AttachmentDecryptor",
    "AttachmentEncryptor",
    "attachment_length",
    "decrypt_attachment",
    "encrypt_attachment",
    "encrypt_attachment_from_parts",
    "new_file_key",
]

FILE_KEY_LENGTH: Final = KEY_LEN
_CONTEXT: Final = LABEL_PREFIX + b"attachment"
_PREFIX: Final = prefix(RecordType.ATTACHMENT)


def new_file_key() -> bytes:
    """A fresh 32-byte key for one attachment."""
    return os.urandom(FILE_KEY_LENGTH)


def attachment_length(plaintext_length: int) -> int:
    """Exact size of the attachment record for a plaintext of this many bytes."""
    return len(_PREFIX) + ciphertext_length(plaintext_length)


class AttachmentEncryptor:
    """Streaming encryption: ``update()`` / ``finalize()``, then ``sha256`` and ``size``.

    ``AttachmentEncryptor(file_key, salt=os.urandom(24))``; concatenating every output of
    ``update`` and ``finalize`` gives the attachment record.
    """

    __slots__ = ("_chunked", "_hash", "_prefix_sent", "_sha256", "_size")

    def __init__(self, file_key: bytes, *, salt: bytes) -> None:
        file_key = check_bytes("file_key", file_key, FILE_KEY_LENGTH)
        salt = check_bytes("salt", salt, SALT_LEN)
        self._chunked = ChunkedEncryptor(file_key, _CONTEXT, salt=salt)
        self._hash = hashlib.sha256()
        self._prefix_sent = False
        self._sha256: bytes | None = None
        self._size = 0

    def _out(self, data: bytes) -> bytes:
        if not self._prefix_sent:
            self._prefix_sent = True
            data = _PREFIX + data
        self._hash.update(data)
        self._size += len(data)
        return data

    def update(self, data: Buffer) -> bytes:
        """Feed plaintext; return the ciphertext completed so far."""
        return self._out(self._chunked.update(data))

    def finalize(self) -> bytes:
        """Return the last ciphertext bytes; ``sha256`` and ``size`` are then available."""
        out = self._out(self._chunked.finalize())
        self._sha256 = self._hash.digest()
        return out

    @property
    def sha256(self) -> bytes:
        """SHA-256 of the whole attachment record (only after :meth:`finalize`)."""
        if self._sha256 is None:
            raise ValueError("sha256 is known only after finalize()")
        return self._sha256

    @property
    def size(self) -> int:
        """Bytes of attachment record produced so far."""
        return self._size


class AttachmentDecryptor:
    """Streaming decryption that checks the record's SHA-256 at :meth:`finalize`.

    Raises :class:`AttachmentError` on any failure (and again on every later call).
    """

    __slots__ = ("_chunked", "_expected", "_failed", "_hash", "_head")

    def __init__(self, file_key: bytes, *, expected_sha256: bytes) -> None:
        file_key = check_bytes("file_key", file_key, FILE_KEY_LENGTH)
        self._expected = check_bytes("expected_sha256", expected_sha256, 32)
        self._chunked = ChunkedDecryptor(file_key, _CONTEXT)
        self._hash = hashlib.sha256()
        self._head = bytearray()
        self._failed = False

    def _guard(self) -> None:
        if self._failed:
            raise AttachmentError

    def update(self, data: Buffer) -> bytes:
        """Feed attachment bytes; return plaintext of the chunks that authenticated."""
        self._guard()
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError("data must be bytes-like")
        view = memoryview(data)
        # Offsets below count bytes: a view of another item format (array('I'), ...) is
        # recast, exactly as the chunked layer does, so the 3-byte prefix check stays right.
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
        self._hash.update(view)
        try:
            if len(self._head) < len(_PREFIX):
                take = len(_PREFIX) - len(self._head)
                self._head += view[:take]
                view = view[take:]
                # Unknown version, suite or type: refuse before any decryption.
                if not _PREFIX.startswith(self._head):
                    raise PrimitiveError
            return self._chunked.update(view)
        except PrimitiveError:
            self._failed = True
            raise AttachmentError from None

    def finalize(self) -> bytes:
        """Check the final chunk and the SHA-256; return the last plaintext bytes."""
        self._guard()
        try:
            last = self._chunked.finalize()
            if not hmac.compare_digest(self._hash.digest(), self._expected):
                raise PrimitiveError
        except PrimitiveError:
            self._failed = True
            raise AttachmentError from None
        return last


def encrypt_attachment_from_parts(
    file_key: bytes, plaintext: Buffer, *, salt: bytes
) -> tuple[bytes, bytes]:
    """One-shot, deterministic: ``(attachment record, its SHA-256)``.

    The same bytes as streaming through :class:`AttachmentEncryptor`, built with a single
    join (a 10 MB photo is copied once, not once per concatenation).
    """
    file_key = check_bytes("file_key", file_key, FILE_KEY_LENGTH)
    salt = check_bytes("salt", salt, SALT_LEN)
    chunked = ChunkedEncryptor(file_key, _CONTEXT, salt=salt)
    record = b"".join((_PREFIX, chunked.update(plaintext), chunked.finalize()))
    return record, hashlib.sha256(record).digest()


def encrypt_attachment(file_key: bytes, plaintext: Buffer) -> tuple[bytes, bytes]:
    """One-shot encryption with a fresh salt: ``(attachment record, its SHA-256)``."""
    return encrypt_attachment_from_parts(file_key, plaintext, salt=os.urandom(SALT_LEN))


def decrypt_attachment(file_key: bytes, record: Buffer, *, expected_sha256: bytes) -> bytes:
    """One-shot decryption; the plaintext only if the whole record checks out."""
    dec = AttachmentDecryptor(file_key, expected_sha256=expected_sha256)
    return b"".join((dec.update(record), dec.finalize()))
