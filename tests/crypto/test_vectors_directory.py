"""The committed vectors of the verified-directory records (docs/protocol.md sections 18-22).

Same contract as ``test_vectors.py`` (which also checks that these files match the
generator): every ``valid`` case is rebuilt from its inputs and checked through the public
functions, every ``invalid`` one must raise its operation's one error.
"""

from __future__ import annotations

from typing import Any

import pytest

from crypto import (
    account,
    case_key,
    content,
    envelope,
    errors,
    invite,
    log_entry,
    merkle,
    org_key,
    records_key,
    statement,
    transcript,
    tree_head,
)
from tests.crypto.test_vectors import cases, h, ids, pair, u

# --- transparency log ---------------------------------------------------------------------


def _entry_fields(entry: log_entry.LogEntry) -> dict[str, Any]:
    out: dict[str, Any] = {
        "entry_type": int(entry.entry_type),
        "appended_at_ms": entry.appended_at_ms,
    }
    if isinstance(entry, log_entry.StatementEntry):
        out["statement"] = entry.statement.record.hex()
    elif isinstance(entry, log_entry.UncertifiedMemberEntry):
        out.update(
            user_id=str(entry.user_id),
            org_id=str(entry.org_id),
            role=int(entry.role),
            signing_public_key=entry.signing_public_key.hex(),
            encryption_public_key=entry.encryption_public_key.hex(),
        )
    else:
        assert isinstance(entry, log_entry.RemovalEntry)
        out.update(
            user_id=str(entry.user_id),
            org_id=None if entry.org_id is None else str(entry.org_id),
            reason=int(entry.reason),
            role=0 if entry.role is None else int(entry.role),
        )
    return out


def _encode_entry(t: dict[str, Any]) -> bytes:
    at = t["appended_at_ms"]
    if t["entry_type"] == 1:
        return log_entry.encode_statement_entry(h(t["statement"]), appended_at_ms=at)
    if t["entry_type"] == 2:
        return log_entry.encode_uncertified_member_entry(
            user_id=u(t["user_id"]),
            org_id=u(t["org_id"]),
            role=t["role"],
            signing_public_key=h(t["signing_public_key"]),
            encryption_public_key=h(t["encryption_public_key"]),
            appended_at_ms=at,
        )
    return log_entry.encode_removal_entry(
        user_id=u(t["user_id"]),
        org_id=None if t["org_id"] is None else u(t["org_id"]),
        reason=t["reason"],
        role=None if t["role"] == 0 else t["role"],
        appended_at_ms=at,
    )


@pytest.mark.parametrize("t", cases("transparency_log.json", "LogEntry"), ids=ids)
def test_log_entry(t: dict[str, Any]) -> None:
    entry = h(t["entry"])
    if t["result"] == "valid":
        assert _encode_entry(t) == entry
        parsed = log_entry.parse_log_entry(entry)
        assert parsed.entry == entry
        fields = {k: t[k] for k in _entry_fields(parsed)}
        assert _entry_fields(parsed) == fields
        assert merkle.leaf_hash(entry).hex() == t["leaf_hash"]
    else:
        with pytest.raises(errors.LogEntryError):
            log_entry.parse_log_entry(entry)


def _all_leaves() -> list[bytes]:
    biggest = max(cases("transparency_log.json", "MerkleRoot"), key=lambda t: len(t["leaf_hashes"]))
    return [h(x) for x in biggest["leaf_hashes"]]


def test_the_tree_is_built_from_the_valid_log_entries() -> None:
    entries = [
        h(t["leaf_hash"])
        for t in cases("transparency_log.json", "LogEntry")
        if t["result"] == "valid"
    ]
    assert entries == _all_leaves()


@pytest.mark.parametrize("t", cases("transparency_log.json", "MerkleRoot"), ids=ids)
def test_merkle_root(t: dict[str, Any]) -> None:
    leaves = [h(x) for x in t["leaf_hashes"]]
    assert merkle.root_hash(leaves).hex() == t["root"]
    compact = merkle.CompactRange()
    for leaf in leaves:
        compact.append(leaf)
    assert compact.root().hex() == t["root"]


@pytest.mark.parametrize("t", cases("transparency_log.json", "MerkleInclusion"), ids=ids)
def test_merkle_inclusion(t: dict[str, Any]) -> None:
    proof = [h(x) for x in t["proof"]]
    args = {
        "leaf_hash": h(t["leaf_hash"]),
        "index": t["index"],
        "tree_size": t["tree_size"],
        "proof": proof,
        "root": h(t["root"]),
    }
    if t["result"] == "valid":
        tree = merkle.MerkleTree(_all_leaves())
        assert tree.inclusion_proof(t["index"], t["tree_size"]) == proof
        merkle.verify_inclusion(**args)
    else:
        with pytest.raises(errors.InclusionProofError):
            merkle.verify_inclusion(**args)


@pytest.mark.parametrize("t", cases("transparency_log.json", "MerkleConsistency"), ids=ids)
def test_merkle_consistency(t: dict[str, Any]) -> None:
    proof = [h(x) for x in t["proof"]]
    args = {
        "old_size": t["old_size"],
        "new_size": t["new_size"],
        "old_root": h(t["old_root"]),
        "new_root": h(t["new_root"]),
        "proof": proof,
    }
    if t["result"] == "valid":
        tree = merkle.MerkleTree(_all_leaves())
        assert tree.consistency_proof(t["old_size"], t["new_size"]) == proof
        merkle.verify_consistency(**args)
    else:
        with pytest.raises(errors.ConsistencyProofError):
            merkle.verify_consistency(**args)


@pytest.mark.parametrize("t", cases("transparency_log.json", "TreeHead"), ids=ids)
def test_tree_head(t: dict[str, Any]) -> None:
    record, log_key = h(t["record"]), pair(t, "log")
    if t["parses"]:
        assert tree_head.parse_tree_head(record).record == record
    else:
        with pytest.raises(errors.TreeHeadError):
            tree_head.parse_tree_head(record)
    if t["signature_verifies"]:
        head = tree_head.verify_tree_head(record, log_key.public_key)
        assert (head.tree_size, head.timestamp_ms, head.root_hash.hex(), head.log_key_id) == (
            t["tree_size"],
            t["timestamp_ms"],
            t["root_hash"],
            log_key.key_id,
        )
    else:
        with pytest.raises(errors.TreeHeadSignatureError):
            tree_head.verify_tree_head(record, log_key.public_key)
    if t["result"] == "valid":
        built = tree_head.sign_tree_head(
            tree_size=t["tree_size"],
            timestamp_ms=t["timestamp_ms"],
            root_hash=h(t["root_hash"]),
            log_key=log_key,
        )
        assert built == record
    assert t["signature_verifies"] == (t["result"] == "valid")


@pytest.mark.parametrize("t", cases("transparency_log.json", "TreeHeadExtends"), ids=ids)
def test_tree_head_extends(t: dict[str, Any]) -> None:
    old = tree_head.parse_tree_head(h(t["old_head"]))
    new = tree_head.parse_tree_head(h(t["new_head"]))
    proof = [h(x) for x in t["proof"]]
    if t["result"] == "valid":
        tree_head.verify_tree_head_extends(old, new, proof)
    else:
        with pytest.raises(errors.ConsistencyProofError):
            tree_head.verify_tree_head_extends(old, new, proof)


# --- signed statements ----------------------------------------------------------------------


def _make_statement(t: dict[str, Any], signer: account.KeyPair) -> bytes:
    at = t["issued_at_ms"]
    kind = statement.StatementKind(t["kind"])
    if kind is statement.StatementKind.ORGANISATION_KEY:
        return statement.make_organisation_key_statement(
            org_id=u(t["org_id"]),
            org_kind=statement.OrganisationKind(t["org_kind"]),
            name=t["name"],
            org_key=signer,
            issued_at_ms=at,
        )
    if kind is statement.StatementKind.INVITE:
        return statement.make_invite_statement(
            org_id=u(t["org_id"]),
            role=statement.Role(t["role"]),
            invite_public_key=h(t["invite_public_key"]),
            expires_at_ms=t["expires_at_ms"],
            token_hash=h(t["token_hash"]),
            org_key=signer,
            issued_at_ms=at,
        )
    if kind is statement.StatementKind.MEMBER:
        invite_hash = t["invite_statement_hash"]
        return statement.make_member_statement(
            user_id=u(t["user_id"]),
            org_id=u(t["org_id"]),
            role=statement.Role(t["role"]),
            signing_public_key=h(t["signing_public_key"]),
            encryption_public_key=h(t["encryption_public_key"]),
            invite_statement_hash=None if invite_hash is None else h(invite_hash),
            signer=signer,
            issued_at_ms=at,
        )
    if kind is statement.StatementKind.RECORDS_KEY:
        previous = t["previous_records_key_id"]
        return statement.make_records_key_statement(
            org_id=u(t["org_id"]),
            sequence=t["sequence"],
            records_public_key=h(t["records_public_key"]),
            records_signing_public_key=h(t["records_signing_public_key"]),
            previous_records_key_id=None if previous is None else h(previous),
            signer=signer,
            issued_at_ms=at,
        )
    return statement.make_approval_statement(
        approved_statement_hash=h(t["approved_statement_hash"]),
        approver_user_id=u(t["approver_user_id"]),
        approver_signing_key=signer,
        issued_at_ms=at,
    )


def _statement_fields(s: statement.Statement) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": int(s.kind),
        "signer_key_id": s.signer_key_id.hex(),
        "issued_at_ms": s.issued_at_ms,
        "statement_hash": s.hash.hex(),
    }
    for name, value in vars(s).items():
        if name in ("kind", "signer_key_id", "issued_at_ms", "hash", "record"):
            continue
        if isinstance(value, bytes):
            value = value.hex()
        elif isinstance(value, int):
            value = int(value)
        elif value is not None and not isinstance(value, str):
            value = str(value)
        out[name] = value
    return out


@pytest.mark.parametrize("t", cases("statement.json", "Statement"), ids=ids)
def test_statement(t: dict[str, Any]) -> None:
    record = h(t["record"])
    signer = account.key_pair_from_private(h(t["signer_private_key"]))
    assert signer.public_key.hex() == t["signer_public_key"]
    if t["parses"]:
        statement.parse_statement(record)
    else:
        with pytest.raises(errors.StatementError):
            statement.parse_statement(record)
        with pytest.raises(errors.StatementError):
            statement.statement_hash(record)
    if t["signature_verifies"]:
        statement.verify_statement(record, signer.public_key, statement.StatementKind(t["kind"]))
    else:
        with pytest.raises(errors.StatementSignatureError):
            statement.verify_statement(record, signer.public_key)
    if t["result"] == "valid":
        parsed = statement.parse_statement(record)
        expected = {k: t[k] for k in _statement_fields(parsed)}
        assert _statement_fields(parsed) == expected
        assert statement.statement_hash(record).hex() == t["statement_hash"]
        assert _make_statement(t, signer) == record
    assert t["signature_verifies"] == (t["result"] == "valid")


@pytest.mark.parametrize("t", cases("statement.json", "OrganisationKeyStatement"), ids=ids)
def test_organisation_key_statement(t: dict[str, Any]) -> None:
    record, org = h(t["record"]), u(t["org_id"])
    if t["result"] == "valid":
        got = statement.verify_organisation_key_statement(record, org_id=org)
        assert got.org_public_key.hex() == t["org_public_key"]
    else:
        with pytest.raises(errors.OrganisationKeyStatementError):
            statement.verify_organisation_key_statement(record, org_id=org)


@pytest.mark.parametrize("t", cases("statement.json", "InviteStatement"), ids=ids)
def test_invite_statement(t: dict[str, Any]) -> None:
    record, org, key = h(t["record"]), u(t["org_id"]), h(t["org_public_key"])
    if t["result"] == "valid":
        got = statement.verify_invite_statement(record, org_id=org, org_public_key=key)
        assert got.record == record
    else:
        with pytest.raises(errors.InviteStatementError):
            statement.verify_invite_statement(record, org_id=org, org_public_key=key)


@pytest.mark.parametrize("t", cases("statement.json", "MemberStatement"), ids=ids)
def test_member_statement(t: dict[str, Any]) -> None:
    record, org, key = h(t["record"]), u(t["org_id"]), h(t["org_public_key"])
    invite = None if t["invite_statement"] is None else h(t["invite_statement"])
    args = {"org_id": org, "org_public_key": key, "invite_statement": invite}
    if t["result"] == "valid":
        got = statement.verify_member_statement(record, **args)
        assert _statement_fields(got) == {k: t[k] for k in _statement_fields(got)}
    else:
        with pytest.raises(errors.MemberStatementError):
            statement.verify_member_statement(record, **args)


@pytest.mark.parametrize("t", cases("statement.json", "RecordsKeyChain"), ids=ids)
def test_records_key_chain(t: dict[str, Any]) -> None:
    changes = [
        statement.RecordsKeyChange(h(c["statement"]), tuple(h(a) for a in c["approvals"]))
        for c in t["changes"]
    ]
    admins = [
        statement.CertifiedMember(
            h(a["statement"]), None if a["invite_statement"] is None else h(a["invite_statement"])
        )
        for a in t["admins"]
    ]
    pin = (
        None
        if t["pin"] is None
        else statement.RecordsKeyPin(t["pin"]["sequence"], h(t["pin"]["records_public_key"]))
    )
    args = {
        "org_id": u(t["org_id"]),
        "org_public_key": h(t["org_public_key"]),
        "admins": admins,
        "pin": pin,
    }
    if t["result"] == "valid":
        got = statement.verify_records_key_chain(changes, **args)
        assert (got.sequence, got.records_public_key.hex()) == (
            t["sequence"],
            t["records_public_key"],
        )
    else:
        with pytest.raises(errors.RecordsKeyChainError):
            statement.verify_records_key_chain(changes, **args)


# --- invites, organisation key custody, records signing key ---------------------------------


@pytest.mark.parametrize("t", cases("invite.json", "InviteKey"), ids=ids)
def test_invite_key(t: dict[str, Any]) -> None:
    got = invite.derive_invite_key(h(t["secret"]))
    assert (got.private_key.hex(), got.public_key.hex(), got.key_id.hex()) == (
        t["private_key"],
        t["public_key"],
        t["key_id"],
    )


@pytest.mark.parametrize("t", cases("invite.json", "InviteFragment"), ids=ids)
def test_invite_fragment(t: dict[str, Any]) -> None:
    if t["result"] == "valid":
        secret = None if t["secret"] is None else h(t["secret"])
        key = None if t["org_key_id"] is None else h(t["org_key_id"])
        assert invite.format_invite_fragment(t["token"], secret, key) == t["text"]
        link = invite.parse_invite_fragment(t["text"])
        assert (link.token, link.secret, link.org_key_id) == (t["token"], secret, key)
    else:
        with pytest.raises(errors.InviteLinkFormatError):
            invite.parse_invite_fragment(t["text"])


@pytest.mark.parametrize("t", cases("org_key.json", "OrgKeyWrap"), ids=ids)
def test_org_key_wrap(t: dict[str, Any]) -> None:
    record = h(t["record"])
    org_pair = account.key_pair_from_private(h(t["org_private_key"]))
    recipient = pair(t, "recipient")
    wrapper = pair(t, "wrapper_signing")
    if t["header_parses"]:
        header = org_key.parse_org_key_wrap_header(record)
        assert header.org_key_id == record[67:83]
    else:
        with pytest.raises(errors.OrgKeyWrapHeaderError):
            org_key.parse_org_key_wrap_header(record)
    args = {
        "org_id": u(t["org_id"]),
        "org_key_id": h(t["org_key_id"]),
        "recipient": recipient,
        "wrapper_signing_public_key": wrapper.public_key,
        "wrapper_user_id": u(t["wrapper_user_id"]),
    }
    if t["result"] == "valid":
        built = org_key.wrap_org_key_from_parts(
            org_pair,
            org_id=u(t["org_id"]),
            recipient_public_key=recipient.public_key,
            wrapper_user_id=u(t["wrapper_user_id"]),
            wrapper_signing_key=wrapper,
            ikm_e=h(t["ikm_e"]),
        )
        assert built == record
        assert org_key.open_org_key_wrap(record, **args) == org_pair
    else:
        with pytest.raises(errors.OrgKeyUnwrapError):
            org_key.open_org_key_wrap(record, **args)


@pytest.mark.parametrize("t", cases("org_key.json", "OrgKeyHandover"), ids=ids)
def test_org_key_handover(t: dict[str, Any]) -> None:
    record = h(t["record"])
    org_pair = account.key_pair_from_private(h(t["org_private_key"]))
    args = {
        "org_id": u(t["org_id"]),
        "invite_secret": h(t["invite_secret"]),
        "org_key_id": h(t["org_key_id"]),
    }
    if t["result"] == "valid":
        assert invite.derive_invite_key(h(t["invite_secret"])).key_id.hex() == t["invite_key_id"]
        built = org_key.seal_org_key_handover_from_parts(
            org_pair,
            org_id=u(t["org_id"]),
            invite_secret=h(t["invite_secret"]),
            nonce=h(t["nonce"]),
        )
        assert built == record
        assert org_key.open_org_key_handover(record, **args) == org_pair
    else:
        with pytest.raises(errors.OrgKeyHandoverError):
            org_key.open_org_key_handover(record, **args)


@pytest.mark.parametrize("t", cases("org_key.json", "RecordsSigningKey"), ids=ids)
def test_records_signing_key(t: dict[str, Any]) -> None:
    got = records_key.derive_records_signing_key(h(t["records_private_key"]))
    assert got == pair(t, "records_signing")


# --- committed, padded envelope (0x0e) ------------------------------------------------------


@pytest.mark.parametrize("t", cases("envelope_committed.json", "CommittedMessageEnvelope"), ids=ids)
def test_committed_envelope(t: dict[str, Any]) -> None:
    record = h(t["record"])
    sender = pair(t, "sender_signing")
    if t["header_parses"]:
        header = envelope.parse_message_header(record)
        assert header.commitment == record[112:144]
    else:
        with pytest.raises(errors.MessageHeaderError):
            envelope.parse_message_header(record)
    if t["signature_verifies"]:
        envelope.verify_message_signature(record, sender.public_key)
    else:
        with pytest.raises(errors.MessageSignatureError):
            envelope.verify_message_signature(record, sender.public_key)
    args = {
        "case_key": h(t["case_key"]),
        "case_id": u(t["case_id"]),
        "epoch": t["epoch"],
        "sender_signing_public_key": sender.public_key,
        "sender_user_id": u(t["sender_user_id"]),
    }
    if t["result"] == "valid":
        built = envelope.seal_message_from_parts(
            h(t["body"]),
            case_key=h(t["case_key"]),
            case_id=u(t["case_id"]),
            epoch=t["epoch"],
            client_message_id=u(t["client_message_id"]),
            sender_user_id=u(t["sender_user_id"]),
            sender_signing_key=sender,
            content_type=content.ContentType(t["content_type"]),
            timestamp_ms=t["timestamp_ms"],
            previous_hash=h(t["previous_hash"]),
            nonce=h(t["nonce"]),
        )
        assert built == record
        assert envelope.message_hash(record).hex() == t["message_hash"]
        assert (
            case_key.case_key_commitment(
                h(t["case_key"]), case_id=u(t["case_id"]), epoch=t["epoch"]
            ).hex()
            == t["commitment"]
        )
        assert int.from_bytes(record[156:160], "big") == t["padded_length"] + 16
        opened = envelope.open_message(record, **args)
        assert opened.body.hex() == t["body"]
        assert opened.header.previous_hash.hex() == t["previous_hash"]
    else:
        with pytest.raises(errors.MessageOpenError):
            envelope.open_message(record, **args)


def test_committed_envelope_vectors_form_a_hash_chain() -> None:
    valid = [
        t
        for t in cases("envelope_committed.json", "CommittedMessageEnvelope")
        if t["result"] == "valid"
    ]
    previous = envelope.GENESIS_HASH.hex()
    for t in valid:
        assert t["previous_hash"] == previous
        previous = t["message_hash"]


# --- transcripts ----------------------------------------------------------------------------


@pytest.mark.parametrize("t", cases("transcript.json", "Transcript"), ids=ids)
def test_transcript(t: dict[str, Any]) -> None:
    entries = [
        transcript.TranscriptEntry(
            seq=m["seq"],
            client_message_id=u(m["client_message_id"]),
            previous_hash=h(m["previous_hash"]),
            message_hash=h(m["message_hash"]),
        )
        for m in t["messages"]
    ]
    got = [[str(f) for f in per] for per in transcript.check_transcript(entries)]
    assert got == t["findings"]
    assert (t["result"] == "valid") == (not any(got))


@pytest.mark.parametrize("t", cases("transcript.json", "TranscriptRecords"), ids=ids)
def test_transcript_of_records(t: dict[str, Any]) -> None:
    entries = [transcript.entry_from_record(i + 1, h(r)) for i, r in enumerate(t["records"])]
    got = [[str(f) for f in per] for per in transcript.check_transcript(entries)]
    assert got == t["findings"]
