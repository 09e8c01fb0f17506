"""HKDF, HMAC and PBKDF2 through our layer: Wycheproof vectors, misuse, properties."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.errors import PrimitiveError
from crypto.primitives.kdf import (
    hkdf_sha256,
    hkdf_sha256_expand,
    hkdf_sha256_extract,
    hkdf_sha512_expand,
    hmac_sha256,
    hmac_sha256_verify,
    pbkdf2_sha256,
)
from tests.crypto.primitives._vectors import h, wycheproof_cases

# All groups of the three files run; nothing is filtered. (The PBKDF2 file's largest
# iteration count is 80,000, a few tens of milliseconds, so no case needs filtering.)
HKDF_CASES = wycheproof_cases("hkdf_sha256_test.json")
HMAC_CASES = wycheproof_cases("hmac_sha256_test.json")
PBKDF2_CASES = wycheproof_cases("pbkdf2_hmacsha256_test.json")


def test_vector_counts() -> None:
    assert (len(HKDF_CASES), len(HMAC_CASES), len(PBKDF2_CASES)) == (86, 174, 60)


@pytest.mark.parametrize(("group", "test"), HKDF_CASES)
def test_wycheproof_hkdf_sha256(group: dict[str, Any], test: dict[str, Any]) -> None:
    ikm, salt, info = h(test["ikm"]), h(test["salt"]), h(test["info"])
    if test["result"] == "valid":
        okm = h(test["okm"])
        assert hkdf_sha256(ikm, salt=salt, info=info, length=test["size"]) == okm
        # The two halves compose to the whole (RFC 5869 section 2).
        prk = hkdf_sha256_extract(salt, ikm)
        assert hkdf_sha256_expand(prk, info, test["size"]) == okm
    else:
        # The only invalid flag is SizeTooLarge (L > 255 * HashLen): a misuse error.
        assert test["flags"] == ["SizeTooLarge"]
        with pytest.raises(ValueError, match="length must be between 1 and 8160"):
            hkdf_sha256(ikm, salt=salt, info=info, length=test["size"])


@pytest.mark.parametrize(("group", "test"), HMAC_CASES)
def test_wycheproof_hmac_sha256(group: dict[str, Any], test: dict[str, Any]) -> None:
    key, msg, tag = h(test["key"]), h(test["msg"]), h(test["tag"])
    full = hmac_sha256(key, msg)
    assert len(full) == 32
    if group["tagSize"] == 256:
        if test["result"] == "valid":
            assert full == tag
            hmac_sha256_verify(key, msg, tag)
        else:
            assert test["result"] == "invalid"
            with pytest.raises(PrimitiveError):
                hmac_sha256_verify(key, msg, tag)
    else:
        # 128-bit-tag groups: the protocol never truncates HMAC, so hmac_sha256_verify
        # refuses every 16-byte tag; the vectors still check our full tag's prefix.
        assert group["tagSize"] == 128
        assert (full[:16] == tag) is (test["result"] == "valid")
        with pytest.raises(PrimitiveError):
            hmac_sha256_verify(key, msg, tag)


@pytest.mark.parametrize(("group", "test"), PBKDF2_CASES)
def test_wycheproof_pbkdf2_hmac_sha256(group: dict[str, Any], test: dict[str, Any]) -> None:
    assert test["result"] == "valid"  # the file holds only valid cases
    derived = pbkdf2_sha256(
        h(test["password"]), h(test["salt"]), test["iterationCount"], test["dkLen"]
    )
    assert derived == h(test["dk"])


def test_hkdf_sha512_expand_rfc5869_structure() -> None:
    # T(1) = HMAC-SHA512(PRK, info || 0x01): checks the SHA-512 expand against HMAC directly.
    import hashlib
    import hmac

    prk, info = b"k" * 32, b"info"
    t1 = hmac.new(prk, info + b"\x01", hashlib.sha512).digest()
    t2 = hmac.new(prk, t1 + info + b"\x02", hashlib.sha512).digest()
    assert hkdf_sha512_expand(prk, info, 76) == (t1 + t2)[:76]


@pytest.mark.parametrize("length", [0, -1, 8161])
def test_hkdf_length_bounds(length: int) -> None:
    with pytest.raises(ValueError, match="length must be between"):
        hkdf_sha256(b"k", salt=b"", info=b"", length=length)
    with pytest.raises(ValueError, match="length must be between"):
        hkdf_sha256_expand(bytes(32), b"", length)


def test_sha512_expand_length_bound() -> None:
    assert len(hkdf_sha512_expand(bytes(64), b"", 255 * 64)) == 255 * 64
    with pytest.raises(ValueError, match="length must be between 1 and 16320"):
        hkdf_sha512_expand(bytes(64), b"", 255 * 64 + 1)


@pytest.mark.parametrize("length", [True, 32.0, "32", None])
def test_non_int_lengths_are_type_errors(length: Any) -> None:
    with pytest.raises(TypeError, match="length must be an int"):
        hkdf_sha256(b"k", salt=b"", info=b"", length=length)


def test_hkdf_non_bytes() -> None:
    with pytest.raises(TypeError, match="ikm must be bytes"):
        hkdf_sha256("k", salt=b"", info=b"", length=32)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="salt must be bytes"):
        hkdf_sha256_extract(None, b"")  # type: ignore[arg-type]


def test_empty_salt_equals_zero_salt() -> None:
    # RFC 5869 section 2.2: "if not provided, [salt] is set to a string of HashLen zeros".
    assert hkdf_sha256(b"ikm", salt=b"", info=b"i", length=42) == hkdf_sha256(
        b"ikm", salt=bytes(32), info=b"i", length=42
    )


def test_hmac_verify_refuses_wrong_length_and_type() -> None:
    tag = hmac_sha256(b"key", b"data")
    with pytest.raises(PrimitiveError):
        hmac_sha256_verify(b"key", b"data", tag + b"\x00")
    with pytest.raises(PrimitiveError):
        hmac_sha256_verify(b"key", b"data", b"")
    with pytest.raises(TypeError, match="tag must be bytes"):
        hmac_sha256_verify(b"key", b"data", tag.hex())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("iterations", "error"),
    [(0, ValueError), (-5, ValueError), (True, TypeError), (1.5, TypeError)],
)
def test_pbkdf2_iterations(iterations: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="iterations"):
        pbkdf2_sha256(b"pw", b"salt", iterations, 32)


def test_pbkdf2_length_and_type() -> None:
    with pytest.raises(ValueError, match="length"):
        pbkdf2_sha256(b"pw", b"salt", 1, 0)
    with pytest.raises(TypeError, match="password must be bytes"):
        pbkdf2_sha256("pw", b"salt", 1, 32)  # type: ignore[arg-type]


@given(key=st.binary(max_size=80), data=st.binary(max_size=200), flip=st.data())
def test_hmac_any_single_byte_change_is_rejected(
    key: bytes, data: bytes, flip: st.DataObject
) -> None:
    tag = bytearray(hmac_sha256(key, data))
    hmac_sha256_verify(key, data, bytes(tag))
    tag[flip.draw(st.integers(0, 31))] ^= flip.draw(st.integers(1, 255))
    with pytest.raises(PrimitiveError):
        hmac_sha256_verify(key, data, bytes(tag))
