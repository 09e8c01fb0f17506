"""The transparency log's Merkle tree: RFC 9162 section 2.1, SHA-256 (docs/protocol.md section 18).

::

    leaf hash   = SHA-256(0x00 || entry)
    node hash   = SHA-256(0x01 || left || right)
    MTH({})     = SHA-256("")
    MTH(D[n])   = node hash(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n

* :class:`MerkleTree` is the server's side: an append-only list of leaf hashes that keeps
  every complete subtree's hash, so an append is O(log n) amortised and a root, an
  inclusion proof (RFC 9162 ``PATH``) or a consistency proof (``PROOF``) for any earlier
  size costs O(log n) cached hashes plus O(log n) fresh ones.
* :class:`CompactRange` holds only the right frontier (one hash per set bit of the size):
  enough to append and to compute the root, for a monitor that replays the log.
* :func:`verify_inclusion` and :func:`verify_consistency` are the clients' side, the
  verification algorithms of RFC 9162 sections 2.1.3.2 and 2.1.4.2. Everything they get
  comes from the server, so any failure (a proof of the wrong length, an index out of
  range, a hash that is not 32 bytes, a wrong root) raises the operation's one error,
  :class:`~crypto.errors.InclusionProofError` or :class:`~crypto.errors.ConsistencyProofError`.

Sizes and indices are limited to :data:`MAX_TREE_SIZE` (2**53 - 1) so that the browser port
can hold them in a JavaScript number.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from typing import Final

from crypto.errors import ConsistencyProofError, InclusionProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_LENGTH",
    "MAX_PROOF_LENGTH",
    "MAX_TREE_SIZE",
    "CompactRange",
    "MerkleTree",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_LENGTH: Final = 32
#: The root of the empty tree, SHA-256 of the empty string.
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
#: Largest tree size (and so largest index + 1) this module accepts: 2**53 - 1.
MAX_TREE_SIZE: Final = (1 << 53) - 1
#: No proof for a tree of at most 2**53 - 1 leaves has more hashes than this (a consistency
#: proof is at most one hash longer than the height).
MAX_PROOF_LENGTH: Final = 55
_LEAF: Final = b"\x00"
_NODE: Final = b"\x01"


def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 || entry): the hash of one log entry as a leaf."""
    if not isinstance(entry, bytes):
        raise TypeError("entry must be bytes")
    return hashlib.sha256(_LEAF + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): an interior node."""
    return hashlib.sha256(_NODE + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hash(name: str, value: object) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError(f"{name} must be bytes")
    if len(value) != HASH_LENGTH:
        raise ValueError(f"{name} must be {HASH_LENGTH} bytes")
    return value


def _check_size(name: str, value: object, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be int")
    if not low <= value <= high:
        raise ValueError(f"{name} out of range")
    return value


class MerkleTree:
    """An append-only Merkle tree over leaf hashes, with every complete subtree cached.

    ``levels[k][i]`` is the hash of the complete subtree of ``2**k`` leaves starting at leaf
    ``i * 2**k``. Every subtree the RFC 9162 algorithms visit is either such an aligned
    complete subtree (a cache hit) or a right-hand edge made of at most ``log2 n`` of them.
    """

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for value in leaf_hashes:
            self.append(value)

    def __len__(self) -> int:
        return len(self._levels[0])

    def append(self, value: bytes) -> int:
        """Add one leaf hash; return its index."""
        value = _check_hash("leaf hash", value)
        index = len(self._levels[0])
        if index >= MAX_TREE_SIZE:
            raise ValueError("the tree is full")
        level = 0
        self._levels[0].append(value)
        while len(self._levels[level]) % 2 == 0:
            row = self._levels[level]
            parent = node_hash(row[-2], row[-1])
            if level + 1 == len(self._levels):
                self._levels.append([])
            self._levels[level + 1].append(parent)
            level += 1
        return index

    def append_entry(self, entry: bytes) -> int:
        """Add one log entry (its leaf hash); return its index."""
        return self.append(leaf_hash(entry))

    def leaf(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        return self._levels[0][_check_size("index", index, 0, len(self) - 1)]

    def _subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for ``0 <= start < end <= len(self)``."""
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            return self._levels[n.bit_length() - 1][start // n]
        k = _split(n)
        return node_hash(self._subtree(start, start + k), self._subtree(start + k, end))

    def root(self, tree_size: int | None = None) -> bytes:
        """MTH of the first ``tree_size`` leaves (default: all of them)."""
        size = len(self) if tree_size is None else _check_size("tree_size", tree_size, 0, len(self))
        return EMPTY_ROOT if size == 0 else self._subtree(0, size)

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> list[bytes]:
        """RFC 9162 ``PATH(index, D[tree_size])``: the audit path of one leaf."""
        size = len(self) if tree_size is None else _check_size("tree_size", tree_size, 1, len(self))
        index = _check_size("index", index, 0, size - 1)
        proof: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                proof.append(self._subtree(start + k, end))
                end = start + k
            else:
                proof.append(self._subtree(start, start + k))
                start += k
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, tree_size: int | None = None) -> list[bytes]:
        """RFC 9162 ``PROOF(old_size, D[tree_size])``; empty when the sizes are equal or 0."""
        size = len(self) if tree_size is None else _check_size("tree_size", tree_size, 0, len(self))
        old_size = _check_size("old_size", old_size, 0, size)
        if old_size in (0, size):
            return []
        # SUBPROOF(m, D[start:end], b), unrolled: each step goes down one level.
        proof: list[bytes] = []
        start, end, complete = 0, size, True
        m = old_size
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                proof.append(self._subtree(start + k, end))
                end = start + k
            else:
                proof.append(self._subtree(start, start + k))
                start += k
                m -= k
                complete = False
        if not complete:
            proof.append(self._subtree(start, end))
        proof.reverse()
        return proof


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over a list of leaf hashes (RFC 9162 section 2.1.1)."""
    return MerkleTree(leaf_hashes).root()


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """The inclusion proof of leaf ``index`` in the tree of all ``leaf_hashes``."""
    return MerkleTree(leaf_hashes).inclusion_proof(index)


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """The consistency proof from the first ``old_size`` leaves to all ``leaf_hashes``."""
    return MerkleTree(leaf_hashes).consistency_proof(old_size)


class CompactRange:
    """The right frontier of a tree: enough to append leaves and compute the root.

    ``frontier`` holds the roots of the complete subtrees the size decomposes into, largest
    first (one per set bit of ``size``). A monitor or a server that only needs new roots
    keeps this (at most 53 hashes) instead of every leaf.
    """

    __slots__ = ("_frontier", "_size")

    def __init__(self, size: int = 0, frontier: Sequence[bytes] = ()) -> None:
        size = _check_size("size", size, 0, MAX_TREE_SIZE)
        hashes = [_check_hash("frontier hash", value) for value in frontier]
        if len(hashes) != size.bit_count():
            raise ValueError("the frontier must hold one hash per set bit of the size")
        self._size = size
        self._frontier = hashes

    @property
    def size(self) -> int:
        return self._size

    @property
    def frontier(self) -> tuple[bytes, ...]:
        return tuple(self._frontier)

    def append(self, value: bytes) -> None:
        """Add one leaf hash: O(log n), merging the equal-sized subtrees it completes."""
        value = _check_hash("leaf hash", value)
        if self._size >= MAX_TREE_SIZE:
            raise ValueError("the tree is full")
        size = self._size
        while size & 1:
            value = node_hash(self._frontier.pop(), value)
            size >>= 1
        self._frontier.append(value)
        self._size += 1

    def root(self) -> bytes:
        """MTH of the leaves appended so far: the frontier folded from the right."""
        if not self._frontier:
            return EMPTY_ROOT
        value = self._frontier[-1]
        for left in reversed(self._frontier[:-1]):
            value = node_hash(left, value)
        return value


def _proof_hashes(proof: object) -> list[bytes] | None:
    """The proof as a list of 32-byte hashes, or None if it is not one."""
    if not isinstance(proof, list | tuple) or len(proof) > MAX_PROOF_LENGTH:
        return None
    if not all(isinstance(h, bytes) and len(h) == HASH_LENGTH for h in proof):
        return None
    return list(proof)


def _in_range(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_LENGTH


def _root_from_path(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes | None:
    """RFC 9162 section 2.1.3.2 steps 2-5; None when the path has the wrong length."""
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(
    *, leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``tree_size`` with ``root``.

    RFC 9162 section 2.1.3.2. Everything is the server's word, so anything wrong (index not
    below the size, a proof of the wrong length or with an element that is not 32 bytes, a
    different root) raises :class:`InclusionProofError`.
    """
    path = _proof_hashes(proof)
    if (
        path is None
        or not _is_hash(leaf_hash)
        or not _is_hash(root)
        or not _in_range(tree_size, 1, MAX_TREE_SIZE)
        or not _in_range(index, 0, tree_size - 1)
    ):
        raise InclusionProofError
    computed = _root_from_path(index, tree_size, leaf_hash, path)
    if computed is None or not hmac.compare_digest(computed, root):
        raise InclusionProofError


def _roots_from_consistency(
    old_size: int, new_size: int, old_root: bytes, path: list[bytes]
) -> tuple[bytes, bytes] | None:
    """RFC 9162 section 2.1.4.2 steps 2-7 for ``0 < old_size < new_size``."""
    if not path:
        return None
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is a node
        path = [old_root, *path]
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return (fr, sr) if sn == 0 else None


def verify_consistency(
    *,
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> None:
    """Check that the tree (``new_size``, ``new_root``) extends (``old_size``, ``old_root``).

    RFC 9162 section 2.1.4.2 for ``0 < old_size < new_size``. Equal sizes need an empty
    proof and equal roots; ``old_size`` 0 needs an empty proof and ``old_root`` equal to
    :data:`EMPTY_ROOT` (stricter than the RFC, which leaves the empty tree unconstrained:
    an empty tree has exactly one root). A smaller ``new_size`` is refused. Any failure
    raises :class:`ConsistencyProofError`.
    """
    path = _proof_hashes(proof)
    if (
        path is None
        or not _is_hash(old_root)
        or not _is_hash(new_root)
        or not _in_range(new_size, 0, MAX_TREE_SIZE)
        or not _in_range(old_size, 0, new_size)
    ):
        raise ConsistencyProofError
    if old_size == 0:
        ok = not path and hmac.compare_digest(old_root, EMPTY_ROOT)
    elif old_size == new_size:
        ok = not path and hmac.compare_digest(old_root, new_root)
    else:
        roots = _roots_from_consistency(old_size, new_size, old_root, path)
        ok = (
            roots is not None
            and hmac.compare_digest(roots[0], old_root)
            and hmac.compare_digest(roots[1], new_root)
        )
    if not ok:
        raise ConsistencyProofError
