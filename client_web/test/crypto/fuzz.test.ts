/**
 * The new parsers and verifiers on hostile bytes (after tests/crypto/test_fuzz.py): every
 * record of the vector files, mutated (bit flips, truncation, extension, byte splices) by a
 * seeded generator, either parses or fails with the operation's one opaque error; nothing else
 * escapes (no RangeError, no TypeError, no engine error). Deterministic: same cases every run.
 */
import { describe, expect, it } from "vitest";
import { fromHex } from "../../src/crypto/bytes";
import { parseMessageHeader, verifyMessageSignature } from "../../src/crypto/envelope";
import {
  CaseKeyUnwrapError,
  CaseKeyWrapHeaderError,
  CaseKeyWrapSignatureError,
  InviteLinkFormatError,
  LogEntryError,
  MessageHeaderError,
  MessageSignatureError,
  OrgKeyWrapHeaderError,
  PatientDropError,
  StatementError,
  StatementSignatureError,
  TreeHeadError,
  TreeHeadSignatureError,
  UskOrgUnwrapError,
} from "../../src/crypto/errors";
import {
  openHybridCaseKeyWrap,
  openPatientPhotoHybrid,
  parseHybridCaseKeyWrapHeader,
  unwrapUskForOrgHybrid,
  verifyHybridCaseKeyWrap,
  hybridKeyPairFromSeed,
} from "../../src/crypto/hybrid";
import { parseInviteFragment } from "../../src/crypto/invite";
import { parseLogEntry } from "../../src/crypto/logEntry";
import { parseOrgKeyWrapHeader } from "../../src/crypto/orgKey";
import { parseStatement, verifyStatement } from "../../src/crypto/statement";
import { parseTreeHead, verifyTreeHead } from "../../src/crypto/treeHead";
import { loadVectors } from "../helpers/vectors";

type T = Record<string, unknown>;
interface VFile {
  testGroups: { type: string; tests: T[] }[];
}

/** xorshift32: a small seeded generator, so every run tries the same mutations. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function mutations(seeds: Uint8Array[], count: number, seed: number): Uint8Array[] {
  const next = rng(seed);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const base = seeds[next() % seeds.length]!;
    const m = base.slice();
    switch (next() % 5) {
      case 0: // flip one bit
        if (m.length > 0) m[next() % m.length]! ^= 1 << (next() % 8);
        out.push(m);
        break;
      case 1: // truncate
        out.push(m.slice(0, next() % (m.length + 1)));
        break;
      case 2: {
        // extend with random bytes
        const extra = new Uint8Array(1 + (next() % 40)).map(() => next() & 0xff);
        const ext = new Uint8Array(m.length + extra.length);
        ext.set(m);
        ext.set(extra, m.length);
        out.push(ext);
        break;
      }
      case 3: // overwrite a run of bytes (lengths, kinds, types, counts)
        for (let j = 0, at = next() % Math.max(1, m.length); j < 1 + (next() % 4) && at + j < m.length; j++) {
          m[at + j] = next() & 0xff;
        }
        out.push(m);
        break;
      default: // random bytes of a plausible length
        out.push(new Uint8Array(next() % (base.length + 8)).map(() => next() & 0xff));
    }
  }
  return out;
}

const outcomes = { ok: 0, refused: 0 };

async function only(errorName: string, f: () => Promise<unknown> | unknown): Promise<void> {
  try {
    await f();
    outcomes.ok++;
  } catch (e) {
    expect((e as Error).name).toBe(errorName);
    outcomes.refused++;
  }
}

const hexes = (f: VFile, group: string, ...keys: string[]): Uint8Array[] =>
  (f.testGroups.find((g) => g.type === group)?.tests ?? []).flatMap((t) =>
    keys.filter((k) => typeof t[k] === "string").map((k) => fromHex(t[k] as string)),
  );

const transparency = await loadVectors<VFile>("dermline/transparency_log.json");
const statements = await loadVectors<VFile>("dermline/statement.json");
const orgKeys = await loadVectors<VFile>("dermline/org_key.json");
const envelopes = await loadVectors<VFile>("dermline/envelope_committed.json");
const invites = await loadVectors<VFile>("dermline/invite.json");
const hybrid = await loadVectors<VFile>("dermline/hybrid.json");
const N = 400;

describe("fuzzing the parsers of the new records", () => {
  it("statements (0x0c)", async () => {
    const seeds = hexes(statements, "Statement", "record");
    const key = fromHex(
      (statements.testGroups[0]!.tests.find((t) => t.result === "valid")!.signer_public_key as string),
    );
    for (const m of mutations(seeds, N, 1)) {
      await only(StatementError.name, () => parseStatement(m));
      await only(StatementSignatureError.name, () => verifyStatement(m, key));
    }
  });

  it("log entries and tree heads (0x0d)", async () => {
    for (const m of mutations(hexes(transparency, "LogEntry", "entry"), N, 2)) {
      await only(LogEntryError.name, () => parseLogEntry(m));
    }
    const heads = hexes(transparency, "TreeHead", "record");
    const key = fromHex(transparency.testGroups.find((g) => g.type === "TreeHead")!.tests[0]!.log_public_key as string);
    for (const m of mutations(heads, N, 3)) {
      await only(TreeHeadError.name, () => parseTreeHead(m));
      await only(TreeHeadSignatureError.name, () => verifyTreeHead(m, key));
    }
  });

  it("organisation key wraps (0x0f) and committed envelopes (0x0e)", async () => {
    for (const m of mutations(hexes(orgKeys, "OrgKeyWrap", "record"), N, 4)) {
      await only(OrgKeyWrapHeaderError.name, () => parseOrgKeyWrapHeader(m));
    }
    const env = hexes(envelopes, "CommittedMessageEnvelope", "record");
    const key = fromHex(envelopes.testGroups[0]!.tests[0]!.sender_signing_public_key as string);
    for (const m of mutations(env, N, 5)) {
      await only(MessageHeaderError.name, () => parseMessageHeader(m));
      await only(MessageSignatureError.name, () => verifyMessageSignature(m, key));
    }
  });

  it("suite 2 records (01 02 0b, 01 02 04, 01 02 0a)", async () => {
    const wrap = hybrid.testGroups.find((g) => g.type === "HybridCaseKeyWrap")!.tests[0]!;
    const recipient = await hybridKeyPairFromSeed(fromHex(wrap.recipient_seed as string));
    const signer = fromHex(wrap.wrapper_signing_public_key as string);
    // Fewer rounds: every open runs an X-Wing decapsulation.
    for (const m of mutations(hexes(hybrid, "HybridCaseKeyWrap", "record"), N / 4, 8)) {
      await only(CaseKeyWrapHeaderError.name, () => parseHybridCaseKeyWrapHeader(m));
      await only(CaseKeyWrapSignatureError.name, () => verifyHybridCaseKeyWrap(m, signer));
      await only(CaseKeyUnwrapError.name, () =>
        openHybridCaseKeyWrap(m, {
          caseId: wrap.case_id as string,
          epoch: wrap.epoch as number,
          recipient,
          wrapperSigningPublicKey: signer,
        }),
      );
    }
    const org = hybrid.testGroups.find((g) => g.type === "HybridUskOrgWrap")!.tests[0]!;
    const orgKey = await hybridKeyPairFromSeed(fromHex(org.org_seed as string));
    for (const m of mutations(hexes(hybrid, "HybridUskOrgWrap", "record"), N / 4, 9)) {
      await only(UskOrgUnwrapError.name, () => unwrapUskForOrgHybrid(m, orgKey, org.user_id as string));
    }
    const drop = hybrid.testGroups.find((g) => g.type === "HybridPatientDrop")!.tests[0]!;
    const box = await hybridKeyPairFromSeed(fromHex(drop.drop_box_seed as string));
    for (const m of mutations(hexes(hybrid, "HybridPatientDrop", "record"), N / 4, 10)) {
      await only(PatientDropError.name, () => openPatientPhotoHybrid(m, { linkId: drop.link_id as string, dropBox: box }));
    }
  });

  it("invite fragments", async () => {
    const seeds = invites.testGroups
      .find((g) => g.type === "InviteFragment")!
      .tests.map((t) => new TextEncoder().encode(t.text as string));
    const next = rng(6);
    for (const m of mutations(seeds, N, 7)) {
      // Bytes to text: printable ASCII mostly, with some arbitrary code points.
      const text = Array.from(m, (c) => (next() % 16 === 0 ? String.fromCharCode(c * 37) : String.fromCharCode(32 + (c % 95)))).join("");
      await only(InviteLinkFormatError.name, () => parseInviteFragment(text));
    }
  });

  it("the mutations both passed and failed (the generator is not degenerate)", () => {
    expect(outcomes.ok).toBeGreaterThan(50);
    expect(outcomes.refused).toBeGreaterThan(1000);
  });
});
