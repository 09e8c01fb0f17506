"""crypto.case_key: signed HPKE wraps of case keys."""

from __future__ import annotations

import uuid

import pytest

from crypto import account, case_key
from crypto.errors import (
    CaseKeyUnwrapError,
    CaseKeyWrapHeaderError,
    CaseKeyWrapSignatureError,
    PublicKeyError,
)

CASE = uuid.UUID(int=0xCA5E)


def wrap(
    alice: account.AccountKeys, bob: account.AccountKeys, user_id: uuid.UUID, ck: bytes
) -> bytes:
    return case_key.wrap_case_key(
        ck,
        case_id=CASE,
        epoch=2,
        recipient_public_key=bob.encryption.public_key,
        wrapper_user_id=user_id,
        wrapper_signing_key=alice.signing,
    )


def test_round_trip(
    alice: account.AccountKeys, bob: account.AccountKeys, user_id: uuid.UUID
) -> None:
    ck = case_key.generate_case_key()
    record = wrap(alice, bob, user_id, ck)
    assert len(record) == case_key.COMMITTED_CASE_KEY_WRAP_LENGTH
    header = case_key.parse_case_key_wrap_header(record)
    assert header == case_key.CaseKeyWrapHeader(
        CASE,
        2,
        bob.encryption.key_id,
        user_id,
        alice.signing.key_id,
        case_key.case_key_commitment(ck, case_id=CASE, epoch=2),
    )
    assert case_key.verify_case_key_wrap(record, alice.signing.public_key) == header
    opened = case_key.open_case_key_wrap(
        record,
        case_id=CASE,
        epoch=2,
        recipient=bob.encryption,
        wrapper_signing_public_key=alice.signing.public_key,
    )
    assert opened == ck
    assert wrap(alice, bob, user_id, ck) != record  # fresh ephemeral key each time


def test_refusals(alice: account.AccountKeys, bob: account.AccountKeys, user_id: uuid.UUID) -> None:
    record = wrap(alice, bob, user_id, case_key.generate_case_key())
    with pytest.raises(CaseKeyWrapSignatureError):
        case_key.verify_case_key_wrap(record, bob.signing.public_key)
    with pytest.raises(CaseKeyWrapSignatureError):
        case_key.verify_case_key_wrap(record, b"\x04" + bytes(64))
    with pytest.raises(CaseKeyWrapHeaderError):
        case_key.parse_case_key_wrap_header(record + b"\x00")
    with pytest.raises(CaseKeyUnwrapError):
        case_key.open_case_key_wrap(
            record,
            case_id=CASE,
            epoch=2,
            recipient=alice.encryption,
            wrapper_signing_public_key=alice.signing.public_key,
        )


def test_misuse(alice: account.AccountKeys, bob: account.AccountKeys, user_id: uuid.UUID) -> None:
    ck = case_key.generate_case_key()
    kwargs = dict(
        case_id=CASE,
        epoch=1,
        recipient_public_key=bob.encryption.public_key,
        wrapper_user_id=user_id,
        wrapper_signing_key=alice.signing,
    )
    with pytest.raises(ValueError):
        case_key.wrap_case_key(bytes(16), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        case_key.wrap_case_key(ck, **{**kwargs, "epoch": 1 << 32})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        case_key.wrap_case_key(ck, **{**kwargs, "epoch": "1"})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        case_key.wrap_case_key(ck, **{**kwargs, "wrapper_signing_key": alice.signing.private_key})  # type: ignore[arg-type]
    with pytest.raises(PublicKeyError):
        case_key.wrap_case_key(ck, **{**kwargs, "recipient_public_key": bytes(65)})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        case_key.open_case_key_wrap(
            b"",
            case_id=CASE,
            epoch=1,
            recipient=bob.encryption.private_key,  # type: ignore[arg-type]
            wrapper_signing_public_key=alice.signing.public_key,
        )


def test_expected_wrapper_user_id_is_checked(
    alice: account.AccountKeys, bob: account.AccountKeys, user_id: uuid.UUID
) -> None:
    ck = case_key.generate_case_key()
    record = wrap(alice, bob, user_id, ck)
    kwargs: dict[str, object] = dict(
        case_id=CASE,
        epoch=2,
        recipient=bob.encryption,
        wrapper_signing_public_key=alice.signing.public_key,
    )
    assert case_key.open_case_key_wrap(record, wrapper_user_id=user_id, **kwargs) == ck  # type: ignore[arg-type]
    with pytest.raises(CaseKeyUnwrapError):
        case_key.open_case_key_wrap(record, wrapper_user_id=uuid.UUID(int=7), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        case_key.open_case_key_wrap(record, wrapper_user_id=str(user_id), **kwargs)  # type: ignore[arg-type]
