"""The transparency log's Merkle tree (crypto/merkle.py) against RFC 9162 section 2.1.

Three independent checks: the published reference data of transparency-dev/merkle
(``tests/vectors/merkle_rfc9162.json``), a straightforward recursive transcription of the
RFC's definitions written here (MTH, PATH, PROOF), and every proof of every small tree
verified, then corrupted and refused.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import merkle
from crypto.errors import ConsistencyProofError, InclusionProofError

REFERENCE: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent.parent / "vectors" / "merkle_rfc9162.json").read_text()
)


def h(value: str) -> bytes:
    return bytes.fromhex(value)


# --- the RFC's definitions, transcribed recursively (independent of crypto/merkle.py) -----


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(data: list[bytes]) -> bytes:
    if not data:
        return hashlib.sha256(b"").digest()
    if len(data) == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = _k(len(data))
    return hashlib.sha256(b"\x01" + mth(data[:k]) + mth(data[k:])).digest()


def path(m: int, data: list[bytes]) -> list[bytes]:
    if len(data) == 1:
        return []
    k = _k(len(data))
    if m < k:
        return [*path(m, data[:k]), mth(data[k:])]
    return [*path(m - k, data[k:]), mth(data[:k])]


def subproof(m: int, data: list[bytes], b: bool) -> list[bytes]:
    n = len(data)
    if m == n:
        return [] if b else [mth(data)]
    k = _k(n)
    if m <= k:
        return [*subproof(m, data[:k], b), mth(data[k:])]
    return [*subproof(m - k, data[k:], False), mth(data[:k])]


def entries(n: int) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(n)]


def tree(n: int) -> merkle.MerkleTree:
    return merkle.MerkleTree(merkle.leaf_hash(e) for e in entries(n))


# --- published reference data -------------------------------------------------------------


def test_reference_hasher() -> None:
    assert merkle.EMPTY_ROOT == h(REFERENCE["empty_root"]) == merkle.MerkleTree().root()
    for case in REFERENCE["hasher"]:
        if "leaf" in case:
            assert merkle.leaf_hash(h(case["leaf"])) == h(case["hash"])
        else:
            assert merkle.node_hash(h(case["left"]), h(case["right"])) == h(case["hash"])


def test_reference_roots() -> None:
    leaves = [merkle.leaf_hash(h(x)) for x in REFERENCE["leaves"]]
    for size, root in enumerate(REFERENCE["roots"], start=1):
        assert merkle.root_hash(leaves[:size]) == h(root)
        assert mth([h(x) for x in REFERENCE["leaves"][:size]]) == h(root)
        compact = merkle.CompactRange()
        for leaf in leaves[:size]:
            compact.append(leaf)
        assert compact.root() == h(root)


@pytest.mark.parametrize(
    "case", REFERENCE["inclusion"], ids=lambda c: f"{c['leaf_index']}/{c['tree_size']}"
)
def test_reference_inclusion(case: dict[str, Any]) -> None:
    leaves = [merkle.leaf_hash(h(x)) for x in REFERENCE["leaves"]]
    index, size = case["leaf_index"], case["tree_size"]
    proof = [h(x) for x in case["proof"]]
    assert merkle.inclusion_proof(leaves[:size], index) == proof
    root = h(REFERENCE["roots"][size - 1])
    merkle.verify_inclusion(
        leaf_hash=leaves[index], index=index, tree_size=size, proof=proof, root=root
    )
    for probe in inclusion_probes(leaves[index], index, size, proof, root):
        with pytest.raises(InclusionProofError):
            merkle.verify_inclusion(**probe)


@pytest.mark.parametrize(
    "case", REFERENCE["consistency"], ids=lambda c: f"{c['old_size']}/{c['new_size']}"
)
def test_reference_consistency(case: dict[str, Any]) -> None:
    leaves = [merkle.leaf_hash(h(x)) for x in REFERENCE["leaves"]]
    old, new = case["old_size"], case["new_size"]
    proof = [h(x) for x in case["proof"]]
    assert merkle.consistency_proof(leaves[:new], old) == proof
    old_root, new_root = h(REFERENCE["roots"][old - 1]), h(REFERENCE["roots"][new - 1])
    merkle.verify_consistency(
        old_size=old, new_size=new, old_root=old_root, new_root=new_root, proof=proof
    )
    if proof:
        for probe in consistency_probes(old, new, old_root, new_root, proof):
            with pytest.raises(ConsistencyProofError):
                merkle.verify_consistency(**probe)


# --- corruptions (after transparency-dev/merkle's probes) ---------------------------------

SOME_HASH = hashlib.sha256(b"some other hash").digest()


def inclusion_probes(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> list[dict[str, Any]]:
    base = {"leaf_hash": leaf, "index": index, "tree_size": size, "proof": proof, "root": root}
    probes = [
        {**base, "index": index - 1},
        {**base, "index": index + 1},
        {**base, "index": index ^ 2},
        {**base, "tree_size": size * 2},
        {**base, "tree_size": size // 2},
        {**base, "leaf_hash": SOME_HASH},
        {**base, "root": merkle.EMPTY_ROOT},
        {**base, "root": SOME_HASH},
        {**base, "proof": [*proof, root]},
        {**base, "proof": [root, *proof]},
        {**base, "proof": [*proof, b""]},
        {**base, "leaf_hash": leaf[:31]},
        {**base, "root": root + b"\x00"},
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 8]) + wrong[i][1:]
        probes.append({**base, "proof": wrong})
    if proof:
        probes.append({**base, "proof": proof[:-1]})
    if len(proof) > 1:
        probes.append({**base, "proof": [proof[0], SOME_HASH, *proof[1:]]})
    return probes


def consistency_probes(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> list[dict[str, Any]]:
    base = {
        "old_size": old,
        "new_size": new,
        "old_root": old_root,
        "new_root": new_root,
        "proof": proof,
    }
    probes = [
        {**base, "old_size": old - 1},
        {**base, "old_size": old + 1},
        {**base, "old_size": old ^ 2},
        {**base, "new_size": new * 2},
        {**base, "new_size": new // 2},
        {**base, "old_root": SOME_HASH},
        {**base, "new_root": SOME_HASH},
        {**base, "old_root": new_root, "new_root": old_root},
        {**base, "proof": []},
        {**base, "proof": [*proof, old_root]},
        {**base, "proof": [*proof, new_root]},
        {**base, "proof": [old_root, *proof]},
        {**base, "proof": [new_root, *proof]},
        {**base, "proof": [proof[0], *proof]},
        {**base, "proof": proof[:-1]},
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 16]) + wrong[i][1:]
        probes.append({**base, "proof": wrong})
    return probes


# --- every proof of every small tree -------------------------------------------------------


@pytest.mark.parametrize("n", range(71))
def test_roots_of_sizes_0_to_70(n: int) -> None:
    data = entries(n)
    expected = mth(data)
    full = tree(n)
    assert full.root() == expected == merkle.root_hash([merkle.leaf_hash(e) for e in data])
    compact = merkle.CompactRange()
    for i, e in enumerate(data):
        assert compact.size == i
        compact.append(merkle.leaf_hash(e))
    assert compact.root() == expected
    assert len(compact.frontier) == n.bit_count()
    # A range restored from its stored frontier continues identically.
    restored = merkle.CompactRange(compact.size, compact.frontier)
    restored.append(merkle.leaf_hash(b"next"))
    assert restored.root() == mth([*data, b"next"])


def test_every_proof_up_to_size_33() -> None:
    big = tree(33)
    data = entries(33)
    for n in range(1, 34):
        root = mth(data[:n])
        assert big.root(n) == root
        for m in range(n):
            proof = big.inclusion_proof(m, n)
            assert proof == path(m, data[:n])
            merkle.verify_inclusion(
                leaf_hash=big.leaf(m), index=m, tree_size=n, proof=proof, root=root
            )
        for m in range(0, n + 1):
            proof = big.consistency_proof(m, n)
            assert proof == ([] if m in (0, n) else subproof(m, data[:n], True))
            merkle.verify_consistency(
                old_size=m, new_size=n, old_root=mth(data[:m]), new_root=root, proof=proof
            )


def test_corrupted_proofs_of_small_trees_are_refused() -> None:
    big = tree(20)
    for n in range(1, 21):
        root = big.root(n)
        for m in range(n):
            proof = big.inclusion_proof(m, n)
            for probe in inclusion_probes(big.leaf(m), m, n, proof, root):
                with pytest.raises(InclusionProofError):
                    merkle.verify_inclusion(**probe)
        for m in range(1, n):
            proof = big.consistency_proof(m, n)
            for probe in consistency_probes(m, n, big.root(m), root, proof):
                with pytest.raises(ConsistencyProofError):
                    merkle.verify_consistency(**probe)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.data())
def test_proofs_of_larger_trees(n: int, data: st.DataObject) -> None:
    t = tree(n)
    m = data.draw(st.integers(0, n - 1))
    merkle.verify_inclusion(
        leaf_hash=t.leaf(m), index=m, tree_size=n, proof=t.inclusion_proof(m), root=t.root()
    )
    old = data.draw(st.integers(0, n))
    merkle.verify_consistency(
        old_size=old,
        new_size=n,
        old_root=t.root(old),
        new_root=t.root(),
        proof=t.consistency_proof(old),
    )
    assert len(t.inclusion_proof(m)) <= n.bit_length()
    assert len(t.consistency_proof(old)) <= n.bit_length() + 1


def test_module_functions_match_the_tree() -> None:
    leaves = [merkle.leaf_hash(e) for e in entries(11)]
    t = merkle.MerkleTree()
    for i, leaf in enumerate(leaves):
        assert t.append(leaf) == i
    assert t.append_entry(b"x") == 11
    assert len(t) == 12
    assert merkle.inclusion_proof(leaves, 4) == t.inclusion_proof(4, 11)
    assert merkle.consistency_proof(leaves, 5) == t.consistency_proof(5, 11)


# --- edge cases of verification ------------------------------------------------------------


def test_inclusion_edge_cases() -> None:
    leaf = merkle.leaf_hash(b"data")
    merkle.verify_inclusion(leaf_hash=leaf, index=0, tree_size=1, proof=[], root=leaf)
    for probe in [
        {"index": 0, "tree_size": 0},
        {"index": 1, "tree_size": 1},
        {"index": -1, "tree_size": 1},
        {"index": 0, "tree_size": merkle.MAX_TREE_SIZE + 1},
        {"index": True, "tree_size": 2},
        {"index": 0, "tree_size": 1.0},
    ]:
        with pytest.raises(InclusionProofError):
            merkle.verify_inclusion(leaf_hash=leaf, proof=[], root=leaf, **probe)  # type: ignore[arg-type]
    for proof in [None, b"", [leaf] * (merkle.MAX_PROOF_LENGTH + 1), ["x" * 32]]:
        with pytest.raises(InclusionProofError):
            merkle.verify_inclusion(leaf_hash=leaf, index=0, tree_size=2, proof=proof, root=leaf)  # type: ignore[arg-type]
    with pytest.raises(InclusionProofError):
        merkle.verify_inclusion(leaf_hash="x" * 32, index=0, tree_size=1, proof=[], root=leaf)  # type: ignore[arg-type]


def test_a_path_longer_than_the_tree_is_refused() -> None:
    # The last leaf of a tree whose size is not a power of two: the loop reaches sn == 0
    # with hashes left over.
    t = tree(5)
    proof = t.inclusion_proof(4)
    with pytest.raises(InclusionProofError):
        merkle.verify_inclusion(
            leaf_hash=t.leaf(4), index=4, tree_size=5, proof=[*proof, SOME_HASH], root=t.root()
        )


def test_consistency_edge_cases() -> None:
    empty, other = merkle.EMPTY_ROOT, SOME_HASH
    merkle.verify_consistency(old_size=0, new_size=0, old_root=empty, new_root=empty, proof=[])
    merkle.verify_consistency(old_size=0, new_size=3, old_root=empty, new_root=other, proof=[])
    merkle.verify_consistency(old_size=2, new_size=2, old_root=other, new_root=other, proof=[])
    bad: list[dict[str, Any]] = [
        {"old_size": 0, "new_size": 3, "old_root": other, "new_root": other, "proof": []},
        {"old_size": 0, "new_size": 3, "old_root": empty, "new_root": other, "proof": [empty]},
        {"old_size": 2, "new_size": 2, "old_root": other, "new_root": empty, "proof": []},
        {"old_size": 2, "new_size": 2, "old_root": other, "new_root": other, "proof": [empty]},
        {"old_size": 3, "new_size": 2, "old_root": other, "new_root": other, "proof": []},
        {"old_size": 1, "new_size": 2, "old_root": other, "new_root": other, "proof": []},
        {"old_size": -1, "new_size": 2, "old_root": other, "new_root": other, "proof": []},
        {"old_size": 0, "new_size": 2**53, "old_root": empty, "new_root": other, "proof": []},
        {"old_size": 0, "new_size": 1, "old_root": empty[:5], "new_root": other, "proof": []},
        {"old_size": 0, "new_size": 1, "old_root": empty, "new_root": None, "proof": []},
        {"old_size": 0, "new_size": 1, "old_root": empty, "new_root": other, "proof": "ab"},
    ]
    for probe in bad:
        with pytest.raises(ConsistencyProofError):
            merkle.verify_consistency(**probe)


def test_consistency_proof_that_runs_out_of_tree() -> None:
    t = tree(6)
    proof = t.consistency_proof(3)
    with pytest.raises(ConsistencyProofError):
        merkle.verify_consistency(
            old_size=3, new_size=6, old_root=t.root(3), new_root=t.root(), proof=[*proof, SOME_HASH]
        )


# --- misuse by the server's own code -------------------------------------------------------


def test_misuse_raises_type_and_value_errors() -> None:
    t = tree(4)
    with pytest.raises(TypeError):
        merkle.leaf_hash("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        t.append("x" * 32)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="32 bytes"):
        t.append(b"short")
    with pytest.raises(ValueError):
        t.root(5)
    with pytest.raises(ValueError):
        t.inclusion_proof(4)
    with pytest.raises(ValueError):
        t.inclusion_proof(0, 0)
    with pytest.raises(ValueError):
        t.consistency_proof(5)
    with pytest.raises(TypeError):
        t.leaf(True)
    with pytest.raises(ValueError):
        merkle.CompactRange(3, [SOME_HASH])
    with pytest.raises(ValueError):
        merkle.CompactRange(-1, [])
    assert t.root(0) == merkle.EMPTY_ROOT
    assert t.consistency_proof(0, 0) == []


def test_full_trees_refuse_another_leaf(monkeypatch: pytest.MonkeyPatch) -> None:
    full = merkle.CompactRange(merkle.MAX_TREE_SIZE, [SOME_HASH] * merkle.MAX_TREE_SIZE.bit_count())
    with pytest.raises(ValueError, match="full"):
        full.append(SOME_HASH)
    monkeypatch.setattr(merkle, "MAX_TREE_SIZE", 2)
    small = merkle.MerkleTree([SOME_HASH, SOME_HASH])
    with pytest.raises(ValueError, match="full"):
        small.append(SOME_HASH)
