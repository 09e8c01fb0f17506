"""Transparency log entries (crypto/log_entry.py): encoding rules and strict parsing."""

from __future__ import annotations

import uuid

import pytest

from crypto import account, log_entry, statement
from crypto.errors import LogEntryError

ORG = uuid.UUID(int=0x0A)
USER = uuid.UUID(int=0x05E4)
OK = account.key_pair_from_seed(b"O" * 32)
SIG = account.key_pair_from_seed(b"S" * 32)
ENC = account.key_pair_from_seed(b"E" * 32)
AT = 1_790_000_000_000
R = log_entry.RemovalReason
ROLE = statement.Role


def org_statement() -> bytes:
    return statement.make_organisation_key_statement(
        org_id=ORG,
        org_kind=statement.OrganisationKind.SERVICE,
        name="Dermatology Service",
        org_key=OK,
        issued_at_ms=AT,
    )


def test_statement_entry() -> None:
    record = org_statement()
    entry = log_entry.encode_statement_entry(record, appended_at_ms=AT + 1)
    parsed = log_entry.parse_log_entry(entry)
    assert isinstance(parsed, log_entry.StatementEntry)
    assert parsed.statement.record == record
    assert (parsed.entry_type, parsed.appended_at_ms, parsed.entry) == (1, AT + 1, entry)
    with pytest.raises(ValueError, match="well-formed"):
        log_entry.encode_statement_entry(record[:-1], appended_at_ms=AT)


def test_uncertified_member_entry() -> None:
    entry = log_entry.encode_uncertified_member_entry(
        user_id=USER,
        org_id=ORG,
        role=ROLE.AUDITOR,
        signing_public_key=SIG.public_key,
        encryption_public_key=ENC.public_key,
        appended_at_ms=AT,
    )
    parsed = log_entry.parse_log_entry(entry)
    assert isinstance(parsed, log_entry.UncertifiedMemberEntry)
    assert (parsed.user_id, parsed.org_id, parsed.role) == (USER, ORG, ROLE.AUDITOR)
    assert (parsed.signing_public_key, parsed.encryption_public_key) == (
        SIG.public_key,
        ENC.public_key,
    )
    with pytest.raises(ValueError, match="P-256"):
        log_entry.encode_uncertified_member_entry(
            user_id=USER,
            org_id=ORG,
            role=ROLE.GP,
            signing_public_key=b"\x04" + bytes(64),
            encryption_public_key=ENC.public_key,
            appended_at_ms=AT,
        )


@pytest.mark.parametrize(
    ("org", "reason", "role"),
    [
        (ORG, R.REMOVED_FROM_ORGANISATION, None),
        (None, R.ACCOUNT_DISABLED, None),
        (ORG, R.ROLE_REMOVED, ROLE.ADMIN),
    ],
)
def test_removal_entries(
    org: uuid.UUID | None, reason: log_entry.RemovalReason, role: statement.Role | None
) -> None:
    entry = log_entry.encode_removal_entry(
        user_id=USER, org_id=org, reason=reason, role=role, appended_at_ms=AT
    )
    parsed = log_entry.parse_log_entry(entry)
    assert isinstance(parsed, log_entry.RemovalEntry)
    assert (parsed.user_id, parsed.org_id, parsed.reason, parsed.role) == (USER, org, reason, role)


@pytest.mark.parametrize(
    ("org", "reason", "role"),
    [
        (None, R.REMOVED_FROM_ORGANISATION, None),
        (ORG, R.REMOVED_FROM_ORGANISATION, ROLE.GP),
        (ORG, R.ACCOUNT_DISABLED, None),
        (None, R.ACCOUNT_DISABLED, ROLE.GP),
        (ORG, R.ROLE_REMOVED, None),
        (None, R.ROLE_REMOVED, ROLE.GP),
    ],
)
def test_removal_combinations_that_make_no_sense(
    org: uuid.UUID | None, reason: log_entry.RemovalReason, role: statement.Role | None
) -> None:
    with pytest.raises(ValueError, match="reason"):
        log_entry.encode_removal_entry(
            user_id=USER, org_id=org, reason=reason, role=role, appended_at_ms=AT
        )


def test_parse_refuses_garbage() -> None:
    entry = log_entry.encode_removal_entry(
        user_id=USER, org_id=None, reason=R.ACCOUNT_DISABLED, role=None, appended_at_ms=AT
    )
    for bad in [
        b"",
        b"\x03",
        entry[:-1],
        entry + b"\x00",
        b"\x05" + entry[1:],
        b"\x01" + entry[1:],
    ]:
        with pytest.raises(LogEntryError):
            log_entry.parse_log_entry(bad)
    with pytest.raises(ValueError, match="2\\*\\*53"):
        log_entry.encode_removal_entry(
            user_id=USER, org_id=None, reason=R.ACCOUNT_DISABLED, role=None, appended_at_ms=1 << 53
        )
    with pytest.raises(TypeError):
        log_entry.parse_log_entry("text")  # type: ignore[arg-type]
