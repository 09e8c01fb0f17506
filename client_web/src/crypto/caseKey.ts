/**
 * Case keys and their signed HPKE wrap records; port of crypto/case_key.py.
 *
 * Wrap record (type 0x06), 248 bytes:
 *     0   3  01 01 06          |  55  16  wrapper key id (signing key)
 *     3  16  case id           |  71  65  HPKE enc
 *    19   4  epoch (u32 BE)    | 136  48  HPKE ciphertext (CK || tag)
 *    23  16  recipient key id  | 184  64  ECDSA P-256 signature (r || s)
 *    39  16  wrapper user id   |
 *   info   = "dermline/v1/case-key" || 0x00 || case id || epoch || recipient key id
 *   aad    = bytes 0..70 (the clear header)
 *   signed = "dermline/v1/sig/case-key-wrap" || 0x00 || bytes 0..183
 *
 * openCaseKeyWrap verifies the signature first, then checks case, epoch and recipient, and only
 * then decrypts; any failure is one CaseKeyUnwrapError.
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
import { Malformed, Reader, RecordType, checkUint, label, prefix, uuidBytes } from "./wire";

export const CASE_KEY_LENGTH = 32;
export const CASE_KEY_WRAP_LENGTH = 248;
export const MAX_EPOCH = 0xffffffff;
const HEADER = 71;
const SIGNED_END = 184;
const INFO_LABEL = label("case-key", true);
const SIG_LABEL = label("sig/case-key-wrap", true);

export interface CaseKeyWrapHeader {
  caseId: string;
  epoch: number;
  recipientKeyId: Uint8Array;
  wrapperUserId: string;
  wrapperKeyId: Uint8Array;
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

export interface WrapCaseKeyParams {
  caseId: string;
  epoch: number;
  recipientPublicKey: Uint8Array;
  wrapperUserId: string;
  wrapper: SigningIdentity;
}

export async function wrapCaseKeyFromParts(
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
    prefix(RecordType.CASE_KEY_WRAP),
    caseId,
    u32be(epoch),
    recipientId,
    wrapper,
    p.wrapper.keyId,
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

/** HPKE-wrap a case key to one recipient and sign the record (PublicKeyError if bad point). */
export function wrapCaseKey(caseKey: Uint8Array, p: WrapCaseKeyParams): Promise<Uint8Array> {
  return wrapCaseKeyFromParts(caseKey, { ...p, ikmE: crypto.getRandomValues(new Uint8Array(32)) });
}

function parse(record: Uint8Array): { header: CaseKeyWrapHeader; raw: Uint8Array } {
  const reader = new Reader(record);
  reader.prefix(RecordType.CASE_KEY_WRAP);
  const header: CaseKeyWrapHeader = {
    caseId: reader.uuid(),
    epoch: reader.u32(),
    recipientKeyId: reader.take(16),
    wrapperUserId: reader.uuid(),
    wrapperKeyId: reader.take(16),
  };
  reader.take(65 + CASE_KEY_LENGTH + 16 + 64);
  reader.end();
  return { header, raw: reader.consumed() };
}

/** The clear header without any key (no signature check); CaseKeyWrapHeaderError. */
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
  await p256Verify(
    wrapperSigningPublicKey,
    concat(SIG_LABEL, raw.subarray(0, SIGNED_END)),
    raw.subarray(SIGNED_END),
  );
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

/** Verify, check case/epoch/recipient, then decrypt the case key. CaseKeyUnwrapError. */
export async function openCaseKeyWrap(
  record: Uint8Array,
  p: {
    caseId: string;
    epoch: number;
    recipient: CaseKeyRecipient;
    wrapperSigningPublicKey: Uint8Array;
  },
): Promise<Uint8Array> {
  const caseId = uuidBytes("caseId", p.caseId);
  const epoch = checkUint("epoch", p.epoch, 32);
  requireLength("recipient.keyId", p.recipient.keyId, 16);
  try {
    const { header, raw } = await verify(record, p.wrapperSigningPublicKey);
    if (
      !equalBytes(uuidBytes("caseId", header.caseId), caseId) ||
      header.epoch !== epoch ||
      !equalBytes(header.recipientKeyId, p.recipient.keyId)
    ) {
      throw new Malformed();
    }
    return await hpkeOpenBase(
      p.recipient,
      raw.subarray(HEADER, HEADER + 65),
      info(caseId, epoch, p.recipient.keyId),
      raw.subarray(0, HEADER),
      raw.subarray(HEADER + 65, SIGNED_END),
    );
  } catch (e) {
    if (isHostile(e)) throw new CaseKeyUnwrapError();
    throw e;
  }
}
