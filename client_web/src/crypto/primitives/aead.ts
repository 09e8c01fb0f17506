/**
 * AES-GCM with a 96-bit nonce and a 128-bit tag (NIST SP 800-38D) over WebCrypto; port of
 * crypto/primitives/aead.py.
 *
 * Output framing is `ciphertext || tag` (tag = last 16 bytes), which is both what WebCrypto
 * returns and what the Python core writes, so records are byte-identical.
 *
 * Rules (same as Python):
 * - key exactly 32 bytes for AES-256 (AES-128 exists only for two RFC 9180 vector suites);
 * - nonce exactly 12 bytes (other lengths go through GHASH, SP 800-38D section 8.2);
 * - wrong key/nonce length or a non-Uint8Array argument is misuse (RangeError / TypeError);
 *   a ciphertext shorter than the tag or failing authentication is hostile input and raises
 *   PrimitiveError, with no partial plaintext (WebCrypto never releases unauthenticated data).
 *
 * Keys given as bytes are imported non-extractable for the single call. Callers that hold a
 * long-lived key (the USK, a case key) import it once with `importAesGcmKey` and pass the
 * CryptoKey, so the raw bytes need not stay in memory.
 */
import { bs, requireBytes, requireLength } from "../bytes";
import { PrimitiveError } from "../errors";

export const AES256_KEY_LEN = 32;
export const AES128_KEY_LEN = 16;
export const GCM_NONCE_LEN = 12;
export const GCM_TAG_LEN = 16;

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

/** Import raw AES key bytes as a non-extractable AES-GCM CryptoKey. */
export async function importAesGcmKey(
  key: Uint8Array,
  length: 16 | 32 = 32,
  usages: KeyUsage[] = ["encrypt", "decrypt"],
): Promise<CryptoKey> {
  requireLength("key", key, length);
  return subtle().importKey("raw", bs(key), { name: "AES-GCM" }, false, usages);
}

function checkKey(key: Uint8Array | CryptoKey, length: 16 | 32): Promise<CryptoKey> {
  if (key instanceof Uint8Array) {
    return importAesGcmKey(key, length);
  }
  if (
    typeof CryptoKey === "undefined" ||
    !(key instanceof CryptoKey) ||
    key.algorithm.name !== "AES-GCM" ||
    (key.algorithm as AesKeyAlgorithm).length !== length * 8
  ) {
    throw new TypeError(`key must be ${length} bytes or an AES-${length * 8}-GCM CryptoKey`);
  }
  return Promise.resolve(key);
}

async function seal(
  key: Uint8Array | CryptoKey,
  length: 16 | 32,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Promise<Uint8Array> {
  requireLength("nonce", nonce, GCM_NONCE_LEN);
  requireBytes("plaintext", plaintext);
  requireBytes("aad", aad);
  const k = await checkKey(key, length);
  const ct = await subtle().encrypt(
    { name: "AES-GCM", iv: bs(nonce), additionalData: bs(aad), tagLength: 128 },
    k,
    bs(plaintext),
  );
  return new Uint8Array(ct);
}

async function open(
  key: Uint8Array | CryptoKey,
  length: 16 | 32,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  aad: Uint8Array,
): Promise<Uint8Array> {
  requireLength("nonce", nonce, GCM_NONCE_LEN);
  requireBytes("ciphertext", ciphertext);
  requireBytes("aad", aad);
  const k = await checkKey(key, length);
  if (ciphertext.length < GCM_TAG_LEN) {
    // Too short to hold the tag: hostile input, not misuse.
    throw new PrimitiveError();
  }
  try {
    const pt = await subtle().decrypt(
      { name: "AES-GCM", iv: bs(nonce), additionalData: bs(aad), tagLength: 128 },
      k,
      bs(ciphertext),
    );
    return new Uint8Array(pt);
  } catch {
    // WebCrypto raises OperationError on a bad tag; say nothing more.
    throw new PrimitiveError();
  }
}

/** Encrypt with AES-256-GCM; returns `ciphertext || tag` (plaintext length + 16 bytes). */
export function aes256gcmSeal(
  key: Uint8Array | CryptoKey,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Promise<Uint8Array> {
  return seal(key, 32, nonce, plaintext, aad);
}

/** Decrypt `ciphertext || tag` with AES-256-GCM; PrimitiveError if it does not authenticate. */
export function aes256gcmOpen(
  key: Uint8Array | CryptoKey,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  aad: Uint8Array,
): Promise<Uint8Array> {
  return open(key, 32, nonce, ciphertext, aad);
}

export function aes128gcmSeal(
  key: Uint8Array | CryptoKey,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Promise<Uint8Array> {
  return seal(key, 16, nonce, plaintext, aad);
}

export function aes128gcmOpen(
  key: Uint8Array | CryptoKey,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  aad: Uint8Array,
): Promise<Uint8Array> {
  return open(key, 16, nonce, ciphertext, aad);
}
