/**
 * Case keys and their signed HPKE wrap records; port of crypto/case_key.py.
 *
 * Committed wrap record (type 0x0b), 280 bytes: what every new wrap is.
 *     0   3  01 01 0b          |  71  32  key commitment
 *     3  16  case id           | 103  65  HPKE enc
 *    19   4  epoch (u32 BE)    | 168  48  HPKE ciphertext (CK || tag)
 *    23  16  recipient key id  | 216  64  ECDSA P-256 signature (r || s)
 *    39  16  wrapper user id   |
 *    55  16  wrapper key id    |
 *   commitment = HMAC-SHA256(CK, "dermline/v1/case-key-commitment" || 0x00 || case id || epoch)
 *   info   = "dermline/v1/case-key" || 0x00 || case id || epoch || recipient key id
 *   aad    = bytes 0..102 (the clear header, commitment included)
 *   signed = "dermline/v1/sig/case-key-wrap" || 0x00 || bytes 0..215
 *
 * The legacy record (type 0x06, 248 bytes) is the same without the commitment (enc at 71,
 * ciphertext at 136, signature at 184); it still parses, verifies and opens, and is made only
 * by wrapLegacyCaseKeyFromParts (the published vectors).
 *
 * openCaseKeyWrap verifies the signature first, then checks case, epoch and recipient, then
 * decrypts, then (0x0b) checks the key against the signed commitment; any failure is one
 * CaseKeyUnwrapError.
 */
import { concat, equalBytes, requireLength, u32be } from "./bytes";
import {
  CaseKeyUnwrapError,
  CaseKeyWrapHeaderError,
  CaseKeyWrapSignatureError,
  PrimitiveError,
  PublicKeyError,
} from "./errors";
import type { SigningIdentity } from "./account";
import { keyId } from "./fingerprint";
import { p256Verify } from "./primitives/ecc";
import { type HpkeRecipient, hpkeOpenBase, hpkeSealBase } from "./primitives/hpke";
import { hmacSha256 } from "./primitives/kdf";
import { Malformed, Reader, RecordType, checkUint, label, prefix, uuidBytes } from "./wire";

export const CASE_KEY_LENGTH = 32;
export const CASE_KEY_COMMITMENT_LENGTH = 32;
/** The legacy record, type 0x06 (no commitment). */
export const CASE_KEY_WRAP_LENGTH = 248;
/** The committed record, type 0x0b. */
export const COMMITTED_CASE_KEY_WRAP_LENGTH = 280;
export const MAX_EPOCH = 0xffffffff;
const LEGACY_HEADER = 71;
const ENC = 65;
const SIGNATURE = 64;
const INFO_LABEL = label("case-key", true);
const SIG_LABEL = label("sig/case-key-wrap", true);
const COMMIT_LABEL = label("case-key-commitment", true);

export interface CaseKeyWrapHeader {
  caseId: string;
  epoch: number;
  recipientKeyId: Uint8Array;
  wrapperUserId: string;
  wrapperKeyId: Uint8Array;
  /** The key commitment of a 0x0b record; null for a legacy 0x06 record. */
  commitment: Uint8Array | null;
}

/** The recipient side: ECDH private key (non-extractable), its public point and key id. */
export interface CaseKeyRecipient extends HpkeRecipient {
  keyId: Uint8Array;
}

export function generateCaseKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(CASE_KEY_LENGTH));
}

function info(caseId: Uint8Array, epoch: number, recipientKeyId: Uint8Array): Uint8Array {
  return concat(INFO_LABEL, caseId, u32be(epoch), recipientKeyId);
}

function commit(caseKey: Uint8Array, caseId: Uint8Array, epoch: number): Promise<Uint8Array> {
  return hmacSha256(caseKey, concat(COMMIT_LABEL, caseId, u32be(epoch)));
}

/** HMAC-SHA256(CK, "dermline/v1/case-key-commitment" || 0x00 || case id || epoch): 32 bytes. */
export async function caseKeyCommitment(caseKey: Uint8Array, p: { caseId: string; epoch: number }): Promise<Uint8Array> {
  requireLength("caseKey", caseKey, CASE_KEY_LENGTH);
  return commit(caseKey, uuidBytes("caseId", p.caseId), checkUint("epoch", p.epoch, 32));
}

/** Whether caseKey is the key the commitment names (constant-time compare). */
export async function caseKeyMatchesCommitment(
  caseKey: Uint8Array,
  commitment: Uint8Array,
  p: { caseId: string; epoch: number },
): Promise<boolean> {
  requireLength("commitment", commitment, CASE_KEY_COMMITMENT_LENGTH);
  return equalBytes(await caseKeyCommitment(caseKey, p), commitment);
}

export interface WrapCaseKeyParams {
  caseId: string;
  epoch: number;
  recipientPublicKey: Uint8Array;
  wrapperUserId: string;
  wrapper: SigningIdentity;
}

async function wrap(
  committed: boolean,
  caseKey: Uint8Array,
  p: WrapCaseKeyParams & { ikmE: Uint8Array },
): Promise<Uint8Array> {
  requireLength("caseKey", caseKey, CASE_KEY_LENGTH);
  const caseId = uuidBytes("caseId", p.caseId);
  const epoch = checkUint("epoch", p.epoch, 32);
  const wrapper = uuidBytes("wrapperUserId", p.wrapperUserId);
  requireLength("wrapper.keyId", p.wrapper.keyId, 16);
  const recipientId = await keyId(p.recipientPublicKey); // PublicKeyError if invalid
  const header = concat(
    prefix(committed ? RecordType.CASE_KEY_WRAP_COMMITTED : RecordType.CASE_KEY_WRAP),
    caseId,
    u32be(epoch),
    recipientId,
    wrapper,
    p.wrapper.keyId,
    committed ? await commit(caseKey, caseId, epoch) : new Uint8Array(0),
  );
  const { enc, ct } = await hpkeSealBase(
    p.recipientPublicKey,
    info(caseId, epoch, recipientId),
    header,
    caseKey,
    { ikmE: p.ikmE },
  );
  const body = concat(header, enc, ct);
  const sig = await p.wrapper.sign(concat(SIG_LABEL, body));
  requireLength("signature", sig, 64);
  return concat(body, sig);
}

/** Deterministic form of wrapCaseKey (HPKE ephemeral ikm given): type 0x0b. */
export function wrapCaseKeyFromParts(
  caseKey: Uint8Array,
  p: WrapCaseKeyParams & { ikmE: Uint8Array },
): Promise<Uint8Array> {
  return wrap(true, caseKey, p);
}

/** The legacy record (type 0x06, no commitment): only for the published vectors. */
export function wrapLegacyCaseKeyFromParts(
  caseKey: Uint8Array,
  p: WrapCaseKeyParams & { ikmE: Uint8Array },
): Promise<Uint8Array> {
  return wrap(false, caseKey, p);
}

/** HPKE-wrap a case key to one recipient, commit to it, sign (0x0b; PublicKeyError if bad point). */
export function wrapCaseKey(caseKey: Uint8Array, p: WrapCaseKeyParams): Promise<Uint8Array> {
  return wrapCaseKeyFromParts(caseKey, { ...p, ikmE: crypto.getRandomValues(new Uint8Array(32)) });
}

function parse(record: Uint8Array): { header: CaseKeyWrapHeader; raw: Uint8Array } {
  const reader = new Reader(record);
  const kind = reader.take(3);
  let committed: boolean;
  if (equalBytes(kind, prefix(RecordType.CASE_KEY_WRAP_COMMITTED))) committed = true;
  else if (equalBytes(kind, prefix(RecordType.CASE_KEY_WRAP))) committed = false;
  else throw new Malformed();
  const header: CaseKeyWrapHeader = {
    caseId: reader.uuid(),
    epoch: reader.u32(),
    recipientKeyId: reader.take(16),
    wrapperUserId: reader.uuid(),
    wrapperKeyId: reader.take(16),
    commitment: committed ? reader.take(CASE_KEY_COMMITMENT_LENGTH) : null,
  };
  reader.take(ENC + CASE_KEY_LENGTH + 16 + SIGNATURE);
  reader.end();
  return { header, raw: reader.consumed() };
}

/** The clear header without any key (no signature check), either type; CaseKeyWrapHeaderError. */
export function parseCaseKeyWrapHeader(record: Uint8Array): CaseKeyWrapHeader {
  try {
    return parse(record).header;
  } catch (e) {
    if (e instanceof Malformed) throw new CaseKeyWrapHeaderError();
    throw e;
  }
}

async function verify(record: Uint8Array, wrapperSigningPublicKey: Uint8Array) {
  const { header, raw } = parse(record);
  if (!equalBytes(await keyId(wrapperSigningPublicKey), header.wrapperKeyId)) {
    throw new Malformed();
  }
  const signedEnd = raw.length - SIGNATURE;
  await p256Verify(wrapperSigningPublicKey, concat(SIG_LABEL, raw.subarray(0, signedEnd)), raw.subarray(signedEnd));
  return { header, raw };
}

function isHostile(e: unknown): boolean {
  return e instanceof Malformed || e instanceof PrimitiveError || e instanceof PublicKeyError;
}

/** Check shape and the wrapper's signature; return the header. CaseKeyWrapSignatureError. */
export async function verifyCaseKeyWrap(
  record: Uint8Array,
  wrapperSigningPublicKey: Uint8Array,
): Promise<CaseKeyWrapHeader> {
  try {
    return (await verify(record, wrapperSigningPublicKey)).header;
  } catch (e) {
    if (isHostile(e)) throw new CaseKeyWrapSignatureError();
    throw e;
  }
}

/**
 * Verify, check case/epoch/recipient (and the wrapper user id when given), decrypt, then
 * (0x0b) check the key against the signed commitment. CaseKeyUnwrapError.
 */
export async function openCaseKeyWrap(
  record: Uint8Array,
  p: {
    caseId: string;
    epoch: number;
    recipient: CaseKeyRecipient;
    wrapperSigningPublicKey: Uint8Array;
    wrapperUserId?: string;
  },
): Promise<Uint8Array> {
  const caseId = uuidBytes("caseId", p.caseId);
  const epoch = checkUint("epoch", p.epoch, 32);
  const wrapperUser = p.wrapperUserId === undefined ? null : uuidBytes("wrapperUserId", p.wrapperUserId);
  requireLength("recipient.keyId", p.recipient.keyId, 16);
  try {
    const { header, raw } = await verify(record, p.wrapperSigningPublicKey);
    if (
      !equalBytes(uuidBytes("caseId", header.caseId), caseId) ||
      header.epoch !== epoch ||
      !equalBytes(header.recipientKeyId, p.recipient.keyId) ||
      (wrapperUser !== null && !equalBytes(uuidBytes("wrapperUserId", header.wrapperUserId), wrapperUser))
    ) {
      throw new Malformed();
    }
    const clear = LEGACY_HEADER + (header.commitment === null ? 0 : CASE_KEY_COMMITMENT_LENGTH);
    const ck = await hpkeOpenBase(
      p.recipient,
      raw.subarray(clear, clear + ENC),
      info(caseId, epoch, p.recipient.keyId),
      raw.subarray(0, clear),
      raw.subarray(clear + ENC, raw.length - SIGNATURE),
    );
    if (header.commitment !== null && !equalBytes(await commit(ck, caseId, epoch), header.commitment)) {
      ck.fill(0);
      throw new Malformed();
    }
    return ck;
  } catch (e) {
    if (isHostile(e)) throw new CaseKeyUnwrapError();
    throw e;
  }
}
