"""Signed statements (crypto/statement.py): round trips, trust rules, misuse."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import account, records_key, statement
from crypto.errors import (
    MemberStatementError,
    RecordsKeyChainError,
    StatementError,
    StatementSignatureError,
)

ORG = uuid.UUID(int=0x0A)
USER = uuid.UUID(int=0x05E4)
OK = account.key_pair_from_seed(b"O" * 32)
INVITE = account.key_pair_from_seed(b"I" * 32)
SIG = account.key_pair_from_seed(b"S" * 32)
ENC = account.key_pair_from_seed(b"E" * 32)
RK = account.key_pair_from_seed(b"R" * 32)
AT = 1_790_000_000_000
ROLE = statement.Role


def invite() -> bytes:
    return statement.make_invite_statement(
        org_id=ORG,
        role=ROLE.DERMATOLOGIST,
        invite_public_key=INVITE.public_key,
        expires_at_ms=AT + 1,
        token_hash=statement.invite_token_hash("t" * 43),
        org_key=OK,
        issued_at_ms=AT,
    )


def member(
    invite_record: bytes | None, signer: account.KeyPair, role: statement.Role = ROLE.DERMATOLOGIST
) -> bytes:
    return statement.make_member_statement(
        user_id=USER,
        org_id=ORG,
        role=role,
        signing_public_key=SIG.public_key,
        encryption_public_key=ENC.public_key,
        invite_statement_hash=None
        if invite_record is None
        else statement.statement_hash(invite_record),
        signer=signer,
        issued_at_ms=AT,
    )


def test_member_through_invite_and_directly() -> None:
    inv = invite()
    via_invite = statement.verify_member_statement(
        member(inv, INVITE), org_id=ORG, org_public_key=OK.public_key, invite_statement=inv
    )
    assert via_invite.invite_statement_hash == statement.statement_hash(inv)
    direct = statement.verify_member_statement(
        member(None, OK), org_id=ORG, org_public_key=OK.public_key, invite_statement=None
    )
    assert direct.invite_statement_hash is None
    assert (direct.user_id, direct.role, direct.signing_public_key) == (
        USER,
        ROLE.DERMATOLOGIST,
        SIG.public_key,
    )
    with pytest.raises(MemberStatementError):
        statement.verify_member_statement(
            member(inv, INVITE),
            org_id=uuid.UUID(int=1),
            org_public_key=OK.public_key,
            invite_statement=inv,
        )


def test_verify_statement_checks_kind_and_key() -> None:
    record = member(None, OK)
    assert statement.verify_statement(record, OK.public_key).kind is statement.StatementKind.MEMBER
    with pytest.raises(StatementSignatureError):
        statement.verify_statement(record, OK.public_key, statement.StatementKind.INVITE)
    with pytest.raises(StatementSignatureError):
        statement.verify_statement(record, b"\x04" + bytes(64))
    with pytest.raises(StatementError):
        statement.statement_hash(record + b"\x00")


def test_organisation_name_is_normalised_and_checked() -> None:
    record = statement.make_organisation_key_statement(
        org_id=ORG,
        org_kind=statement.OrganisationKind.PRACTICE,
        name="Cafe\u0301",
        org_key=OK,
        issued_at_ms=AT,
    )
    parsed = statement.verify_organisation_key_statement(record, org_id=ORG)
    assert parsed.name == "Caf\u00e9"
    for name in ["", "a" * 201, "tab\there", "\udcff"]:
        with pytest.raises(ValueError, match="name"):
            statement.make_organisation_key_statement(
                org_id=ORG,
                org_kind=statement.OrganisationKind.PRACTICE,
                name=name,
                org_key=OK,
                issued_at_ms=AT,
            )
    with pytest.raises(TypeError):
        statement.make_organisation_key_statement(
            org_id=ORG,
            org_kind=statement.OrganisationKind.PRACTICE,
            name=b"x",
            org_key=OK,
            issued_at_ms=AT,  # type: ignore[arg-type]
        )
    with pytest.raises(TypeError):
        statement.make_organisation_key_statement(
            org_id=ORG,
            org_kind=statement.OrganisationKind.PRACTICE,
            name="x",
            org_key=OK.private_key,
            issued_at_ms=AT,  # type: ignore[arg-type]
        )


def test_invite_expiry_beyond_javascript_integers_is_refused() -> None:
    with pytest.raises(ValueError, match="2\\*\\*53"):
        statement.make_invite_statement(
            org_id=ORG,
            role=ROLE.GP,
            invite_public_key=INVITE.public_key,
            expires_at_ms=1 << 53,
            token_hash=bytes(32),
            org_key=OK,
            issued_at_ms=AT,
        )
    record = invite()
    body_end = 30 + 122
    forged = record[: body_end - 40] + (1 << 53).to_bytes(8, "big") + record[body_end - 32 :]
    with pytest.raises(StatementError):
        statement.parse_statement(forged)


def test_misuse_of_the_makers() -> None:
    with pytest.raises(ValueError, match="zero"):
        statement.make_member_statement(
            user_id=USER,
            org_id=ORG,
            role=ROLE.GP,
            signing_public_key=SIG.public_key,
            encryption_public_key=ENC.public_key,
            invite_statement_hash=bytes(32),
            signer=INVITE,
            issued_at_ms=AT,
        )
    with pytest.raises(ValueError, match="P-256"):
        statement.make_member_statement(
            user_id=USER,
            org_id=ORG,
            role=ROLE.GP,
            signing_public_key=b"\x04" + bytes(64),
            encryption_public_key=ENC.public_key,
            invite_statement_hash=None,
            signer=OK,
            issued_at_ms=AT,
        )
    with pytest.raises(TypeError, match="KeyPair"):
        statement.make_approval_statement(
            approved_statement_hash=bytes(32),
            approver_user_id=USER,
            approver_signing_key=SIG.private_key,
            issued_at_ms=AT,  # type: ignore[arg-type]
        )
    rsk = records_key.derive_records_signing_key(RK.private_key).public_key
    for sequence, previous, match in [
        (0, RK.key_id, "sequence 0"),
        (1, None, "sequence 0"),
        (1, bytes(16), "zero"),
    ]:
        with pytest.raises(ValueError, match=match):
            statement.make_records_key_statement(
                org_id=ORG,
                sequence=sequence,
                records_public_key=RK.public_key,
                records_signing_public_key=rsk,
                previous_records_key_id=previous,
                signer=OK,
                issued_at_ms=AT,
            )
    with pytest.raises(TypeError):
        statement.invite_token_hash(b"token")  # type: ignore[arg-type]


def test_misuse_of_the_chain_verifier() -> None:
    seq0 = statement.make_records_key_statement(
        org_id=ORG,
        sequence=0,
        records_public_key=RK.public_key,
        records_signing_public_key=records_key.derive_records_signing_key(
            RK.private_key
        ).public_key,
        previous_records_key_id=None,
        signer=OK,
        issued_at_ms=AT,
    )
    change = statement.RecordsKeyChange(seq0)
    got = statement.verify_records_key_chain([change], org_id=ORG, org_public_key=OK.public_key)
    assert got.previous_records_key_id is None
    with pytest.raises(TypeError):
        statement.verify_records_key_chain([seq0], org_id=ORG, org_public_key=OK.public_key)  # type: ignore[list-item]
    with pytest.raises(TypeError):
        statement.verify_records_key_chain(
            [change], org_id=ORG, org_public_key=OK.public_key, admins=[seq0]
        )  # type: ignore[list-item]
    with pytest.raises(TypeError):
        statement.verify_records_key_chain(
            [change], org_id=ORG, org_public_key=OK.public_key, pin=(0, RK.public_key)
        )  # type: ignore[arg-type]
    with pytest.raises(RecordsKeyChainError):
        statement.verify_records_key_chain(
            [change],
            org_id=ORG,
            org_public_key=OK.public_key,
            pin=statement.RecordsKeyPin(0, SIG.public_key),
        )


@settings(max_examples=40, deadline=None)
@given(
    name=st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=60).filter(
        lambda n: len(n.encode()) <= 200
    ),
    at=st.integers(0, (1 << 53) - 1),
)
def test_organisation_key_statement_round_trip(name: str, at: int) -> None:
    record = statement.make_organisation_key_statement(
        org_id=ORG,
        org_kind=statement.OrganisationKind.SERVICE,
        name=name,
        org_key=OK,
        issued_at_ms=at,
    )
    parsed = statement.verify_organisation_key_statement(record, org_id=ORG)
    assert (parsed.issued_at_ms, parsed.org_public_key) == (at, OK.public_key)
    assert parsed.name == __import__("unicodedata").normalize("NFC", name)
