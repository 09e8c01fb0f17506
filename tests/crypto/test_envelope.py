"""crypto.envelope: sealing, opening and the clear header."""

from __future__ import annotations

import time
import uuid

import pytest

from crypto import account, envelope
from crypto.content import ContentType, encode_content
from crypto.errors import MessageHeaderError, MessageOpenError, MessageSignatureError

CASE = uuid.UUID(int=0xCA5E)
CK = b"c" * 32


def seal(alice: account.AccountKeys, user_id: uuid.UUID, body: bytes, **over: object) -> bytes:
    kwargs: dict[str, object] = dict(
        case_key=CK,
        case_id=CASE,
        epoch=0,
        client_message_id=uuid.uuid4(),
        sender_user_id=user_id,
        sender_signing_key=alice.signing,
        content_type=ContentType.TEXT,
        previous_hash=envelope.GENESIS_HASH,
    )
    kwargs.update(over)
    return envelope.seal_message(body, **kwargs)  # type: ignore[arg-type]


def test_round_trip(alice: account.AccountKeys, user_id: uuid.UUID) -> None:
    body = encode_content(ContentType.TEXT, {"text": "hello"})
    before = time.time_ns() // 1_000_000
    record = seal(alice, user_id, body)
    header = envelope.parse_message_header(record)
    assert before <= header.timestamp_ms <= time.time_ns() // 1_000_000
    assert header.sender_key_id == alice.signing.key_id
    assert len(record) == envelope.HEADER_LENGTH + 12 + 4 + len(body) + 16 + 64
    opened = envelope.open_message(
        record,
        case_key=CK,
        case_id=CASE,
        epoch=0,
        sender_signing_public_key=alice.signing.public_key,
    )
    assert opened.body == body and opened.header == header


def test_largest_body(alice: account.AccountKeys, user_id: uuid.UUID) -> None:
    body = bytes(1 << 20)
    record = seal(alice, user_id, body)
    opened = envelope.open_message(
        record,
        case_key=CK,
        case_id=CASE,
        epoch=0,
        sender_signing_public_key=alice.signing.public_key,
    )
    assert opened.body == body
    with pytest.raises(ValueError):
        seal(alice, user_id, bytes((1 << 20) + 1))


def test_opaque_errors(
    alice: account.AccountKeys, bob: account.AccountKeys, user_id: uuid.UUID
) -> None:
    record = seal(alice, user_id, b"x")
    with pytest.raises(MessageOpenError) as info:
        envelope.open_message(
            record,
            case_key=CK,
            case_id=CASE,
            epoch=0,
            sender_signing_public_key=bob.signing.public_key,
        )
    assert str(info.value) == "cannot open the message"
    with pytest.raises(MessageOpenError):
        envelope.open_message(
            record, case_key=CK, case_id=CASE, epoch=0, sender_signing_public_key=bytes(65)
        )
    with pytest.raises(MessageHeaderError):
        envelope.parse_message_header(record[:100])


def test_misuse(alice: account.AccountKeys, user_id: uuid.UUID) -> None:
    with pytest.raises(TypeError):
        seal(alice, user_id, b"x", sender_signing_key=alice.signing.private_key)
    with pytest.raises(ValueError):
        seal(alice, user_id, b"x", content_type=99)
    with pytest.raises(ValueError):
        seal(alice, user_id, b"x", previous_hash=bytes(31))
    with pytest.raises(ValueError):
        seal(alice, user_id, b"x", case_key=bytes(16))
    with pytest.raises(TypeError):
        seal(alice, user_id, "text")
    with pytest.raises(ValueError):
        envelope.open_message(
            b"", case_key=CK, case_id=CASE, epoch=-1, sender_signing_public_key=b""
        )
    with pytest.raises(TypeError):
        envelope.message_hash("x")  # type: ignore[arg-type]
    with pytest.raises(MessageHeaderError):
        envelope.message_hash(b"\x01\x01\x07")


def test_message_hash_ignores_signature_malleability(
    alice: account.AccountKeys, user_id: uuid.UUID
) -> None:
    record = seal(alice, user_id, b"x")
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    s = int.from_bytes(record[-32:], "big")
    twin = record[:-32] + (n - s).to_bytes(32, "big")
    assert twin != record
    # The twin verifies (ECDSA allows it) and hashes to the same chain link.
    envelope.open_message(
        twin,
        case_key=CK,
        case_id=CASE,
        epoch=0,
        sender_signing_public_key=alice.signing.public_key,
    )
    assert envelope.message_hash(twin) == envelope.message_hash(record)


def test_verify_message_signature(
    alice: account.AccountKeys, bob: account.AccountKeys, user_id: uuid.UUID
) -> None:
    record = seal(alice, user_id, b"x")
    header = envelope.verify_message_signature(record, alice.signing.public_key)
    assert header == envelope.parse_message_header(record)
    with pytest.raises(MessageSignatureError):
        envelope.verify_message_signature(record, bob.signing.public_key)
    with pytest.raises(MessageSignatureError):
        envelope.verify_message_signature(
            record[:-1] + bytes([record[-1] ^ 1]), alice.signing.public_key
        )
    with pytest.raises(MessageSignatureError):
        envelope.verify_message_signature(record[:50], alice.signing.public_key)


def test_expected_sender_user_id_is_checked(alice: account.AccountKeys, user_id: uuid.UUID) -> None:
    # Review finding: the signature proves who holds the key, not which user id the header
    # names. A reader that passes the directory's owner of the key gets that binding too.
    record = seal(alice, user_id, b"x")
    kwargs: dict[str, object] = dict(
        case_key=CK, case_id=CASE, epoch=0, sender_signing_public_key=alice.signing.public_key
    )
    opened = envelope.open_message(record, sender_user_id=user_id, **kwargs)  # type: ignore[arg-type]
    assert opened.body == b"x"
    with pytest.raises(MessageOpenError):
        envelope.open_message(record, sender_user_id=uuid.UUID(int=7), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        envelope.open_message(record, sender_user_id=str(user_id), **kwargs)  # type: ignore[arg-type]


def test_opened_message_repr_hides_the_body(alice: account.AccountKeys, user_id: uuid.UUID) -> None:
    secret_text = "patient-name-that-must-not-be-logged"
    record = seal(alice, user_id, encode_content(ContentType.TEXT, {"text": secret_text}))
    opened = envelope.open_message(
        record,
        case_key=CK,
        case_id=CASE,
        epoch=0,
        sender_signing_public_key=alice.signing.public_key,
    )
    assert secret_text in opened.body.decode()
    assert secret_text not in repr(opened) and "body" not in repr(opened)
