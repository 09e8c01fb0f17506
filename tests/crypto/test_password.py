"""crypto.password: login key derivation, the KDF-parameters record, fake salts."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto import password
from crypto.errors import KdfParamsError
from crypto.primitives.kdf import pbkdf2_sha256

SALT = bytes(range(16))
SECRET = b"s" * 32


def test_real_iteration_count_matches_pbkdf2_and_takes_real_time() -> None:
    start = time.perf_counter()
    keys = password.derive_login_keys("correct horse", SALT)
    elapsed = time.perf_counter() - start
    master = pbkdf2_sha256(b"correct horse", SALT, 600_000, 32)
    assert keys == password.split_master_key(master)
    # 600,000 rounds cannot be done in a millisecond; guards against a silently lowered count.
    assert elapsed > 0.01


def test_auth_key_and_kek_differ_and_depend_on_everything() -> None:
    keys = password.derive_login_keys("pw", SALT, iterations=10)
    assert keys.auth_key != keys.kek
    assert len(keys.auth_key) == len(keys.kek) == 32
    assert password.derive_login_keys("pw2", SALT, iterations=10) != keys
    assert password.derive_login_keys("pw", bytes(16), iterations=10) != keys
    assert password.derive_login_keys("pw", SALT, iterations=11) != keys


def test_login_keys_repr_hides_keys() -> None:
    keys = password.derive_login_keys("pw", SALT, iterations=2)
    assert keys.auth_key.hex() not in repr(keys)
    assert repr(keys) == "LoginKeys()"


def test_nfc_normalisation() -> None:
    composed = password.derive_login_keys("\u00e9", SALT, iterations=2)
    assert password.derive_login_keys("e\u0301", SALT, iterations=2) == composed


@pytest.mark.parametrize(
    ("pw", "salt", "iterations", "error"),
    [
        (b"pw", SALT, 2, TypeError),
        ("", SALT, 2, ValueError),
        ("pw", "salt", 2, TypeError),
        ("pw", bytes(15), 2, ValueError),
        ("pw", SALT, 0, ValueError),
        ("pw", SALT, 2.0, TypeError),
        ("pw", SALT, True, TypeError),
    ],
)
def test_derive_misuse(pw: object, salt: object, iterations: object, error: type) -> None:
    with pytest.raises(error):
        password.derive_login_keys(pw, salt, iterations=iterations)  # type: ignore[arg-type]


def test_split_needs_32_bytes() -> None:
    with pytest.raises(ValueError):
        password.split_master_key(bytes(31))


def test_new_salt_is_random_16_bytes() -> None:
    a, b = password.new_salt(), password.new_salt()
    assert len(a) == len(b) == password.SALT_LENGTH
    assert a != b


def test_kdf_params_round_trip() -> None:
    record = password.encode_kdf_params(SALT)
    params = password.parse_kdf_params(record)
    assert params == password.KdfParams(algorithm=1, iterations=600_000, salt=SALT)
    assert record[:3] == b"\x01\x01\x01"


@pytest.mark.parametrize(
    ("salt", "iterations", "error"),
    [
        ("salt", 600_000, TypeError),
        (bytes(15), 600_000, ValueError),
        (bytes(65), 600_000, ValueError),
        (SALT, 599_999, ValueError),
        (SALT, 2_000_001, ValueError),
        (SALT, 600_000.0, TypeError),
        (SALT, False, TypeError),
    ],
)
def test_encode_kdf_params_misuse(salt: object, iterations: object, error: type) -> None:
    with pytest.raises(error):
        password.encode_kdf_params(salt, iterations=iterations)  # type: ignore[arg-type]


def test_parse_kdf_params_is_opaque() -> None:
    with pytest.raises(KdfParamsError) as info:
        password.parse_kdf_params(b"\x01\x01\x01\x02")
    assert str(info.value) == "invalid KDF parameters record"
    with pytest.raises(TypeError):
        password.parse_kdf_params("01")  # type: ignore[arg-type]


def test_fake_salt_is_deterministic_and_per_name() -> None:
    a = password.fake_salt(SECRET, "alice@example.org")
    assert a == password.fake_salt(SECRET, " ALICE@example.org\t")
    assert a != password.fake_salt(SECRET, "bob@example.org")
    assert a != password.fake_salt(b"t" * 32, "alice@example.org")
    assert len(a) == password.SALT_LENGTH


def test_fake_record_has_the_real_shape() -> None:
    fake = password.fake_kdf_params(SECRET, "nobody@example.org")
    real = password.encode_kdf_params(password.new_salt())
    assert len(fake) == len(real)
    assert fake[:9] == real[:9]  # prefix, algorithm, iterations, salt length


@pytest.mark.parametrize(
    ("secret", "name", "error"),
    [
        (b"short", "a", ValueError),
        ("x" * 32, "a", TypeError),
        (SECRET, b"a", TypeError),
        (SECRET, "   ", ValueError),
    ],
)
def test_fake_salt_misuse(secret: object, name: object, error: type) -> None:
    with pytest.raises(error):
        password.fake_salt(secret, name)  # type: ignore[arg-type]


@given(st.text(min_size=1))
def test_normalisation_is_idempotent(name: str) -> None:
    try:
        once = password.normalise_login_name(name)
    except ValueError:
        return
    assert password.normalise_login_name(once) == once


def test_normalisation_of_a_fold_that_leaves_nfkc() -> None:
    # U+01F0 (j with caron) case-folds to "j" + U+030C; NFKC recomposes it.
    assert password.normalise_login_name("\u01f0") == "\u01f0"
