/**
 * Account key pairs and their private parts sealed under the USK; port of crypto/account.py.
 *
 * Sealed private key record (type 0x05), 80 bytes:
 *   01 01 05 | purpose (1) | key id (16) | nonce (12) | AES-256-GCM ciphertext (48)
 *   seal key = HKDF-SHA256(USK, salt="", info="dermline/v1/private-key-seal", 32)
 *   aad      = bytes 0..19 || "dermline/v1/private-key" || 0x00 || user id
 * Purpose 0x01 encryption (ECDH), 0x02 signing (ECDSA). On unseal the purpose must be the
 * expected one and the scalar's public key must have the record's key id.
 *
 * Browser key handling: the seal key is derived inside WebCrypto (HKDF deriveKey, non-
 * extractable) from the USK given as bytes or as the non-extractable HKDF key. `unsealAccountKey`
 * imports the decrypted scalar as a non-extractable ECDH or ECDSA key and zeroes the bytes;
 * `unsealPrivateKey` returns the scalar like Python (vectors, tests, enrolment).
 */
import { bs, concat, equalBytes, requireLength } from "./bytes";
import { PrimitiveError, PrivateKeyUnsealError, PublicKeyError } from "./errors";
import { keyId } from "./fingerprint";
import { aes256gcmOpen, aes256gcmSeal } from "./primitives/aead";
import {
  type Signer,
  importP256Private,
  p256DeriveKeypair,
  p256PublicKey,
  webCryptoSigner,
} from "./primitives/ecc";
import { USK_LENGTH } from "./usk";
import { Malformed, Reader, RecordType, label, prefix, uuidBytes } from "./wire";

const NONCE = 12;
const SEAL_INFO = label("private-key-seal");
const AAD_LABEL = label("private-key", true);

export const KeyPurpose = { ENCRYPTION: 0x01, SIGNING: 0x02 } as const;
export type KeyPurpose = (typeof KeyPurpose)[keyof typeof KeyPurpose];

/** A P-256 key pair with its scalar in memory (enrolment, vectors). */
export interface KeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  keyId: Uint8Array;
}

/** A P-256 key pair whose private half lives in WebCrypto, non-extractable. */
export interface AccountKey {
  purpose: KeyPurpose;
  privateKey: CryptoKey;
  publicKey: Uint8Array;
  keyId: Uint8Array;
}

/** What signing a record needs: the signer and the key id written into the record. */
export interface SigningIdentity {
  keyId: Uint8Array;
  sign: Signer;
}

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

function checkPurpose(purpose: unknown): KeyPurpose {
  if (purpose !== KeyPurpose.ENCRYPTION && purpose !== KeyPurpose.SIGNING) {
    throw new RangeError("purpose must be KeyPurpose.ENCRYPTION or KeyPurpose.SIGNING");
  }
  return purpose;
}

export async function keyPairFromSeed(ikm: Uint8Array): Promise<KeyPair> {
  requireLength("ikm", ikm, 32);
  const [privateKey, publicKey] = await p256DeriveKeypair(ikm);
  return { privateKey, publicKey, keyId: await keyId(publicKey) };
}

export async function keyPairFromPrivate(privateKey: Uint8Array): Promise<KeyPair> {
  requireLength("privateKey", privateKey, 32);
  const publicKey = await p256PublicKey(privateKey);
  return { privateKey, publicKey, keyId: await keyId(publicKey) };
}

export function generateKeyPair(): Promise<KeyPair> {
  return keyPairFromSeed(crypto.getRandomValues(new Uint8Array(32)));
}

/** Import a KeyPair's scalar non-extractable for its purpose (the scalar is not zeroed here). */
export async function toAccountKey(pair: KeyPair, purpose: KeyPurpose): Promise<AccountKey> {
  checkPurpose(purpose);
  const alg = purpose === KeyPurpose.ENCRYPTION ? "ECDH" : "ECDSA";
  return {
    purpose,
    privateKey: await importP256Private(pair.privateKey, alg, pair.publicKey),
    publicKey: pair.publicKey,
    keyId: pair.keyId,
  };
}

/** The production signing identity of a signing AccountKey (WebCrypto ECDSA). */
export function signingIdentity(key: AccountKey): SigningIdentity {
  if (key.purpose !== KeyPurpose.SIGNING) throw new TypeError("not a signing key");
  return { keyId: key.keyId, sign: webCryptoSigner(key.privateKey) };
}

async function sealKey(usk: Uint8Array | CryptoKey): Promise<CryptoKey> {
  const base =
    usk instanceof Uint8Array
      ? await subtle().importKey("raw", bs(requireLength("usk", usk, USK_LENGTH)), "HKDF", false, [
          "deriveKey",
        ])
      : usk;
  return subtle().deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: bs(SEAL_INFO) },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

export async function sealPrivateKeyFromParts(
  pair: KeyPair,
  purpose: KeyPurpose,
  usk: Uint8Array | CryptoKey,
  userId: string,
  nonce: Uint8Array,
): Promise<Uint8Array> {
  checkPurpose(purpose);
  requireLength("nonce", nonce, NONCE);
  requireLength("privateKey", pair.privateKey, 32);
  const head = concat(prefix(RecordType.SEALED_PRIVATE_KEY), new Uint8Array([purpose]), pair.keyId);
  const aad = concat(head, AAD_LABEL, uuidBytes("userId", userId));
  return concat(head, nonce, await aes256gcmSeal(await sealKey(usk), nonce, pair.privateKey, aad));
}

export function sealPrivateKey(
  pair: KeyPair,
  purpose: KeyPurpose,
  usk: Uint8Array | CryptoKey,
  userId: string,
): Promise<Uint8Array> {
  return sealPrivateKeyFromParts(pair, purpose, usk, userId, crypto.getRandomValues(new Uint8Array(NONCE)));
}

/** The key pair with its scalar, or PrivateKeyUnsealError for anything wrong with the record. */
export async function unsealPrivateKey(
  record: Uint8Array,
  purpose: KeyPurpose,
  usk: Uint8Array | CryptoKey,
  userId: string,
): Promise<KeyPair> {
  checkPurpose(purpose);
  const key = await sealKey(usk);
  const user = uuidBytes("userId", userId);
  let privateKey: Uint8Array;
  let recordKeyId: Uint8Array;
  let publicKey: Uint8Array;
  try {
    const reader = new Reader(record);
    reader.prefix(RecordType.SEALED_PRIVATE_KEY);
    if (reader.byte() !== purpose) throw new Malformed();
    recordKeyId = reader.take(16);
    const head = reader.consumed();
    const nonce = reader.take(NONCE);
    const ct = reader.take(32 + 16);
    reader.end();
    privateKey = await aes256gcmOpen(key, nonce, ct, concat(head, AAD_LABEL, user));
    // An authentic but invalid scalar (0 or >= n) is refused with the same error.
    publicKey = await p256PublicKey(privateKey);
  } catch (e) {
    if (
      e instanceof Malformed ||
      e instanceof PrimitiveError ||
      e instanceof PublicKeyError ||
      e instanceof RangeError
    ) {
      throw new PrivateKeyUnsealError();
    }
    throw e;
  }
  const id = await keyId(publicKey);
  if (!equalBytes(id, recordKeyId)) throw new PrivateKeyUnsealError();
  return { privateKey, publicKey, keyId: id };
}

/** Unseal straight into a non-extractable WebCrypto key; the scalar is zeroed afterwards. */
export async function unsealAccountKey(
  record: Uint8Array,
  purpose: KeyPurpose,
  usk: Uint8Array | CryptoKey,
  userId: string,
): Promise<AccountKey> {
  const pair = await unsealPrivateKey(record, purpose, usk, userId);
  try {
    return await toAccountKey(pair, purpose);
  } finally {
    pair.privateKey.fill(0);
  }
}
