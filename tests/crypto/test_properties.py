"""Property tests: round trips, and any single-byte change anywhere in any record is rejected.

The KDF-parameters record is the one record without integrity protection (the server hands
it out; a changed salt or a higher iteration count only makes the login fail), so it is not
here; its range checks are in test_password.py and the vectors.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import account, attachment, case_key, envelope, records_key, usk
from crypto.case_key import case_key_commitment
from crypto.content import ContentType
from crypto.errors import (
    AttachmentError,
    CaseKeyUnwrapError,
    CaseKeyWrapSignatureError,
    CryptoError,
    MessageOpenError,
    PrivateKeyUnsealError,
    RecordsKeyFileError,
    UskKekUnwrapError,
    UskOrgUnwrapError,
    UskRecoveryUnwrapError,
)

USER = uuid.UUID(int=1)
CASE = uuid.UUID(int=2)
USK = b"U" * 32
KEK = b"K" * 32
RECOVERY = b"R" * 32
CK = b"C" * 32
FILE_KEY = b"F" * 32
ALICE = account.generate_account_keys_from_parts(encryption_ikm=b"a" * 32, signing_ikm=b"b" * 32)
BOB = account.generate_account_keys_from_parts(encryption_ikm=b"c" * 32, signing_ikm=b"d" * 32)
ORG = account.key_pair_from_seed(b"o" * 32)

ids = st.uuids()
keys = st.binary(min_size=32, max_size=32)
epochs = st.integers(0, 2**32 - 1)


def _message(body: bytes = b"hello") -> bytes:
    return envelope.seal_message(
        body,
        case_key=CK,
        case_id=CASE,
        epoch=5,
        client_message_id=uuid.UUID(int=3),
        sender_user_id=USER,
        sender_signing_key=ALICE.signing,
        content_type=ContentType.TEXT,
        previous_hash=envelope.GENESIS_HASH,
    )


def _open_message(record: bytes) -> object:
    return envelope.open_message(
        record,
        case_key=CK,
        case_id=CASE,
        epoch=5,
        sender_signing_public_key=ALICE.signing.public_key,
    )


def _case_wrap() -> bytes:
    return case_key.wrap_case_key(
        CK,
        case_id=CASE,
        epoch=5,
        recipient_public_key=BOB.encryption.public_key,
        wrapper_user_id=USER,
        wrapper_signing_key=ALICE.signing,
    )


def _open_case_wrap(record: bytes) -> object:
    return case_key.open_case_key_wrap(
        record,
        case_id=CASE,
        epoch=5,
        recipient=BOB.encryption,
        wrapper_signing_public_key=ALICE.signing.public_key,
    )


_ATTACHMENT, _ATTACHMENT_HASH = attachment.encrypt_attachment(FILE_KEY, bytes(range(256)) * 200)

RECORDS: dict[str, tuple[bytes, Callable[[bytes], object], type[CryptoError]]] = {
    "usk-kek": (
        usk.wrap_usk_with_kek(USK, KEK, USER),
        lambda r: usk.unwrap_usk_with_kek(r, KEK, USER),
        UskKekUnwrapError,
    ),
    "usk-recovery": (
        usk.wrap_usk_with_recovery_key(USK, RECOVERY, USER),
        lambda r: usk.unwrap_usk_with_recovery_key(r, RECOVERY, USER),
        UskRecoveryUnwrapError,
    ),
    "usk-org": (
        usk.wrap_usk_for_org(USK, ORG.public_key, USER),
        lambda r: usk.unwrap_usk_for_org(r, ORG.private_key, USER),
        UskOrgUnwrapError,
    ),
    "sealed-key": (
        account.seal_private_key(ALICE.signing, account.KeyPurpose.SIGNING, USK, USER),
        lambda r: account.unseal_private_key(r, account.KeyPurpose.SIGNING, USK, USER),
        PrivateKeyUnsealError,
    ),
    "case-wrap": (_case_wrap(), _open_case_wrap, CaseKeyUnwrapError),
    "case-wrap-signature": (
        _case_wrap(),
        lambda r: case_key.verify_case_key_wrap(r, ALICE.signing.public_key),
        CaseKeyWrapSignatureError,
    ),
    "message": (_message(), _open_message, MessageOpenError),
    # iterations=1 keeps each attempt cheap; the count is in the AAD like every other field.
    "records-key-file": (
        records_key.seal_records_key_file_from_parts(
            ORG, "passphrase", salt=b"s" * 16, nonce=b"n" * 12, iterations=1
        ),
        lambda r: records_key.open_records_key_file(r, "passphrase"),
        RecordsKeyFileError,
    ),
    "attachment": (
        _ATTACHMENT,
        lambda r: attachment.decrypt_attachment(FILE_KEY, r, expected_sha256=_ATTACHMENT_HASH),
        AttachmentError,
    ),
}


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_unmodified_records_open(name: str) -> None:
    record, open_it, _ = RECORDS[name]
    open_it(record)


@pytest.mark.parametrize("name", sorted(RECORDS))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_single_byte_change_is_rejected(name: str, data: st.DataObject) -> None:
    record, open_it, error = RECORDS[name]
    position = data.draw(st.integers(0, len(record) - 1), label="position")
    delta = data.draw(st.integers(1, 255), label="xor")
    changed = bytearray(record)
    changed[position] ^= delta
    with pytest.raises(error):
        open_it(bytes(changed))


@pytest.mark.parametrize("name", sorted(RECORDS))
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_any_truncation_or_extension_is_rejected(name: str, data: st.DataObject) -> None:
    record, open_it, error = RECORDS[name]
    cut = data.draw(st.integers(0, len(record) - 1), label="cut")
    with pytest.raises(error):
        open_it(record[:cut])
    extra = data.draw(st.binary(min_size=1, max_size=40), label="extra")
    with pytest.raises(error):
        open_it(record + extra)


@settings(max_examples=40, deadline=None)
@given(user=ids, the_usk=keys, kek=keys, secret=keys)
def test_usk_round_trips(user: uuid.UUID, the_usk: bytes, kek: bytes, secret: bytes) -> None:
    assert usk.unwrap_usk_with_kek(usk.wrap_usk_with_kek(the_usk, kek, user), kek, user) == the_usk
    record = usk.wrap_usk_with_recovery_key(the_usk, secret, user)
    assert usk.unwrap_usk_with_recovery_key(record, secret, user) == the_usk
    record = usk.wrap_usk_for_org(the_usk, ORG.public_key, user)
    assert usk.unwrap_usk_for_org(record, ORG.private_key, user) == the_usk


@settings(max_examples=30, deadline=None)
@given(seed=keys, user=ids, the_usk=keys, purpose=st.sampled_from(account.KeyPurpose))
def test_sealed_key_round_trip(
    seed: bytes, user: uuid.UUID, the_usk: bytes, purpose: account.KeyPurpose
) -> None:
    pair = account.key_pair_from_seed(seed)
    record = account.seal_private_key(pair, purpose, the_usk, user)
    assert account.unseal_private_key(record, purpose, the_usk, user) == pair


@settings(max_examples=30, deadline=None)
@given(ck=keys, case=ids, epoch=epochs, wrapper=ids)
def test_case_wrap_round_trip(ck: bytes, case: uuid.UUID, epoch: int, wrapper: uuid.UUID) -> None:
    record = case_key.wrap_case_key(
        ck,
        case_id=case,
        epoch=epoch,
        recipient_public_key=BOB.encryption.public_key,
        wrapper_user_id=wrapper,
        wrapper_signing_key=ALICE.signing,
    )
    opened = case_key.open_case_key_wrap(
        record,
        case_id=case,
        epoch=epoch,
        recipient=BOB.encryption,
        wrapper_signing_public_key=ALICE.signing.public_key,
    )
    assert opened == ck


@settings(max_examples=40, deadline=None)
@given(
    body=st.binary(max_size=3000),
    ck=keys,
    case=ids,
    epoch=epochs,
    mid=ids,
    sender=ids,
    ctype=st.sampled_from(ContentType),
    ts=st.integers(0, 2**64 - 1),
    prev=keys,
    nonce=st.binary(min_size=12, max_size=12),
)
def test_message_round_trip(
    body: bytes,
    ck: bytes,
    case: uuid.UUID,
    epoch: int,
    mid: uuid.UUID,
    sender: uuid.UUID,
    ctype: ContentType,
    ts: int,
    prev: bytes,
    nonce: bytes,
) -> None:
    record = envelope.seal_message_from_parts(
        body,
        case_key=ck,
        case_id=case,
        epoch=epoch,
        client_message_id=mid,
        sender_user_id=sender,
        sender_signing_key=ALICE.signing,
        content_type=ctype,
        timestamp_ms=ts,
        previous_hash=prev,
        nonce=nonce,
    )
    commitment = case_key_commitment(ck, case_id=case, epoch=epoch)
    header = envelope.MessageHeader(
        case, epoch, mid, sender, ALICE.signing.key_id, ctype, ts, prev, commitment
    )
    assert envelope.parse_message_header(record) == header
    opened = envelope.open_message(
        record,
        case_key=ck,
        case_id=case,
        epoch=epoch,
        sender_signing_public_key=ALICE.signing.public_key,
    )
    assert opened == envelope.OpenedMessage(header=header, body=body)


@settings(max_examples=25, deadline=None)
@given(data=st.binary(max_size=70_000), step=st.integers(1, 20_000))
def test_attachment_round_trip_any_split(data: bytes, step: int) -> None:
    enc = attachment.AttachmentEncryptor(FILE_KEY, salt=b"s" * 24)
    record = b"".join(enc.update(data[i : i + step]) for i in range(0, len(data), step))
    record += enc.finalize()
    dec = attachment.AttachmentDecryptor(FILE_KEY, expected_sha256=enc.sha256)
    out = b"".join(dec.update(record[i : i + step]) for i in range(0, len(record), step))
    assert out + dec.finalize() == data
