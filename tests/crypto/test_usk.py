"""crypto.usk: the USK wraps."""

from __future__ import annotations

import os
import uuid

import pytest

from crypto import account, usk
from crypto.errors import (
    PublicKeyError,
    UskKekUnwrapError,
    UskOrgUnwrapError,
    UskPasskeyUnwrapError,
    UskRecoveryUnwrapError,
)
from crypto.recovery_key import decode_recovery_key, encode_recovery_key, new_recovery_secret

KEK = b"k" * 32
OTHER = uuid.UUID(int=7)


def test_generate() -> None:
    a, b = usk.generate_usk(), usk.generate_usk()
    assert len(a) == 32 and a != b


def test_kek_round_trip_and_fresh_nonce(user_id: uuid.UUID) -> None:
    key = usk.generate_usk()
    first = usk.wrap_usk_with_kek(key, KEK, user_id)
    second = usk.wrap_usk_with_kek(key, KEK, user_id)
    assert first != second and len(first) == 63
    assert usk.unwrap_usk_with_kek(first, KEK, user_id) == key
    with pytest.raises(UskKekUnwrapError):
        usk.unwrap_usk_with_kek(first, KEK, OTHER)
    with pytest.raises(UskKekUnwrapError):
        usk.unwrap_usk_with_kek(first, b"j" * 32, user_id)


def test_recovery_round_trip_via_printed_text(user_id: uuid.UUID) -> None:
    key = usk.generate_usk()
    secret = new_recovery_secret()
    printed = encode_recovery_key(secret)
    record = usk.wrap_usk_with_recovery_key(key, secret, user_id)
    typed = printed.lower().replace("-", " ")
    assert usk.unwrap_usk_with_recovery_key(record, decode_recovery_key(typed), user_id) == key
    with pytest.raises(UskRecoveryUnwrapError):
        usk.unwrap_usk_with_recovery_key(record, new_recovery_secret(), user_id)


def test_kek_and_recovery_records_are_not_interchangeable(user_id: uuid.UUID) -> None:
    key = usk.generate_usk()
    record = usk.wrap_usk_with_kek(key, KEK, user_id)
    # Even with the same 32 bytes as KEK and recovery secret, the type byte and AAD differ.
    with pytest.raises(UskRecoveryUnwrapError):
        usk.unwrap_usk_with_recovery_key(record, KEK, user_id)


def test_org_round_trip(user_id: uuid.UUID) -> None:
    org = account.generate_key_pair()
    key = usk.generate_usk()
    record = usk.wrap_usk_for_org(key, org.public_key, user_id)
    assert len(record) == 132
    assert record[3:19] == org.key_id
    assert usk.unwrap_usk_for_org(record, org.private_key, user_id) == key
    with pytest.raises(UskOrgUnwrapError):
        usk.unwrap_usk_for_org(record, account.generate_key_pair().private_key, user_id)


def test_org_bad_public_key(user_id: uuid.UUID) -> None:
    with pytest.raises(PublicKeyError):
        usk.wrap_usk_for_org(usk.generate_usk(), b"\x04" + bytes(64), user_id)


def test_misuse(user_id: uuid.UUID) -> None:
    key = usk.generate_usk()
    with pytest.raises(ValueError):
        usk.wrap_usk_with_kek(bytes(31), KEK, user_id)
    with pytest.raises(ValueError):
        usk.wrap_usk_with_kek(key, bytes(16), user_id)
    with pytest.raises(TypeError):
        usk.wrap_usk_with_kek(key, KEK, str(user_id))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        usk.wrap_usk_with_kek_from_parts(key, KEK, user_id, nonce=bytes(8))
    with pytest.raises(ValueError):
        usk.unwrap_usk_with_kek(b"", bytes(16), user_id)
    with pytest.raises(ValueError):
        usk.wrap_usk_with_recovery_key(key, bytes(20), user_id)
    with pytest.raises(ValueError):
        usk.unwrap_usk_for_org(b"", bytes(32), user_id)  # zero is not a valid scalar
    with pytest.raises(ValueError):
        usk.wrap_usk_for_org(bytes(5), account.generate_key_pair().public_key, user_id)


def test_passkey_round_trip_binds_user_and_credential(user_id: uuid.UUID) -> None:
    key = usk.generate_usk()
    prf, cred = os.urandom(32), os.urandom(16)
    rec = usk.wrap_usk_with_passkey(key, prf, user_id, cred)
    assert len(rec) == usk.PASSKEY_WRAP_LENGTH == 63
    assert rec[:3] == bytes((1, 1, 0x11))
    assert rec != usk.wrap_usk_with_passkey(key, prf, user_id, cred)  # fresh nonce
    assert usk.unwrap_usk_with_passkey(rec, prf, user_id, cred) == key
    usk.check_passkey_wrap_form(rec)
    for wrong in (
        (rec, os.urandom(32), user_id, cred),
        (rec, prf, uuid.uuid4(), cred),
        (rec, prf, user_id, cred + b"\x00"),
    ):
        with pytest.raises(UskPasskeyUnwrapError):
            usk.unwrap_usk_with_passkey(*wrong)
    # A KEK wrap under the same 32 bytes is another record type and does not open.
    kek_rec = usk.wrap_usk_with_kek(key, prf, user_id)
    with pytest.raises(UskPasskeyUnwrapError):
        usk.unwrap_usk_with_passkey(kek_rec, prf, user_id, cred)
    for bad in (b"", rec[:-1], rec + b"\x00", kek_rec):
        with pytest.raises(UskPasskeyUnwrapError):
            usk.check_passkey_wrap_form(bad)


def test_passkey_misuse(user_id: uuid.UUID) -> None:
    key = usk.generate_usk()
    with pytest.raises(ValueError):
        usk.wrap_usk_with_passkey(key, bytes(16), user_id, b"c")
    with pytest.raises(ValueError):
        usk.wrap_usk_with_passkey(key, bytes(32), user_id, b"")
    with pytest.raises(ValueError):
        usk.wrap_usk_with_passkey(key, bytes(32), user_id, bytes(1024))
    with pytest.raises(TypeError):
        usk.unwrap_usk_with_passkey(b"", bytes(32), str(user_id), b"c")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        usk.check_passkey_wrap_form("record")  # type: ignore[arg-type]
