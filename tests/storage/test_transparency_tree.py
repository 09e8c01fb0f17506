"""The tree over stored nodes (storage/transparency.py): what a root or proof reads is
O(log n) stored subtrees, and appends through the frontier build exactly the nodes of the
reference tree (docs/storage.md section 16)."""

from __future__ import annotations

import random

from crypto import merkle
from storage import transparency as tree


def test_reads_are_logarithmic() -> None:
    rnd = random.Random(7)
    for size in [1, 2, 3, 1000, 2**20, 2**20 + 1, 10**9 + 7, merkle.MAX_TREE_SIZE]:
        bound = 2 * size.bit_length() + 2
        assert len(tree.plan(root_size=size)) <= bound
        for _ in range(20):
            index = rnd.randrange(size)
            assert len(tree.plan(inclusions=([index], size))) <= bound
            old = rnd.randrange(size + 1)
            assert len(tree.plan(consistency=(old, size))) <= bound
        # every key names an aligned complete subtree inside the tree
        for level, idx in tree.plan(root_size=size, inclusions=([size - 1], size)):
            assert (idx + 1) << level <= size


def test_frontier_appends_store_the_reference_nodes() -> None:
    nodes: dict[tuple[int, int], bytes] = {}
    frontier: list[bytes] = []
    reference = merkle.MerkleTree()
    for n in range(300):
        entry = b"entry %d" % n
        for key, value in tree.append_nodes(n, frontier, entry):
            assert key not in nodes  # every node is written once
            nodes[key] = value
        reference.append_entry(entry)
        size = n + 1
        assert len(frontier) == size.bit_count()
        assert tree.decode_frontier(tree.encode_frontier(frontier), size) == frontier
        assert tree.root(nodes, size) == reference.root()
        if size in (1, 2, 7, 64, 255, 300):
            for i in range(0, size, max(1, size // 17)):
                assert tree.inclusion_proof(nodes, i, size) == reference.inclusion_proof(i, size)
            for old in range(0, size + 1, max(1, size // 13)):
                assert tree.consistency_proof(nodes, old, size) == reference.consistency_proof(
                    old, size
                )
    # amortised: about two stored nodes per entry
    assert len(nodes) < 2 * 300
