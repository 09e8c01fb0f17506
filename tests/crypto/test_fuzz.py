"""Hostile-input fuzzing: every function that reads bytes from a peer, the server or storage.

The contract (crypto/errors.py, docs/protocol.md section 14): whatever the bytes, a reader
either returns a result or raises its *one* documented ``CryptoError`` subclass, with the
fixed message; never ``IndexError``, ``struct.error``, ``ValueError``, ``UnicodeError``,
``RecursionError`` or a half-filled result. The clear-header parsers are the ones the server
runs on every upload, so they get the most examples.

Three kinds of input, because purely random bytes almost never get past the 3-byte prefix:

* arbitrary bytes;
* the right 3-byte prefix followed by arbitrary bytes (exercises every field parser);
* a valid record with a few random edits (replace, insert, delete), which keeps most of the
  structure and so reaches the signature, AEAD and length checks.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto import (
    account,
    attachment,
    case_key,
    content,
    envelope,
    fingerprint,
    invite,
    log_entry,
    merkle,
    org_key,
    password,
    patient_drop,
    records_key,
    recovery_key,
    statement,
    tree_head,
    usk,
)
from crypto.errors import (
    AttachmentError,
    CaseKeyUnwrapError,
    CaseKeyWrapHeaderError,
    CaseKeyWrapSignatureError,
    ConsistencyProofError,
    ContentError,
    CryptoError,
    InclusionProofError,
    InviteLinkFormatError,
    InviteStatementError,
    KdfParamsError,
    LogEntryError,
    MemberStatementError,
    MessageHeaderError,
    MessageOpenError,
    MessageSignatureError,
    OrganisationKeyStatementError,
    OrgKeyHandoverError,
    OrgKeyUnwrapError,
    OrgKeyWrapHeaderError,
    PatientDropError,
    PrimitiveError,
    PrivateKeyUnsealError,
    PublicKeyError,
    RecordsKeyChainError,
    RecordsKeyFileError,
    RecoveryKeyFormatError,
    StatementError,
    StatementSignatureError,
    TreeHeadError,
    TreeHeadSignatureError,
    UskKekUnwrapError,
    UskOrgUnwrapError,
    UskRecoveryUnwrapError,
)
from crypto.primitives import ecc, hpke

USER = uuid.UUID(int=0x05E4)
CASE = uuid.UUID(int=0xCA5E)
USK = b"U" * 32
KEK = b"K" * 32
RECOVERY = b"R" * 32
CK = b"C" * 32
FILE_KEY = b"F" * 32
ALICE = account.generate_account_keys_from_parts(encryption_ikm=b"a" * 32, signing_ikm=b"b" * 32)
BOB = account.generate_account_keys_from_parts(encryption_ikm=b"c" * 32, signing_ikm=b"d" * 32)
ORG = account.key_pair_from_seed(b"o" * 32)

_WRAP = case_key.wrap_case_key(
    CK,
    case_id=CASE,
    epoch=1,
    recipient_public_key=BOB.encryption.public_key,
    wrapper_user_id=USER,
    wrapper_signing_key=ALICE.signing,
)
_MESSAGE = envelope.seal_message(
    content.encode_content(content.ContentType.TEXT, {"text": "hello"}),
    case_key=CK,
    case_id=CASE,
    epoch=1,
    client_message_id=uuid.UUID(int=3),
    sender_user_id=USER,
    sender_signing_key=ALICE.signing,
    content_type=content.ContentType.TEXT,
    previous_hash=envelope.GENESIS_HASH,
)
_ATTACHMENT, _ATTACHMENT_SHA = attachment.encrypt_attachment(FILE_KEY, bytes(range(256)) * 70)
# iterations=1 keeps each attempt cheap; the fuzzer may raise the count, up to the 2,000,000
# the opener accepts, only by editing the 4 iteration bytes (rare, and still bounded).
_RECORDS_FILE = records_key.seal_records_key_file_from_parts(
    ORG, "passphrase", salt=b"s" * 16, nonce=b"n" * 12, iterations=1
)

# Suite 2 (post-quantum hybrid): the same readers dispatch on the suite byte.
HYBRID = account.hybrid_key_pair_from_seed(b"h" * 32)
_HYBRID_WRAP = case_key.wrap_case_key_hybrid(
    CK,
    case_id=CASE,
    epoch=1,
    recipient_public_key=HYBRID.public_key,
    wrapper_user_id=USER,
    wrapper_signing_key=ALICE.signing,
)
_HYBRID_DROP = patient_drop.seal_patient_photo_hybrid(
    patient_drop.PatientPhoto(
        attachment_id=uuid.UUID(int=5),
        file_key=b"f" * 32,
        ciphertext_sha256=b"h" * 32,
        ciphertext_size=10,
        media_type="image/jpeg",
        tag="locator",
        body_site="arm",
    ),
    link_id=CASE,
    index=0,
    drop_box_public_key=HYBRID.public_key,
)
_HYBRID_RECORDS_FILE = records_key.seal_hybrid_records_key_file_from_parts(
    ORG, HYBRID, "passphrase", salt=b"s" * 16, nonce=b"n" * 12, iterations=1
)

_LEGACY_MESSAGE = envelope.seal_legacy_message_from_parts(
    b"legacy",
    case_key=CK,
    case_id=CASE,
    epoch=1,
    client_message_id=uuid.UUID(int=4),
    sender_user_id=USER,
    sender_signing_key=ALICE.signing,
    content_type=content.ContentType.TEXT,
    timestamp_ms=0,
    previous_hash=envelope.GENESIS_HASH,
    nonce=b"n" * 12,
)
ORG_ID = uuid.UUID(int=0x0A)
INVITE_SECRET = b"i" * 32
_INVITE = statement.make_invite_statement(
    org_id=ORG_ID,
    role=statement.Role.GP,
    invite_public_key=invite.derive_invite_key(INVITE_SECRET).public_key,
    expires_at_ms=1,
    token_hash=bytes(32),
    org_key=ORG,
    issued_at_ms=0,
)
_MEMBER = statement.make_member_statement(
    user_id=USER,
    org_id=ORG_ID,
    role=statement.Role.GP,
    signing_public_key=ALICE.signing.public_key,
    encryption_public_key=ALICE.encryption.public_key,
    invite_statement_hash=statement.statement_hash(_INVITE),
    signer=invite.derive_invite_key(INVITE_SECRET),
    issued_at_ms=0,
)
_ORG_STATEMENT = statement.make_organisation_key_statement(
    org_id=ORG_ID,
    org_kind=statement.OrganisationKind.PRACTICE,
    name="Practice",
    org_key=ORG,
    issued_at_ms=0,
)
_RECORDS_STATEMENT = statement.make_records_key_statement(
    org_id=ORG_ID,
    sequence=0,
    records_public_key=BOB.encryption.public_key,
    records_signing_public_key=BOB.signing.public_key,
    previous_records_key_id=None,
    signer=ORG,
    issued_at_ms=0,
)
_ENTRY = log_entry.encode_statement_entry(_MEMBER, appended_at_ms=0)
_HEAD = tree_head.sign_tree_head(
    tree_size=1, timestamp_ms=0, root_hash=merkle.leaf_hash(_ENTRY), log_key=ORG
)
_ORG_WRAP = org_key.wrap_org_key(
    ORG,
    org_id=ORG_ID,
    recipient_public_key=BOB.encryption.public_key,
    wrapper_user_id=USER,
    wrapper_signing_key=ALICE.signing,
)
_HANDOVER = org_key.seal_org_key_handover(ORG, org_id=ORG_ID, invite_secret=INVITE_SECRET)

Reader = Callable[[bytes], object]

# name -> (reader, the one error it may raise, a valid record to start from)
READERS: dict[str, tuple[Reader, type[CryptoError], bytes]] = {
    "parse_kdf_params": (
        password.parse_kdf_params,
        KdfParamsError,
        password.encode_kdf_params(b"s" * 16),
    ),
    "parse_case_key_wrap_header": (
        case_key.parse_case_key_wrap_header,
        CaseKeyWrapHeaderError,
        _WRAP,
    ),
    "verify_case_key_wrap": (
        lambda r: case_key.verify_case_key_wrap(r, ALICE.signing.public_key),
        CaseKeyWrapSignatureError,
        _WRAP,
    ),
    "open_case_key_wrap": (
        lambda r: case_key.open_case_key_wrap(
            r,
            case_id=CASE,
            epoch=1,
            recipient=BOB.encryption,
            wrapper_signing_public_key=ALICE.signing.public_key,
            wrapper_user_id=USER,
        ),
        CaseKeyUnwrapError,
        _WRAP,
    ),
    "parse_case_key_wrap_header (suite 2)": (
        case_key.parse_case_key_wrap_header,
        CaseKeyWrapHeaderError,
        _HYBRID_WRAP,
    ),
    "verify_case_key_wrap (suite 2)": (
        lambda r: case_key.verify_case_key_wrap(r, ALICE.signing.public_key),
        CaseKeyWrapSignatureError,
        _HYBRID_WRAP,
    ),
    "open_case_key_wrap (suite 2)": (
        lambda r: case_key.open_case_key_wrap(
            r,
            case_id=CASE,
            epoch=1,
            recipient=HYBRID,
            wrapper_signing_public_key=ALICE.signing.public_key,
            wrapper_user_id=USER,
        ),
        CaseKeyUnwrapError,
        _HYBRID_WRAP,
    ),
    "unwrap_usk_for_org_hybrid": (
        lambda r: usk.unwrap_usk_for_org_hybrid(r, HYBRID.seed, USER),
        UskOrgUnwrapError,
        usk.wrap_usk_for_org_hybrid(USK, HYBRID.public_key, USER),
    ),
    "parse_patient_photo_header (suite 2)": (
        patient_drop.parse_patient_photo_header,
        PatientDropError,
        _HYBRID_DROP,
    ),
    "open_patient_photo (suite 2)": (
        lambda r: patient_drop.open_patient_photo(r, link_id=CASE, drop_box=HYBRID),
        PatientDropError,
        _HYBRID_DROP,
    ),
    "unseal_hybrid_private_key": (
        lambda r: account.unseal_hybrid_private_key(r, USK, USER),
        PrivateKeyUnsealError,
        account.seal_hybrid_private_key(HYBRID, USK, USER),
    ),
    "open_hybrid_records_key_file": (
        lambda r: records_key.open_hybrid_records_key_file(r, "passphrase"),
        RecordsKeyFileError,
        _HYBRID_RECORDS_FILE,
    ),
    "parse_message_header": (envelope.parse_message_header, MessageHeaderError, _MESSAGE),
    "message_hash": (envelope.message_hash, MessageHeaderError, _MESSAGE),
    "verify_message_signature": (
        lambda r: envelope.verify_message_signature(r, ALICE.signing.public_key),
        MessageSignatureError,
        _MESSAGE,
    ),
    "open_message": (
        lambda r: envelope.open_message(
            r,
            case_key=CK,
            case_id=CASE,
            epoch=1,
            sender_signing_public_key=ALICE.signing.public_key,
            sender_user_id=USER,
        ),
        MessageOpenError,
        _MESSAGE,
    ),
    "unwrap_usk_with_kek": (
        lambda r: usk.unwrap_usk_with_kek(r, KEK, USER),
        UskKekUnwrapError,
        usk.wrap_usk_with_kek(USK, KEK, USER),
    ),
    "unwrap_usk_with_recovery_key": (
        lambda r: usk.unwrap_usk_with_recovery_key(r, RECOVERY, USER),
        UskRecoveryUnwrapError,
        usk.wrap_usk_with_recovery_key(USK, RECOVERY, USER),
    ),
    "unwrap_usk_for_org": (
        lambda r: usk.unwrap_usk_for_org(r, ORG.private_key, USER),
        UskOrgUnwrapError,
        usk.wrap_usk_for_org(USK, ORG.public_key, USER),
    ),
    "unseal_private_key": (
        lambda r: account.unseal_private_key(r, account.KeyPurpose.SIGNING, USK, USER),
        PrivateKeyUnsealError,
        account.seal_private_key(ALICE.signing, account.KeyPurpose.SIGNING, USK, USER),
    ),
    "open_records_key_file": (
        lambda r: records_key.open_records_key_file(r, "passphrase"),
        RecordsKeyFileError,
        _RECORDS_FILE,
    ),
    "decrypt_attachment": (
        lambda r: attachment.decrypt_attachment(FILE_KEY, r, expected_sha256=_ATTACHMENT_SHA),
        AttachmentError,
        _ATTACHMENT,
    ),
    "key_id": (fingerprint.key_id, PublicKeyError, ALICE.signing.public_key),
    "parse_message_header (0x07)": (
        envelope.parse_message_header,
        MessageHeaderError,
        _LEGACY_MESSAGE,
    ),
    "open_message (0x07)": (
        lambda r: envelope.open_message(
            r,
            case_key=CK,
            case_id=CASE,
            epoch=1,
            sender_signing_public_key=ALICE.signing.public_key,
        ),
        MessageOpenError,
        _LEGACY_MESSAGE,
    ),
    "parse_statement": (statement.parse_statement, StatementError, _MEMBER),
    "verify_statement": (
        lambda r: statement.verify_statement(r, ORG.public_key),
        StatementSignatureError,
        _ORG_STATEMENT,
    ),
    "verify_organisation_key_statement": (
        lambda r: statement.verify_organisation_key_statement(r, org_id=ORG_ID),
        OrganisationKeyStatementError,
        _ORG_STATEMENT,
    ),
    "verify_invite_statement": (
        lambda r: statement.verify_invite_statement(
            r, org_id=ORG_ID, org_public_key=ORG.public_key
        ),
        InviteStatementError,
        _INVITE,
    ),
    "verify_member_statement": (
        lambda r: statement.verify_member_statement(
            r, org_id=ORG_ID, org_public_key=ORG.public_key, invite_statement=_INVITE
        ),
        MemberStatementError,
        _MEMBER,
    ),
    "verify_member_statement (invite)": (
        lambda r: statement.verify_member_statement(
            _MEMBER, org_id=ORG_ID, org_public_key=ORG.public_key, invite_statement=r
        ),
        MemberStatementError,
        _INVITE,
    ),
    "verify_records_key_chain": (
        lambda r: statement.verify_records_key_chain(
            [statement.RecordsKeyChange(r)], org_id=ORG_ID, org_public_key=ORG.public_key
        ),
        RecordsKeyChainError,
        _RECORDS_STATEMENT,
    ),
    "parse_log_entry": (log_entry.parse_log_entry, LogEntryError, _ENTRY),
    "parse_tree_head": (tree_head.parse_tree_head, TreeHeadError, _HEAD),
    "verify_tree_head": (
        lambda r: tree_head.verify_tree_head(r, ORG.public_key),
        TreeHeadSignatureError,
        _HEAD,
    ),
    "parse_org_key_wrap_header": (
        org_key.parse_org_key_wrap_header,
        OrgKeyWrapHeaderError,
        _ORG_WRAP,
    ),
    "open_org_key_wrap": (
        lambda r: org_key.open_org_key_wrap(
            r,
            org_id=ORG_ID,
            org_key_id=ORG.key_id,
            recipient=BOB.encryption,
            wrapper_signing_public_key=ALICE.signing.public_key,
            wrapper_user_id=USER,
        ),
        OrgKeyUnwrapError,
        _ORG_WRAP,
    ),
    "open_org_key_handover": (
        lambda r: org_key.open_org_key_handover(
            r, org_id=ORG_ID, invite_secret=INVITE_SECRET, org_key_id=ORG.key_id
        ),
        OrgKeyHandoverError,
        _HANDOVER,
    ),
    "decode_content": (
        lambda r: content.decode_content(content.ContentType.OUTCOME, r),
        ContentError,
        content.encode_content(
            content.ContentType.OUTCOME,
            {"category": "referral", "summary": "s", "details": {"a": ["b"]}},
        ),
    ),
}

NAMES = sorted(READERS)


def _call(name: str, data: bytes) -> None:
    reader, error, _ = READERS[name]
    try:
        reader(data)
    except CryptoError as exc:
        # Exactly the documented class, with its fixed message and no chained cause that a
        # logger could print (``raise ... from None``).
        assert type(exc) is error, (name, type(exc))
        assert str(exc) == error.message
        assert exc.__cause__ is None
        assert exc.__context__ is None or exc.__suppress_context__


def test_every_seed_record_is_accepted() -> None:
    # The mutation strategy is only meaningful if the seeds themselves pass.
    for name in NAMES:
        reader, _, seed = READERS[name]
        reader(seed)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes(name: str, data: bytes) -> None:
    _call(name, data)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tail=st.binary(max_size=600))
def test_right_prefix_then_arbitrary_bytes(name: str, tail: bytes) -> None:
    seed = READERS[name][2]
    _call(name, seed[:3] + tail)


_edits = st.lists(
    st.tuples(
        st.sampled_from(("replace", "insert", "delete")), st.integers(0), st.integers(0, 255)
    ),
    min_size=1,
    max_size=4,
)


def _apply(seed: bytes, edits: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(seed)
    for op, where, value in edits:
        pos = where % (len(out) + 1)
        if op == "insert":
            out.insert(pos, value)
        elif out and pos < len(out):
            if op == "replace":
                out[pos] = value
            else:
                del out[pos]
    return bytes(out)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=_edits)
def test_edited_valid_records(name: str, edits: list[tuple[str, int, int]]) -> None:
    _call(name, _apply(READERS[name][2], edits))


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(0, 400), max_size=6))
def test_streaming_attachment_decryptor_any_bytes_any_split(data: bytes, cuts: list[int]) -> None:
    # Streaming adds states (header half read, chunk half read): still only AttachmentError.
    record = _ATTACHMENT[:3] + data
    bounds = sorted({0, len(record), *(c % (len(record) + 1) for c in cuts)})
    dec = attachment.AttachmentDecryptor(FILE_KEY, expected_sha256=_ATTACHMENT_SHA)
    try:
        for start, end in itertools.pairwise(bounds):
            dec.update(record[start:end])
        dec.finalize()
    except AttachmentError as exc:
        assert str(exc) == AttachmentError.message
    else:  # pragma: no cover - would mean a forged attachment opened
        raise AssertionError("random bytes opened as an attachment")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@pytest.mark.parametrize("content_type", list(content.ContentType))
@settings(max_examples=60, deadline=None)
@given(value=_json)
def test_decode_content_any_json(content_type: content.ContentType, value: Any) -> None:
    # Well-formed JSON of any shape reaches the schema checks: valid or ContentError only.
    data = json.dumps(value).encode()
    try:
        content.decode_content(content_type, data)
    except ContentError as exc:
        assert str(exc) == ContentError.message


@given(text=st.text(alphabet="AQgw048_-.=+/ abcXYZ", max_size=130) | st.text(max_size=130))
@settings(max_examples=300, deadline=None)
def test_invite_fragment_any_text(text: str) -> None:
    try:
        link = invite.parse_invite_fragment(text)
    except InviteLinkFormatError as exc:
        assert str(exc) == InviteLinkFormatError.message
    else:
        secret, key = link.secret, link.org_key_id
        assert invite.format_invite_fragment(link.token, secret, key) == text


@settings(max_examples=200, deadline=None)
@given(
    proof=st.lists(st.binary(min_size=30, max_size=33), max_size=8),
    index=st.integers(-2, 40),
    size=st.integers(-2, 40),
    old=st.integers(-2, 40),
)
def test_merkle_verifiers_any_input(proof: list[bytes], index: int, size: int, old: int) -> None:
    leaf = merkle.leaf_hash(b"x")
    try:
        merkle.verify_inclusion(leaf_hash=leaf, index=index, tree_size=size, proof=proof, root=leaf)
    except InclusionProofError as exc:
        assert str(exc) == InclusionProofError.message
    try:
        merkle.verify_consistency(
            old_size=old, new_size=size, old_root=leaf, new_root=leaf, proof=proof
        )
    except ConsistencyProofError as exc:
        assert str(exc) == ConsistencyProofError.message


@given(text=st.text(max_size=120))
@settings(max_examples=300, deadline=None)
def test_recovery_key_decoder_any_text(text: str) -> None:
    # The user-facing decoder raises only RecoveryKeyFormatError, which never repeats input.
    try:
        recovery_key.decode_recovery_key(text)
    except RecoveryKeyFormatError as exc:
        stripped = text.strip(" -\t\n\r")
        assert len(stripped) < 4 or stripped not in str(exc)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200))
def test_primitive_parsers_any_bytes(data: bytes) -> None:
    # The hazmat parsers below the recipes: PrimitiveError only.
    calls: list[Callable[[], object]] = [
        lambda: ecc.p256_public_from_spki_der(data),
        lambda: ecc.der_to_p1363(data),
        lambda: ecc.p1363_to_der(data),
        lambda: ecc.p256_check_public(data),
        lambda: ecc.p256_verify(ALICE.signing.public_key, b"m", data),
        lambda: ecc.p256_ecdh(BOB.encryption.private_key, data),
        lambda: hpke.open_base(BOB.encryption.private_key, data, b"info", b"", data),
    ]
    for call in calls:
        try:
            call()
        except PrimitiveError as exc:
            assert str(exc) == PrimitiveError.message
