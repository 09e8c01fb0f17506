/**
 * The transparency log's Merkle tree, RFC 9162 section 2.1 with SHA-256; port of the
 * verifying half of crypto/merkle.py (docs/protocol.md section 18).
 *
 *     leaf hash   = SHA-256(0x00 || entry)
 *     node hash   = SHA-256(0x01 || left || right)
 *     MTH({})     = SHA-256("")
 *     MTH(D[n])   = node hash(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n
 *
 * The browser only verifies: `verifyInclusion` and `verifyConsistency` are the algorithms of
 * RFC 9162 sections 2.1.3.2 and 2.1.4.2. Everything they get comes from the server, so any
 * failure (a proof of the wrong length, an index out of range, a hash that is not 32 bytes, a
 * wrong root) throws the operation's one error, InclusionProofError or ConsistencyProofError.
 * `rootHash` (MTH over leaf hashes) is here for tests and for recomputing a small tree.
 *
 * Sizes and indices are JavaScript numbers limited to MAX_TREE_SIZE (2^53 - 1), as in Python.
 */
import { concat, equalBytes, requireBytes } from "./bytes";
import { ConsistencyProofError, InclusionProofError } from "./errors";
import { sha256 } from "./primitives/kdf";

export const HASH_LENGTH = 32;
/** Largest tree size (and so largest index + 1) accepted: 2^53 - 1. */
export const MAX_TREE_SIZE = Number.MAX_SAFE_INTEGER;
/** No proof for a tree of at most 2^53 - 1 leaves has more hashes than this. */
export const MAX_PROOF_LENGTH = 55;
/** SHA-256 of the empty string: the root of the empty tree. */
export const EMPTY_ROOT = new Uint8Array([
  0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
  0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);
const LEAF = new Uint8Array([0x00]);
const NODE = new Uint8Array([0x01]);

/** SHA-256(0x00 || entry): the hash of one log entry as a leaf. */
export async function leafHash(entry: Uint8Array): Promise<Uint8Array> {
  requireBytes("entry", entry);
  return sha256(concat(LEAF, entry));
}

/** SHA-256(0x01 || left || right): an interior node. */
export async function nodeHash(left: Uint8Array, right: Uint8Array): Promise<Uint8Array> {
  requireBytes("left", left);
  requireBytes("right", right);
  return sha256(concat(NODE, left, right));
}

function isHash(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array && v.length === HASH_LENGTH;
}

function inRange(v: unknown, low: number, high: number): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= low && v <= high;
}

function proofHashes(proof: unknown): Uint8Array[] | null {
  if (!Array.isArray(proof) || proof.length > MAX_PROOF_LENGTH) return null;
  return proof.every(isHash) ? [...(proof as Uint8Array[])] : null;
}

// Halving and parity on numbers up to 2^53 - 1: the bitwise operators are 32-bit, so use
// arithmetic (exact for safe integers).
const odd = (n: number): boolean => n % 2 === 1;
const half = (n: number): number => Math.floor(n / 2);

function isPowerOfTwo(n: number): boolean {
  let v = n;
  while (v > 1 && !odd(v)) v = half(v);
  return v === 1;
}

/**
 * MTH over a list of leaf hashes (RFC 9162 section 2.1.1), folding a right frontier as the
 * leaves arrive (one hash per set bit of the size), so memory stays O(log n).
 */
export async function rootHash(leafHashes: readonly Uint8Array[]): Promise<Uint8Array> {
  const frontier: Uint8Array[] = [];
  let size = 0;
  for (const leaf of leafHashes) {
    if (!isHash(leaf)) throw new RangeError("a leaf hash must be 32 bytes");
    let value = leaf;
    let s = size;
    while (odd(s)) {
      value = await nodeHash(frontier.pop()!, value);
      s = half(s);
    }
    frontier.push(value);
    size++;
  }
  if (frontier.length === 0) return EMPTY_ROOT.slice();
  let value = frontier[frontier.length - 1]!;
  for (let i = frontier.length - 2; i >= 0; i--) value = await nodeHash(frontier[i]!, value);
  return value;
}

/** RFC 9162 section 2.1.3.2 steps 2-5; null when the path has the wrong length. */
async function rootFromPath(index: number, size: number, leaf: Uint8Array, path: Uint8Array[]) {
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return null;
    if (odd(fn) || fn === sn) {
      r = await nodeHash(p, r);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? r : null;
}

export interface InclusionParams {
  leafHash: Uint8Array;
  index: number;
  treeSize: number;
  proof: readonly Uint8Array[];
  root: Uint8Array;
}

/**
 * Check that `leafHash` is leaf `index` of the tree of `treeSize` leaves whose root is `root`
 * (RFC 9162 section 2.1.3.2). InclusionProofError for anything wrong.
 */
export async function verifyInclusion(p: InclusionParams): Promise<void> {
  const path = proofHashes(p.proof);
  if (
    path === null ||
    !isHash(p.leafHash) ||
    !isHash(p.root) ||
    !inRange(p.treeSize, 1, MAX_TREE_SIZE) ||
    !inRange(p.index, 0, p.treeSize - 1)
  ) {
    throw new InclusionProofError();
  }
  const computed = await rootFromPath(p.index, p.treeSize, p.leafHash, path);
  if (computed === null || !equalBytes(computed, p.root)) throw new InclusionProofError();
}

/** RFC 9162 section 2.1.4.2 steps 2-7 for 0 < oldSize < newSize. */
async function rootsFromConsistency(
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  proof: Uint8Array[],
): Promise<[Uint8Array, Uint8Array] | null> {
  if (proof.length === 0) return null;
  // An exact power of two: the old tree is a complete subtree, its root a node of the new.
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : proof;
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return null;
    if (odd(fn) || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? [fr, sr] : null;
}

export interface ConsistencyParams {
  oldSize: number;
  newSize: number;
  oldRoot: Uint8Array;
  newRoot: Uint8Array;
  proof: readonly Uint8Array[];
}

/**
 * Check that the tree (newSize, newRoot) extends (oldSize, oldRoot): RFC 9162 section 2.1.4.2
 * for 0 < oldSize < newSize. Equal sizes need an empty proof and equal roots; oldSize 0 needs
 * an empty proof and oldRoot equal to EMPTY_ROOT (as crypto/merkle.py: the empty tree has one
 * root). A smaller newSize is refused. ConsistencyProofError for anything wrong.
 */
export async function verifyConsistency(p: ConsistencyParams): Promise<void> {
  const path = proofHashes(p.proof);
  if (
    path === null ||
    !isHash(p.oldRoot) ||
    !isHash(p.newRoot) ||
    !inRange(p.newSize, 0, MAX_TREE_SIZE) ||
    !inRange(p.oldSize, 0, p.newSize)
  ) {
    throw new ConsistencyProofError();
  }
  let ok: boolean;
  if (p.oldSize === 0) {
    ok = path.length === 0 && equalBytes(p.oldRoot, EMPTY_ROOT);
  } else if (p.oldSize === p.newSize) {
    ok = path.length === 0 && equalBytes(p.oldRoot, p.newRoot);
  } else {
    const roots = await rootsFromConsistency(p.oldSize, p.newSize, p.oldRoot, path);
    ok = roots !== null && equalBytes(roots[0], p.oldRoot) && equalBytes(roots[1], p.newRoot);
  }
  if (!ok) throw new ConsistencyProofError();
}
