"""Suite 2 (post-quantum hybrid, X-Wing) records: keys, wraps, files and the suite rules.

The byte-level vectors are in ``tests/vectors/dermline/hybrid_*.json`` (checked by
``test_vectors_hybrid.py``); these tests cover behaviour the vectors cannot show: fresh
randomness, the API's misuse errors, and that each suite's opener refuses the other suite.
"""

from __future__ import annotations

import uuid

import pytest

from crypto import account, case_key, fingerprint, patient_drop, records_key, suite, usk
from crypto.errors import (
    CaseKeyUnwrapError,
    CaseKeyWrapHeaderError,
    CaseKeyWrapSignatureError,
    PatientDropError,
    PrivateKeyUnsealError,
    PublicKeyError,
    RecordsKeyFileError,
    SuiteDowngradeError,
    UskOrgUnwrapError,
)
from crypto.primitives import xwing
from crypto.primitives.ecc import p256_sign

CASE = uuid.UUID("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c")
WRAPPER = uuid.UUID("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5d")


@pytest.fixture(scope="module")
def hybrid() -> account.HybridKeyPair:
    return account.hybrid_key_pair_from_seed(b"\x05" * 32)


@pytest.fixture(scope="module")
def other_hybrid() -> account.HybridKeyPair:
    return account.hybrid_key_pair_from_seed(b"\x06" * 32)


def _flip(record: bytes, offset: int) -> bytes:
    return record[:offset] + bytes([record[offset] ^ 1]) + record[offset + 1 :]


# --- keys --------------------------------------------------------------------------------


def test_hybrid_key_pair(hybrid: account.HybridKeyPair) -> None:
    assert len(hybrid.public_key) == 1216
    assert hybrid.key_id == fingerprint.hybrid_key_id(hybrid.public_key)
    assert hybrid.seed.hex() not in repr(hybrid)
    fresh = account.generate_hybrid_key_pair()
    assert fresh.public_key != hybrid.public_key
    with pytest.raises(ValueError, match="seed"):
        account.hybrid_key_pair_from_seed(b"\x00" * 31)


def test_hybrid_key_id_refuses_invalid_keys(hybrid: account.HybridKeyPair) -> None:
    for bad in (hybrid.public_key[:-1], b"\xff" * 1216, b"\x04" + b"\x00" * 64):
        with pytest.raises(PublicKeyError):
            fingerprint.hybrid_key_id(bad)


def test_seal_and_unseal_hybrid_private_key(
    hybrid: account.HybridKeyPair, user_id: uuid.UUID, alice: account.AccountKeys
) -> None:
    usk_value = b"\x11" * 32
    record = account.seal_hybrid_private_key(hybrid, usk_value, user_id)
    assert len(record) == 80 and record[:4] == bytes.fromhex("01010503")
    assert account.unseal_hybrid_private_key(record, usk_value, user_id) == hybrid
    for bad in (
        (record, b"\x12" * 32, user_id),
        (record, usk_value, uuid.UUID(int=1)),
        (_flip(record, 40), usk_value, user_id),
    ):
        with pytest.raises(PrivateKeyUnsealError):
            account.unseal_hybrid_private_key(*bad)
    # A sealed classical key is not a hybrid one, and the reverse.
    classical = account.seal_private_key(
        alice.encryption, account.KeyPurpose.ENCRYPTION, usk_value, user_id
    )
    with pytest.raises(PrivateKeyUnsealError):
        account.unseal_hybrid_private_key(classical, usk_value, user_id)
    with pytest.raises(PrivateKeyUnsealError):
        account.unseal_private_key(record, account.KeyPurpose.ENCRYPTION, usk_value, user_id)
    # Purpose 0x03 is not a KeyPurpose: the P-256 functions refuse it as misuse.
    assert account.HYBRID_ENCRYPTION_PURPOSE == 3
    with pytest.raises(ValueError, match="KeyPurpose"):
        account.unseal_private_key(record, 3, usk_value, user_id)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="KeyPurpose"):
        account.seal_private_key(alice.encryption, 3, usk_value, user_id)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        account.seal_hybrid_private_key(alice.encryption, usk_value, user_id)  # type: ignore[arg-type]


def test_unseal_hybrid_checks_the_key_id(
    hybrid: account.HybridKeyPair, other_hybrid: account.HybridKeyPair, user_id: uuid.UUID
) -> None:
    # An authentic record (right USK) naming another key id than the seed's.
    forged_pair = account.HybridKeyPair(
        seed=other_hybrid.seed, public_key=hybrid.public_key, key_id=hybrid.key_id
    )
    record = account.seal_hybrid_private_key(forged_pair, b"\x11" * 32, user_id)
    with pytest.raises(PrivateKeyUnsealError):
        account.unseal_hybrid_private_key(record, b"\x11" * 32, user_id)


def test_fingerprint_covers_the_hybrid_key(
    alice: account.AccountKeys,
    bob: account.AccountKeys,
    hybrid: account.HybridKeyPair,
    other_hybrid: account.HybridKeyPair,
) -> None:
    sig, enc = alice.signing.public_key, alice.encryption.public_key
    classical = fingerprint.account_fingerprint(sig, enc)
    with_hybrid = fingerprint.account_fingerprint(sig, enc, hybrid.public_key)
    assert len(with_hybrid) == 30 and with_hybrid.isdigit()
    assert with_hybrid != classical
    assert with_hybrid != fingerprint.account_fingerprint(sig, enc, other_hybrid.public_key)
    theirs = (bob.signing.public_key, bob.encryption.public_key, other_hybrid.public_key)
    ours = (sig, enc, hybrid.public_key)
    assert fingerprint.safety_number(ours, theirs) == fingerprint.safety_number(theirs, ours)
    assert fingerprint.safety_number(ours, theirs) != fingerprint.safety_number((sig, enc), theirs)
    with pytest.raises(PublicKeyError):
        fingerprint.account_fingerprint(sig, enc, b"\xff" * 1216)


# --- case key wraps ----------------------------------------------------------------------


def _wrap(alice: account.AccountKeys, hybrid: account.HybridKeyPair, ck: bytes) -> bytes:
    return case_key.wrap_case_key_hybrid(
        ck,
        case_id=CASE,
        epoch=3,
        recipient_public_key=hybrid.public_key,
        wrapper_user_id=WRAPPER,
        wrapper_signing_key=alice.signing,
    )


def _open(record: bytes, alice: account.AccountKeys, recipient: object) -> bytes:
    return case_key.open_case_key_wrap(
        record,
        case_id=CASE,
        epoch=3,
        recipient=recipient,  # type: ignore[arg-type]
        wrapper_signing_public_key=alice.signing.public_key,
        wrapper_user_id=WRAPPER,
    )


def test_case_key_wrap_hybrid_roundtrip(
    alice: account.AccountKeys, hybrid: account.HybridKeyPair
) -> None:
    ck = case_key.generate_case_key()
    record = _wrap(alice, hybrid, ck)
    assert len(record) == case_key.HYBRID_CASE_KEY_WRAP_LENGTH == 1335
    assert record[:3] == b"\x01\x02\x0b"
    header = case_key.parse_case_key_wrap_header(record)
    assert header.suite == 2
    assert header.recipient_key_id == hybrid.key_id
    assert header.commitment == case_key.case_key_commitment(ck, case_id=CASE, epoch=3)
    assert case_key.verify_case_key_wrap(record, alice.signing.public_key) == header
    assert _open(record, alice, hybrid) == ck
    assert _wrap(alice, hybrid, ck) != record  # fresh encapsulation every time


def test_case_key_wrap_hybrid_refusals(
    alice: account.AccountKeys,
    hybrid: account.HybridKeyPair,
    other_hybrid: account.HybridKeyPair,
) -> None:
    ck = b"\x22" * 32
    record = _wrap(alice, hybrid, ck)
    with pytest.raises(CaseKeyUnwrapError):
        _open(record, alice, other_hybrid)
    with pytest.raises(CaseKeyUnwrapError):
        _open(record, alice, alice.encryption)  # a suite-2 record needs the hybrid key
    body = record[:-64]

    def resigned(changed: bytes) -> bytes:
        return changed + p256_sign(
            alice.signing.private_key, b"dermline/v1/sig/case-key-wrap\x00" + changed
        )

    # The post-quantum half (ML-KEM ciphertext) or the classical half (X25519 ephemeral)
    # altered, and the record re-signed so only HPKE can refuse it.
    for offset in (103, 103 + 1087, 103 + 1088, 103 + 1119, 1223, 1270):
        with pytest.raises(CaseKeyUnwrapError):
            _open(resigned(_flip(body, offset)), alice, hybrid)
    # Relabelled as suite 1 (and re-signed): wrong length for suite 1.
    relabelled = resigned(body[:1] + b"\x01" + body[2:])
    with pytest.raises(CaseKeyWrapHeaderError):
        case_key.parse_case_key_wrap_header(relabelled)
    with pytest.raises(CaseKeyWrapSignatureError):
        case_key.verify_case_key_wrap(_flip(record, 1300), alice.signing.public_key)
    with pytest.raises(PublicKeyError):
        _wrap(alice, account.HybridKeyPair(seed=b"", public_key=b"\xff" * 1216, key_id=b""), ck)


def test_suite1_record_is_refused_with_a_hybrid_recipient(
    alice: account.AccountKeys, bob: account.AccountKeys, hybrid: account.HybridKeyPair
) -> None:
    record = case_key.wrap_case_key(
        b"\x22" * 32,
        case_id=CASE,
        epoch=3,
        recipient_public_key=bob.encryption.public_key,
        wrapper_user_id=WRAPPER,
        wrapper_signing_key=alice.signing,
    )
    assert _open(record, alice, bob.encryption) == b"\x22" * 32
    with pytest.raises(CaseKeyUnwrapError):
        _open(record, alice, hybrid)
    with pytest.raises(TypeError):
        _open(record, alice, "key")


# --- organisation recovery wrap (0x04, suite 2) --------------------------------------------


def test_usk_org_wrap_hybrid(
    hybrid: account.HybridKeyPair, other_hybrid: account.HybridKeyPair, user_id: uuid.UUID
) -> None:
    value = usk.generate_usk()
    record = usk.wrap_usk_for_org_hybrid(value, hybrid.public_key, user_id)
    assert len(record) == 1187 and record[:3] == b"\x01\x02\x04"
    assert record[3:19] == hybrid.key_id
    assert usk.unwrap_usk_for_org_hybrid(record, hybrid.seed, user_id) == value
    for bad in (
        (record, other_hybrid.seed, user_id),
        (record, hybrid.seed, uuid.UUID(int=7)),
        (_flip(record, 19), hybrid.seed, user_id),  # PQ half
        (_flip(record, 19 + 1119), hybrid.seed, user_id),  # classical half
        (_flip(record, 1186), hybrid.seed, user_id),
        (b"\x01\x01\x04" + record[3:], hybrid.seed, user_id),
        (record + b"\x00", hybrid.seed, user_id),
    ):
        with pytest.raises(UskOrgUnwrapError):
            usk.unwrap_usk_for_org_hybrid(*bad)
    with pytest.raises(PublicKeyError):
        usk.wrap_usk_for_org_hybrid(value, b"\xff" * 1216, user_id)


# --- patient drop (0x0a, suite 2) ----------------------------------------------------------


def _photo() -> patient_drop.PatientPhoto:
    return patient_drop.PatientPhoto(
        attachment_id=uuid.UUID(int=5),
        file_key=b"\x33" * 32,
        ciphertext_sha256=b"\x44" * 32,
        ciphertext_size=1000,
        media_type="image/jpeg",
        tag="close_up",
        body_site="left forearm",
    )


def test_patient_drop_hybrid(
    hybrid: account.HybridKeyPair, other_hybrid: account.HybridKeyPair
) -> None:
    link = uuid.UUID(int=9)
    record = patient_drop.seal_patient_photo_hybrid(
        _photo(), link_id=link, index=2, drop_box_public_key=hybrid.public_key
    )
    assert record[:3] == b"\x01\x02\x0a"
    header = patient_drop.parse_patient_photo_header(record)
    assert (header.link_id, header.index, header.suite) == (link, 2, 2)
    assert patient_drop.open_patient_photo(record, link_id=link, drop_box=hybrid) == (2, _photo())
    for bad_record, key in (
        (record, other_hybrid),
        (_flip(record, 23), hybrid),
        (_flip(record, 23 + 1119), hybrid),
        (_flip(record, 10), hybrid),
        (_flip(record, len(record) - 1), hybrid),
    ):
        with pytest.raises(PatientDropError):
            patient_drop.open_patient_photo(bad_record, link_id=link, drop_box=key)
    with pytest.raises(PatientDropError):
        patient_drop.open_patient_photo(
            record, link_id=link, drop_box=account.key_pair_from_seed(b"\x07" * 32)
        )
    with pytest.raises(TypeError):
        patient_drop.open_patient_photo(record, link_id=link, drop_box="key")  # type: ignore[arg-type]
    with pytest.raises(PublicKeyError):
        patient_drop.seal_patient_photo_hybrid(
            _photo(), link_id=link, index=0, drop_box_public_key=b"\xff" * 1216
        )


# --- records key file (0x09, suite 2) ------------------------------------------------------


def test_hybrid_records_key_file(hybrid: account.HybridKeyPair) -> None:
    pair = account.key_pair_from_seed(b"\x08" * 32)
    record = records_key.seal_hybrid_records_key_file_from_parts(
        pair, hybrid, "passphrase", salt=b"\x01" * 16, nonce=b"\x02" * 12, iterations=10
    )
    assert len(record) == 133 + 16 and record[:3] == b"\x01\x02\x09"
    assert records_key.open_hybrid_records_key_file(record, "passphrase") == (pair, hybrid)
    with pytest.raises(RecordsKeyFileError):
        records_key.open_hybrid_records_key_file(record, "wrong")
    with pytest.raises(RecordsKeyFileError):
        records_key.open_records_key_file(record, "passphrase")
    classical = records_key.seal_records_key_file_from_parts(
        pair, "passphrase", salt=b"\x01" * 16, nonce=b"\x02" * 12, iterations=10
    )
    with pytest.raises(RecordsKeyFileError):
        records_key.open_hybrid_records_key_file(classical, "passphrase")
    with pytest.raises(TypeError):
        records_key.seal_hybrid_records_key_file_from_parts(
            pair,
            pair,
            "p",
            salt=b"\x01" * 16,
            nonce=b"\x02" * 12,
            iterations=10,  # type: ignore[arg-type]
        )
    with pytest.raises(TypeError):
        records_key.seal_hybrid_records_key_file_from_parts(
            hybrid,
            hybrid,
            "p",
            salt=b"\x01" * 16,
            nonce=b"\x02" * 12,
            iterations=10,  # type: ignore[arg-type]
        )
    with pytest.raises(ValueError, match="600,000"):
        records_key.seal_hybrid_records_key_file(pair, hybrid, "p", iterations=10)


def test_hybrid_records_key_file_checks_both_key_ids(
    hybrid: account.HybridKeyPair, other_hybrid: account.HybridKeyPair
) -> None:
    pair = account.key_pair_from_seed(b"\x08" * 32)
    other = account.key_pair_from_seed(b"\x09" * 32)
    parts = {"salt": b"\x01" * 16, "nonce": b"\x02" * 12, "iterations": 10}
    wrong_hybrid = account.HybridKeyPair(
        seed=other_hybrid.seed, public_key=hybrid.public_key, key_id=hybrid.key_id
    )
    wrong_pair = account.KeyPair(
        private_key=other.private_key, public_key=pair.public_key, key_id=pair.key_id
    )
    for p, h in ((pair, wrong_hybrid), (wrong_pair, hybrid)):
        record = records_key.seal_hybrid_records_key_file_from_parts(p, h, "pw", **parts)  # type: ignore[arg-type]
        with pytest.raises(RecordsKeyFileError):
            records_key.open_hybrid_records_key_file(record, "pw")


@pytest.mark.slow
def test_hybrid_records_key_file_default_iterations(hybrid: account.HybridKeyPair) -> None:
    pair = account.key_pair_from_seed(b"\x08" * 32)
    record = records_key.seal_hybrid_records_key_file(pair, hybrid, "a long passphrase")
    assert int.from_bytes(record[36:40], "big") == 600_000
    assert records_key.open_hybrid_records_key_file(record, "a long passphrase") == (pair, hybrid)


# --- suite rules ---------------------------------------------------------------------------


def test_choose_suite(hybrid: account.HybridKeyPair) -> None:
    a, b = uuid.UUID(int=1), uuid.UUID(int=2)
    plan = suite.choose_suite(
        [suite.Recipient(a, hybrid.public_key), suite.Recipient(b, hybrid.public_key)]
    )
    assert plan == suite.SuitePlan(suite=2, per_recipient=(2, 2), classical_only=())
    plan = suite.choose_suite([suite.Recipient(a, hybrid.public_key), suite.Recipient(b)])
    assert plan == suite.SuitePlan(suite=1, per_recipient=(2, 1), classical_only=(b,))
    with pytest.raises(PublicKeyError):  # never a silent fall-back to suite 1
        suite.choose_suite([suite.Recipient(a, b"\xff" * 1216)])
    with pytest.raises(ValueError, match="at least one"):
        suite.choose_suite([])
    with pytest.raises(TypeError):
        suite.choose_suite([a])  # type: ignore[list-item]


def test_require_suite(alice: account.AccountKeys, hybrid: account.HybridKeyPair) -> None:
    hybrid_record = _wrap(alice, hybrid, b"\x22" * 32)
    classical_record = b"\x01\x01\x0b" + hybrid_record[3:]
    suite.require_suite(hybrid_record, hybrid_key_known=True)
    suite.require_suite(hybrid_record, hybrid_key_known=False)
    suite.require_suite(classical_record, hybrid_key_known=False)
    with pytest.raises(SuiteDowngradeError):
        suite.require_suite(classical_record, hybrid_key_known=True)
    for bad in (b"", b"\x01\x02", b"\x02\x02\x0b", b"\x01\x03\x0b"):
        with pytest.raises(SuiteDowngradeError):
            suite.record_suite(bad)
    assert suite.record_suite(hybrid_record) == 2
    with pytest.raises(TypeError):
        suite.record_suite("record")  # type: ignore[arg-type]
    assert len(hybrid.public_key) == xwing.PUBLIC_KEY_LEN
