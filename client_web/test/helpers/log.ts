/**
 * A transparency log for the app-layer tests, built from the protocol's own definitions
 * (docs/protocol.md section 19): entries, RFC 9162 inclusion and consistency proofs (PATH and
 * PROOF of section 2.1.3.1 / 2.1.4.1), and tree heads signed by a P-256 log key. It plays the
 * server; the code under test verifies with src/crypto (a different code path: verification).
 */
import { concat, u64be } from "../../src/crypto/bytes";
import { generateKeyPair, keyId, leafHash, rootHash, type KeyPair } from "../../src/crypto/index";
import { p256Sign } from "../../src/crypto/primitives/ecc";
import { label, prefix, uuidBytes } from "../../src/crypto/wire";

const largestPow2Below = (n: number) => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};

async function mth(leaves: readonly Uint8Array[]): Promise<Uint8Array> {
  return rootHash(leaves);
}

async function path(m: number, leaves: readonly Uint8Array[]): Promise<Uint8Array[]> {
  const n = leaves.length;
  if (n <= 1) return [];
  const k = largestPow2Below(n);
  if (m < k) return [...(await path(m, leaves.slice(0, k))), await mth(leaves.slice(k))];
  return [...(await path(m - k, leaves.slice(k))), await mth(leaves.slice(0, k))];
}

async function subproof(m: number, leaves: readonly Uint8Array[], complete: boolean): Promise<Uint8Array[]> {
  const n = leaves.length;
  if (m === n) return complete ? [] : [await mth(leaves)];
  const k = largestPow2Below(n);
  if (m <= k) return [...(await subproof(m, leaves.slice(0, k), complete)), await mth(leaves.slice(k))];
  return [...(await subproof(m - k, leaves.slice(k), false)), await mth(leaves.slice(0, k))];
}

export const ROLE = { gp: 1, dermatologist: 2, admin: 3, records_officer: 4, auditor: 5 } as const;

export class TestLog {
  readonly entries: Uint8Array[] = [];
  private leaves: Uint8Array[] = [];
  private constructor(readonly key: KeyPair) {}

  static async create(): Promise<TestLog> {
    return new TestLog(await generateKeyPair());
  }

  async append(entry: Uint8Array): Promise<number> {
    this.entries.push(entry);
    this.leaves.push(await leafHash(entry));
    return this.entries.length - 1;
  }

  /** Entry 0x01: a signed statement record. */
  appendStatement(statement: Uint8Array): Promise<number> {
    return this.append(concat(new Uint8Array([0x01]), u64be(1_700_000_000_000n), statement));
  }

  /** Entry 0x02: an uncertified member. */
  appendUncertified(userId: string, orgId: string, role: number, signing: Uint8Array, encryption: Uint8Array): Promise<number> {
    return this.append(concat(new Uint8Array([0x02]), u64be(1_700_000_000_000n), uuidBytes("u", userId), uuidBytes("o", orgId), new Uint8Array([role]), signing, encryption));
  }

  /** Entry 0x03: a removal from an organisation (reason 1). */
  appendRemoval(userId: string, orgId: string): Promise<number> {
    return this.append(concat(new Uint8Array([0x03]), u64be(1_700_000_000_000n), uuidBytes("u", userId), uuidBytes("o", orgId), new Uint8Array([1, 0])));
  }

  get size(): number {
    return this.entries.length;
  }

  async head(size = this.size, key: KeyPair = this.key): Promise<Uint8Array> {
    const root = await mth(this.leaves.slice(0, size));
    const body = concat(prefix(0x0d), u64be(BigInt(size)), u64be(1_700_000_000_000n), root, await keyId(key.publicKey));
    return concat(body, await p256Sign(key.privateKey, concat(label("sig/tree-head", true), body)));
  }

  async inclusion(index: number, size = this.size): Promise<Uint8Array[]> {
    return path(index, this.leaves.slice(0, size));
  }

  async consistency(from: number, to: number): Promise<Uint8Array[]> {
    if (from === 0 || from === to) return [];
    return subproof(from, this.leaves.slice(0, to), true);
  }

  /** A LogRef of entry `index` against the head of `size`. */
  async ref(index: number, size = this.size): Promise<{ index: number; entry: Uint8Array; proof: Uint8Array[] }> {
    return { index, entry: this.entries[index]!, proof: await this.inclusion(index, size) };
  }
}
