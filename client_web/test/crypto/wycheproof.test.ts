/**
 * Wycheproof (C2SP/wycheproof, Apache-2.0) vectors run through OUR layer (src/crypto/primitives),
 * never straight through WebCrypto: every `valid` case passes, every `invalid` case is rejected,
 * `acceptable` cases are decided explicitly per flag below. Group filters say why they exist.
 */
import { describe, expect, it } from "vitest";
import { concat, fromHex, toHex } from "../../src/crypto/bytes";
import { aes256gcmOpen, aes256gcmSeal } from "../../src/crypto/primitives/aead";
import {
  derToP1363,
  p1363ToDer,
  p256CheckPublic,
  p256Ecdh,
  p256PublicFromJwk,
  p256Verify,
} from "../../src/crypto/primitives/ecc";
import {
  MAX_PBKDF2_ITERATIONS,
  hkdfSha256,
  hmacSha256,
  hmacSha256Verify,
  pbkdf2Sha256,
} from "../../src/crypto/primitives/kdf";
import { outcome, wycheproof, type WycheproofTest } from "../helpers/vectors";

const V_AES_GCM_TEST = await wycheproof("aes_gcm_test.json");
const V_HKDF_SHA256_TEST = await wycheproof("hkdf_sha256_test.json");
const V_HMAC_SHA256_TEST = await wycheproof("hmac_sha256_test.json");
const V_PBKDF2_HMACSHA256_TEST = await wycheproof("pbkdf2_hmacsha256_test.json");
const V_ECDH_SECP256R1_ECPOINT_TEST = await wycheproof("ecdh_secp256r1_ecpoint_test.json");
const V_ECDH_SECP256R1_WEBCRYPTO_TEST = await wycheproof("ecdh_secp256r1_webcrypto_test.json");
const V_ECDSA_SECP256R1_SHA256_P1363_TEST = await wycheproof("ecdsa_secp256r1_sha256_p1363_test.json");
const V_ECDSA_SECP256R1_SHA256_TEST = await wycheproof("ecdsa_secp256r1_sha256_test.json");

const h = (t: WycheproofTest, k: string): Uint8Array => fromHex(t[k] as string);

/** Normalise a Wycheproof private-key integer (may carry a leading 00 or be short) to 32 bytes. */
function scalar32(hex: string): Uint8Array {
  const b = fromHex(hex);
  let i = 0;
  while (b.length - i > 32 && b[i] === 0) i++;
  const v = b.subarray(i);
  if (v.length > 32) throw new Error("scalar wider than 32 bytes in vector");
  return concat(new Uint8Array(32 - v.length), v);
}

describe("Wycheproof AES-GCM (aes_gcm_test.json)", () => {
  const file = V_AES_GCM_TEST;
  // Filter: only 256-bit keys with 96-bit nonces and 128-bit tags are part of the protocol;
  // other key and nonce sizes are refused by aes256gcm* as misuse (checked separately below).
  const groups = file.testGroups.filter(
    (g) => g.keySize === 256 && g.ivSize === 96 && g.tagSize === 128,
  );
  const tests = groups.flatMap((g) => g.tests);
  it("has the expected number of in-scope cases", () => {
    expect(tests.length).toBe(66);
  });
  it.each(tests.map((t) => [t.tcId, t] as const))("tcId %i", async (_id, t) => {
    const key = h(t, "key");
    const iv = h(t, "iv");
    const aad = h(t, "aad");
    const ctTag = concat(h(t, "ct"), h(t, "tag"));
    if (t.result === "valid") {
      expect(toHex(await aes256gcmSeal(key, iv, h(t, "msg"), aad))).toBe(toHex(ctTag));
      expect(toHex(await aes256gcmOpen(key, iv, ctTag, aad))).toBe(t.msg);
    } else {
      expect(t.result).toBe("invalid");
      expect(await outcome(() => aes256gcmOpen(key, iv, ctTag, aad))).toBe("rejected");
    }
  });
  it("refuses other nonce sizes and key sizes as misuse", async () => {
    await expect(aes256gcmSeal(new Uint8Array(32), new Uint8Array(16), new Uint8Array(0), new Uint8Array(0))).rejects.toThrow(RangeError);
    await expect(aes256gcmSeal(new Uint8Array(16), new Uint8Array(12), new Uint8Array(0), new Uint8Array(0))).rejects.toThrow(RangeError);
    await expect(aes256gcmOpen(new Uint8Array(32), new Uint8Array(12), new Uint8Array(15), new Uint8Array(0))).rejects.toThrow("primitive rejected its input");
  });
});

describe("Wycheproof HKDF-SHA256", () => {
  const tests = V_HKDF_SHA256_TEST.testGroups.flatMap((g) => g.tests);
  it.each(tests.map((t) => [t.tcId, t] as const))("tcId %i", async (_id, t) => {
    const run = () =>
      hkdfSha256(h(t, "ikm"), { salt: h(t, "salt"), info: h(t, "info"), length: t.size as number });
    if (t.result === "valid") {
      expect(toHex(await run())).toBe(t.okm);
    } else {
      // The invalid cases ask for more than 255*HashLen bytes (RFC 5869 section 2.3).
      expect(t.flags).toContain("SizeTooLarge");
      expect(await outcome(run)).toBe("rejected");
    }
  });
});

describe("Wycheproof HMAC-SHA256", () => {
  const file = V_HMAC_SHA256_TEST;
  // Filter: the protocol only uses full 256-bit tags; hmacSha256Verify refuses truncated tags
  // by design (asserted below), so groups with truncated tags are checked for hmacSha256's
  // output only.
  const full = file.testGroups.filter((g) => g.tagSize === 256).flatMap((g) => g.tests);
  const truncated = file.testGroups.filter((g) => g.tagSize !== 256);
  it("covers full-length tags", () => expect(full.length).toBeGreaterThan(20));
  it.each(full.map((t) => [t.tcId, t] as const))("full tag tcId %i", async (_id, t) => {
    const key = h(t, "key");
    const msg = h(t, "msg");
    const tag = h(t, "tag");
    if (t.result === "valid") {
      expect(toHex(await hmacSha256(key, msg))).toBe(t.tag);
      await hmacSha256Verify(key, msg, tag);
    } else {
      expect(await outcome(() => hmacSha256Verify(key, msg, tag))).toBe("rejected");
    }
  });
  it("truncated-tag groups: valid tags are prefixes of our output; verify refuses truncation", async () => {
    for (const g of truncated) {
      for (const t of g.tests) {
        const key = h(t, "key");
        const msg = h(t, "msg");
        const full = toHex(await hmacSha256(key, msg));
        const tagHex = t.tag as string;
        expect(full.startsWith(tagHex)).toBe(t.result === "valid");
        expect(await outcome(() => hmacSha256Verify(key, msg, h(t, "tag")))).toBe("rejected");
      }
    }
  });
});

describe("Wycheproof PBKDF2-HMAC-SHA256", () => {
  const tests = V_PBKDF2_HMACSHA256_TEST.testGroups.flatMap((g) => g.tests);
  it.each(tests.map((t) => [t.tcId, t] as const))("tcId %i", async (_id, t) => {
    expect(t.result).toBe("valid");
    const run = () =>
      pbkdf2Sha256(h(t, "password"), h(t, "salt"), t.iterationCount as number, t.dkLen as number);
    if ((t.iterationCount as number) > MAX_PBKDF2_ITERATIONS) {
      // Deliberate policy: counts above the cap are refused before any work (a hostile
      // KDF-parameters record must not freeze the page). No vector above the cap is skipped.
      await expect(run()).rejects.toThrow(RangeError);
    } else if ((t.dkLen as number) > 255 * 32) {
      await expect(run()).rejects.toThrow(RangeError);
    } else {
      expect(toHex(await run())).toBe(t.dk);
    }
  });
});

describe("Wycheproof ECDH P-256 (ecpoint encoding)", () => {
  const tests = V_ECDH_SECP256R1_ECPOINT_TEST.testGroups.flatMap((g) => g.tests);
  it.each(tests.map((t) => [t.tcId, t] as const))("tcId %i", async (_id, t) => {
    const run = () => p256Ecdh(scalar32(t.private as string), h(t, "public"));
    if (t.result === "valid") {
      expect(toHex(await run())).toBe(t.shared);
    } else if (t.result === "acceptable") {
      // The one acceptable case is a compressed point. Our wire format has exactly one
      // encoding per key (65-byte uncompressed), so we reject it by policy.
      expect(t.flags).toContain("CompressedPoint");
      expect(await outcome(run)).toBe("rejected");
    } else {
      expect(await outcome(run)).toBe("rejected");
    }
  });
});

describe("Wycheproof ECDH P-256 (WebCrypto JWK encoding)", () => {
  const tests = V_ECDH_SECP256R1_WEBCRYPTO_TEST.testGroups.flatMap((g) => g.tests);
  it.each(tests.map((t) => [t.tcId, t] as const))("tcId %i", async (_id, t) => {
    const priv = t.private as { d: string };
    const run = async () => {
      const pk = p256PublicFromJwk(t.public);
      const d = await import("../../src/crypto/bytes").then((m) => m.fromBase64Url(priv.d));
      return p256Ecdh(d, pk);
    };
    if (t.result === "valid") {
      expect(toHex(await run())).toBe(t.shared);
    } else {
      expect(await outcome(run)).toBe("rejected");
    }
  });
});

describe("Wycheproof ECDSA P-256 SHA-256 (P1363)", () => {
  const file = V_ECDSA_SECP256R1_SHA256_P1363_TEST;
  for (const [gi, g] of file.testGroups.entries()) {
    const pk = fromHex((g.publicKey as { uncompressed: string }).uncompressed);
    it(`group ${gi}: key is valid`, () => p256CheckPublic(pk));
    it.each(g.tests.map((t) => [t.tcId, t] as const))(`group ${gi} tcId %i`, async (_id, t) => {
      const run = () => p256Verify(pk, h(t, "msg"), h(t, "sig"));
      if (t.result === "valid") {
        await run();
        // Round trip through DER and back must be the identity for canonical signatures.
        expect(toHex(derToP1363(p1363ToDer(h(t, "sig"))))).toBe(t.sig);
      } else {
        expect(await outcome(run)).toBe("rejected");
      }
    });
  }
});

describe("Wycheproof ECDSA P-256 SHA-256 (DER, through derToP1363)", () => {
  const file = V_ECDSA_SECP256R1_SHA256_TEST;
  for (const [gi, g] of file.testGroups.entries()) {
    const pk = fromHex((g.publicKey as { uncompressed: string }).uncompressed);
    it.each(g.tests.map((t) => [t.tcId, t] as const))(`group ${gi} tcId %i`, async (_id, t) => {
      const run = async () => p256Verify(pk, h(t, "msg"), derToP1363(h(t, "sig")));
      if (t.result === "valid") {
        await run();
        expect(toHex(p1363ToDer(derToP1363(h(t, "sig"))))).toBe(t.sig);
      } else {
        expect(await outcome(run)).toBe("rejected");
      }
    });
  }
});
