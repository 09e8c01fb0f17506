"""The transparency log's signed tree head (record type 0x0d, docs/protocol.md section 18).

Layout, 131 bytes::

    off  len
      0    3  01 01 0d
      3    8  tree size (u64, at most 2**53 - 1)
     11    8  timestamp (u64 Unix ms, the log's clock; informative)
     19   32  root hash (RFC 9162 MTH of the first ``tree size`` entries)
     51   16  log key id (key id of the log's signing public key)
     67   64  ECDSA P-256 signature, P1363

    signed = "dermline/v1/sig/tree-head" || 0x00 || bytes 0..66

A tree head of size 0 must carry the empty tree's root (SHA-256 of ""). The server signs
(:func:`sign_tree_head`); clients check the signature against the log key they pinned
(:func:`verify_tree_head`), then that each new head extends the last one they accepted
(:func:`verify_tree_head_extends`, an RFC 9162 consistency proof) and that every directory
statement they use is in a head they accepted (:func:`verify_entry_included`).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from crypto import merkle
from crypto._wire import (
    LABEL_PREFIX,
    MAX_SAFE_INTEGER,
    Malformed,
    Reader,
    RecordType,
    check_bytes,
    check_safe_uint,
    prefix,
    u64,
)
from crypto.account import KeyPair
from crypto.errors import (
    ConsistencyProofError,
    PrimitiveError,
    PublicKeyError,
    TreeHeadError,
    TreeHeadSignatureError,
)
from crypto.fingerprint import KEY_ID_LENGTH, key_id
from crypto.primitives.ecc import p256_sign, p256_verify

__all__ = [
    "TREE_HEAD_LENGTH",
    "TreeHead",
    "parse_tree_head",
    "sign_tree_head",
    "verify_entry_included",
    "verify_tree_head",
    "verify_tree_head_extends",
]

TREE_HEAD_LENGTH: Final = 131
_SIGNED: Final = 67
_SIGNATURE: Final = 64
_SIG_LABEL: Final = LABEL_PREFIX + b"sig/tree-head\x00"


@dataclass(frozen=True)
class TreeHead:
    """A parsed signed tree head (``record`` is the whole 131-byte record)."""

    tree_size: int
    timestamp_ms: int
    root_hash: bytes
    log_key_id: bytes
    record: bytes


def sign_tree_head(
    *, tree_size: int, timestamp_ms: int, root_hash: bytes, log_key: KeyPair
) -> bytes:
    """The log's signed statement that its first ``tree_size`` entries have ``root_hash``."""
    size = check_safe_uint("tree_size", tree_size)
    root = check_bytes("root_hash", root_hash, merkle.HASH_LENGTH)
    if size == 0 and root != merkle.EMPTY_ROOT:
        raise ValueError("an empty tree has the empty root")
    if not isinstance(log_key, KeyPair):
        raise TypeError("log_key must be a KeyPair")
    signed = (
        prefix(RecordType.TREE_HEAD)
        + u64(size)
        + u64(check_safe_uint("timestamp_ms", timestamp_ms))
        + root
        + log_key.key_id
    )
    return signed + p256_sign(log_key.private_key, _SIG_LABEL + signed)


def _parse(record: bytes) -> TreeHead:
    reader = Reader(record)
    reader.prefix(RecordType.TREE_HEAD)
    size = reader.u64()
    timestamp = reader.u64()
    root = reader.take(merkle.HASH_LENGTH)
    log_key_id = reader.take(KEY_ID_LENGTH)
    reader.take(_SIGNATURE)
    reader.end()
    if (
        size > merkle.MAX_TREE_SIZE
        or timestamp > MAX_SAFE_INTEGER
        or (size == 0 and root != merkle.EMPTY_ROOT)
    ):
        raise Malformed
    return TreeHead(
        tree_size=size,
        timestamp_ms=timestamp,
        root_hash=root,
        log_key_id=log_key_id,
        record=bytes(record),
    )


def parse_tree_head(record: bytes) -> TreeHead:
    """The fields, without the signature check; :class:`TreeHeadError` if malformed."""
    try:
        return _parse(record)
    except Malformed:
        raise TreeHeadError from None


def verify_tree_head(record: bytes, log_public_key: bytes) -> TreeHead:
    """Parse and check the signature with the pinned log key; :class:`TreeHeadSignatureError`.

    The record's log key id must be the id of ``log_public_key``.
    """
    try:
        head = _parse(record)
        if not hmac.compare_digest(key_id(log_public_key), head.log_key_id):
            raise Malformed
        p256_verify(log_public_key, _SIG_LABEL + head.record[:_SIGNED], head.record[_SIGNED:])
    except (Malformed, PrimitiveError, PublicKeyError):
        raise TreeHeadSignatureError from None
    return head


def verify_tree_head_extends(old: TreeHead, new: TreeHead, proof: Sequence[bytes]) -> None:
    """Check that ``new`` extends ``old``: same log key, RFC 9162 consistency proof.

    Both heads must already be verified (:func:`verify_tree_head`). Equal sizes need equal
    roots and an empty proof (two heads of one size with different roots are a fork); a
    smaller new size is refused. Raises :class:`ConsistencyProofError`; a client that gets
    it has proof that the log was rewritten (the two signed heads) and must stop.
    """
    if not isinstance(old, TreeHead) or not isinstance(new, TreeHead):
        raise TypeError("old and new must be TreeHead")
    if not hmac.compare_digest(old.log_key_id, new.log_key_id):
        raise ConsistencyProofError
    merkle.verify_consistency(
        old_size=old.tree_size,
        new_size=new.tree_size,
        old_root=old.root_hash,
        new_root=new.root_hash,
        proof=proof,
    )


def verify_entry_included(
    entry: bytes, *, index: int, tree_head: TreeHead, proof: Sequence[bytes]
) -> None:
    """Check that log ``entry`` is leaf ``index`` of a verified tree head.

    Raises :class:`~crypto.errors.InclusionProofError`.
    """
    if not isinstance(tree_head, TreeHead):
        raise TypeError("tree_head must be a TreeHead")
    merkle.verify_inclusion(
        leaf_hash=merkle.leaf_hash(check_bytes("entry", entry)),
        index=index,
        tree_size=tree_head.tree_size,
        proof=proof,
        root=tree_head.root_hash,
    )
