/**
 * The user symmetric key (USK) and its three wraps; port of crypto/usk.py.
 *
 * Under the KEK (type 0x02) and under the recovery key (type 0x03), 63 bytes each:
 *   01 01 TT | nonce (12) | AES-256-GCM(wrap key, nonce, USK, aad) (48)
 *   aad = 01 01 TT || "dermline/v1/usk-kek" | "dermline/v1/usk-recovery" || 0x00 || user id
 * The KEK wrap key is the KEK; the recovery wrap key is
 *   HKDF-SHA256(recovery secret, salt="", info="dermline/v1/recovery-wrap-key", 32).
 *
 * To the organisation recovery key with HPKE (type 0x04), 132 bytes:
 *   01 01 04 | org key id (16) | enc (65) | HPKE ciphertext (48)
 *   info = "dermline/v1/usk-org" || 0x00 || user id || org key id;  aad = 01 01 04 || org key id
 *
 * Browser key handling: `unwrapUskWithKekAsKey` / `unwrapUskWithRecoveryKeyAsKey` use
 * WebCrypto unwrapKey, so the USK arrives as a non-extractable HKDF key and its bytes never
 * enter JavaScript memory. The byte-returning functions mirror Python for vectors and tests.
 */
import { bs, concat, requireLength } from "./bytes";
import {
  PrimitiveError,
  PublicKeyError,
  UskKekUnwrapError,
  UskOrgUnwrapError,
  UskRecoveryUnwrapError,
} from "./errors";
import { keyId } from "./fingerprint";
import { aes256gcmOpen, aes256gcmSeal, importAesGcmKey } from "./primitives/aead";
import { p256PublicKey } from "./primitives/ecc";
import { hpkeOpenBase, hpkeRecipientFromScalar, hpkeSealBase } from "./primitives/hpke";
import { hkdfSha256 } from "./primitives/kdf";
import { RECOVERY_SECRET_LENGTH } from "./recoveryKey";
import { Malformed, Reader, RecordType, label, prefix, uuidBytes } from "./wire";

export const USK_LENGTH = 32;
const NONCE = 12;
const KEK_LABEL = label("usk-kek", true);
const RECOVERY_LABEL = label("usk-recovery", true);
const RECOVERY_WRAP_INFO = label("recovery-wrap-key");
const ORG_INFO = label("usk-org", true);

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

export function generateUsk(): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(USK_LENGTH));
}

/** Import USK bytes as the non-extractable HKDF key the app keeps in memory. */
export async function importUsk(usk: Uint8Array): Promise<CryptoKey> {
  requireLength("usk", usk, USK_LENGTH);
  return subtle().importKey("raw", bs(usk), "HKDF", false, ["deriveKey", "deriveBits"]);
}

function aad(recordType: number, lbl: Uint8Array, userId: string): Uint8Array {
  return concat(prefix(recordType), lbl, uuidBytes("userId", userId));
}

async function seal(
  recordType: number,
  lbl: Uint8Array,
  key: Uint8Array | CryptoKey,
  usk: Uint8Array,
  userId: string,
  nonce: Uint8Array,
): Promise<Uint8Array> {
  requireLength("usk", usk, USK_LENGTH);
  requireLength("nonce", nonce, NONCE);
  const a = aad(recordType, lbl, userId);
  return concat(prefix(recordType), nonce, await aes256gcmSeal(key, nonce, usk, a));
}

function parse(recordType: number, record: Uint8Array): { nonce: Uint8Array; ct: Uint8Array } {
  const reader = new Reader(record);
  reader.prefix(recordType);
  const nonce = reader.take(NONCE);
  const ct = reader.take(USK_LENGTH + 16);
  reader.end();
  return { nonce, ct };
}

async function openBytes(
  recordType: number,
  lbl: Uint8Array,
  key: Uint8Array | CryptoKey,
  record: Uint8Array,
  userId: string,
): Promise<Uint8Array> {
  const a = aad(recordType, lbl, userId);
  const { nonce, ct } = parse(recordType, record);
  return aes256gcmOpen(key, nonce, ct, a);
}

async function openAsKey(
  recordType: number,
  lbl: Uint8Array,
  key: Uint8Array | CryptoKey,
  record: Uint8Array,
  userId: string,
): Promise<CryptoKey> {
  const a = aad(recordType, lbl, userId);
  const wrappingKey =
    key instanceof Uint8Array ? await importAesGcmKey(key, 32, ["unwrapKey"]) : key;
  const { nonce, ct } = parse(recordType, record);
  try {
    return await subtle().unwrapKey(
      "raw",
      bs(ct),
      wrappingKey,
      { name: "AES-GCM", iv: bs(nonce), additionalData: bs(a), tagLength: 128 },
      "HKDF",
      false,
      ["deriveKey", "deriveBits"],
    );
  } catch {
    throw new PrimitiveError();
  }
}

function checkKek(kek: Uint8Array | CryptoKey): Uint8Array | CryptoKey {
  return kek instanceof Uint8Array ? requireLength("kek", kek, 32) : kek;
}

/** Map parse and primitive failures to the operation's one opaque error; rethrow misuse. */
async function guarded<T>(f: () => Promise<T>, err: new () => Error): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof Malformed || e instanceof PrimitiveError || e instanceof PublicKeyError) {
      throw new err();
    }
    throw e;
  }
}

export async function wrapUskWithKekFromParts(
  usk: Uint8Array,
  kek: Uint8Array | CryptoKey,
  userId: string,
  nonce: Uint8Array,
): Promise<Uint8Array> {
  return seal(RecordType.USK_KEK, KEK_LABEL, checkKek(kek), usk, userId, nonce);
}

export async function wrapUskWithKek(
  usk: Uint8Array,
  kek: Uint8Array | CryptoKey,
  userId: string,
): Promise<Uint8Array> {
  return wrapUskWithKekFromParts(usk, kek, userId, crypto.getRandomValues(new Uint8Array(NONCE)));
}

export async function unwrapUskWithKek(
  record: Uint8Array,
  kek: Uint8Array | CryptoKey,
  userId: string,
): Promise<Uint8Array> {
  checkKek(kek);
  uuidBytes("userId", userId);
  return guarded(() => openBytes(RecordType.USK_KEK, KEK_LABEL, kek, record, userId), UskKekUnwrapError);
}

/** The USK as a non-extractable HKDF CryptoKey (the app's unlock path). */
export async function unwrapUskWithKekAsKey(
  record: Uint8Array,
  kek: Uint8Array | CryptoKey,
  userId: string,
): Promise<CryptoKey> {
  checkKek(kek);
  uuidBytes("userId", userId);
  return guarded(() => openAsKey(RecordType.USK_KEK, KEK_LABEL, kek, record, userId), UskKekUnwrapError);
}

async function recoveryWrapKey(secret: Uint8Array): Promise<Uint8Array> {
  requireLength("recoverySecret", secret, RECOVERY_SECRET_LENGTH);
  return hkdfSha256(secret, { salt: new Uint8Array(0), info: RECOVERY_WRAP_INFO, length: 32 });
}

export async function wrapUskWithRecoveryKeyFromParts(
  usk: Uint8Array,
  recoverySecret: Uint8Array,
  userId: string,
  nonce: Uint8Array,
): Promise<Uint8Array> {
  const key = await recoveryWrapKey(recoverySecret);
  return seal(RecordType.USK_RECOVERY, RECOVERY_LABEL, key, usk, userId, nonce);
}

export async function wrapUskWithRecoveryKey(
  usk: Uint8Array,
  recoverySecret: Uint8Array,
  userId: string,
): Promise<Uint8Array> {
  return wrapUskWithRecoveryKeyFromParts(
    usk,
    recoverySecret,
    userId,
    crypto.getRandomValues(new Uint8Array(NONCE)),
  );
}

export async function unwrapUskWithRecoveryKey(
  record: Uint8Array,
  recoverySecret: Uint8Array,
  userId: string,
): Promise<Uint8Array> {
  const key = await recoveryWrapKey(recoverySecret);
  uuidBytes("userId", userId);
  return guarded(
    () => openBytes(RecordType.USK_RECOVERY, RECOVERY_LABEL, key, record, userId),
    UskRecoveryUnwrapError,
  );
}

export async function unwrapUskWithRecoveryKeyAsKey(
  record: Uint8Array,
  recoverySecret: Uint8Array,
  userId: string,
): Promise<CryptoKey> {
  const key = await recoveryWrapKey(recoverySecret);
  uuidBytes("userId", userId);
  return guarded(
    () => openAsKey(RecordType.USK_RECOVERY, RECOVERY_LABEL, key, record, userId),
    UskRecoveryUnwrapError,
  );
}

export async function wrapUskForOrgFromParts(
  usk: Uint8Array,
  orgPublicKey: Uint8Array,
  userId: string,
  ikmE: Uint8Array,
): Promise<Uint8Array> {
  requireLength("usk", usk, USK_LENGTH);
  const user = uuidBytes("userId", userId);
  const orgId = await keyId(orgPublicKey); // PublicKeyError if not a valid point
  const head = concat(prefix(RecordType.USK_ORG), orgId);
  const { enc, ct } = await hpkeSealBase(orgPublicKey, concat(ORG_INFO, user, orgId), head, usk, {
    ikmE,
  });
  return concat(head, enc, ct);
}

export async function wrapUskForOrg(
  usk: Uint8Array,
  orgPublicKey: Uint8Array,
  userId: string,
): Promise<Uint8Array> {
  return wrapUskForOrgFromParts(usk, orgPublicKey, userId, crypto.getRandomValues(new Uint8Array(32)));
}

/** Admin-assisted recovery with the organisation's 32-byte private scalar. */
export async function unwrapUskForOrg(
  record: Uint8Array,
  orgPrivateKey: Uint8Array,
  userId: string,
): Promise<Uint8Array> {
  requireLength("orgPrivateKey", orgPrivateKey, 32);
  const user = uuidBytes("userId", userId);
  const orgPublic = await p256PublicKey(orgPrivateKey); // RangeError if not a valid scalar
  const ownId = await keyId(orgPublic);
  const recipient = await hpkeRecipientFromScalar(orgPrivateKey, orgPublic);
  return guarded(async () => {
    const reader = new Reader(record);
    reader.prefix(RecordType.USK_ORG);
    const orgId = reader.take(16);
    const head = reader.consumed();
    const enc = reader.take(65);
    const ct = reader.take(USK_LENGTH + 16);
    reader.end();
    if (!orgId.every((b, i) => b === ownId[i])) throw new Malformed();
    return hpkeOpenBase(recipient, enc, concat(ORG_INFO, user, orgId), head, ct);
  }, UskOrgUnwrapError);
}
