"""C2SP chunked encryption (Cobblestone-256): all 35 Wycheproof vectors, streaming rules,
misuse and property tests."""

from __future__ import annotations

import array
import hashlib
import itertools
import random
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import PrimitiveError
from crypto.primitives import chunked
from crypto.primitives.chunked import (
    CHUNK_SIZE,
    HEADER_LEN,
    ChunkedDecryptor,
    ChunkedEncryptor,
    ciphertext_length,
    decrypt,
    derive_keys,
    encrypt,
)
from tests.crypto.primitives._vectors import h, wycheproof_cases

CASES = wycheproof_cases("c2sp_chunked_encryption_aes_256_gcm_test.json")
_CT_CACHE: dict[int, bytes] = {}


def _ct(test: dict[str, Any]) -> bytes:
    # The vector's ct is zlib-compressed, then hex (Wycheproof doc/c2sp_chunked_encryption.md).
    if test["tcId"] not in _CT_CACHE:
        _CT_CACHE[test["tcId"]] = zlib.decompress(h(test["ct"]))
    return _CT_CACHE[test["tcId"]]


def test_all_35_vectors_are_used() -> None:
    assert len(CASES) == 35


def _stream_decrypt(key: bytes, ctx: bytes, ct: bytes, piece: int) -> tuple[bytes, bool]:
    """Feed ``ct`` in ``piece``-byte slices; return (plaintext released, success)."""
    dec = ChunkedDecryptor(key, ctx)
    released = bytearray()
    try:
        for start in range(0, len(ct), piece):
            released += dec.update(ct[start : start + piece])
        released += dec.finalize()
    except PrimitiveError:
        # Keeps failing, whatever is called next (spec: "must keep returning an error").
        for again in (lambda: dec.update(b""), lambda: dec.update(b"x" * 20000), dec.finalize):
            with pytest.raises(PrimitiveError):
                again()
        return bytes(released), False
    return bytes(released), True


@pytest.mark.parametrize(("group", "test"), CASES)
def test_wycheproof_one_shot(group: dict[str, Any], test: dict[str, Any]) -> None:
    assert group["aead"] == "AEAD_AES_256_GCM" and group["sha"] == "SHA-512"
    key, ctx, ct = h(test["key"]), h(test["ctx"]), _ct(test)
    if "InvalidKeySize" in test["flags"]:
        # "Vectors with the InvalidKeySize flag must be rejected when the key is provided."
        # A key of the wrong size is our own misuse, hence ValueError, at construction.
        with pytest.raises(ValueError, match="key must be 32 bytes"):
            ChunkedDecryptor(key, ctx)
        return
    if "aeadKey" in test:
        aead_key, base_nonce, commitment = derive_keys(key, ct[:24], ctx)
        assert (aead_key, base_nonce) == (h(test["aeadKey"]), h(test["baseNonce"]))
    if test["result"] == "valid":
        message = decrypt(key, ctx, ct)
        assert len(message) == test["msgLength"]
        assert hashlib.sha512(message).hexdigest() == test["msgSha512"]
        assert commitment == ct[24:56]
        # Encryption check, option 2 of the Wycheproof doc: inject the salt and compare the
        # whole ciphertext.
        assert encrypt(key, ctx, message, salt=ct[:24]) == ct
        assert ciphertext_length(len(message)) == len(ct)
    else:
        assert test["result"] == "invalid"  # no "acceptable" vectors in this file
        with pytest.raises(PrimitiveError):
            decrypt(key, ctx, ct)


@pytest.mark.parametrize("piece", [1000, 16400, 16401, 65536])
@pytest.mark.parametrize(("group", "test"), CASES)
def test_wycheproof_streaming(group: dict[str, Any], test: dict[str, Any], piece: int) -> None:
    if "InvalidKeySize" in test["flags"]:
        return  # covered by test_wycheproof_one_shot: construction refuses the key
    key, ctx, ct = h(test["key"]), h(test["ctx"]), _ct(test)
    released, ok = _stream_decrypt(key, ctx, ct, piece)
    assert ok is (test["result"] == "valid")
    if test["result"] == "valid" or "PartialPlaintext" in test["flags"]:
        # Never more than the longest valid prefix; with pieces of at most one encrypted
        # chunk, exactly that prefix is released before the error.
        assert len(released) <= test["msgLength"]
        if piece <= 16400:
            assert len(released) == test["msgLength"]
            assert hashlib.sha512(released).hexdigest() == test["msgSha512"]
    else:
        # No valid prefix exists, so nothing may be released.
        assert released == b""


def test_streaming_one_byte_at_a_time_small_vectors() -> None:
    for _group, test in (c.values for c in CASES):
        ct = _ct(test)
        if len(ct) > 40000 or "InvalidKeySize" in test["flags"]:
            continue
        released, ok = _stream_decrypt(h(test["key"]), h(test["ctx"]), ct, 1)
        assert ok is (test["result"] == "valid")
        assert len(released) <= test.get("msgLength", 0)


# --- streaming encryption ---------------------------------------------------------------

KEY = bytes(range(32))
SALT = bytes(range(100, 124))


@pytest.mark.parametrize(
    "length", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 100_000]
)
def test_lengths_around_chunk_boundaries(length: int) -> None:
    message = random.Random(length).randbytes(length)
    ct = encrypt(KEY, b"ctx", message, salt=SALT)
    assert len(ct) == ciphertext_length(length)
    # The last chunk is always short: an exact multiple of 16 KiB gets an empty final chunk.
    assert (len(ct) - HEADER_LEN) % (CHUNK_SIZE + 16) == length % CHUNK_SIZE + 16
    assert decrypt(KEY, b"ctx", ct) == message
    with pytest.raises(PrimitiveError):
        decrypt(KEY, b"other ctx", ct)


def test_encryptor_emits_header_first_and_full_chunks_eagerly() -> None:
    enc = ChunkedEncryptor(KEY, b"", salt=SALT)
    first = enc.update(b"")
    assert len(first) == HEADER_LEN and first[:24] == SALT
    assert enc.update(bytes(CHUNK_SIZE - 1)) == b""
    assert len(enc.update(bytes(1))) == CHUNK_SIZE + 16  # a full buffer flushes at once
    assert len(enc.finalize()) == 16  # then an empty final chunk


def test_finalize_without_update_includes_header() -> None:
    enc = ChunkedEncryptor(KEY, b"", salt=SALT)
    assert enc.finalize() == encrypt(KEY, b"", b"", salt=SALT)


def test_accepts_bytearray_and_non_byte_memoryviews() -> None:
    words = array.array("I", range(5000))
    raw = words.tobytes()
    enc = ChunkedEncryptor(KEY, b"", salt=SALT)
    ct = enc.update(memoryview(words)) + enc.update(bytearray(b"tail")) + enc.finalize()
    assert ct == encrypt(KEY, b"", raw + b"tail", salt=SALT)
    dec = ChunkedDecryptor(KEY, b"")
    assert dec.update(memoryview(bytearray(ct))) + dec.finalize() == raw + b"tail"


def test_misuse() -> None:
    with pytest.raises(ValueError, match="key must be 32 bytes"):
        ChunkedEncryptor(bytes(16), b"", salt=SALT)
    with pytest.raises(ValueError, match="salt must be 24 bytes"):
        ChunkedEncryptor(KEY, b"", salt=bytes(12))
    with pytest.raises(TypeError, match="context must be bytes"):
        ChunkedDecryptor(KEY, "ctx")  # type: ignore[arg-type]
    enc = ChunkedEncryptor(KEY, b"", salt=SALT)
    with pytest.raises(TypeError, match="data must be bytes-like, not str"):
        enc.update("text")  # type: ignore[arg-type]
    ct = enc.finalize()
    with pytest.raises(ValueError, match="after finalize"):
        enc.update(b"x")
    with pytest.raises(ValueError, match="called twice"):
        enc.finalize()
    dec = ChunkedDecryptor(KEY, b"")
    assert dec.update(ct) == b""
    assert dec.finalize() == b""
    with pytest.raises(ValueError, match="already finalized"):
        dec.update(b"")
    with pytest.raises(ValueError, match="already finalized"):
        dec.finalize()
    with pytest.raises(ValueError, match="must not be negative"):
        ciphertext_length(-1)


def test_chunk_limit_is_enforced(monkeypatch: pytest.MonkeyPatch) -> None:
    # The spec's limit is 2**38 chunks; lower it to exercise the abort in both directions.
    ct = encrypt(KEY, b"", bytes(2 * CHUNK_SIZE), salt=SALT)  # 3 chunks
    monkeypatch.setattr(chunked, "_MAX_CHUNKS", 2)
    with pytest.raises(ValueError, match="2\\*\\*38-chunk limit"):
        encrypt(KEY, b"", bytes(2 * CHUNK_SIZE), salt=SALT)
    with pytest.raises(PrimitiveError):
        decrypt(KEY, b"", ct)


def test_header_split_across_updates_and_wrong_key() -> None:
    ct = encrypt(KEY, b"c", b"hello", salt=SALT)
    dec = ChunkedDecryptor(KEY, b"c")
    assert dec.update(ct[:10]) == b""
    assert dec.update(ct[10:HEADER_LEN]) == b""
    assert dec.update(ct[HEADER_LEN:]) == b""
    assert dec.finalize() == b"hello"
    with pytest.raises(PrimitiveError):
        decrypt(bytes(32), b"c", ct)
    with pytest.raises(PrimitiveError):
        decrypt(KEY, b"c", ct[: HEADER_LEN - 1])


# --- properties ---------------------------------------------------------------------------

lengths = st.one_of(
    st.integers(0, 200),
    st.integers(CHUNK_SIZE - 20, CHUNK_SIZE + 20),
    st.integers(2 * CHUNK_SIZE - 20, 2 * CHUNK_SIZE + 20),
)


@settings(max_examples=60, deadline=None)
@given(length=lengths, seed=st.integers(0, 2**32), cuts=st.lists(st.integers(0, 2**20)))
def test_any_split_streams_to_the_one_shot_bytes(length: int, seed: int, cuts: list[int]) -> None:
    message = random.Random(seed).randbytes(length)
    points = sorted({c % (length + 1) for c in cuts} | {0, length})
    enc = ChunkedEncryptor(KEY, b"ctx", salt=SALT)
    ct = b"".join(enc.update(message[a:b]) for a, b in itertools.pairwise(points))
    ct += enc.finalize()
    assert ct == encrypt(KEY, b"ctx", message, salt=SALT)
    ct_points = sorted({c % (len(ct) + 1) for c in cuts} | {0, len(ct)})
    dec = ChunkedDecryptor(KEY, b"ctx")
    pt = b"".join(dec.update(ct[a:b]) for a, b in itertools.pairwise(ct_points))
    assert pt + dec.finalize() == message


@settings(max_examples=80, deadline=None)
@given(length=lengths, seed=st.integers(0, 2**32), data=st.data())
def test_any_single_byte_change_truncation_or_extension_is_rejected(
    length: int, seed: int, data: st.DataObject
) -> None:
    message = random.Random(seed).randbytes(length)
    ct = encrypt(KEY, b"ctx", message, salt=SALT)
    change = data.draw(st.sampled_from(["flip", "truncate", "extend"]))
    if change == "flip":
        corrupted = bytearray(ct)
        corrupted[data.draw(st.integers(0, len(ct) - 1))] ^= data.draw(st.integers(1, 255))
    elif change == "truncate":
        corrupted = bytearray(ct[: data.draw(st.integers(0, len(ct) - 1))])
    else:
        corrupted = bytearray(ct + data.draw(st.binary(min_size=1, max_size=40)))
    with pytest.raises(PrimitiveError):
        decrypt(KEY, b"ctx", bytes(corrupted))
