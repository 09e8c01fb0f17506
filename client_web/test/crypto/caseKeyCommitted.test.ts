/**
 * The committed case key wrap (type 0x0b) against EXACTLY the Python reference vectors in
 * tests/vectors/dermline/case_key_wrap_committed.json, plus the commitment helpers and the
 * legacy 0x06 record still opening. Runs in Node and in Chromium (the same file, both projects).
 */
import { describe, expect, it } from "vitest";
import { KeyPurpose, signingIdentity, toAccountKey } from "../../src/crypto/account";
import { fromHex, toHex } from "../../src/crypto/bytes";
import {
  COMMITTED_CASE_KEY_WRAP_LENGTH,
  caseKeyCommitment,
  caseKeyMatchesCommitment,
  openCaseKeyWrap,
  parseCaseKeyWrapHeader,
  verifyCaseKeyWrap,
  wrapCaseKey,
  wrapCaseKeyFromParts,
  wrapLegacyCaseKeyFromParts,
} from "../../src/crypto/caseKey";
import { CaseKeyUnwrapError, CaseKeyWrapHeaderError, CaseKeyWrapSignatureError } from "../../src/crypto/errors";
import { hmacSha256 } from "../../src/crypto/primitives/kdf";
import { hpkeRecipientFromScalar } from "../../src/crypto/primitives/hpke";
import { label } from "../../src/crypto/wire";
import { rfc6979Signer } from "../helpers/rfc6979";
import { loadVectors } from "../helpers/vectors";

type T = Record<string, unknown> & { tcId: number; comment: string; result: "valid" | "invalid"; flags: string[] };
interface VFile {
  numberOfTests: number;
  testGroups: { type: string; tests: T[] }[];
}

const f = await loadVectors<VFile>("dermline/case_key_wrap_committed.json");
const all = f.testGroups.flatMap((g) => g.tests);
const hx = (t: T, k: string) => fromHex(t[k] as string);
const s = (t: T, k: string) => t[k] as string;
const n = (t: T, k: string) => t[k] as number;

async function errorOf(fn: () => Promise<unknown> | unknown): Promise<string> {
  try {
    await fn();
    return "ok";
  } catch (e) {
    return (e as Error).name;
  }
}

async function recipientOf(t: T, prefix = "recipient") {
  return {
    ...(await hpkeRecipientFromScalar(hx(t, `${prefix}_private_key`), hx(t, `${prefix}_public_key`))),
    keyId: hx(t, `${prefix}_key_id`),
  };
}

describe("case_key_wrap_committed.json", () => {
  it("covers the file", () => {
    expect(all.length).toBe(f.numberOfTests);
    expect(f.testGroups.map((g) => g.type)).toEqual(["CommittedCaseKeyWrap"]);
    expect(all.filter((t) => t.flags.includes("CommitmentMismatch")).length).toBe(4);
  });

  it.each(all.map((t) => [t.tcId, t.comment, t] as const))("tc %i %s", async (_i, _c, t) => {
    const record = hx(t, "record");
    const wrapperKey = hx(t, "wrapper_signing_public_key");
    const open = async () =>
      openCaseKeyWrap(record, {
        caseId: s(t, "case_id"),
        epoch: n(t, "epoch"),
        recipient: await recipientOf(t),
        wrapperSigningPublicKey: wrapperKey,
        wrapperUserId: s(t, "wrapper_user_id"),
      });
    expect(await errorOf(() => parseCaseKeyWrapHeader(record))).toBe(t.header_parses ? "ok" : CaseKeyWrapHeaderError.name);
    expect(await errorOf(() => verifyCaseKeyWrap(record, wrapperKey))).toBe(
      t.signature_verifies ? "ok" : CaseKeyWrapSignatureError.name,
    );
    if (t.header_parses) {
      expect(toHex(parseCaseKeyWrapHeader(record).commitment!)).toBe(toHex(record.subarray(71, 103)));
    }
    if (t.result === "valid") {
      const params = {
        caseId: s(t, "case_id"),
        epoch: n(t, "epoch"),
        recipientPublicKey: hx(t, "recipient_public_key"),
        wrapperUserId: s(t, "wrapper_user_id"),
        ikmE: hx(t, "ikm_e"),
      };
      const wrapper = { keyId: hx(t, "wrapper_signing_key_id"), sign: rfc6979Signer(hx(t, "wrapper_signing_private_key")) };
      const built = await wrapCaseKeyFromParts(hx(t, "case_key"), { ...params, wrapper });
      expect(toHex(built)).toBe(t.record);
      expect(built.length).toBe(COMMITTED_CASE_KEY_WRAP_LENGTH);
      // Production signer: same bytes up to the (randomised) signature, which verifies.
      const signKey = await toAccountKey(
        { privateKey: hx(t, "wrapper_signing_private_key"), publicKey: wrapperKey, keyId: hx(t, "wrapper_signing_key_id") },
        KeyPurpose.SIGNING,
      );
      const prod = await wrapCaseKeyFromParts(hx(t, "case_key"), { ...params, wrapper: signingIdentity(signKey) });
      expect(toHex(prod.subarray(0, 216))).toBe(s(t, "record").slice(0, 432));
      await verifyCaseKeyWrap(prod, wrapperKey);
      const commitment = await caseKeyCommitment(hx(t, "case_key"), { caseId: s(t, "case_id"), epoch: n(t, "epoch") });
      expect(toHex(commitment)).toBe(t.commitment);
      const h = parseCaseKeyWrapHeader(record);
      expect([h.caseId, h.epoch, toHex(h.recipientKeyId), h.wrapperUserId, toHex(h.commitment!)]).toEqual([
        t.case_id,
        t.epoch,
        t.recipient_key_id,
        t.wrapper_user_id,
        t.commitment,
      ]);
      expect(toHex(await open())).toBe(t.case_key);
    } else {
      expect(await errorOf(open)).toBe(CaseKeyUnwrapError.name);
    }
  });
});

describe("key commitment helpers", () => {
  const caseId = "00000000-0000-4000-8000-00000000ca5e";
  const ck = Uint8Array.from({ length: 32 }, (_, i) => i);

  it("is the documented HMAC and binds key, case and epoch", async () => {
    const expected = await hmacSha256(
      ck,
      new Uint8Array([...label("case-key-commitment", true), ...fromHex("0000000000004000800000000000ca5e"), 0, 0, 0, 9]),
    );
    const c = await caseKeyCommitment(ck, { caseId, epoch: 9 });
    expect(toHex(c)).toBe(toHex(expected));
    expect(await caseKeyMatchesCommitment(ck, c, { caseId, epoch: 9 })).toBe(true);
    expect(await caseKeyMatchesCommitment(ck, c, { caseId, epoch: 8 })).toBe(false);
    expect(await caseKeyMatchesCommitment(new Uint8Array(32), c, { caseId, epoch: 9 })).toBe(false);
    expect(await caseKeyMatchesCommitment(ck, c, { caseId: "00000000-0000-4000-8000-000000000001", epoch: 9 })).toBe(false);
    await expect(caseKeyCommitment(new Uint8Array(31), { caseId, epoch: 0 })).rejects.toThrow(RangeError);
    await expect(caseKeyMatchesCommitment(ck, new Uint8Array(31), { caseId, epoch: 0 })).rejects.toThrow(RangeError);
  });

  it("new wraps are 0x0b and carry the commitment; legacy 0x06 records still open", async () => {
    const t = all[0]!;
    const recipient = await recipientOf(t);
    const wrapper = { keyId: hx(t, "wrapper_signing_key_id"), sign: rfc6979Signer(hx(t, "wrapper_signing_private_key")) };
    const params = {
      caseId,
      epoch: 3,
      recipientPublicKey: hx(t, "recipient_public_key"),
      wrapperUserId: s(t, "wrapper_user_id"),
      wrapper,
    };
    const fresh = await wrapCaseKey(ck, params);
    expect(toHex(fresh.subarray(0, 3))).toBe("01010b");
    expect(toHex(parseCaseKeyWrapHeader(fresh).commitment!)).toBe(toHex(await caseKeyCommitment(ck, { caseId, epoch: 3 })));
    const opts = { caseId, epoch: 3, recipient, wrapperSigningPublicKey: hx(t, "wrapper_signing_public_key") };
    expect(toHex(await openCaseKeyWrap(fresh, opts))).toBe(toHex(ck));
    expect(await errorOf(() => openCaseKeyWrap(fresh, { ...opts, wrapperUserId: caseId }))).toBe(CaseKeyUnwrapError.name);
    const legacy = await wrapLegacyCaseKeyFromParts(ck, { ...params, ikmE: new Uint8Array(32) });
    expect(toHex(legacy.subarray(0, 3))).toBe("010106");
    expect(parseCaseKeyWrapHeader(legacy).commitment).toBeNull();
    expect(toHex(await openCaseKeyWrap(legacy, opts))).toBe(toHex(ck));
  });
});
