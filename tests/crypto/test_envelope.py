"""crypto.envelope: sealing, opening and the clear header."""

from __future__ import annotations

import time
import uuid

import pytest

from crypto import account, envelope
from crypto.case_key import case_key_commitment
from crypto.content import ContentType, encode_content
from crypto.errors import MessageHeaderError, MessageOpenError, MessageSignatureError
from crypto.primitives.aead import aes256gcm_seal
from crypto.primitives.ecc import p256_sign

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
    # Type 0x0e: the commitment in the header, the body padded to 256 bytes.
    assert record[2] == 0x0E
    assert header.commitment == case_key_commitment(CK, case_id=CASE, epoch=0)
    assert len(record) == envelope.COMMITTED_HEADER_LENGTH + 12 + 4 + 256 + 16 + 64
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


@pytest.mark.parametrize(
    ("size", "padded"), [(0, 256), (1, 256), (255, 256), (256, 512), (1 << 20, (1 << 20) + 256)]
)
def test_padding_sizes(
    alice: account.AccountKeys, user_id: uuid.UUID, size: int, padded: int
) -> None:
    body = b"\x80" * size  # a body that itself ends in the padding marker
    record = seal(alice, user_id, body)
    assert int.from_bytes(record[156:160], "big") == padded + 16
    opened = envelope.open_message(
        record,
        case_key=CK,
        case_id=CASE,
        epoch=0,
        sender_signing_public_key=alice.signing.public_key,
    )
    assert opened.body == body


def _forge(
    alice: account.AccountKeys,
    user_id: uuid.UUID,
    plaintext: bytes,
    commitment: bytes | None = None,
) -> bytes:
    """A correctly signed 0x0e record around any plaintext and commitment: only the
    padding or commitment rule can refuse it."""
    from crypto.primitives.kdf import hkdf_sha256

    header = (
        b"\x01\x01\x0e"
        + CASE.bytes
        + bytes(4)
        + uuid.UUID(int=1).bytes
        + user_id.bytes
        + alice.signing.key_id
        + b"\x01"
        + bytes(8)
        + bytes(32)
        + (commitment if commitment is not None else case_key_commitment(CK, case_id=CASE, epoch=0))
    )
    key = hkdf_sha256(
        CK, salt=b"", info=b"dermline/v1/message-key\x00" + CASE.bytes + bytes(4), length=32
    )
    ct = aes256gcm_seal(key, bytes(12), plaintext, header)
    signed = header + bytes(12) + len(ct).to_bytes(4, "big") + ct
    return signed + p256_sign(alice.signing.private_key, b"dermline/v1/sig/message\x00" + signed)


@pytest.mark.parametrize(
    "plaintext",
    [
        bytes(256),  # no marker at all
        b"x" * 255 + b"\x01",  # last byte neither 0x80 nor 0x00
        b"x\x80" + bytes(510),  # padded to 512 where 256 was enough
        b"\x80" + bytes(511),  # padding longer than one block
    ],
)
def test_malformed_padding_is_refused(
    alice: account.AccountKeys, user_id: uuid.UUID, plaintext: bytes
) -> None:
    record = _forge(alice, user_id, plaintext)
    envelope.verify_message_signature(record, alice.signing.public_key)
    with pytest.raises(MessageOpenError):
        envelope.open_message(
            record,
            case_key=CK,
            case_id=CASE,
            epoch=0,
            sender_signing_public_key=alice.signing.public_key,
        )
    good = _forge(alice, user_id, b"ok\x80" + bytes(253))
    assert (
        envelope.open_message(
            good,
            case_key=CK,
            case_id=CASE,
            epoch=0,
            sender_signing_public_key=alice.signing.public_key,
        ).body
        == b"ok"
    )


def test_another_case_key_for_the_epoch_is_refused_before_decrypting(
    alice: account.AccountKeys, user_id: uuid.UUID
) -> None:
    # A colluding server could give a reader another key for the epoch; the header's signed
    # commitment names the sender's key, so the reader refuses the message.
    record = seal(alice, user_id, b"x")
    with pytest.raises(MessageOpenError):
        envelope.open_message(
            record,
            case_key=b"d" * 32,
            case_id=CASE,
            epoch=0,
            sender_signing_public_key=alice.signing.public_key,
        )
    forged = _forge(alice, user_id, b"x\x80" + bytes(254), commitment=bytes(32))
    with pytest.raises(MessageOpenError):
        envelope.open_message(
            forged,
            case_key=CK,
            case_id=CASE,
            epoch=0,
            sender_signing_public_key=alice.signing.public_key,
        )


def test_legacy_records_still_open(alice: account.AccountKeys, user_id: uuid.UUID) -> None:
    record = envelope.seal_legacy_message_from_parts(
        b"old",
        case_key=CK,
        case_id=CASE,
        epoch=0,
        client_message_id=uuid.UUID(int=2),
        sender_user_id=user_id,
        sender_signing_key=alice.signing,
        content_type=ContentType.TEXT,
        timestamp_ms=0,
        previous_hash=envelope.GENESIS_HASH,
        nonce=bytes(12),
    )
    assert record[2] == 0x07 and len(record) == envelope.HEADER_LENGTH + 12 + 4 + 3 + 16 + 64
    opened = envelope.open_message(
        record,
        case_key=CK,
        case_id=CASE,
        epoch=0,
        sender_signing_public_key=alice.signing.public_key,
    )
    assert opened.body == b"old" and opened.header.commitment is None


@pytest.mark.parametrize("length", [16, 255 + 16, 257 + 16, (1 << 20) + 512 + 16])
def test_committed_length_field_must_be_padded(
    alice: account.AccountKeys, user_id: uuid.UUID, length: int
) -> None:
    record = seal(alice, user_id, b"x")
    bad = record[:156] + length.to_bytes(4, "big") + record[160:]
    with pytest.raises(MessageHeaderError):
        envelope.parse_message_header(bad)
