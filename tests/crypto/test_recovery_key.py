"""crypto.recovery_key: encoding for people, and helpful errors for typos."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.errors import RecoveryKeyFormatError
from crypto.recovery_key import decode_recovery_key, encode_recovery_key, new_recovery_secret

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def test_shape() -> None:
    text = encode_recovery_key(new_recovery_secret())
    groups = text.split("-")
    assert len(groups) == 14
    assert all(len(g) == 4 and set(g) <= set(ALPHABET) for g in groups)


@given(st.binary(min_size=32, max_size=32))
def test_round_trip(secret: bytes) -> None:
    assert decode_recovery_key(encode_recovery_key(secret)) == secret


@given(st.binary(min_size=32, max_size=32), st.integers(0, 55), st.integers(1, 31))
def test_every_single_character_typo_is_caught(secret: bytes, pos: int, delta: int) -> None:
    chars = list(encode_recovery_key(secret).replace("-", ""))
    chars[pos] = ALPHABET[(ALPHABET.index(chars[pos]) + delta) % 32]
    with pytest.raises(RecoveryKeyFormatError, match="mistyped"):
        decode_recovery_key("".join(chars))


def test_errors_are_value_errors_and_never_echo_input() -> None:
    typed = "ZZZZ-" * 13 + "ZZZZ"
    with pytest.raises(ValueError) as info:
        decode_recovery_key(typed)
    assert "ZZZZ" not in str(info.value)


def test_length_error_says_how_many() -> None:
    with pytest.raises(RecoveryKeyFormatError, match=r"56 characters .* this has 3"):
        decode_recovery_key("ABC")


def test_long_paste_is_a_length_error() -> None:
    with pytest.raises(RecoveryKeyFormatError, match="this has 100000"):
        decode_recovery_key("A" * 100_000)


def test_bad_character() -> None:
    with pytest.raises(RecoveryKeyFormatError, match="character that recovery keys never use"):
        decode_recovery_key("U" * 56)


def test_misuse() -> None:
    with pytest.raises(TypeError):
        decode_recovery_key(b"x")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        encode_recovery_key(bytes(31))
    assert new_recovery_secret() != new_recovery_secret()
