/**
 * The transparency log port (merkle.ts, logEntry.ts, treeHead.ts) against EXACTLY the Python
 * reference vectors in tests/vectors/dermline/transparency_log.json (tools/gen_vectors.py): log
 * entries, MTH, inclusion and consistency proofs, signed tree heads (0x0d) and one head
 * extending another. Valid cases verify and give the recorded fields; invalid cases fail with
 * the operation's one opaque error. Runs in Node and in Chromium.
 */
import { describe, expect, it } from "vitest";
import { concat, fromHex, toHex, u64be } from "../../src/crypto/bytes";
import {
  ConsistencyProofError,
  InclusionProofError,
  LogEntryError,
  TreeHeadError,
  TreeHeadSignatureError,
} from "../../src/crypto/errors";
import { type LogEntry, parseLogEntry } from "../../src/crypto/logEntry";
import { leafHash, rootHash, verifyConsistency, verifyInclusion } from "../../src/crypto/merkle";
import { parseTreeHead, verifyEntryIncluded, verifyTreeHead, verifyTreeHeadExtends } from "../../src/crypto/treeHead";
import { label } from "../../src/crypto/wire";
import { rfc6979Signer } from "../helpers/rfc6979";
import { loadVectors } from "../helpers/vectors";

type T = Record<string, unknown> & { tcId: number; comment: string; result: "valid" | "invalid"; flags: string[] };
interface VFile {
  numberOfTests: number;
  testGroups: { type: string; tests: T[] }[];
}

const f = await loadVectors<VFile>("dermline/transparency_log.json");
const group = (type: string): T[] => f.testGroups.find((g) => g.type === type)?.tests ?? [];
const hx = (t: T, k: string) => fromHex(t[k] as string);
const hxs = (t: T, k: string) => (t[k] as string[]).map(fromHex);
const cases = (type: string) => group(type).map((t) => [t.tcId, t.comment, t] as const);

async function errorOf(fn: () => Promise<unknown> | unknown): Promise<string> {
  try {
    await fn();
    return "ok";
  } catch (e) {
    return (e as Error).name;
  }
}

/** The fields of a parsed entry in the vector file's shape. */
function entryFields(e: LogEntry): Record<string, unknown> {
  const common = { entry_type: e.entryType, appended_at_ms: e.appendedAtMs };
  switch (e.entryType) {
    case 1:
      return { ...common, statement: toHex(e.statement.record) };
    case 2:
      return {
        ...common,
        user_id: e.userId,
        org_id: e.orgId,
        role: e.role,
        signing_public_key: toHex(e.signingPublicKey),
        encryption_public_key: toHex(e.encryptionPublicKey),
      };
    case 3:
      return { ...common, user_id: e.userId, org_id: e.orgId, reason: e.reason, role: e.role ?? 0 };
  }
}

describe("transparency_log.json", () => {
  it("covers the file", () => {
    expect(f.testGroups.flatMap((g) => g.tests).length).toBe(f.numberOfTests);
    expect(f.testGroups.map((g) => g.type)).toEqual([
      "LogEntry",
      "MerkleRoot",
      "MerkleInclusion",
      "MerkleConsistency",
      "TreeHead",
      "TreeHeadExtends",
    ]);
    for (const g of f.testGroups) {
      expect(g.tests.some((t) => t.result === "valid")).toBe(true);
    }
  });

  it.each(cases("LogEntry"))("LogEntry tc %i %s", async (_i, _c, t) => {
    const entry = hx(t, "entry");
    if (t.result === "invalid") {
      expect(await errorOf(() => parseLogEntry(entry))).toBe(LogEntryError.name);
      return;
    }
    const parsed = await parseLogEntry(entry);
    const { tcId, comment, result, flags, entry: _e, leaf_hash, ...fields } = t;
    expect(entryFields(parsed)).toEqual(fields);
    expect(toHex(parsed.entry)).toBe(t.entry);
    expect(toHex(await leafHash(entry))).toBe(leaf_hash);
  });

  it.each(cases("MerkleRoot"))("MerkleRoot tc %i %s", async (_i, _c, t) => {
    expect(toHex(await rootHash(hxs(t, "leaf_hashes")))).toBe(t.root);
  });

  it.each(cases("MerkleInclusion"))("MerkleInclusion tc %i %s", async (_i, _c, t) => {
    const verify = () =>
      verifyInclusion({
        leafHash: hx(t, "leaf_hash"),
        index: t.index as number,
        treeSize: t.tree_size as number,
        proof: hxs(t, "proof"),
        root: hx(t, "root"),
      });
    expect(await errorOf(verify)).toBe(t.result === "valid" ? "ok" : InclusionProofError.name);
  });

  it.each(cases("MerkleConsistency"))("MerkleConsistency tc %i %s", async (_i, _c, t) => {
    const verify = () =>
      verifyConsistency({
        oldSize: t.old_size as number,
        newSize: t.new_size as number,
        oldRoot: hx(t, "old_root"),
        newRoot: hx(t, "new_root"),
        proof: hxs(t, "proof"),
      });
    expect(await errorOf(verify)).toBe(t.result === "valid" ? "ok" : ConsistencyProofError.name);
  });

  it.each(cases("TreeHead"))("TreeHead tc %i %s", async (_i, _c, t) => {
    const record = hx(t, "record");
    const key = hx(t, "log_public_key");
    expect(await errorOf(() => parseTreeHead(record))).toBe(t.parses ? "ok" : TreeHeadError.name);
    expect(await errorOf(() => verifyTreeHead(record, key))).toBe(
      t.signature_verifies ? "ok" : TreeHeadSignatureError.name,
    );
    expect(t.result === "valid").toBe(t.signature_verifies);
    if (t.result === "valid") {
      const head = await verifyTreeHead(record, key);
      expect({
        tree_size: head.treeSize,
        timestamp_ms: head.timestampMs,
        root_hash: toHex(head.rootHash),
        log_key_id: toHex(head.logKeyId),
      }).toEqual({
        tree_size: t.tree_size,
        timestamp_ms: t.timestamp_ms,
        root_hash: t.root_hash,
        log_key_id: t.log_key_id,
      });
      expect(toHex(head.record)).toBe(t.record);
      // The browser never signs a tree head (the server does); rebuilding the record from its
      // fields with an RFC 6979 signer (as pyca signs) checks the layout and the signed bytes.
      const signed = concat(
        new Uint8Array([1, 1, 0x0d]),
        u64be(BigInt(head.treeSize)),
        u64be(BigInt(head.timestampMs)),
        head.rootHash,
        head.logKeyId,
      );
      const signature = await rfc6979Signer(hx(t, "log_private_key"))(concat(label("sig/tree-head", true), signed));
      expect(toHex(concat(signed, signature))).toBe(t.record);
    }
  });

  it.each(cases("TreeHeadExtends"))("TreeHeadExtends tc %i %s", async (_i, _c, t) => {
    const old = parseTreeHead(hx(t, "old_head"));
    const next = parseTreeHead(hx(t, "new_head"));
    expect(await errorOf(() => verifyTreeHeadExtends(old, next, hxs(t, "proof")))).toBe(
      t.result === "valid" ? "ok" : ConsistencyProofError.name,
    );
  });

  it("every logged entry is included in the signed head of the whole log", async () => {
    // The valid entries, in order, are the log; the valid tree head of that size names its root.
    const entries = group("LogEntry").filter((t) => t.result === "valid").map((t) => hx(t, "entry"));
    const heads = group("TreeHead").filter((t) => t.result === "valid" && t.tree_size === entries.length);
    expect(heads.length).toBeGreaterThan(0);
    const head = await verifyTreeHead(hx(heads[0]!, "record"), hx(heads[0]!, "log_public_key"));
    const leaves = await Promise.all(entries.map(leafHash));
    expect(toHex(await rootHash(leaves))).toBe(toHex(head.rootHash));
    const inclusions = group("MerkleInclusion").filter((t) => t.result === "valid" && t.tree_size === entries.length);
    expect(inclusions.length).toBeGreaterThan(0);
    for (const inc of inclusions) {
      const index = inc.index as number;
      await verifyEntryIncluded(entries[index]!, { index, treeHead: head, proof: hxs(inc, "proof") });
      expect(
        await errorOf(() =>
          verifyEntryIncluded(entries[(index + 1) % entries.length]!, { index, treeHead: head, proof: hxs(inc, "proof") }),
        ),
      ).toBe(InclusionProofError.name);
    }
  });
});
