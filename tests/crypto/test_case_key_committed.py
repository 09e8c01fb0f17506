"""crypto.case_key: the committed wrap record (type 0x0b) and its key commitment.

The vectors in ``case_key_wrap_committed.json`` are rebuilt and opened here; the unit tests
cover what the vectors cannot (misuse, the commitment helpers, the legacy record still
opening, and the documented layout).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from crypto import account, case_key
from crypto.errors import (
    CaseKeyUnwrapError,
    CaseKeyWrapHeaderError,
    CaseKeyWrapSignatureError,
)
from crypto.primitives.kdf import hmac_sha256

ROOT = Path(__file__).resolve().parent.parent.parent
VECTORS = json.loads(
    (ROOT / "tests/vectors/dermline/case_key_wrap_committed.json").read_text(encoding="utf-8")
)
CASES = [t for g in VECTORS["testGroups"] for t in g["tests"]]
CASE = uuid.UUID(int=0xCA5E)


def h(value: str) -> bytes:
    return bytes.fromhex(value)


def pair(t: dict[str, Any], name: str) -> account.KeyPair:
    kp = account.key_pair_from_private(h(t[f"{name}_private_key"]))
    assert (kp.public_key.hex(), kp.key_id.hex()) == (t[f"{name}_public_key"], t[f"{name}_key_id"])
    return kp


def test_the_file_has_one_group_and_both_results() -> None:
    assert [g["type"] for g in VECTORS["testGroups"]] == ["CommittedCaseKeyWrap"]
    assert {t["result"] for t in CASES} == {"valid", "invalid"}
    flags = {f for t in CASES for f in t["flags"]}
    assert {"CommitmentMismatch", "ModifiedCommitment", "WrongContext", "Resigned"} <= flags


@pytest.mark.parametrize("t", CASES, ids=lambda t: f"tc{t['tcId']}")
def test_vector(t: dict[str, Any]) -> None:
    record = h(t["record"])
    recipient = pair(t, "recipient")
    wrapper = pair(t, "wrapper_signing")
    case_id, epoch = uuid.UUID(t["case_id"]), t["epoch"]
    if t["result"] == "valid":
        built = case_key.wrap_case_key_from_parts(
            h(t["case_key"]),
            case_id=case_id,
            epoch=epoch,
            recipient_public_key=recipient.public_key,
            wrapper_user_id=uuid.UUID(t["wrapper_user_id"]),
            wrapper_signing_key=wrapper,
            ikm_e=h(t["ikm_e"]),
        )
        assert built.hex() == t["record"]
        assert len(built) == case_key.COMMITTED_CASE_KEY_WRAP_LENGTH
        commitment = case_key.case_key_commitment(h(t["case_key"]), case_id=case_id, epoch=epoch)
        assert commitment.hex() == t["commitment"]
        assert record[71:103] == commitment
    if t["header_parses"]:
        header = case_key.parse_case_key_wrap_header(record)
        assert header.commitment == record[71:103]
        if t["result"] == "valid":
            assert header == case_key.CaseKeyWrapHeader(
                case_id=case_id,
                epoch=epoch,
                recipient_key_id=recipient.key_id,
                wrapper_user_id=uuid.UUID(t["wrapper_user_id"]),
                wrapper_key_id=wrapper.key_id,
                commitment=h(t["commitment"]),
            )
    else:
        with pytest.raises(CaseKeyWrapHeaderError):
            case_key.parse_case_key_wrap_header(record)
    if t["signature_verifies"]:
        assert case_key.verify_case_key_wrap(record, wrapper.public_key) == (
            case_key.parse_case_key_wrap_header(record)
        )
    else:
        with pytest.raises(CaseKeyWrapSignatureError):
            case_key.verify_case_key_wrap(record, wrapper.public_key)

    def open_it() -> bytes:
        return case_key.open_case_key_wrap(
            record,
            case_id=case_id,
            epoch=epoch,
            recipient=recipient,
            wrapper_signing_public_key=wrapper.public_key,
        )

    if t["result"] == "valid":
        assert open_it().hex() == t["case_key"]
    else:
        with pytest.raises(CaseKeyUnwrapError):
            open_it()


def test_commitment_mismatch_cases_really_open_under_hpke() -> None:
    # The forged records are well formed and signed, and HPKE opens them: only the commitment
    # check refuses them (so the vectors test that check, not an earlier one).
    from crypto.primitives.hpke import open_base

    forged = [t for t in CASES if t["flags"] == ["CommitmentMismatch"]]
    assert len(forged) == 4
    for t in forged:
        record, recipient = h(t["record"]), pair(t, "recipient")
        case_id = uuid.UUID(t["case_id"])
        info = b"dermline/v1/case-key\x00" + case_id.bytes + (0).to_bytes(4, "big")
        inside = open_base(
            recipient.private_key,
            record[103:168],
            info + recipient.key_id,
            record[:103],
            record[168:216],
        )
        assert len(inside) == 32
        assert (
            hmac_sha256(inside, b"dermline/v1/case-key-commitment\x00" + case_id.bytes + bytes(4))
            != (record[71:103])
        )


def test_commitment_definition() -> None:
    ck = bytes(range(32))
    expected = hmac_sha256(
        ck, b"dermline/v1/case-key-commitment\x00" + CASE.bytes + (9).to_bytes(4, "big")
    )
    assert case_key.case_key_commitment(ck, case_id=CASE, epoch=9) == expected
    assert case_key.case_key_matches_commitment(ck, expected, case_id=CASE, epoch=9)
    assert not case_key.case_key_matches_commitment(ck, expected, case_id=CASE, epoch=8)
    assert not case_key.case_key_matches_commitment(bytes(32), expected, case_id=CASE, epoch=9)
    assert not case_key.case_key_matches_commitment(ck, expected, case_id=uuid.UUID(int=1), epoch=9)


def test_commitment_misuse() -> None:
    with pytest.raises(ValueError):
        case_key.case_key_commitment(bytes(31), case_id=CASE, epoch=0)
    with pytest.raises(TypeError):
        case_key.case_key_commitment(bytes(32), case_id="x", epoch=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        case_key.case_key_commitment(bytes(32), case_id=CASE, epoch=-1)
    with pytest.raises(ValueError):
        case_key.case_key_matches_commitment(bytes(32), bytes(31), case_id=CASE, epoch=0)
    with pytest.raises(TypeError):
        case_key.case_key_matches_commitment(bytes(32), "x", case_id=CASE, epoch=0)  # type: ignore[arg-type]


def test_new_wraps_are_committed_and_one_epoch_shares_one_commitment(
    alice: account.AccountKeys, bob: account.AccountKeys, user_id: uuid.UUID
) -> None:
    ck = case_key.generate_case_key()
    records = [
        case_key.wrap_case_key(
            ck,
            case_id=CASE,
            epoch=3,
            recipient_public_key=recipient,
            wrapper_user_id=user_id,
            wrapper_signing_key=alice.signing,
        )
        for recipient in (alice.encryption.public_key, bob.encryption.public_key)
    ]
    headers = [case_key.parse_case_key_wrap_header(r) for r in records]
    assert [r[:3] for r in records] == [b"\x01\x01\x0b"] * 2
    assert {hd.commitment for hd in headers} == {
        case_key.case_key_commitment(ck, case_id=CASE, epoch=3)
    }
    assert headers[0].recipient_key_id != headers[1].recipient_key_id
    opened = case_key.open_case_key_wrap(
        records[1],
        case_id=CASE,
        epoch=3,
        recipient=bob.encryption,
        wrapper_signing_public_key=alice.signing.public_key,
        wrapper_user_id=user_id,
    )
    assert opened == ck
    # Another key for the same case and epoch gives another commitment.
    other = case_key.wrap_case_key(
        case_key.generate_case_key(),
        case_id=CASE,
        epoch=3,
        recipient_public_key=bob.encryption.public_key,
        wrapper_user_id=user_id,
        wrapper_signing_key=alice.signing,
    )
    assert case_key.parse_case_key_wrap_header(other).commitment != headers[0].commitment


def test_legacy_records_still_open(
    alice: account.AccountKeys, bob: account.AccountKeys, user_id: uuid.UUID
) -> None:
    ck = case_key.generate_case_key()
    legacy = case_key.wrap_legacy_case_key_from_parts(
        ck,
        case_id=CASE,
        epoch=0,
        recipient_public_key=bob.encryption.public_key,
        wrapper_user_id=user_id,
        wrapper_signing_key=alice.signing,
        ikm_e=bytes(32),
    )
    assert len(legacy) == case_key.CASE_KEY_WRAP_LENGTH and legacy[:3] == b"\x01\x01\x06"
    assert case_key.parse_case_key_wrap_header(legacy).commitment is None
    assert case_key.verify_case_key_wrap(legacy, alice.signing.public_key).commitment is None
    opened = case_key.open_case_key_wrap(
        legacy,
        case_id=CASE,
        epoch=0,
        recipient=bob.encryption,
        wrapper_signing_public_key=alice.signing.public_key,
    )
    assert opened == ck


def test_protocol_doc_gives_the_committed_layout() -> None:
    doc = (ROOT / "docs/protocol.md").read_text(encoding="utf-8")
    section = doc[doc.index("## 8. Case keys") : doc.index("## 9. The message envelope")]
    assert "(type 0x0b), 280 bytes" in section
    assert case_key.COMMITTED_CASE_KEY_WRAP_LENGTH == 280
    for row in (
        "| 0 | 3 | `01 01 0b` |",
        "| 71 | 32 | key commitment |",
        "| 103 | 65 | HPKE `enc` |",
        "| 168 | 48 | HPKE ciphertext of the case key (32 + 16) |",
        "| 216 | 64 | ECDSA P-256 signature, P1363 |",
    ):
        assert row in section, row
    assert "| 0x0b | case key wrapped to one recipient, with key commitment, signed | 280 |" in doc
