/**
 * The transparency log's signed tree head (record type 0x0d); port of crypto/tree_head.py
 * (docs/protocol.md section 18). 131 bytes:
 *
 *     off  len
 *       0    3  01 01 0d
 *       3    8  tree size (u64, at most 2^53 - 1)
 *      11    8  timestamp (u64 Unix ms, the log's clock; informative)
 *      19   32  root hash (RFC 9162 MTH of the first `tree size` entries)
 *      51   16  log key id (key id of the log's signing public key)
 *      67   64  ECDSA P-256 signature, P1363
 *
 *     signed = "dermline/v1/sig/tree-head" || 0x00 || bytes 0..66
 *
 * A tree head of size 0 must carry the empty tree's root. The server signs; the browser checks
 * the signature against the log key it pinned (verifyTreeHead), then that each new head extends
 * the last one it accepted (verifyTreeHeadExtends, an RFC 9162 consistency proof) and that every
 * directory statement it uses is in a head it accepted (verifyEntryIncluded).
 */
import { concat, equalBytes, requireBytes } from "./bytes";
import { ConsistencyProofError, PrimitiveError, PublicKeyError, TreeHeadError, TreeHeadSignatureError } from "./errors";
import { KEY_ID_LENGTH, keyId } from "./fingerprint";
import { EMPTY_ROOT, HASH_LENGTH, leafHash, verifyConsistency, verifyInclusion } from "./merkle";
import { p256Verify } from "./primitives/ecc";
import { Malformed, Reader, RecordType, label } from "./wire";

export const TREE_HEAD_LENGTH = 131;
const SIGNED = 67;
const SIGNATURE = 64;
const SIG_LABEL = /* @__PURE__ */ label("sig/tree-head", true);

/** A parsed signed tree head (`record` is the whole 131-byte record). */
export interface TreeHead {
  treeSize: number;
  timestampMs: number;
  rootHash: Uint8Array;
  logKeyId: Uint8Array;
  record: Uint8Array;
}

function parse(record: Uint8Array): TreeHead {
  const reader = new Reader(record);
  reader.prefix(RecordType.TREE_HEAD);
  const treeSize = reader.safeU64();
  const timestampMs = reader.safeU64();
  const rootHash = reader.take(HASH_LENGTH);
  const logKeyId = reader.take(KEY_ID_LENGTH);
  reader.take(SIGNATURE);
  reader.end();
  if (treeSize === 0 && !equalBytes(rootHash, EMPTY_ROOT)) throw new Malformed();
  return { treeSize, timestampMs, rootHash, logKeyId, record: record.slice() };
}

/** The fields, without the signature check; TreeHeadError if malformed. */
export function parseTreeHead(record: Uint8Array): TreeHead {
  requireBytes("record", record);
  try {
    return parse(record);
  } catch (e) {
    if (e instanceof Malformed) throw new TreeHeadError();
    throw e;
  }
}

/**
 * Parse and check the signature with the pinned log key (the record's log key id must be the
 * id of `logPublicKey`); TreeHeadSignatureError.
 */
export async function verifyTreeHead(record: Uint8Array, logPublicKey: Uint8Array): Promise<TreeHead> {
  requireBytes("record", record);
  requireBytes("logPublicKey", logPublicKey);
  try {
    const head = parse(record);
    if (!equalBytes(await keyId(logPublicKey), head.logKeyId)) throw new Malformed();
    await p256Verify(logPublicKey, concat(SIG_LABEL, head.record.subarray(0, SIGNED)), head.record.subarray(SIGNED));
    return head;
  } catch (e) {
    if (e instanceof Malformed || e instanceof PrimitiveError || e instanceof PublicKeyError) {
      throw new TreeHeadSignatureError();
    }
    throw e;
  }
}

function requireHead(name: string, v: unknown): TreeHead {
  const h = v as TreeHead;
  if (typeof v !== "object" || v === null || !(h.rootHash instanceof Uint8Array) || !(h.logKeyId instanceof Uint8Array)) {
    throw new TypeError(`${name} must be a TreeHead`);
  }
  return h;
}

/**
 * Check that `next` extends `old`: same log key, RFC 9162 consistency proof. Both heads must
 * already be verified. Equal sizes need equal roots and an empty proof (two heads of one size
 * with different roots are a fork); a smaller size is refused. ConsistencyProofError: the
 * client holds proof that the log was rewritten (the two signed heads) and must stop.
 */
export async function verifyTreeHeadExtends(
  old: TreeHead,
  next: TreeHead,
  proof: readonly Uint8Array[],
): Promise<void> {
  requireHead("old", old);
  requireHead("next", next);
  if (!equalBytes(old.logKeyId, next.logKeyId)) throw new ConsistencyProofError();
  await verifyConsistency({
    oldSize: old.treeSize,
    newSize: next.treeSize,
    oldRoot: old.rootHash,
    newRoot: next.rootHash,
    proof,
  });
}

/** Check that log `entry` is leaf `index` of a verified tree head; InclusionProofError. */
export async function verifyEntryIncluded(
  entry: Uint8Array,
  p: { index: number; treeHead: TreeHead; proof: readonly Uint8Array[] },
): Promise<void> {
  requireHead("treeHead", p.treeHead);
  await verifyInclusion({
    leafHash: await leafHash(requireBytes("entry", entry)),
    index: p.index,
    treeSize: p.treeHead.treeSize,
    proof: p.proof,
    root: p.treeHead.rootHash,
  });
}
