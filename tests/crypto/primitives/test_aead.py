"""AES-GCM through our layer: Wycheproof vectors, misuse, and property tests."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.errors import PrimitiveError
from crypto.primitives.aead import (
    aes128gcm_open,
    aes128gcm_seal,
    aes256gcm_open,
    aes256gcm_seal,
)
from tests.crypto.primitives._vectors import h, wycheproof_cases


def _is_96bit_iv(group: dict[str, Any], key_bits: int) -> bool:
    # Filter: our API accepts only 96-bit nonces (SP 800-38D section 8.2.1; what WebCrypto
    # callers use), so groups with other IV sizes cannot run through it; refusing those sizes
    # is tested below. Key size selects AES-256 (the protocol) or AES-128 (RFC 9180 vectors).
    return group["ivSize"] == 96 and group["keySize"] == key_bits and group["tagSize"] == 128


AES256_CASES = wycheproof_cases("aes_gcm_test.json", lambda g: _is_96bit_iv(g, 256))
AES128_CASES = wycheproof_cases("aes_gcm_test.json", lambda g: _is_96bit_iv(g, 128))


def test_filter_keeps_the_expected_groups() -> None:
    # Guards against a silent filter change: 66 AES-256 and 67 AES-128 96-bit-IV cases.
    assert len(AES256_CASES) == 66
    assert len(AES128_CASES) == 67


def _check(group: dict[str, Any], test: dict[str, Any], seal: Any, open_: Any) -> None:
    key, iv, aad, msg = h(test["key"]), h(test["iv"]), h(test["aad"]), h(test["msg"])
    sealed = h(test["ct"]) + h(test["tag"])
    if test["result"] == "valid":
        assert seal(key, iv, msg, aad) == sealed
        assert open_(key, iv, sealed, aad) == msg
    else:
        # Only "valid" and "invalid" occur in these groups (no "acceptable"); every invalid
        # case here is a modified tag, which must not authenticate.
        assert test["result"] == "invalid"
        with pytest.raises(PrimitiveError):
            open_(key, iv, sealed, aad)


@pytest.mark.parametrize(("group", "test"), AES256_CASES)
def test_wycheproof_aes256gcm(group: dict[str, Any], test: dict[str, Any]) -> None:
    _check(group, test, aes256gcm_seal, aes256gcm_open)


@pytest.mark.parametrize(("group", "test"), AES128_CASES)
def test_wycheproof_aes128gcm(group: dict[str, Any], test: dict[str, Any]) -> None:
    _check(group, test, aes128gcm_seal, aes128gcm_open)


@pytest.mark.parametrize("key_len", [0, 16, 24, 31, 33])
def test_aes256_refuses_other_key_lengths(key_len: int) -> None:
    with pytest.raises(ValueError, match="key must be 32 bytes"):
        aes256gcm_seal(bytes(key_len), bytes(12), b"", b"")
    with pytest.raises(ValueError, match="key must be 32 bytes"):
        aes256gcm_open(bytes(key_len), bytes(12), bytes(16), b"")


def test_aes128_refuses_a_256_bit_key() -> None:
    with pytest.raises(ValueError, match="key must be 16 bytes"):
        aes128gcm_seal(bytes(32), bytes(12), b"", b"")


@pytest.mark.parametrize("nonce_len", [0, 8, 11, 13, 16])
def test_refuses_other_nonce_lengths(nonce_len: int) -> None:
    with pytest.raises(ValueError, match="nonce must be 12 bytes"):
        aes256gcm_seal(bytes(32), bytes(nonce_len), b"", b"")
    with pytest.raises(ValueError, match="nonce must be 12 bytes"):
        aes256gcm_open(bytes(32), bytes(nonce_len), bytes(16), b"")


@pytest.mark.parametrize("position", range(4))
def test_non_bytes_arguments_are_type_errors(position: int) -> None:
    args: list[Any] = [bytes(32), bytes(12), b"x", b""]
    args[position] = "not bytes"
    with pytest.raises(TypeError, match="must be bytes, not str"):
        aes256gcm_seal(*args)
    args = [bytes(32), bytes(12), bytes(16), b""]
    args[position] = bytearray(len(args[position]))
    with pytest.raises(TypeError, match="must be bytes, not bytearray"):
        aes256gcm_open(*args)


@pytest.mark.parametrize("length", range(16))
def test_ciphertext_shorter_than_tag_is_hostile(length: int) -> None:
    with pytest.raises(PrimitiveError):
        aes256gcm_open(bytes(32), bytes(12), bytes(length), b"")


def test_error_message_is_opaque() -> None:
    with pytest.raises(PrimitiveError) as info:
        aes256gcm_open(bytes(32), bytes(12), bytes(40), b"patient name")
    assert str(info.value) == "primitive rejected its input"


keys = st.binary(min_size=32, max_size=32)
nonces = st.binary(min_size=12, max_size=12)


@given(key=keys, nonce=nonces, plaintext=st.binary(max_size=300), aad=st.binary(max_size=64))
def test_round_trip(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> None:
    sealed = aes256gcm_seal(key, nonce, plaintext, aad)
    assert len(sealed) == len(plaintext) + 16
    assert aes256gcm_open(key, nonce, sealed, aad) == plaintext


@given(
    key=keys,
    nonce=nonces,
    plaintext=st.binary(max_size=100),
    aad=st.binary(max_size=32),
    data=st.data(),
)
def test_any_single_byte_change_is_rejected(
    key: bytes, nonce: bytes, plaintext: bytes, aad: bytes, data: st.DataObject
) -> None:
    sealed = aes256gcm_seal(key, nonce, plaintext, aad)
    # One of the four inputs of open, one byte of it, XORed with a non-zero value.
    fields = {"key": key, "nonce": nonce, "sealed": sealed, "aad": aad}
    name = data.draw(st.sampled_from([n for n, v in fields.items() if v]))
    value = bytearray(fields[name])
    index = data.draw(st.integers(0, len(value) - 1))
    value[index] ^= data.draw(st.integers(1, 255))
    fields[name] = bytes(value)
    with pytest.raises(PrimitiveError):
        aes256gcm_open(fields["key"], fields["nonce"], fields["sealed"], fields["aad"])


def test_docstring_examples_hold() -> None:
    import doctest

    from crypto.primitives import aead

    result = doctest.testmod(aead)
    assert result.attempted >= 1
    assert result.failed == 0
