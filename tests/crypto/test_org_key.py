"""Organisation key custody (crypto/org_key.py): wraps to administrators, invite handover."""

from __future__ import annotations

import uuid

import pytest

from crypto import account, invite, org_key
from crypto.errors import OrgKeyHandoverError, OrgKeyUnwrapError, PublicKeyError

ORG = uuid.UUID(int=0x0A)
ADMIN = uuid.UUID(int=0xAD)
OK = account.key_pair_from_seed(b"O" * 32)
ADMIN_KEYS = account.generate_account_keys_from_parts(
    encryption_ikm=b"e" * 32, signing_ikm=b"s" * 32
)
NEW_ADMIN = account.generate_account_keys_from_parts(
    encryption_ikm=b"f" * 32, signing_ikm=b"t" * 32
)
SECRET = b"x" * 32


def test_wrap_round_trip_with_fresh_randomness() -> None:
    records = [
        org_key.wrap_org_key(
            OK,
            org_id=ORG,
            recipient_public_key=NEW_ADMIN.encryption.public_key,
            wrapper_user_id=ADMIN,
            wrapper_signing_key=ADMIN_KEYS.signing,
        )
        for _ in range(2)
    ]
    assert records[0] != records[1] and len(records[0]) == org_key.ORG_KEY_WRAP_LENGTH
    for record in records:
        header = org_key.parse_org_key_wrap_header(record)
        assert (header.org_id, header.wrapper_user_id, header.org_key_id) == (ORG, ADMIN, OK.key_id)
        assert (
            org_key.open_org_key_wrap(
                record,
                org_id=ORG,
                org_key_id=OK.key_id,
                recipient=NEW_ADMIN.encryption,
                wrapper_signing_public_key=ADMIN_KEYS.signing.public_key,
            )
            == OK
        )
    with pytest.raises(OrgKeyUnwrapError):
        org_key.open_org_key_wrap(
            records[0],
            org_id=ORG,
            org_key_id=OK.key_id,
            recipient=NEW_ADMIN.encryption,
            wrapper_signing_public_key=b"\x04" + bytes(64),
        )


def test_handover_round_trip() -> None:
    record = org_key.seal_org_key_handover(OK, org_id=ORG, invite_secret=SECRET)
    assert len(record) == org_key.ORG_KEY_HANDOVER_LENGTH
    assert record[19:35] == invite.derive_invite_key(SECRET).key_id
    assert (
        org_key.open_org_key_handover(
            record, org_id=ORG, invite_secret=SECRET, org_key_id=OK.key_id
        )
        == OK
    )
    with pytest.raises(OrgKeyHandoverError):
        org_key.open_org_key_handover(
            record + b"\x00", org_id=ORG, invite_secret=SECRET, org_key_id=OK.key_id
        )


def test_misuse() -> None:
    with pytest.raises(TypeError):
        org_key.wrap_org_key(
            OK.private_key,  # type: ignore[arg-type]
            org_id=ORG,
            recipient_public_key=NEW_ADMIN.encryption.public_key,
            wrapper_user_id=ADMIN,
            wrapper_signing_key=ADMIN_KEYS.signing,
        )
    with pytest.raises(TypeError):
        org_key.wrap_org_key(
            OK,
            org_id=ORG,
            recipient_public_key=NEW_ADMIN.encryption.public_key,
            wrapper_user_id=ADMIN,
            wrapper_signing_key=ADMIN_KEYS.signing.private_key,  # type: ignore[arg-type]
        )
    with pytest.raises(PublicKeyError):
        org_key.wrap_org_key(
            OK,
            org_id=ORG,
            recipient_public_key=b"\x04" + bytes(64),
            wrapper_user_id=ADMIN,
            wrapper_signing_key=ADMIN_KEYS.signing,
        )
    with pytest.raises(TypeError):
        org_key.open_org_key_wrap(
            b"",
            org_id=ORG,
            org_key_id=OK.key_id,
            recipient=NEW_ADMIN.encryption.private_key,  # type: ignore[arg-type]
            wrapper_signing_public_key=ADMIN_KEYS.signing.public_key,
        )
    with pytest.raises(ValueError):
        org_key.open_org_key_wrap(
            b"",
            org_id=ORG,
            org_key_id=b"short",
            recipient=NEW_ADMIN.encryption,
            wrapper_signing_public_key=ADMIN_KEYS.signing.public_key,
        )
    with pytest.raises(ValueError):
        org_key.seal_org_key_handover(OK, org_id=ORG, invite_secret=b"short")
    with pytest.raises(ValueError):
        org_key.open_org_key_handover(b"", org_id=ORG, invite_secret=SECRET, org_key_id=b"short")
