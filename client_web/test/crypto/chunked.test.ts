/**
 * Wycheproof C2SP chunked encryption, Cobblestone-256 (all cases), following the Wycheproof
 * doc doc/c2sp_chunked_encryption.md: `ct` is zlib-compressed hex; valid cases decrypt to
 * msgLength bytes with SHA-512 msgSha512 and re-encrypt to exactly `ct` with the injected salt;
 * invalid cases are rejected by one-shot decryption, and by streaming decryption that releases
 * at most the valid prefix (PartialPlaintext) and keeps failing afterwards.
 */
import { describe, expect, it } from "vitest";
import { concat, fromHex, toHex } from "../../src/crypto/bytes";
import {
  ChunkedDecryptor,
  ChunkedEncryptor,
  HEADER_LEN,
  SALT_LEN,
  chunkedDecrypt,
  chunkedEncrypt,
} from "../../src/crypto/primitives/chunked";
import { sha512 } from "../../src/crypto/primitives/kdf";
import { inflate, outcome, wycheproof } from "../helpers/vectors";

const file = await wycheproof("c2sp_chunked_encryption_aes_256_gcm_test.json");
const tests = file.testGroups.flatMap((g) => g.tests);

/** Feed `ct` in pieces of `step` bytes; collect released plaintext until the first error. */
async function streamDecrypt(key: Uint8Array, ctx: Uint8Array, ct: Uint8Array, step: number) {
  const released: Uint8Array[] = [];
  let error: unknown = null;
  let dec: ChunkedDecryptor | null = null;
  try {
    dec = await ChunkedDecryptor.create(key, ctx);
    for (let o = 0; o < ct.length; o += step) {
      released.push(await dec.update(ct.subarray(o, o + step)));
    }
    released.push(await dec.finalize());
  } catch (e) {
    error = e;
  }
  return { released: concat(...released), error, dec };
}

describe("Wycheproof C2SP chunked encryption (Cobblestone-256)", () => {
  it("has all 35 cases", () => {
    expect(tests.length).toBe(35);
    expect(file.numberOfTests).toBe(35);
  });

  it.each(tests.map((t) => [t.tcId, t] as const))("tcId %i", async (_id, t) => {
    const key = fromHex(t.key as string);
    const ctx = fromHex(t.ctx as string);
    const ct = await inflate(fromHex(t.ct as string));
    if (t.result === "valid") {
      const pt = await chunkedDecrypt(key, ctx, ct);
      expect(pt.length).toBe(t.msgLength);
      expect(toHex(await sha512(pt))).toBe(t.msgSha512);
      // Encryption with the injected salt (first 24 bytes) reproduces ct exactly.
      const again = await chunkedEncrypt(key, ctx, pt, ct.subarray(0, SALT_LEN));
      expect(again.length).toBe(ct.length);
      expect(toHex(await sha512(again))).toBe(toHex(await sha512(ct)));
      // Streaming in odd-sized pieces gives the same plaintext.
      const s = await streamDecrypt(key, ctx, ct, 7001);
      expect(s.error).toBeNull();
      expect(toHex(await sha512(s.released))).toBe(t.msgSha512);
      return;
    }
    expect(t.result).toBe("invalid");
    expect(await outcome(() => chunkedDecrypt(key, ctx, ct))).toBe("rejected");
    if (t.flags.includes("InvalidKeySize")) {
      await expect(ChunkedDecryptor.create(key, ctx)).rejects.toThrow(RangeError);
      return;
    }
    for (const step of [ct.length || 1, 16400, 1000]) {
      const s = await streamDecrypt(key, ctx, ct, step);
      expect(s.error).not.toBeNull();
      // Never more than the authenticated prefix, and exactly that prefix's bytes.
      const prefixLen = t.flags.includes("PartialPlaintext") ? (t.msgLength as number) : 0;
      expect(s.released.length).toBeLessThanOrEqual(prefixLen);
      if (t.flags.includes("PartialPlaintext") && s.released.length === prefixLen) {
        expect(toHex(await sha512(s.released))).toBe(t.msgSha512);
      }
      // Keeps failing once failed.
      if (s.dec !== null) {
        expect(await outcome(() => s.dec!.update(new Uint8Array(1)))).toBe("rejected");
        expect(await outcome(() => s.dec!.finalize())).toBe("rejected");
      }
    }
  });

  it("streaming encryption in arbitrary pieces equals one-shot encryption", async () => {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const salt = crypto.getRandomValues(new Uint8Array(SALT_LEN));
    const ctx = new Uint8Array([1, 2, 3]);
    for (const len of [0, 1, 16383, 16384, 16385, 3 * 16384, 100_000]) {
      const msg = new Uint8Array(len).map((_, i) => (i * 31) & 0xff);
      const one = await chunkedEncrypt(key, ctx, msg, salt);
      const enc = await ChunkedEncryptor.create(key, ctx, salt);
      const parts: Uint8Array[] = [];
      for (let o = 0; o < len; o += 5000) parts.push(await enc.update(msg.subarray(o, o + 5000)));
      parts.push(await enc.finalize());
      const streamed = concat(...parts);
      expect(toHex(streamed)).toBe(toHex(one));
      expect(one.length).toBe(HEADER_LEN + len + 16 * (Math.floor(len / 16384) + 1));
      expect(toHex(await chunkedDecrypt(key, ctx, one))).toBe(toHex(msg));
    }
  });

  it("rejects a wrong context and a flipped byte anywhere (sampled)", async () => {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const msg = crypto.getRandomValues(new Uint8Array(40_000));
    const ct = await chunkedEncrypt(key, new Uint8Array([9]), msg);
    expect(await outcome(() => chunkedDecrypt(key, new Uint8Array([8]), ct))).toBe("rejected");
    for (const i of [0, 23, 24, 55, 56, 16455, 16456, ct.length - 1]) {
      const bad = ct.slice();
      bad[i]! ^= 0x80;
      expect(await outcome(() => chunkedDecrypt(key, new Uint8Array([9]), bad))).toBe("rejected");
    }
  });
});
