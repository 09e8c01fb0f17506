/**
 * Key derivation and MACs over WebCrypto; port of crypto/primitives/kdf.py.
 *
 * - HMAC-SHA256 / HMAC-SHA512 (RFC 2104). An empty key is replaced by one block of zero bytes,
 *   which RFC 2104 section 2 makes identical (keys shorter than the block are zero-padded), because
 *   some WebCrypto implementations refuse zero-length HMAC keys.
 * - HKDF (RFC 5869) is built from HMAC here (Extract, Expand, and Extract-then-Expand) rather
 *   than WebCrypto's "HKDF" algorithm: RFC 9180's LabeledExtract/LabeledExpand and C2SP's
 *   Expand-only step need the two halves separately, and it accepts empty IKM everywhere.
 *   An empty salt is the RFC 5869 default (HashLen zeros; equivalent under HMAC padding).
 *   Output length 1..255*HashLen (RFC 5869 section 2.3); 0 is refused as in Python.
 * - PBKDF2-HMAC-SHA256 (RFC 8018 section 5.2) via WebCrypto, with iterations capped at
 *   MAX_PBKDF2_ITERATIONS: the iteration count arrives from the server in the KDF-parameters
 *   record, and an absurd count must not freeze the page (the v1 record fixes 600,000).
 *
 * Misuse (wrong types, lengths outside the RFC) raises TypeError/RangeError; the one check on
 * hostile input, hmacSha256Verify, raises PrimitiveError.
 */
import { bs, concat, equalBytes, requireBytes } from "../bytes";
import { PrimitiveError } from "../errors";

export const SHA256_LEN = 32;
export const SHA512_LEN = 64;
/** Upper bound on PBKDF2 iterations accepted from anywhere (v1 uses 600,000). */
export const MAX_PBKDF2_ITERATIONS = 5_000_000;

type Hash = "SHA-256" | "SHA-512";
const BLOCK: Record<Hash, number> = { "SHA-256": 64, "SHA-512": 128 };
const HLEN: Record<Hash, number> = { "SHA-256": 32, "SHA-512": 64 };

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

function checkLength(length: unknown, hashLen: number): number {
  if (typeof length !== "number" || !Number.isInteger(length)) {
    throw new TypeError("length must be an integer");
  }
  if (length < 1 || length > 255 * hashLen) {
    throw new RangeError(`length must be between 1 and ${255 * hashLen}`);
  }
  return length;
}

async function hmacKey(hash: Hash, key: Uint8Array): Promise<CryptoKey> {
  requireBytes("key", key);
  const k = key.length === 0 ? new Uint8Array(BLOCK[hash]) : key;
  return subtle().importKey("raw", bs(k), { name: "HMAC", hash }, false, ["sign"]);
}

async function mac(key: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().sign("HMAC", key, bs(data)));
}

export async function hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  requireBytes("data", data);
  return mac(await hmacKey("SHA-256", key), data);
}

export async function hmacSha512(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  requireBytes("data", data);
  return mac(await hmacKey("SHA-512", key), data);
}

/**
 * Check a full 32-byte HMAC-SHA256 tag in constant time; PrimitiveError if wrong. Truncated
 * tags are refused (the protocol never truncates), so any other length fails like a wrong tag.
 */
export async function hmacSha256Verify(
  key: Uint8Array,
  data: Uint8Array,
  tag: Uint8Array,
): Promise<void> {
  requireBytes("tag", tag);
  const expected = await hmacSha256(key, data);
  if (!equalBytes(expected, tag)) {
    throw new PrimitiveError();
  }
}

async function extract(hash: Hash, salt: Uint8Array, ikm: Uint8Array): Promise<Uint8Array> {
  requireBytes("salt", salt);
  requireBytes("ikm", ikm);
  // RFC 5869 2.2: salt defaults to HashLen zeros; an empty HMAC key is the same thing.
  return mac(await hmacKey(hash, salt), ikm);
}

async function expand(
  hash: Hash,
  prk: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  const n = checkLength(length, HLEN[hash]);
  requireBytes("prk", prk);
  requireBytes("info", info);
  const key = await hmacKey(hash, prk);
  const out = new Uint8Array(n);
  let t: Uint8Array = new Uint8Array(0);
  for (let i = 1, o = 0; o < n; i++) {
    t = await mac(key, concat(t, info, new Uint8Array([i])));
    out.set(t.subarray(0, Math.min(t.length, n - o)), o);
    o += t.length;
  }
  return out;
}

/** HKDF-Extract(salt, IKM) with SHA-256 (RFC 5869 section 2.2): a 32-byte PRK. */
export function hkdfSha256Extract(salt: Uint8Array, ikm: Uint8Array): Promise<Uint8Array> {
  return extract("SHA-256", salt, ikm);
}

/** HKDF-Expand(PRK, info, L) with SHA-256 (RFC 5869 section 2.3). */
export function hkdfSha256Expand(
  prk: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  return expand("SHA-256", prk, info, length);
}

/** HKDF-Expand(PRK, info, L) with SHA-512: the Expand-only step of C2SP chunked encryption. */
export function hkdfSha512Expand(
  prk: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  return expand("SHA-512", prk, info, length);
}

/** HKDF-SHA256 Extract-then-Expand (RFC 5869). */
export async function hkdfSha256(
  ikm: Uint8Array,
  opts: { salt: Uint8Array; info: Uint8Array; length: number },
): Promise<Uint8Array> {
  checkLength(opts.length, SHA256_LEN);
  requireBytes("info", opts.info);
  const prk = await extract("SHA-256", opts.salt, ikm);
  return expand("SHA-256", prk, opts.info, opts.length);
}

/**
 * PBKDF2-HMAC-SHA256 (RFC 8018 section 5.2). 1 <= iterations <= MAX_PBKDF2_ITERATIONS.
 * The password is passed to WebCrypto as the HMAC key; an empty password becomes one block of
 * zeros (identical under RFC 2104 padding) because some engines refuse an empty key.
 */
export async function pbkdf2Sha256(
  password: Uint8Array,
  salt: Uint8Array,
  iterations: number,
  length: number,
): Promise<Uint8Array> {
  requireBytes("password", password);
  requireBytes("salt", salt);
  if (typeof iterations !== "number" || !Number.isInteger(iterations)) {
    throw new TypeError("iterations must be an integer");
  }
  if (iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS) {
    throw new RangeError(`iterations must be between 1 and ${MAX_PBKDF2_ITERATIONS}`);
  }
  const n = checkLength(length, SHA256_LEN);
  const pw = password.length === 0 ? new Uint8Array(BLOCK["SHA-256"]) : password;
  const key = await subtle().importKey("raw", bs(pw), { name: "PBKDF2" }, false, ["deriveBits"]);
  const bits = await subtle().deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: bs(salt), iterations },
    key,
    n * 8,
  );
  return new Uint8Array(bits);
}

export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  requireBytes("data", data);
  return new Uint8Array(await subtle().digest("SHA-256", bs(data)));
}

export async function sha512(data: Uint8Array): Promise<Uint8Array> {
  requireBytes("data", data);
  return new Uint8Array(await subtle().digest("SHA-512", bs(data)));
}
