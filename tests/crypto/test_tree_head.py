"""Signed tree heads (crypto/tree_head.py): signing, parsing, extension, inclusion."""

from __future__ import annotations

import pytest

from crypto import account, merkle, tree_head
from crypto.errors import (
    ConsistencyProofError,
    InclusionProofError,
    TreeHeadError,
    TreeHeadSignatureError,
)

LOG = account.key_pair_from_seed(b"L" * 32)
OTHER = account.key_pair_from_seed(b"M" * 32)
ENTRIES = [f"entry {i}".encode() for i in range(9)]
TREE = merkle.MerkleTree(merkle.leaf_hash(e) for e in ENTRIES)


def head(size: int, key: account.KeyPair = LOG, at: int = 1_790_000_000_000) -> tree_head.TreeHead:
    record = tree_head.sign_tree_head(
        tree_size=size, timestamp_ms=at, root_hash=TREE.root(size), log_key=key
    )
    assert len(record) == tree_head.TREE_HEAD_LENGTH
    return tree_head.verify_tree_head(record, key.public_key)


def test_sign_parse_verify_round_trip() -> None:
    h = head(9)
    assert (h.tree_size, h.root_hash, h.log_key_id) == (9, TREE.root(), LOG.key_id)
    assert tree_head.parse_tree_head(h.record) == h
    with pytest.raises(TreeHeadSignatureError):
        tree_head.verify_tree_head(h.record, OTHER.public_key)
    with pytest.raises(TreeHeadSignatureError):
        tree_head.verify_tree_head(h.record, b"\x04" + bytes(64))
    with pytest.raises(TreeHeadError):
        tree_head.parse_tree_head(h.record[:-1])


def test_extension_and_inclusion() -> None:
    old, new = head(4), head(9)
    tree_head.verify_tree_head_extends(old, new, TREE.consistency_proof(4, 9))
    tree_head.verify_tree_head_extends(head(0), new, [])
    with pytest.raises(ConsistencyProofError):
        tree_head.verify_tree_head_extends(old, head(9, OTHER), TREE.consistency_proof(4, 9))
    with pytest.raises(ConsistencyProofError):
        tree_head.verify_tree_head_extends(new, old, TREE.consistency_proof(4, 9))
    tree_head.verify_entry_included(
        ENTRIES[3], index=3, tree_head=new, proof=TREE.inclusion_proof(3)
    )
    with pytest.raises(InclusionProofError):
        tree_head.verify_entry_included(
            ENTRIES[4], index=3, tree_head=new, proof=TREE.inclusion_proof(3)
        )


def test_misuse() -> None:
    with pytest.raises(ValueError, match="2\\*\\*53"):
        tree_head.sign_tree_head(
            tree_size=1 << 53, timestamp_ms=0, root_hash=TREE.root(), log_key=LOG
        )
    with pytest.raises(ValueError, match="empty root"):
        tree_head.sign_tree_head(tree_size=0, timestamp_ms=0, root_hash=TREE.root(), log_key=LOG)
    with pytest.raises(TypeError):
        tree_head.sign_tree_head(
            tree_size=1,
            timestamp_ms=0,
            root_hash=TREE.root(1),
            log_key=LOG.private_key,  # type: ignore[arg-type]
        )
    with pytest.raises(TypeError):
        tree_head.verify_tree_head_extends(head(1), head(2).record, [])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        tree_head.verify_entry_included(b"", index=0, tree_head=head(1).record, proof=[])  # type: ignore[arg-type]
