/**
 * Suite 2, the post-quantum hybrid (docs/protocol.md section 26): X-Wing keys, ids and
 * fingerprints, the hybrid private key sealed under the USK, and the suite-2 records. Port of
 * the suite-2 parts of crypto/account.py, crypto/fingerprint.py, crypto/case_key.py,
 * crypto/usk.py, crypto/patient_drop.py, crypto/records_key.py and crypto/suite.py.
 *
 * Suite-2 records keep the type and the labels of their suite-1 sibling; byte 1 is 0x02, the
 * recipient is named by its X-Wing key id, and HPKE's KEM is X-Wing (enc = 1120 bytes):
 *   01 02 0b  case key wrap, 1335 bytes (header 0..102 as 0x0b, enc 103, ct 1223, sig 1271)
 *   01 02 04  USK to the organisation's X-Wing key, 1187 bytes
 *   01 02 0a  patient drop record (enc 23, ciphertext 1143)
 *   01 02 09  records key file holding the P-256 scalar and the X-Wing seed
 * A 0x05 record with purpose 0x03 seals an X-Wing seed under the USK.
 */
import { concat, equalBytes, requireBytes, requireLength, u32be, utf8 } from "./bytes";
import {
  CaseKeyUnwrapError,
  CaseKeyWrapHeaderError,
  CaseKeyWrapSignatureError,
  ContentError,
  CryptoError,
  PatientDropError,
  PrimitiveError,
  PrivateKeyUnsealError,
  PublicKeyError,
  RecordsKeyFileError,
  UskOrgUnwrapError,
} from "./errors";
import type { KeyPair, SigningIdentity } from "./account";
import { keyPairFromPrivate } from "./account";
import { caseKeyCommitment } from "./caseKey";
import { accountFingerprint, formatDigits, keyId, spkiDer } from "./fingerprint";
import { decodePatientPhoto, encodePatientPhoto, type PatientPhoto } from "./patientDrop";
import { aes256gcmOpen, aes256gcmSeal } from "./primitives/aead";
import { p256Verify } from "./primitives/ecc";
import { hkdfSha256, pbkdf2Sha256, sha256 } from "./primitives/kdf";
import {
  hpkeOpenBaseHybrid,
  hpkeSealBaseHybrid,
  xwingEncapsulate,
  type XWingEncapsulation,
  xwingPublicKey,
  xwingSpki,
} from "./primitives/xwing";
import { checkUint, label, Malformed, Reader, RecordType, uuidBytes, uuidString, VERSION_1 } from "./wire";

export const SUITE_CLASSICAL = 0x01;
export const SUITE_HYBRID = 0x02;
export const HYBRID_CASE_KEY_WRAP_LENGTH = 1335;
export const HYBRID_USK_ORG_WRAP_LENGTH = 1187;
export const KEY_PURPOSE_HYBRID_ENCRYPTION = 0x03;
const ENC = 1120;
const SIGNATURE = 64;
const CLEAR = 103;
const DROP_HEADER = 23;

/** Thrown by requireSuite: a suite-1 wrap to a recipient whose hybrid key was known. */
export class SuiteDowngradeError extends CryptoError {
  static override readonly defaultMessage: string =
    "classical wrap where the post-quantum suite is required";
}
Object.defineProperty(SuiteDowngradeError, "name", { value: "SuiteDowngradeError" });

/** An X-Wing key pair: the 32-byte seed is the private key. */
export interface HybridKeyPair {
  seed: Uint8Array;
  publicKey: Uint8Array;
  keyId: Uint8Array;
}

function hybridPrefix(recordType: number): Uint8Array {
  return new Uint8Array([VERSION_1, SUITE_HYBRID, recordType]);
}

function isHostile(e: unknown): boolean {
  return (
    e instanceof Malformed ||
    e instanceof PrimitiveError ||
    e instanceof PublicKeyError ||
    e instanceof ContentError
  );
}

async function guard<T>(f: () => Promise<T>, err: new () => CryptoError): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (isHostile(e)) throw new err();
    throw e;
  }
}

// --- keys ----------------------------------------------------------------------------------

/** SPKI DER (1240 bytes) of an X-Wing public key; PublicKeyError if invalid. */
export function hybridSpkiDer(publicKey: Uint8Array): Uint8Array {
  try {
    return xwingSpki(publicKey);
  } catch (e) {
    if (e instanceof PrimitiveError) throw new PublicKeyError();
    throw e;
  }
}

/** SHA-256(SPKI of the X-Wing key)[:16]. */
export async function hybridKeyId(publicKey: Uint8Array): Promise<Uint8Array> {
  return (await sha256(hybridSpkiDer(publicKey))).slice(0, 16);
}

export async function hybridKeyPairFromSeed(seed: Uint8Array): Promise<HybridKeyPair> {
  const publicKey = xwingPublicKey(requireLength("seed", seed, 32));
  return { seed, publicKey, keyId: await hybridKeyId(publicKey) };
}

export function generateHybridKeyPair(): Promise<HybridKeyPair> {
  return hybridKeyPairFromSeed(crypto.getRandomValues(new Uint8Array(32)));
}

const HYBRID_FINGERPRINT_LABEL = label("fingerprint-hybrid", true);

function digits(digest: Uint8Array): string {
  let out = "";
  for (let i = 0; i < 30; i += 5) {
    let v = 0n;
    for (const b of digest.subarray(i, i + 5)) v = (v << 8n) | BigInt(b);
    out += (v % 100000n).toString().padStart(5, "0");
  }
  return out;
}

/** 30 digits over the signing, encryption and (when given) hybrid public keys. */
export async function hybridAccountFingerprint(
  signingPublicKey: Uint8Array,
  encryptionPublicKey: Uint8Array,
  hybridPublicKey?: Uint8Array,
): Promise<string> {
  if (hybridPublicKey === undefined) return accountFingerprint(signingPublicKey, encryptionPublicKey);
  const digest = await sha256(
    concat(
      HYBRID_FINGERPRINT_LABEL,
      spkiDer(signingPublicKey),
      spkiDer(encryptionPublicKey),
      hybridSpkiDer(hybridPublicKey),
    ),
  );
  return digits(digest);
}

type AccountKeys = [Uint8Array, Uint8Array] | [Uint8Array, Uint8Array, Uint8Array];

/** The 60-digit number two people compare, each side with two or three keys. */
export async function hybridSafetyNumber(ours: AccountKeys, theirs: AccountKeys): Promise<string> {
  const a = await hybridAccountFingerprint(ours[0], ours[1], ours[2]);
  const b = await hybridAccountFingerprint(theirs[0], theirs[1], theirs[2]);
  const [first, second] = a <= b ? [a, b] : [b, a];
  return formatDigits(first + second);
}

// --- the hybrid private key sealed under the USK (0x05, purpose 0x03) -----------------------

const SEAL_INFO = label("private-key-seal");
const SEAL_AAD_LABEL = label("private-key", true);

async function sealKey(usk: Uint8Array): Promise<Uint8Array> {
  requireLength("usk", usk, 32);
  return hkdfSha256(usk, { salt: new Uint8Array(0), info: SEAL_INFO, length: 32 });
}

export async function sealHybridPrivateKeyFromParts(
  pair: HybridKeyPair,
  usk: Uint8Array,
  userId: string,
  nonce: Uint8Array,
): Promise<Uint8Array> {
  requireLength("nonce", nonce, 12);
  requireLength("seed", pair.seed, 32);
  const head = concat(
    new Uint8Array([VERSION_1, SUITE_CLASSICAL, RecordType.SEALED_PRIVATE_KEY, KEY_PURPOSE_HYBRID_ENCRYPTION]),
    requireLength("keyId", pair.keyId, 16),
  );
  const aad = concat(head, SEAL_AAD_LABEL, uuidBytes("userId", userId));
  return concat(head, nonce, await aes256gcmSeal(await sealKey(usk), nonce, pair.seed, aad));
}

export function sealHybridPrivateKey(pair: HybridKeyPair, usk: Uint8Array, userId: string): Promise<Uint8Array> {
  return sealHybridPrivateKeyFromParts(pair, usk, userId, crypto.getRandomValues(new Uint8Array(12)));
}

/** The hybrid pair, or PrivateKeyUnsealError (the seed's key id must be the record's). */
export async function unsealHybridPrivateKey(
  record: Uint8Array,
  usk: Uint8Array,
  userId: string,
): Promise<HybridKeyPair> {
  const key = await sealKey(usk);
  const user = uuidBytes("userId", userId);
  return guard(async () => {
    const reader = new Reader(record);
    reader.prefix(RecordType.SEALED_PRIVATE_KEY);
    if (reader.byte() !== KEY_PURPOSE_HYBRID_ENCRYPTION) throw new Malformed();
    const recordKeyId = reader.take(16);
    const head = reader.consumed();
    const nonce = reader.take(12);
    const ct = reader.take(48);
    reader.end();
    const seed = await aes256gcmOpen(key, nonce, ct, concat(head, SEAL_AAD_LABEL, user));
    const pair = await hybridKeyPairFromSeed(seed);
    if (!equalBytes(pair.keyId, recordKeyId)) throw new Malformed();
    return pair;
  }, PrivateKeyUnsealError);
}

// --- case key wrap, suite 2 (01 02 0b) -------------------------------------------------------

const CASE_INFO_LABEL = label("case-key", true);
const CASE_SIG_LABEL = label("sig/case-key-wrap", true);

export interface HybridCaseKeyWrapHeader {
  caseId: string;
  epoch: number;
  recipientKeyId: Uint8Array;
  wrapperUserId: string;
  wrapperKeyId: Uint8Array;
  commitment: Uint8Array;
  suite: typeof SUITE_HYBRID;
}

export interface WrapCaseKeyHybridParams {
  caseId: string;
  epoch: number;
  /** The recipient's 1216-byte X-Wing public key. */
  recipientPublicKey: Uint8Array;
  wrapperUserId: string;
  wrapper: SigningIdentity;
}

/**
 * The suite-2 wrap to the recipient's X-Wing key. `eseed` (64 bytes) makes it deterministic
 * (vectors); without it the runtime's X-Wing path draws fresh randomness. PublicKeyError if
 * the recipient key is not a valid X-Wing key.
 */
export async function wrapCaseKeyHybrid(
  caseKey: Uint8Array,
  p: WrapCaseKeyHybridParams,
  eseed?: Uint8Array,
): Promise<Uint8Array> {
  requireLength("caseKey", caseKey, 32);
  const caseId = uuidBytes("caseId", p.caseId);
  const epoch = checkUint("epoch", p.epoch, 32);
  const wrapper = uuidBytes("wrapperUserId", p.wrapperUserId);
  requireLength("wrapper.keyId", p.wrapper.keyId, 16);
  const recipientId = await hybridKeyId(p.recipientPublicKey);
  const header = concat(
    hybridPrefix(RecordType.CASE_KEY_WRAP_COMMITTED),
    caseId,
    u32be(epoch),
    recipientId,
    wrapper,
    p.wrapper.keyId,
    await caseKeyCommitment(caseKey, { caseId: p.caseId, epoch }),
  );
  const encapsulation = await xwingEncapsulate(p.recipientPublicKey, eseed);
  const info = concat(CASE_INFO_LABEL, caseId, u32be(epoch), recipientId);
  const { enc, ct } = await hpkeSealBaseHybrid(encapsulation, info, header, caseKey);
  const body = concat(header, enc, ct);
  const sig = await p.wrapper.sign(concat(CASE_SIG_LABEL, body));
  return concat(body, requireLength("signature", sig, 64));
}

function parseCaseWrap(record: Uint8Array): { header: HybridCaseKeyWrapHeader; raw: Uint8Array } {
  const reader = new Reader(record);
  if (!equalBytes(reader.take(3), hybridPrefix(RecordType.CASE_KEY_WRAP_COMMITTED))) throw new Malformed();
  const header: HybridCaseKeyWrapHeader = {
    caseId: reader.uuid(),
    epoch: reader.u32(),
    recipientKeyId: reader.take(16),
    wrapperUserId: reader.uuid(),
    wrapperKeyId: reader.take(16),
    commitment: reader.take(32),
    suite: SUITE_HYBRID,
  };
  reader.take(ENC + 48 + SIGNATURE);
  reader.end();
  return { header, raw: reader.consumed() };
}

/** The clear header of a suite-2 wrap, without any key; CaseKeyWrapHeaderError. */
export function parseHybridCaseKeyWrapHeader(record: Uint8Array): HybridCaseKeyWrapHeader {
  try {
    return parseCaseWrap(record).header;
  } catch (e) {
    if (e instanceof Malformed) throw new CaseKeyWrapHeaderError();
    throw e;
  }
}

async function verifyCaseWrap(record: Uint8Array, wrapperSigningPublicKey: Uint8Array) {
  const { header, raw } = parseCaseWrap(record);
  if (!equalBytes(await keyId(wrapperSigningPublicKey), header.wrapperKeyId)) throw new Malformed();
  const end = raw.length - SIGNATURE;
  await p256Verify(wrapperSigningPublicKey, concat(CASE_SIG_LABEL, raw.subarray(0, end)), raw.subarray(end));
  return { header, raw };
}

export function verifyHybridCaseKeyWrap(
  record: Uint8Array,
  wrapperSigningPublicKey: Uint8Array,
): Promise<HybridCaseKeyWrapHeader> {
  return guard(async () => (await verifyCaseWrap(record, wrapperSigningPublicKey)).header, CaseKeyWrapSignatureError);
}

/** Verify, check case/epoch/recipient/wrapper, decrypt, check the commitment; CaseKeyUnwrapError. */
export async function openHybridCaseKeyWrap(
  record: Uint8Array,
  p: {
    caseId: string;
    epoch: number;
    recipient: HybridKeyPair;
    wrapperSigningPublicKey: Uint8Array;
    wrapperUserId?: string;
  },
): Promise<Uint8Array> {
  const caseId = uuidBytes("caseId", p.caseId);
  const epoch = checkUint("epoch", p.epoch, 32);
  const wrapperUser = p.wrapperUserId === undefined ? null : uuidBytes("wrapperUserId", p.wrapperUserId);
  requireLength("recipient.keyId", p.recipient.keyId, 16);
  return guard(async () => {
    const { header, raw } = await verifyCaseWrap(record, p.wrapperSigningPublicKey);
    if (
      header.caseId !== uuidString(caseId) ||
      header.epoch !== epoch ||
      !equalBytes(header.recipientKeyId, p.recipient.keyId) ||
      (wrapperUser !== null && header.wrapperUserId !== uuidString(wrapperUser))
    ) {
      throw new Malformed();
    }
    const info = concat(CASE_INFO_LABEL, caseId, u32be(epoch), p.recipient.keyId);
    const ck = await hpkeOpenBaseHybrid(
      p.recipient.seed,
      raw.subarray(CLEAR, CLEAR + ENC),
      info,
      raw.subarray(0, CLEAR),
      raw.subarray(CLEAR + ENC, raw.length - SIGNATURE),
    );
    if (!equalBytes(await caseKeyCommitment(ck, { caseId: p.caseId, epoch }), header.commitment)) {
      ck.fill(0);
      throw new Malformed();
    }
    return ck;
  }, CaseKeyUnwrapError);
}

// --- USK to the organisation's X-Wing key (01 02 04) -------------------------------------------

const ORG_INFO = label("usk-org", true);

export async function wrapUskForOrgHybrid(
  usk: Uint8Array,
  orgPublicKey: Uint8Array,
  userId: string,
  eseed?: Uint8Array,
): Promise<Uint8Array> {
  requireLength("usk", usk, 32);
  const user = uuidBytes("userId", userId);
  const orgId = await hybridKeyId(orgPublicKey);
  const head = concat(hybridPrefix(RecordType.USK_ORG), orgId);
  const encapsulation = await xwingEncapsulate(orgPublicKey, eseed);
  const { enc, ct } = await hpkeSealBaseHybrid(encapsulation, concat(ORG_INFO, user, orgId), head, usk);
  return concat(head, enc, ct);
}

export async function unwrapUskForOrgHybrid(
  record: Uint8Array,
  org: HybridKeyPair,
  userId: string,
): Promise<Uint8Array> {
  const user = uuidBytes("userId", userId);
  return guard(async () => {
    const reader = new Reader(record);
    if (!equalBytes(reader.take(3), hybridPrefix(RecordType.USK_ORG))) throw new Malformed();
    const orgId = reader.take(16);
    const head = reader.consumed();
    const enc = reader.take(ENC);
    const ct = reader.take(48);
    reader.end();
    if (!equalBytes(orgId, org.keyId)) throw new Malformed();
    return hpkeOpenBaseHybrid(org.seed, enc, concat(ORG_INFO, user, orgId), head, ct);
  }, UskOrgUnwrapError);
}

// --- patient drop record, suite 2 (01 02 0a) -------------------------------------------------

const DROP_INFO = label("patient-drop", true);

export async function sealPatientPhotoHybrid(
  photo: PatientPhoto,
  p: { linkId: string; index: number; dropBoxPublicKey: Uint8Array },
  eseed?: Uint8Array,
): Promise<Uint8Array> {
  const link = uuidBytes("linkId", p.linkId);
  const index = checkUint("index", p.index, 32);
  await hybridKeyId(p.dropBoxPublicKey); // PublicKeyError for an invalid key
  const plaintext = encodePatientPhoto(photo);
  const header = concat(hybridPrefix(RecordType.PATIENT_DROP), link, u32be(index));
  const encapsulation: XWingEncapsulation = await xwingEncapsulate(p.dropBoxPublicKey, eseed);
  const { enc, ct } = await hpkeSealBaseHybrid(encapsulation, concat(DROP_INFO, link, u32be(index)), header, plaintext);
  return concat(header, enc, ct);
}

export async function openPatientPhotoHybrid(
  record: Uint8Array,
  p: { linkId: string; dropBox: HybridKeyPair },
): Promise<{ index: number; photo: PatientPhoto }> {
  const link = uuidBytes("linkId", p.linkId);
  return guard(async () => {
    requireBytes("record", record);
    const reader = new Reader(record);
    if (!equalBytes(reader.take(3), hybridPrefix(RecordType.PATIENT_DROP))) throw new Malformed();
    const linkId = reader.take(16);
    const index = reader.u32();
    const rest = record.length - DROP_HEADER;
    if (rest < ENC + 16 + 2 || rest > ENC + 16 + (1 << 16)) throw new Malformed();
    if (!equalBytes(linkId, link)) throw new Malformed();
    const plaintext = await hpkeOpenBaseHybrid(
      p.dropBox.seed,
      record.subarray(DROP_HEADER, DROP_HEADER + ENC),
      concat(DROP_INFO, link, u32be(index)),
      record.subarray(0, DROP_HEADER),
      record.subarray(DROP_HEADER + ENC),
    );
    return { index, photo: decodePatientPhoto(plaintext) };
  }, PatientDropError);
}

// --- records key file with both private keys (01 02 09) --------------------------------------

const FILE_INFO = label("records-key-file");

async function fileKey(passphrase: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  if (typeof passphrase !== "string") throw new TypeError("passphrase must be a string");
  if (passphrase.length === 0) throw new RangeError("passphrase must not be empty");
  const master = await pbkdf2Sha256(utf8.encode(passphrase.normalize("NFC")), salt, iterations, 32);
  return hkdfSha256(master, { salt: new Uint8Array(0), info: FILE_INFO, length: 32 });
}

export async function sealHybridRecordsKeyFileFromParts(
  pair: KeyPair,
  hybrid: HybridKeyPair,
  passphrase: string,
  p: { salt: Uint8Array; nonce: Uint8Array; iterations: number },
): Promise<Uint8Array> {
  requireBytes("salt", p.salt);
  if (p.salt.length < 16 || p.salt.length > 64) throw new RangeError("salt must be 16 to 64 bytes");
  requireLength("nonce", p.nonce, 12);
  if (!Number.isInteger(p.iterations) || p.iterations < 1 || p.iterations > 2_000_000) {
    throw new RangeError("iterations out of range");
  }
  const head = concat(
    hybridPrefix(RecordType.RECORDS_KEY_FILE),
    requireLength("keyId", pair.keyId, 16),
    requireLength("hybrid.keyId", hybrid.keyId, 16),
    new Uint8Array([0x01]),
    u32be(p.iterations),
    new Uint8Array([p.salt.length]),
    p.salt,
  );
  const key = await fileKey(passphrase, p.salt, p.iterations);
  const secret = concat(requireLength("privateKey", pair.privateKey, 32), requireLength("seed", hybrid.seed, 32));
  return concat(head, p.nonce, await aes256gcmSeal(key, p.nonce, secret, head));
}

export async function openHybridRecordsKeyFile(
  record: Uint8Array,
  passphrase: string,
): Promise<{ pair: KeyPair; hybrid: HybridKeyPair }> {
  if (typeof passphrase !== "string" || passphrase.length === 0) {
    throw new TypeError("passphrase must be a non-empty string");
  }
  try {
    const reader = new Reader(record);
    if (!equalBytes(reader.take(3), hybridPrefix(RecordType.RECORDS_KEY_FILE))) throw new Malformed();
    const recordKeyId = reader.take(16);
    const recordHybridId = reader.take(16);
    const algorithm = reader.byte();
    const iterations = reader.u32();
    const salt = reader.take(reader.byte());
    const head = reader.consumed();
    const nonce = reader.take(12);
    const ct = reader.take(64 + 16);
    reader.end();
    if (algorithm !== 0x01 || iterations < 1 || iterations > 2_000_000) throw new Malformed();
    if (salt.length < 16 || salt.length > 64) throw new Malformed();
    const secret = await aes256gcmOpen(await fileKey(passphrase, salt, iterations), nonce, ct, head);
    const pair = await keyPairFromPrivate(secret.slice(0, 32));
    const hybrid = await hybridKeyPairFromSeed(secret.slice(32));
    if (!equalBytes(pair.keyId, recordKeyId) || !equalBytes(hybrid.keyId, recordHybridId)) throw new Malformed();
    return { pair, hybrid };
  } catch (e) {
    if (isHostile(e) || e instanceof RangeError) throw new RecordsKeyFileError();
    throw e;
  }
}

// --- suite rules (crypto/suite.py) -------------------------------------------------------------

export interface SuiteRecipient {
  userId: string;
  hybridPublicKey?: Uint8Array;
}

export interface SuitePlan {
  suite: number;
  perRecipient: number[];
  classicalOnly: string[];
}

/**
 * Each recipient's suite (2 whenever a hybrid key is known: never a downgrade) and the
 * epoch's (2 only if every recipient has one). An invalid hybrid key is a PublicKeyError,
 * never a fall-back to suite 1.
 */
export async function chooseSuite(recipients: SuiteRecipient[]): Promise<SuitePlan> {
  if (recipients.length === 0) throw new RangeError("a case key is wrapped to at least one recipient");
  const perRecipient: number[] = [];
  const classicalOnly: string[] = [];
  for (const r of recipients) {
    if (r.hybridPublicKey === undefined) {
      perRecipient.push(SUITE_CLASSICAL);
      classicalOnly.push(r.userId);
    } else {
      await hybridKeyId(r.hybridPublicKey);
      perRecipient.push(SUITE_HYBRID);
    }
  }
  return { suite: classicalOnly.length ? SUITE_CLASSICAL : SUITE_HYBRID, perRecipient, classicalOnly };
}

/** The suite byte of a v1 record (1 or 2); SuiteDowngradeError otherwise. */
export function recordSuite(record: Uint8Array): number {
  requireBytes("record", record);
  if (record.length < 3 || record[0] !== VERSION_1 || (record[1] !== 1 && record[1] !== 2)) {
    throw new SuiteDowngradeError();
  }
  return record[1];
}

/** Refuse a suite-1 wrap to a recipient whose hybrid key was known (SuiteDowngradeError). */
export function requireSuite(record: Uint8Array, p: { hybridKeyKnown: boolean }): void {
  if (recordSuite(record) < (p.hybridKeyKnown ? SUITE_HYBRID : SUITE_CLASSICAL)) {
    throw new SuiteDowngradeError();
  }
}
