/**
 * The transparency log's Merkle tree (src/crypto/merkle.ts) against RFC 9162 section 2.1:
 * the published reference data of transparency-dev/merkle (tests/vectors/merkle_rfc9162.json,
 * the same file crypto/merkle.py is tested with), a recursive transcription of the RFC's
 * definitions written here (MTH, PATH, PROOF) for every proof of every small tree, and the
 * corruptions of transparency-dev/merkle's tests, each refused with the operation's one error.
 */
import { describe, expect, it } from "vitest";
import { concat, fromHex, toHex, utf8 } from "../../src/crypto/bytes";
import { ConsistencyProofError, InclusionProofError } from "../../src/crypto/errors";
import {
  type ConsistencyParams,
  EMPTY_ROOT,
  type InclusionParams,
  MAX_PROOF_LENGTH,
  MAX_TREE_SIZE,
  leafHash,
  nodeHash,
  rootHash,
  verifyConsistency,
  verifyInclusion,
} from "../../src/crypto/merkle";
import { sha256 } from "../../src/crypto/primitives/kdf";
import { loadVectors } from "../helpers/vectors";

interface Reference {
  empty_root: string;
  hasher: { leaf?: string; left?: string; right?: string; hash: string }[];
  leaves: string[];
  roots: string[];
  inclusion: { leaf_index: number; tree_size: number; proof: string[] }[];
  consistency: { old_size: number; new_size: number; proof: string[] }[];
}

const REF = await loadVectors<Reference>("merkle_rfc9162.json");
const SOME_HASH = await sha256(utf8.encode("some other hash"));

async function errorOf(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
    return "ok";
  } catch (e) {
    return (e as Error).name;
  }
}

// --- the RFC's definitions, transcribed recursively (independent of merkle.ts) ------------

const k = (n: number): number => {
  let v = 1;
  while (v * 2 < n) v *= 2;
  return v;
};

async function mth(data: Uint8Array[]): Promise<Uint8Array> {
  if (data.length === 0) return sha256(new Uint8Array(0));
  if (data.length === 1) return sha256(concat(new Uint8Array([0]), data[0]!));
  const s = k(data.length);
  return sha256(concat(new Uint8Array([1]), await mth(data.slice(0, s)), await mth(data.slice(s))));
}

async function path(m: number, data: Uint8Array[]): Promise<Uint8Array[]> {
  if (data.length === 1) return [];
  const s = k(data.length);
  if (m < s) return [...(await path(m, data.slice(0, s))), await mth(data.slice(s))];
  return [...(await path(m - s, data.slice(s))), await mth(data.slice(0, s))];
}

async function subproof(m: number, data: Uint8Array[], b: boolean): Promise<Uint8Array[]> {
  const n = data.length;
  if (m === n) return b ? [] : [await mth(data)];
  const s = k(n);
  if (m <= s) return [...(await subproof(m, data.slice(0, s), b)), await mth(data.slice(s))];
  return [...(await subproof(m - s, data.slice(s), false)), await mth(data.slice(0, s))];
}

const entries = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => utf8.encode(`entry ${i}`));

// --- corruptions (after transparency-dev/merkle's probes, as tests/crypto/test_merkle.py) --

const flip = (h: Uint8Array, bit: number): Uint8Array => {
  const out = h.slice();
  out[0]! ^= bit;
  return out;
};

function inclusionProbes(base: InclusionParams): InclusionParams[] {
  const { index, treeSize: size, proof, root, leafHash: leaf } = base;
  const probes: InclusionParams[] = [
    { ...base, index: index - 1 },
    { ...base, index: index + 1 },
    { ...base, index: index ^ 2 },
    { ...base, treeSize: size * 2 },
    { ...base, treeSize: Math.floor(size / 2) },
    { ...base, leafHash: SOME_HASH },
    { ...base, root: EMPTY_ROOT },
    { ...base, root: SOME_HASH },
    { ...base, proof: [...proof, root] },
    { ...base, proof: [root, ...proof] },
    { ...base, proof: [...proof, new Uint8Array(0)] },
    { ...base, leafHash: leaf.slice(0, 31) },
    { ...base, root: concat(root, new Uint8Array(1)) },
  ];
  proof.forEach((_, i) => probes.push({ ...base, proof: proof.map((h, j) => (j === i ? flip(h, 8) : h)) }));
  if (proof.length > 0) probes.push({ ...base, proof: proof.slice(0, -1) });
  if (proof.length > 1) probes.push({ ...base, proof: [proof[0]!, SOME_HASH, ...proof.slice(1)] });
  return probes;
}

function consistencyProbes(base: ConsistencyParams): ConsistencyParams[] {
  const { oldSize: old, newSize: nw, oldRoot, newRoot, proof } = base;
  const probes: ConsistencyParams[] = [
    { ...base, oldSize: old - 1 },
    { ...base, oldSize: old + 1 },
    { ...base, oldSize: old ^ 2 },
    { ...base, newSize: nw * 2 },
    { ...base, newSize: Math.floor(nw / 2) },
    { ...base, oldRoot: SOME_HASH },
    { ...base, newRoot: SOME_HASH },
    { ...base, oldRoot: newRoot, newRoot: oldRoot },
    { ...base, proof: [] },
    { ...base, proof: [...proof, oldRoot] },
    { ...base, proof: [...proof, newRoot] },
    { ...base, proof: [oldRoot, ...proof] },
    { ...base, proof: [newRoot, ...proof] },
    { ...base, proof: [proof[0]!, ...proof] },
    { ...base, proof: proof.slice(0, -1) },
  ];
  proof.forEach((_, i) => probes.push({ ...base, proof: proof.map((h, j) => (j === i ? flip(h, 16) : h)) }));
  return probes;
}

async function expectAllRefused<P>(probes: P[], verify: (p: P) => Promise<void>, error: string) {
  for (const probe of probes) expect(await errorOf(() => verify(probe))).toBe(error);
}

// --- published reference data -------------------------------------------------------------

describe("merkle_rfc9162.json (transparency-dev/merkle reference data)", async () => {
  const leaves = await Promise.all(REF.leaves.map((x) => leafHash(fromHex(x))));

  it("hasher known answers and the empty root", async () => {
    expect(toHex(EMPTY_ROOT)).toBe(REF.empty_root);
    expect(toHex(await rootHash([]))).toBe(REF.empty_root);
    expect(REF.hasher.length).toBe(3);
    for (const c of REF.hasher) {
      const got =
        c.leaf !== undefined ? await leafHash(fromHex(c.leaf)) : await nodeHash(fromHex(c.left!), fromHex(c.right!));
      expect(toHex(got)).toBe(c.hash);
    }
  });

  it("roots of the trees of 1..8 leaves", async () => {
    expect(REF.roots.length).toBe(8);
    for (let size = 1; size <= REF.roots.length; size++) {
      expect(toHex(await rootHash(leaves.slice(0, size)))).toBe(REF.roots[size - 1]);
      expect(toHex(await mth(REF.leaves.slice(0, size).map(fromHex)))).toBe(REF.roots[size - 1]);
    }
  });

  it.each(REF.inclusion.map((c) => [`${c.leaf_index}/${c.tree_size}`, c] as const))(
    "inclusion %s",
    async (_id, c) => {
      const proof = c.proof.map(fromHex);
      const base = {
        leafHash: leaves[c.leaf_index]!,
        index: c.leaf_index,
        treeSize: c.tree_size,
        proof,
        root: fromHex(REF.roots[c.tree_size - 1]!),
      };
      expect((await path(c.leaf_index, REF.leaves.slice(0, c.tree_size).map(fromHex))).map(toHex)).toEqual(c.proof);
      await verifyInclusion(base);
      await expectAllRefused(inclusionProbes(base), verifyInclusion, InclusionProofError.name);
    },
  );

  it.each(REF.consistency.map((c) => [`${c.old_size}/${c.new_size}`, c] as const))(
    "consistency %s",
    async (_id, c) => {
      const proof = c.proof.map(fromHex);
      const base = {
        oldSize: c.old_size,
        newSize: c.new_size,
        oldRoot: fromHex(REF.roots[c.old_size - 1]!),
        newRoot: fromHex(REF.roots[c.new_size - 1]!),
        proof,
      };
      await verifyConsistency(base);
      if (proof.length > 0) {
        await expectAllRefused(consistencyProbes(base), verifyConsistency, ConsistencyProofError.name);
      }
    },
  );
});

// --- every proof of every small tree -------------------------------------------------------

describe("small trees", () => {
  it("rootHash equals the RFC's MTH for sizes 0..40", async () => {
    const data = entries(40);
    const hashes = await Promise.all(data.map(leafHash));
    for (let n = 0; n <= 40; n++) {
      expect(toHex(await rootHash(hashes.slice(0, n)))).toBe(toHex(await mth(data.slice(0, n))));
    }
  });

  it("every inclusion and consistency proof up to size 17 verifies; every corruption is refused", async () => {
    const data = entries(17);
    const hashes = await Promise.all(data.map(leafHash));
    const roots = [await mth([])];
    for (let n = 1; n <= 17; n++) roots.push(await mth(data.slice(0, n)));
    for (let n = 1; n <= 17; n++) {
      for (let m = 0; m < n; m++) {
        const base = { leafHash: hashes[m]!, index: m, treeSize: n, proof: await path(m, data.slice(0, n)), root: roots[n]! };
        await verifyInclusion(base);
        await expectAllRefused(inclusionProbes(base), verifyInclusion, InclusionProofError.name);
      }
      for (let m = 0; m <= n; m++) {
        const proof = m === 0 || m === n ? [] : await subproof(m, data.slice(0, n), true);
        const base = { oldSize: m, newSize: n, oldRoot: roots[m]!, newRoot: roots[n]!, proof };
        await verifyConsistency(base);
        if (m > 0 && m < n) {
          await expectAllRefused(consistencyProbes(base), verifyConsistency, ConsistencyProofError.name);
        }
      }
    }
  });

  it("a path longer than the tree is refused", async () => {
    const data = entries(5);
    const proof = await path(4, data);
    const leaf = await leafHash(data[4]!);
    const root = await mth(data);
    await verifyInclusion({ leafHash: leaf, index: 4, treeSize: 5, proof, root });
    expect(
      await errorOf(() => verifyInclusion({ leafHash: leaf, index: 4, treeSize: 5, proof: [...proof, SOME_HASH], root })),
    ).toBe(InclusionProofError.name);
  });

  it("a consistency proof that runs out of tree is refused", async () => {
    const data = entries(6);
    const proof = await subproof(3, data, true);
    const base = { oldSize: 3, newSize: 6, oldRoot: await mth(data.slice(0, 3)), newRoot: await mth(data), proof };
    await verifyConsistency(base);
    expect(await errorOf(() => verifyConsistency({ ...base, proof: [...proof, SOME_HASH] }))).toBe(
      ConsistencyProofError.name,
    );
  });

  it("sizes near 2^53 are handled without 32-bit truncation", async () => {
    // The last leaf of a tree of 2^40 + 1 leaves: its path is the single root of the first
    // 2^40 leaves (any hash will do for the arithmetic); bitwise operators would truncate.
    const leaf = await leafHash(utf8.encode("last"));
    const size = 2 ** 40 + 1;
    const root = await nodeHash(SOME_HASH, leaf);
    await verifyInclusion({ leafHash: leaf, index: size - 1, treeSize: size, proof: [SOME_HASH], root });
    expect(
      await errorOf(() => verifyInclusion({ leafHash: leaf, index: 2 ** 32, treeSize: size, proof: [SOME_HASH], root })),
    ).toBe(InclusionProofError.name);
    // Consistency from 2^40 (a power of two, its root the first proof element) to 2^40 + 1.
    await verifyConsistency({ oldSize: 2 ** 40, newSize: size, oldRoot: SOME_HASH, newRoot: root, proof: [leaf] });
    expect(
      await errorOf(() =>
        verifyConsistency({ oldSize: 2 ** 40 + 2 ** 33, newSize: 2 ** 41, oldRoot: SOME_HASH, newRoot: root, proof: [leaf] }),
      ),
    ).toBe(ConsistencyProofError.name);
  });
});

// --- edge cases of verification ------------------------------------------------------------

describe("edge cases", () => {
  it("inclusion: sizes, indices and proofs of the wrong shape", async () => {
    const leaf = await leafHash(utf8.encode("data"));
    await verifyInclusion({ leafHash: leaf, index: 0, treeSize: 1, proof: [], root: leaf });
    const bad: Partial<InclusionParams>[] = [
      { index: 0, treeSize: 0 },
      { index: 1, treeSize: 1 },
      { index: -1, treeSize: 1 },
      { index: 0, treeSize: MAX_TREE_SIZE + 1 },
      { index: 0.5, treeSize: 2 },
      { index: true as unknown as number, treeSize: 2 },
      { index: 0, treeSize: 2, proof: null as unknown as Uint8Array[] },
      { index: 0, treeSize: 2, proof: new Uint8Array(32) as unknown as Uint8Array[] },
      { index: 0, treeSize: 2, proof: Array<Uint8Array>(MAX_PROOF_LENGTH + 1).fill(leaf) },
      { index: 0, treeSize: 2, proof: ["x".repeat(32) as unknown as Uint8Array] },
      { leafHash: "x".repeat(32) as unknown as Uint8Array },
    ];
    for (const probe of bad) {
      const p = { leafHash: leaf, index: 0, treeSize: 1, proof: [], root: leaf, ...probe };
      expect(await errorOf(() => verifyInclusion(p))).toBe(InclusionProofError.name);
    }
  });

  it("consistency: the empty tree, equal sizes, and shapes", async () => {
    const empty = EMPTY_ROOT;
    const other = SOME_HASH;
    await verifyConsistency({ oldSize: 0, newSize: 0, oldRoot: empty, newRoot: empty, proof: [] });
    await verifyConsistency({ oldSize: 0, newSize: 3, oldRoot: empty, newRoot: other, proof: [] });
    await verifyConsistency({ oldSize: 2, newSize: 2, oldRoot: other, newRoot: other, proof: [] });
    const bad: ConsistencyParams[] = [
      { oldSize: 0, newSize: 3, oldRoot: other, newRoot: other, proof: [] },
      { oldSize: 0, newSize: 3, oldRoot: empty, newRoot: other, proof: [empty] },
      { oldSize: 2, newSize: 2, oldRoot: other, newRoot: empty, proof: [] },
      { oldSize: 2, newSize: 2, oldRoot: other, newRoot: other, proof: [empty] },
      { oldSize: 3, newSize: 2, oldRoot: other, newRoot: other, proof: [] },
      { oldSize: 1, newSize: 2, oldRoot: other, newRoot: other, proof: [] },
      { oldSize: -1, newSize: 2, oldRoot: other, newRoot: other, proof: [] },
      { oldSize: 0, newSize: 2 ** 53, oldRoot: empty, newRoot: other, proof: [] },
      { oldSize: 0, newSize: 1, oldRoot: empty.slice(0, 5), newRoot: other, proof: [] },
      { oldSize: 0, newSize: 1, oldRoot: empty, newRoot: null as unknown as Uint8Array, proof: [] },
      { oldSize: 0, newSize: 1, oldRoot: empty, newRoot: other, proof: "ab" as unknown as Uint8Array[] },
    ];
    for (const probe of bad) {
      expect(await errorOf(() => verifyConsistency(probe))).toBe(ConsistencyProofError.name);
    }
  });

  it("misuse: a leaf hash of the wrong length in rootHash is a RangeError", async () => {
    await expect(rootHash([new Uint8Array(31)])).rejects.toThrow(RangeError);
    await expect(leafHash("x" as unknown as Uint8Array)).rejects.toThrow(TypeError);
  });
});
