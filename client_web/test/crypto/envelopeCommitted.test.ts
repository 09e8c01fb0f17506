/**
 * The committed, padded message envelope (type 0x0e) against EXACTLY the Python reference
 * vectors tests/vectors/dermline/envelope_committed.json, plus the padding rule and the legacy
 * 0x07 record still opening beside it. Runs in Node and in Chromium.
 */
import { describe, expect, it } from "vitest";
import { KeyPurpose, generateKeyPair, signingIdentity, toAccountKey } from "../../src/crypto/account";
import { fromHex, toHex } from "../../src/crypto/bytes";
import { caseKeyCommitment } from "../../src/crypto/caseKey";
import type { ContentType } from "../../src/crypto/content";
import {
  COMMITTED_HEADER_LENGTH,
  GENESIS_HASH,
  messageHash,
  openMessage,
  parseMessageHeader,
  sealLegacyMessageFromParts,
  sealMessage,
  sealMessageFromParts,
  verifyMessageSignature,
} from "../../src/crypto/envelope";
import { MessageHeaderError, MessageOpenError, MessageSignatureError } from "../../src/crypto/errors";
import { rfc6979Signer } from "../helpers/rfc6979";
import { loadVectors } from "../helpers/vectors";

type T = Record<string, unknown> & { tcId: number; comment: string; result: "valid" | "invalid"; flags: string[] };
interface VFile {
  numberOfTests: number;
  testGroups: { type: string; tests: T[] }[];
}

const f = await loadVectors<VFile>("dermline/envelope_committed.json");
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

describe("envelope_committed.json", () => {
  it("covers the file", () => {
    expect(all.length).toBe(f.numberOfTests);
    expect(f.testGroups.map((g) => g.type)).toEqual(["CommittedMessageEnvelope"]);
    expect(all.filter((t) => t.flags.includes("BadPadding")).length).toBeGreaterThanOrEqual(4);
  });

  it.each(all.map((t) => [t.tcId, t.comment, t] as const))("tc %i %s", async (_i, _c, t) => {
    const record = hx(t, "record");
    const senderKey = hx(t, "sender_signing_public_key");
    const open = () =>
      openMessage(record, {
        caseKey: hx(t, "case_key"),
        caseId: s(t, "case_id"),
        epoch: n(t, "epoch"),
        senderSigningPublicKey: senderKey,
        senderUserId: s(t, "sender_user_id"),
      });
    expect(await errorOf(() => parseMessageHeader(record))).toBe(t.header_parses ? "ok" : MessageHeaderError.name);
    expect(await errorOf(() => verifyMessageSignature(record, senderKey))).toBe(
      t.signature_verifies ? "ok" : MessageSignatureError.name,
    );
    if (t.result === "invalid") {
      expect(await errorOf(open)).toBe(MessageOpenError.name);
      return;
    }
    const params = {
      caseKey: hx(t, "case_key"),
      caseId: s(t, "case_id"),
      epoch: n(t, "epoch"),
      clientMessageId: s(t, "client_message_id"),
      senderUserId: s(t, "sender_user_id"),
      contentType: n(t, "content_type") as ContentType,
      timestampMs: BigInt(n(t, "timestamp_ms")),
      previousHash: hx(t, "previous_hash"),
      nonce: hx(t, "nonce"),
    };
    const deterministic = { keyId: hx(t, "sender_signing_key_id"), sign: rfc6979Signer(hx(t, "sender_signing_private_key")) };
    expect(toHex(await sealMessageFromParts(hx(t, "body"), { ...params, sender: deterministic }))).toBe(t.record);
    expect(new DataView(record.buffer, record.byteOffset).getUint32(156)).toBe(n(t, "padded_length") + 16);
    expect(toHex(record.subarray(112, COMMITTED_HEADER_LENGTH))).toBe(t.commitment);
    expect(toHex(await caseKeyCommitment(params.caseKey, params))).toBe(t.commitment);
    expect(toHex(await messageHash(record))).toBe(t.message_hash);
    const h = parseMessageHeader(record);
    expect(toHex(h.commitment!)).toBe(t.commitment);
    expect([h.caseId, h.epoch, h.clientMessageId, h.senderUserId, h.contentType, toHex(h.previousHash)]).toEqual([
      t.case_id,
      t.epoch,
      t.client_message_id,
      t.sender_user_id,
      t.content_type,
      t.previous_hash,
    ]);
    expect(toHex((await open()).body)).toBe(t.body);
    const sk = await toAccountKey(
      { privateKey: hx(t, "sender_signing_private_key"), publicKey: senderKey, keyId: hx(t, "sender_signing_key_id") },
      KeyPurpose.SIGNING,
    );
    const prod = await sealMessageFromParts(hx(t, "body"), { ...params, sender: signingIdentity(sk) });
    expect(toHex(prod.subarray(0, prod.length - 64))).toBe(toHex(record.subarray(0, record.length - 64)));
    expect(toHex((await openMessage(prod, { ...params, senderSigningPublicKey: senderKey })).body)).toBe(t.body);
  });

  it("the valid cases form a hash chain", async () => {
    const valid = all.filter((t) => t.result === "valid");
    expect(valid.length).toBeGreaterThanOrEqual(2);
    expect(valid[0]!.previous_hash).toBe(toHex(GENESIS_HASH));
    for (let i = 1; i < valid.length; i++) expect(valid[i]!.previous_hash).toBe(valid[i - 1]!.message_hash);
  });
});

describe("sealMessage and the legacy record", () => {
  it("pads every body to a multiple of 256 with at least one byte; 0x07 still opens beside 0x0e", async () => {
    const sig = await generateKeyPair();
    const sender = signingIdentity(await toAccountKey(sig, KeyPurpose.SIGNING));
    const caseKey = crypto.getRandomValues(new Uint8Array(32));
    const base = {
      caseKey,
      caseId: crypto.randomUUID(),
      epoch: 3,
      clientMessageId: crypto.randomUUID(),
      senderUserId: crypto.randomUUID(),
      sender,
      contentType: 1 as ContentType,
      previousHash: GENESIS_HASH,
    };
    const openP = { caseKey, caseId: base.caseId, epoch: 3, senderSigningPublicKey: sig.publicKey };
    for (const [size, padded] of [
      [0, 256],
      [1, 256],
      [255, 256],
      [256, 512],
      [1000, 1024],
    ] as const) {
      const body = crypto.getRandomValues(new Uint8Array(size));
      const rec = await sealMessage(body, base);
      expect(rec[2]).toBe(0x0e);
      expect(rec.length).toBe(160 + padded + 16 + 64);
      expect(toHex((await openMessage(rec, openP)).body)).toBe(toHex(body));
    }
    // A reader given another key for the epoch refuses before decrypting; so does a reader
    // told another sender.
    const rec = await sealMessage(new Uint8Array([1, 2, 3]), base);
    expect(await errorOf(() => openMessage(rec, { ...openP, caseKey: crypto.getRandomValues(new Uint8Array(32)) }))).toBe(
      MessageOpenError.name,
    );
    expect(await errorOf(() => openMessage(rec, { ...openP, senderUserId: crypto.randomUUID() }))).toBe(MessageOpenError.name);
    expect(toHex((await openMessage(rec, { ...openP, senderUserId: base.senderUserId })).body)).toBe("010203");
    const legacy = await sealLegacyMessageFromParts(new Uint8Array([4, 5]), {
      ...base,
      timestampMs: 1n,
      nonce: new Uint8Array(12),
    });
    const opened = await openMessage(legacy, openP);
    expect([legacy[2], toHex(opened.body), opened.header.commitment]).toEqual([0x07, "0405", null]);
  });
});
