"""The committed vectors of the verified-directory records (docs/protocol.md sections 18-22).

Same contract as ``test_vectors.py`` (which also checks that these files match the
generator): every ``valid`` case is rebuilt from its inputs and checked through the public
functions, every ``invalid`` one must raise its operation's one error.
"""

from __future__ import annotations

from typing import Any

import pytest

from crypto import errors, log_entry, merkle, tree_head
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
