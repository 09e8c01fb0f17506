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
 * Under a passkey's WebAuthn PRF output (type 0x11), 63 bytes (docs/protocol.md section 25):
 *   01 01 11 | nonce (12) | AES-256-GCM(wrap key, nonce, USK, aad) (48)
 *   wrap key = HKDF-SHA256(PRF output, salt="", info="dermline/v1/passkey-wrap-key", 32)
 *   aad = 01 01 11 || "dermline/v1/usk-passkey" || 0x00 || user id || SHA-256(credential id)
 * The PRF input (`prf.eval.first`) is PASSKEY_PRF_INPUT for every passkey.
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
  UskPasskeyUnwrapError,
  UskRecoveryUnwrapError,
} from "./errors";
import { keyId } from "./fingerprint";
import { aes256gcmOpen, aes256gcmSeal, importAesGcmKey } from "./primitives/aead";
import { p256PublicKey } from "./primitives/ecc";
import { hpkeOpenBase, hpkeRecipientFromScalar, hpkeSealBase } from "./primitives/hpke";
import { hkdfSha256, sha256 } from "./primitives/kdf";
import { RECOVERY_SECRET_LENGTH } from "./recoveryKey";
import { Malformed, Reader, RecordType, label, prefix, uuidBytes } from "./wire";

export const USK_LENGTH = 32;
const NONCE = 12;
const KEK_LABEL = label("usk-kek", true);
const RECOVERY_LABEL = label("usk-recovery", true);
const RECOVERY_WRAP_INFO = label("recovery-wrap-key");
const ORG_INFO = label("usk-org", true);
const PASSKEY_LABEL = label("usk-passkey", true);
const PASSKEY_WRAP_INFO = label("passkey-wrap-key");
/** The WebAuthn PRF extension's input (`prf.eval.first`), the same for every passkey. */
export const PASSKEY_PRF_INPUT = label("passkey-prf");
export const PRF_OUTPUT_LENGTH = 32;
export const PASSKEY_WRAP_LENGTH = 63;
const MAX_CREDENTIAL_ID = 1023;

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

export function generateUsk(): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(USK_LENGTH));
}

/** Import USK bytes as the non-extractable HKDF key the app keeps in memory. */
export async function importUsk(usk: Uint8Array): Promise<CryptoKey> {
  requireLength("usk", usk, USK_LENGTH);
  return subtle().importKey("raw", bs(usk), "HKDF", false, ["deriveKey", "deriveBits"]);
}

function aad(recordType: number, lbl: Uint8Array, userId: string, extra: Uint8Array = new Uint8Array(0)): Uint8Array {
  return concat(prefix(recordType), lbl, uuidBytes("userId", userId), extra);
}

async function seal(
  recordType: number,
  lbl: Uint8Array,
  key: Uint8Array | CryptoKey,
  usk: Uint8Array,
  userId: string,
  nonce: Uint8Array,
  extra?: Uint8Array,
): Promise<Uint8Array> {
  requireLength("usk", usk, USK_LENGTH);
  requireLength("nonce", nonce, NONCE);
  const a = aad(recordType, lbl, userId, extra);
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
  extra?: Uint8Array,
): Promise<Uint8Array> {
  const a = aad(recordType, lbl, userId, extra);
  const { nonce, ct } = parse(recordType, record);
  return aes256gcmOpen(key, nonce, ct, a);
}

async function openAsKey(
  recordType: number,
  lbl: Uint8Array,
  key: Uint8Array | CryptoKey,
  record: Uint8Array,
  userId: string,
  extra?: Uint8Array,
): Promise<CryptoKey> {
  const a = aad(recordType, lbl, userId, extra);
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

async function passkeyParts(prfOutput: Uint8Array, credentialId: Uint8Array): Promise<{ key: Uint8Array; credHash: Uint8Array }> {
  requireLength("prfOutput", prfOutput, PRF_OUTPUT_LENGTH);
  if (!(credentialId instanceof Uint8Array)) throw new TypeError("credentialId must be a Uint8Array");
  if (credentialId.length < 1 || credentialId.length > MAX_CREDENTIAL_ID) {
    throw new RangeError("credentialId must be 1..1023 bytes");
  }
  const key = await hkdfSha256(prfOutput, { salt: new Uint8Array(0), info: PASSKEY_WRAP_INFO, length: 32 });
  return { key, credHash: await sha256(credentialId) };
}

export async function wrapUskWithPasskeyFromParts(
  usk: Uint8Array,
  prfOutput: Uint8Array,
  userId: string,
  credentialId: Uint8Array,
  nonce: Uint8Array,
): Promise<Uint8Array> {
  const { key, credHash } = await passkeyParts(prfOutput, credentialId);
  return seal(RecordType.USK_PASSKEY, PASSKEY_LABEL, key, usk, userId, nonce, credHash);
}

/** Wrap the USK under a passkey's 32-byte PRF output (record type 0x11). */
export async function wrapUskWithPasskey(
  usk: Uint8Array,
  prfOutput: Uint8Array,
  userId: string,
  credentialId: Uint8Array,
): Promise<Uint8Array> {
  return wrapUskWithPasskeyFromParts(usk, prfOutput, userId, credentialId, crypto.getRandomValues(new Uint8Array(NONCE)));
}

export async function unwrapUskWithPasskey(
  record: Uint8Array,
  prfOutput: Uint8Array,
  userId: string,
  credentialId: Uint8Array,
): Promise<Uint8Array> {
  const { key, credHash } = await passkeyParts(prfOutput, credentialId);
  uuidBytes("userId", userId);
  return guarded(() => openBytes(RecordType.USK_PASSKEY, PASSKEY_LABEL, key, record, userId, credHash), UskPasskeyUnwrapError);
}

/** The USK as a non-extractable HKDF CryptoKey (the app's passkey unlock). */
export async function unwrapUskWithPasskeyAsKey(
  record: Uint8Array,
  prfOutput: Uint8Array,
  userId: string,
  credentialId: Uint8Array,
): Promise<CryptoKey> {
  const { key, credHash } = await passkeyParts(prfOutput, credentialId);
  uuidBytes("userId", userId);
  return guarded(() => openAsKey(RecordType.USK_PASSKEY, PASSKEY_LABEL, key, record, userId, credHash), UskPasskeyUnwrapError);
}
