/**
 * The organisation records key file; port of crypto/records_key.py. The records officer keeps
 * the private part of the records key (HPKE P-256) in a passphrase-protected file (type 0x09):
 *
 *   off len
 *     0   3  01 01 09
 *     3  16  key id of the records public key
 *    19   1  KDF algorithm 0x01 = PBKDF2-HMAC-SHA256
 *    20   4  iterations (u32), 600,000 .. 2,000,000 when sealed
 *    24   1  salt length L (16 .. 64)
 *    25   L  salt
 *  25+L  12  nonce
 *  37+L  48  AES-256-GCM(file key, nonce, private scalar, aad = bytes 0 .. 24+L)
 *   file key = HKDF-SHA256(PBKDF2(UTF-8(NFC(passphrase)), salt, iterations, 32), "",
 *                          "dermline/v1/records-key-file", 32)
 *
 * Opening checks the iteration range BEFORE any work (a damaged file cannot make us spin) and
 * the decrypted scalar against the key id; any failure is RecordsKeyFileError.
 */
import { concat, equalBytes, requireBytes, requireLength, u32be, utf8 } from "./bytes";
import { type KeyPair, keyPairFromSeed } from "./account";
import { PrimitiveError, RecordsKeyFileError } from "./errors";
import { keyId } from "./fingerprint";
import { aes256gcmOpen, aes256gcmSeal } from "./primitives/aead";
import { p256PublicKey } from "./primitives/ecc";
import { hkdfSha256, pbkdf2Sha256 } from "./primitives/kdf";
import { Malformed, Reader, RecordType, label, prefix } from "./wire";

const KDF_PBKDF2 = 0x01;
const MIN_ITERATIONS = 600_000;
const MAX_ITERATIONS = 2_000_000;
const NONCE = 12;
const INFO = label("records-key-file");
const SIGNING_INFO = /* @__PURE__ */ label("records-signing-key");

function passphraseBytes(passphrase: unknown): Uint8Array {
  if (typeof passphrase !== "string") throw new TypeError("passphrase must be a string");
  if (passphrase.length === 0) throw new RangeError("passphrase must not be empty");
  return utf8.encode(passphrase.normalize("NFC"));
}

/**
 * The records signing key pair (RSK) that goes with a records private key:
 * DeriveKeyPair(HKDF-SHA256(records scalar, "", "dermline/v1/records-signing-key", 32))
 * (docs/protocol.md section 20). Whoever holds the records key file can sign the rollover to
 * the next records key; the file format (0x09) does not change.
 */
export async function deriveRecordsSigningKey(recordsPrivateKey: Uint8Array): Promise<KeyPair> {
  requireLength("recordsPrivateKey", recordsPrivateKey, 32);
  return keyPairFromSeed(await hkdfSha256(recordsPrivateKey, { salt: new Uint8Array(0), info: SIGNING_INFO, length: 32 }));
}

async function fileKey(passphrase: Uint8Array, salt: Uint8Array, iterations: number) {
  const master = await pbkdf2Sha256(passphrase, salt, iterations, 32);
  return hkdfSha256(master, { salt: new Uint8Array(0), info: INFO, length: 32 });
}

export async function sealRecordsKeyFileFromParts(
  pair: KeyPair,
  passphrase: string,
  p: { salt: Uint8Array; nonce: Uint8Array; iterations: number },
): Promise<Uint8Array> {
  const secret = passphraseBytes(passphrase);
  requireBytes("salt", p.salt);
  if (p.salt.length < 16 || p.salt.length > 64) throw new RangeError("salt must be 16 to 64 bytes");
  requireLength("nonce", p.nonce, NONCE);
  if (!Number.isInteger(p.iterations)) throw new TypeError("iterations must be an integer");
  if (p.iterations < 1 || p.iterations > MAX_ITERATIONS) throw new RangeError("iterations out of range");
  requireLength("privateKey", pair.privateKey, 32);
  const head = concat(
    prefix(RecordType.RECORDS_KEY_FILE),
    requireLength("keyId", pair.keyId, 16),
    new Uint8Array([KDF_PBKDF2]),
    u32be(p.iterations),
    new Uint8Array([p.salt.length]),
    p.salt,
  );
  const key = await fileKey(secret, p.salt, p.iterations);
  return concat(head, p.nonce, await aes256gcmSeal(key, p.nonce, pair.privateKey, head));
}

export async function sealRecordsKeyFile(
  pair: KeyPair,
  passphrase: string,
  iterations: number = MIN_ITERATIONS,
): Promise<Uint8Array> {
  if (iterations < MIN_ITERATIONS) {
    throw new RangeError("a records-key file needs at least 600,000 iterations");
  }
  return sealRecordsKeyFileFromParts(pair, passphrase, {
    salt: crypto.getRandomValues(new Uint8Array(16)),
    nonce: crypto.getRandomValues(new Uint8Array(NONCE)),
    iterations,
  });
}

/** The records key pair, or RecordsKeyFileError (wrong passphrase or damaged file). */
export async function openRecordsKeyFile(record: Uint8Array, passphrase: string): Promise<KeyPair> {
  const secret = passphraseBytes(passphrase);
  let privateKey: Uint8Array;
  let publicKey: Uint8Array;
  let recordKeyId: Uint8Array;
  try {
    const reader = new Reader(record);
    reader.prefix(RecordType.RECORDS_KEY_FILE);
    recordKeyId = reader.take(16);
    const algorithm = reader.byte();
    const iterations = reader.u32();
    const salt = reader.take(reader.byte());
    const head = reader.consumed();
    const nonce = reader.take(NONCE);
    const ct = reader.take(32 + 16);
    reader.end();
    if (algorithm !== KDF_PBKDF2 || iterations < 1 || iterations > MAX_ITERATIONS) throw new Malformed();
    if (salt.length < 16 || salt.length > 64) throw new Malformed();
    privateKey = await aes256gcmOpen(await fileKey(secret, salt, iterations), nonce, ct, head);
    publicKey = await p256PublicKey(privateKey);
  } catch (e) {
    if (e instanceof Malformed || e instanceof PrimitiveError || e instanceof RangeError) {
      throw new RecordsKeyFileError();
    }
    throw e;
  }
  const id = await keyId(publicKey);
  if (!equalBytes(id, recordKeyId)) throw new RecordsKeyFileError();
  return { privateKey, publicKey, keyId: id };
}
