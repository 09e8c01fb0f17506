/**
 * X-Wing, the hybrid ML-KEM-768 + X25519 KEM (draft-connolly-cfrg-xwing-kem; HPKE KEM id
 * 0x647a, the "MLKEM768-X25519" of WebCrypto's modern algorithms and of the IETF hybrid drafts),
 * and HPKE base mode with it: suite 2 of docs/protocol.md section 26. Port of
 * crypto/primitives/xwing.py and the hybrid half of crypto/primitives/hpke.py.
 *
 * Two paths compute the same bytes:
 * - "webcrypto": the browser's own `MLKEM768-X25519` (`crypto.subtle.encapsulateBits` /
 *   `decapsulateBits`), where present (Chromium 156 has it: docs/performance.md);
 * - "library": `@noble/post-quantum` (audited, pinned in package-lock.json), for browsers
 *   without it (and Node 20, where the tests run too).
 * `xwingPath()` probes once with a full round trip. Both paths are checked against the
 * draft's vectors; derandomised encapsulation (`eseed` given, for our vectors) always uses the
 * library, since WebCrypto draws its own randomness.
 *
 * Checks, the same as the Python core's on every path: a public key must be 1216 bytes, pass
 * ML-KEM's modulus check (FIPS 203 section 7.2) and have an X25519 half of large order; a
 * ciphertext must be 1120 bytes with an X25519 half of large order. Anything else is a
 * PrimitiveError (the recipes map it to their own error).
 */
import { x25519 } from "@noble/curves/ed25519.js";
import { ml_kem768_x25519 as xwingLibrary } from "@noble/post-quantum/hybrid.js";
import { ml_kem768_x25519 as xwingWebCrypto } from "@noble/post-quantum/webcrypto.js";
import { bs, concat, requireBytes, requireLength } from "../bytes";
import { PrimitiveError } from "../errors";
import { aes256gcmOpen, aes256gcmSeal } from "./aead";
import { hpkeSuiteId, labeledExpand, labeledExtract } from "./labeled";

export const XWING_KEM_ID = 0x647a;
export const XWING_SEED_LEN = 32;
export const XWING_PUBLIC_KEY_LEN = 1216;
export const XWING_CIPHERTEXT_LEN = 1120;
export const XWING_ESEED_LEN = 64;
export const MLKEM768_PUBLIC_LEN = 1184;
export const MLKEM768_CIPHERTEXT_LEN = 1088;
/** DER prefix of an X-Wing SubjectPublicKeyInfo (OID 1.3.6.1.4.1.62253.25722), 24 bytes. */
export const XWING_SPKI_PREFIX = new Uint8Array([
  0x30, 0x82, 0x04, 0xd4, 0x30, 0x0d, 0x06, 0x0b, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xe6, 0x2d,
  0x81, 0xc8, 0x7a, 0x03, 0x82, 0x04, 0xc1, 0x00,
]);

export type XWingPath = "webcrypto" | "library";

export interface XWingEncapsulation {
  sharedSecret: Uint8Array;
  /** 1120 bytes: ML-KEM-768 ciphertext || X25519 ephemeral public key. */
  ciphertext: Uint8Array;
}

let detected: Promise<XWingPath> | undefined;
let forced: XWingPath | undefined;

/** Which path this runtime takes (probed once: WebCrypto keygen, encapsulate, decapsulate). */
export function xwingPath(): Promise<XWingPath> {
  if (forced !== undefined) return Promise.resolve(forced);
  detected ??= xwingWebCrypto.isSupported().then(
    (ok) => (ok ? "webcrypto" : "library"),
    () => "library" as const,
  );
  return detected;
}

/** Tests and benchmarks: run one path explicitly (undefined: back to detection). */
export function setXWingPath(path: XWingPath | undefined): void {
  forced = path;
}

// Any fixed scalar: X25519 clamps it to a multiple of the cofactor, so the product is zero
// (and noble throws) exactly when the point has small order.
const PROBE = Uint8Array.from({ length: 32 }, (_, i) => i);

function checkX25519Point(u: Uint8Array): void {
  try {
    x25519.getSharedSecret(PROBE, u);
  } catch {
    throw new PrimitiveError();
  }
}

/** FIPS 203 section 7.2 modulus check: every 12-bit coefficient of t is below q = 3329. */
function mlkemModulusCheck(pkM: Uint8Array): boolean {
  for (let i = 0; i + 3 <= 1152; i += 3) {
    const b0 = pkM[i]!;
    const b1 = pkM[i + 1]!;
    const b2 = pkM[i + 2]!;
    if ((b0 | ((b1 & 0x0f) << 8)) >= 3329 || ((b1 >> 4) | (b2 << 4)) >= 3329) return false;
  }
  return true;
}

/** Validate a peer's X-Wing public key; PrimitiveError if it is not one. */
export function xwingCheckPublicKey(pk: Uint8Array): void {
  requireBytes("pk", pk);
  if (pk.length !== XWING_PUBLIC_KEY_LEN) throw new PrimitiveError();
  if (!mlkemModulusCheck(pk.subarray(0, MLKEM768_PUBLIC_LEN))) throw new PrimitiveError();
  checkX25519Point(pk.subarray(MLKEM768_PUBLIC_LEN));
}

/** The 1216-byte public key of a 32-byte seed (the X-Wing private key). */
export function xwingPublicKey(seed: Uint8Array): Uint8Array {
  requireLength("seed", seed, XWING_SEED_LEN);
  return xwingLibrary.keygen(seed).publicKey;
}

/** SPKI DER of a valid X-Wing key (1240 bytes); PrimitiveError otherwise. */
export function xwingSpki(pk: Uint8Array): Uint8Array {
  xwingCheckPublicKey(pk);
  return concat(XWING_SPKI_PREFIX, pk);
}

/**
 * Encapsulate to `pk`. With `eseed` (64 bytes: ML-KEM's m, then the X25519 ephemeral key)
 * this is the draft's EncapsulateDerand, for vectors; without it fresh randomness is drawn by
 * the runtime's path.
 */
export async function xwingEncapsulate(
  pk: Uint8Array,
  eseed?: Uint8Array,
): Promise<XWingEncapsulation> {
  xwingCheckPublicKey(pk);
  if (eseed !== undefined) requireLength("eseed", eseed, XWING_ESEED_LEN);
  const path = eseed === undefined ? await xwingPath() : "library";
  try {
    const out =
      path === "webcrypto"
        ? await xwingWebCrypto.encapsulate(pk)
        : xwingLibrary.encapsulate(pk, eseed ?? crypto.getRandomValues(new Uint8Array(64)));
    return { sharedSecret: out.sharedSecret, ciphertext: out.cipherText };
  } catch {
    throw new PrimitiveError();
  }
}

/** Decapsulate a 1120-byte ciphertext with the 32-byte seed; PrimitiveError if malformed. */
export async function xwingDecapsulate(ct: Uint8Array, seed: Uint8Array): Promise<Uint8Array> {
  requireBytes("ct", ct);
  requireLength("seed", seed, XWING_SEED_LEN);
  if (ct.length !== XWING_CIPHERTEXT_LEN) throw new PrimitiveError();
  checkX25519Point(ct.subarray(MLKEM768_CIPHERTEXT_LEN));
  try {
    return (await xwingPath()) === "webcrypto"
      ? await xwingWebCrypto.decapsulate(ct, seed)
      : xwingLibrary.decapsulate(ct, seed);
  } catch {
    throw new PrimitiveError();
  }
}

// --- HPKE base mode with X-Wing / HKDF-SHA256 / AES-256-GCM (RFC 9180, suite 2) -------------

const SUITE_ID = hpkeSuiteId(XWING_KEM_ID, 0x0001, 0x0002);

/** RFC 9180 KeySchedule (mode_base) for the hybrid suite: { key, baseNonce }. */
export async function hybridKeySchedule(
  sharedSecret: Uint8Array,
  info: Uint8Array,
  suiteId: Uint8Array = SUITE_ID,
): Promise<{ key: Uint8Array; baseNonce: Uint8Array; exporterSecret: Uint8Array }> {
  const empty = new Uint8Array(0);
  const pskIdHash = await labeledExtract(suiteId, empty, "psk_id_hash", empty);
  const infoHash = await labeledExtract(suiteId, empty, "info_hash", info);
  const context = concat(new Uint8Array([0]), pskIdHash, infoHash);
  const secret = await labeledExtract(suiteId, sharedSecret, "secret", empty);
  return {
    key: await labeledExpand(suiteId, secret, "key", context, 32),
    baseNonce: await labeledExpand(suiteId, secret, "base_nonce", context, 12),
    exporterSecret: await labeledExpand(suiteId, secret, "exp", context, 32),
  };
}

/** SealBase (sequence 0) given a fresh encapsulation: { enc, ct }. */
export async function hpkeSealBaseHybrid(
  encapsulation: XWingEncapsulation,
  info: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Promise<{ enc: Uint8Array; ct: Uint8Array }> {
  requireBytes("info", info);
  requireBytes("aad", aad);
  requireBytes("plaintext", plaintext);
  const { key, baseNonce } = await hybridKeySchedule(encapsulation.sharedSecret, info);
  const ct = await aes256gcmSeal(key, baseNonce, plaintext, aad);
  return { enc: bs(encapsulation.ciphertext), ct };
}

/** OpenBase (sequence 0) with the recipient's seed; PrimitiveError on any failure. */
export async function hpkeOpenBaseHybrid(
  seed: Uint8Array,
  enc: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
  ct: Uint8Array,
): Promise<Uint8Array> {
  requireBytes("info", info);
  requireBytes("aad", aad);
  requireBytes("ct", ct);
  const sharedSecret = await xwingDecapsulate(enc, seed);
  const { key, baseNonce } = await hybridKeySchedule(sharedSecret, info);
  return aes256gcmOpen(key, baseNonce, ct, aad);
}
