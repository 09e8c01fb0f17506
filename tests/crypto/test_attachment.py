"""crypto.attachment: streaming encryption with a per-file key."""

from __future__ import annotations

import array
import os

import pytest

from crypto import attachment
from crypto.errors import AttachmentError

KEY = b"f" * 32


def test_streaming_equals_one_shot_and_hash() -> None:
    data = os.urandom(100_000)
    salt = os.urandom(24)
    enc = attachment.AttachmentEncryptor(KEY, salt=salt)
    with pytest.raises(ValueError):
        _ = enc.sha256
    pieces = [enc.update(data[i : i + 7000]) for i in range(0, len(data), 7000)]
    pieces.append(enc.finalize())
    record = b"".join(pieces)
    assert (record, enc.sha256) == attachment.encrypt_attachment_from_parts(KEY, data, salt=salt)
    assert enc.size == len(record) == attachment.attachment_length(len(data))
    dec = attachment.AttachmentDecryptor(KEY, expected_sha256=enc.sha256)
    out = [dec.update(record[i : i + 1]) for i in range(5)]  # prefix byte by byte
    out.append(dec.update(record[5:]))
    out.append(dec.finalize())
    assert b"".join(out) == data


def test_one_shot_fresh_salt() -> None:
    key = attachment.new_file_key()
    a, ha = attachment.encrypt_attachment(key, b"photo")
    b, hb = attachment.encrypt_attachment(key, b"photo")
    assert a != b and ha != hb
    assert attachment.decrypt_attachment(key, a, expected_sha256=ha) == b"photo"


def test_failure_is_sticky() -> None:
    record, digest = attachment.encrypt_attachment(KEY, b"x" * 40_000)
    dec = attachment.AttachmentDecryptor(KEY, expected_sha256=digest)
    with pytest.raises(AttachmentError):
        dec.update(b"\x02")
    with pytest.raises(AttachmentError):
        dec.update(record)
    with pytest.raises(AttachmentError):
        dec.finalize()
    dec = attachment.AttachmentDecryptor(KEY, expected_sha256=bytes(32))
    dec.update(record)
    with pytest.raises(AttachmentError):
        dec.finalize()
    with pytest.raises(AttachmentError):
        dec.finalize()


def test_misuse() -> None:
    with pytest.raises(ValueError):
        attachment.AttachmentEncryptor(bytes(16), salt=bytes(24))
    with pytest.raises(ValueError):
        attachment.AttachmentEncryptor(KEY, salt=bytes(12))
    with pytest.raises(ValueError):
        attachment.AttachmentDecryptor(KEY, expected_sha256=bytes(20))
    dec = attachment.AttachmentDecryptor(KEY, expected_sha256=bytes(32))
    with pytest.raises(TypeError):
        dec.update("text")  # type: ignore[arg-type]


def test_decryptor_counts_bytes_for_any_buffer_format() -> None:
    # A memoryview of multi-byte items must be read as its bytes: the 3-byte prefix check
    # and the chunk offsets count bytes, not items (review finding).
    words = array.array("I", range(3000))
    record, digest = attachment.encrypt_attachment(KEY, memoryview(words))
    # After an odd-length head, feed the rest as 2-byte items (its length is made even).
    split = 1 if (len(record) - 1) % 2 == 0 else 2
    items = memoryview(record[split:]).cast("H")
    assert items.format == "H" and len(items) * 2 == len(record) - split
    dec = attachment.AttachmentDecryptor(KEY, expected_sha256=digest)
    out = dec.update(record[:split]) + dec.update(items)
    assert out + dec.finalize() == words.tobytes()
