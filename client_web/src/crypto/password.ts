/**
 * Password to login keys, and the KDF-parameters record; port of crypto/password.py.
 *
 * 1. password bytes = UTF-8(NFC(password));
 * 2. master key = PBKDF2-HMAC-SHA256(password bytes, salt, iterations, 32), 600,000 iterations;
 * 3. auth key = HKDF-SHA256(master, salt="", info="dermline/v1/auth-key", 32) is sent at login;
 *    KEK = HKDF-SHA256(master, salt="", info="dermline/v1/kek", 32) never leaves the client.
 *
 * KDF-parameters record (type 0x01): 01 01 01 | algorithm 0x01 | iterations u32 | salt len | salt.
 * The client refuses iterations outside [600,000, 2,000,000] (a malicious server could otherwise
 * ask for a weak derivation and brute-force the auth key it receives, or freeze the page) and
 * salts outside 16..64 bytes.
 *
 * Browser key handling: `deriveUnlockKeys` keeps the master key and the KEK inside WebCrypto as
 * non-extractable keys (the master key's bytes exist only between PBKDF2 and the HKDF import,
 * and are zeroed); `deriveLoginKeys` returns bytes, exactly like Python, for vectors and tests.
 * The fake-salt recipe for unknown login names is the server's (Python); it is ported here only
 * so the browser port passes fake_salt.json exactly. See normaliseLoginName for its one caveat.
 */
import { bs, concat, requireBytes, requireLength, u32be, utf8 } from "./bytes";
import { KdfParamsError } from "./errors";
import { hkdfSha256, hmacSha256, pbkdf2Sha256 } from "./primitives/kdf";
import { Malformed, Reader, RecordType, label, prefix } from "./wire";

export const KDF_ALGORITHM_PBKDF2_SHA256 = 0x01;
export const PBKDF2_ITERATIONS = 600_000;
export const MAX_PBKDF2_ITERATIONS = 2_000_000;
export const SALT_LENGTH = 16;
const MIN_SALT = 16;
const MAX_SALT = 64;
const AUTH_INFO = label("auth-key");
const KEK_INFO = label("kek");
const FAKE_SALT_LABEL = label("fake-salt", true);
const MIN_SERVER_SECRET = 32;

export interface KdfParams {
  algorithm: number;
  iterations: number;
  salt: Uint8Array;
}

export interface LoginKeys {
  authKey: Uint8Array;
  kek: Uint8Array;
}

/** Auth key as bytes (to send), KEK as a non-extractable AES-256-GCM key (to unwrap the USK). */
export interface UnlockKeys {
  authKey: Uint8Array;
  kek: CryptoKey;
}

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

export function newSalt(): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(SALT_LENGTH));
}

function passwordBytes(password: unknown): Uint8Array {
  if (typeof password !== "string") throw new TypeError("password must be a string");
  if (password.length === 0) throw new RangeError("password must not be empty");
  return utf8.encode(password.normalize("NFC"));
}

function checkIterations(iterations: unknown): number {
  if (typeof iterations !== "number" || !Number.isInteger(iterations)) {
    throw new TypeError("iterations must be an integer");
  }
  if (iterations < 1) throw new RangeError("iterations must be positive");
  return iterations;
}

export async function deriveMasterKey(
  password: string,
  salt: Uint8Array,
  iterations: number = PBKDF2_ITERATIONS,
): Promise<Uint8Array> {
  requireBytes("salt", salt);
  if (salt.length < MIN_SALT) throw new RangeError("salt must be at least 16 bytes");
  return pbkdf2Sha256(passwordBytes(password), salt, checkIterations(iterations), 32);
}

export async function splitMasterKey(masterKey: Uint8Array): Promise<LoginKeys> {
  requireLength("masterKey", masterKey, 32);
  const empty = new Uint8Array(0);
  return {
    authKey: await hkdfSha256(masterKey, { salt: empty, info: AUTH_INFO, length: 32 }),
    kek: await hkdfSha256(masterKey, { salt: empty, info: KEK_INFO, length: 32 }),
  };
}

export async function deriveLoginKeys(
  password: string,
  salt: Uint8Array,
  iterations: number = PBKDF2_ITERATIONS,
): Promise<LoginKeys> {
  return splitMasterKey(await deriveMasterKey(password, salt, iterations));
}

/** The unlock path of the app: same derivation, KEK kept non-extractable. */
export async function deriveUnlockKeys(
  password: string,
  salt: Uint8Array,
  iterations: number = PBKDF2_ITERATIONS,
): Promise<UnlockKeys> {
  const master = await deriveMasterKey(password, salt, iterations);
  const masterKey = await subtle().importKey("raw", bs(master), "HKDF", false, [
    "deriveBits",
    "deriveKey",
  ]);
  master.fill(0);
  const empty = new Uint8Array(0);
  const authKey = new Uint8Array(
    await subtle().deriveBits(
      { name: "HKDF", hash: "SHA-256", salt: empty, info: bs(AUTH_INFO) },
      masterKey,
      256,
    ),
  );
  const kek = await subtle().deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: empty, info: bs(KEK_INFO) },
    masterKey,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
  );
  return { authKey, kek };
}

export function encodeKdfParams(salt: Uint8Array, iterations: number = PBKDF2_ITERATIONS): Uint8Array {
  requireBytes("salt", salt);
  if (salt.length < MIN_SALT || salt.length > MAX_SALT) {
    throw new RangeError("salt must be 16 to 64 bytes");
  }
  checkIterations(iterations);
  if (iterations < PBKDF2_ITERATIONS || iterations > MAX_PBKDF2_ITERATIONS) {
    throw new RangeError("iterations out of the accepted range");
  }
  return concat(
    prefix(RecordType.KDF_PARAMS),
    new Uint8Array([KDF_ALGORITHM_PBKDF2_SHA256]),
    u32be(iterations),
    new Uint8Array([salt.length]),
    salt,
  );
}

/** Parse and check a KDF-parameters record from the server; KdfParamsError if unacceptable. */
export function parseKdfParams(record: Uint8Array): KdfParams {
  const reader = new Reader(record);
  let algorithm: number;
  let iterations: number;
  let salt: Uint8Array;
  try {
    reader.prefix(RecordType.KDF_PARAMS);
    algorithm = reader.byte();
    iterations = reader.u32();
    salt = reader.take(reader.byte());
    reader.end();
  } catch (e) {
    if (e instanceof Malformed) throw new KdfParamsError();
    throw e;
  }
  if (
    algorithm !== KDF_ALGORITHM_PBKDF2_SHA256 ||
    iterations < PBKDF2_ITERATIONS ||
    iterations > MAX_PBKDF2_ITERATIONS ||
    salt.length < MIN_SALT ||
    salt.length > MAX_SALT
  ) {
    throw new KdfParamsError();
  }
  return { algorithm, iterations, salt };
}

/**
 * NFKC, case-folded, NFKC again, surrounding whitespace removed (Python: NFKC, casefold(),
 * NFKC, strip(); the second NFKC makes it idempotent, e.g. J + caron folds to a decomposed j).
 * JavaScript has no casefold(); upper-casing then lower-casing gives Python's full case folding
 * for every script in use for login names (e.g. "Straße" -> "strasse", final sigma -> sigma).
 * It differs only for a few exotic characters (e.g. Cherokee), which is harmless because the
 * browser never calls this: the server (Python) computes fake salts.
 */
export function normaliseLoginName(loginName: string): string {
  if (typeof loginName !== "string") throw new TypeError("loginName must be a string");
  // Python's str.strip() removes Unicode whitespace, as does String.prototype.trim().
  const n = loginName.normalize("NFKC").toUpperCase().toLowerCase().normalize("NFKC").trim();
  if (n.length === 0) throw new RangeError("loginName must not be empty");
  return n;
}

/** HMAC-SHA256(server secret, "dermline/v1/fake-salt" || 0x00 || UTF-8(name))[:16]. */
export async function fakeSalt(serverSecret: Uint8Array, loginName: string): Promise<Uint8Array> {
  requireBytes("serverSecret", serverSecret);
  if (serverSecret.length < MIN_SERVER_SECRET) {
    throw new RangeError("serverSecret must be at least 32 bytes");
  }
  const name = utf8.encode(normaliseLoginName(loginName));
  return (await hmacSha256(serverSecret, concat(FAKE_SALT_LABEL, name))).slice(0, SALT_LENGTH);
}

export async function fakeKdfParams(serverSecret: Uint8Array, loginName: string): Promise<Uint8Array> {
  return encodeKdfParams(await fakeSalt(serverSecret, loginName));
}
