/**
 * The organisation key's custody: wraps to administrators (0x0f) and the handover in an
 * administrator's invite (0x10); port of crypto/org_key.py (docs/protocol.md section 21).
 *
 * The organisation key OK is an ordinary P-256 pair. Its private scalar lives only in
 * administrators' clients; the server stores it wrapped.
 *
 * Wrap to an administrator (type 0x0f), 260 bytes, laid out like a case-key wrap:
 *
 *     off  len
 *       0    3  01 01 0f
 *       3   16  org id
 *      19   16  recipient key id       (the administrator's account encryption key)
 *      35   16  wrapper user id
 *      51   16  wrapper key id         (the wrapper's account signing key)
 *      67   16  organisation key id
 *      83   65  HPKE enc
 *     148   48  HPKE ciphertext of the OK scalar (32 + 16)
 *     196   64  ECDSA P-256 signature by the wrapper
 *
 *     HPKE info = "dermline/v1/org-key" || 0x00 || org id || recipient key id
 *     HPKE aad  = bytes 0..82
 *     signed    = "dermline/v1/sig/org-key-wrap" || 0x00 || bytes 0..195
 *
 * Handover in an administrator's invite (type 0x10), 95 bytes:
 *
 *       0    3  01 01 10
 *       3   16  org id
 *      19   16  invite key id          (of the invite key derived from the invite secret s)
 *      35   12  nonce
 *      47   48  AES-256-GCM(HKDF-SHA256(s, "", "dermline/v1/invite-org-key", 32), OK scalar),
 *               aad = bytes 0..34
 *
 * Opening either recomputes the public key from the scalar and requires its key id to be the
 * expected organisation key id (the one the caller pinned, and for 0x0f the one in the header).
 */
import { type KeyPair, type SigningIdentity, keyPairFromPrivate } from "./account";
import { bytesToBigInt, concat, equalBytes, requireLength } from "./bytes";
import type { CaseKeyRecipient } from "./caseKey";
import { OrgKeyHandoverError, OrgKeyUnwrapError, OrgKeyWrapHeaderError, PrimitiveError, PublicKeyError } from "./errors";
import { KEY_ID_LENGTH, keyId } from "./fingerprint";
import { INVITE_SECRET_LENGTH, deriveInviteKey } from "./invite";
import { aes256gcmOpen, aes256gcmSeal } from "./primitives/aead";
import { P256_N, p256Verify } from "./primitives/ecc";
import { hpkeOpenBase, hpkeSealBase } from "./primitives/hpke";
import { hkdfSha256 } from "./primitives/kdf";
import { Malformed, Reader, RecordType, label, prefix, uuidBytes } from "./wire";

export const ORG_KEY_WRAP_LENGTH = 260;
export const ORG_KEY_HANDOVER_LENGTH = 95;
const WRAP_HEADER = 83;
const ENC = 65;
const SCALAR = 32;
const TAG = 16;
const SIGNATURE = 64;
const NONCE = 12;
const INFO_LABEL = /* @__PURE__ */ label("org-key", true);
const SIG_LABEL = /* @__PURE__ */ label("sig/org-key-wrap", true);
const HANDOVER_INFO = /* @__PURE__ */ label("invite-org-key");

/** The clear part of a 0x0f record (readable without any key). */
export interface OrgKeyWrapHeader {
  orgId: string;
  recipientKeyId: Uint8Array;
  wrapperUserId: string;
  wrapperKeyId: Uint8Array;
  orgKeyId: Uint8Array;
}

/** The recipient of a wrap: an administrator's encryption key (the same shape as a case-key recipient). */
export type OrgKeyRecipient = CaseKeyRecipient;

export interface WrapOrgKeyParams {
  orgId: string;
  recipientPublicKey: Uint8Array;
  wrapperUserId: string;
  wrapperSigningKey: SigningIdentity;
}

function requireOrgKey(orgKey: KeyPair): void {
  requireLength("orgKey.privateKey", orgKey.privateKey, SCALAR);
  requireLength("orgKey.keyId", orgKey.keyId, KEY_ID_LENGTH);
}

/** Deterministic form of wrapOrgKey (HPKE ephemeral `ikmE` given). */
export async function wrapOrgKeyFromParts(
  orgKey: KeyPair,
  p: WrapOrgKeyParams & { ikmE: Uint8Array },
): Promise<Uint8Array> {
  requireOrgKey(orgKey);
  requireLength("wrapperSigningKey.keyId", p.wrapperSigningKey.keyId, KEY_ID_LENGTH);
  const org = uuidBytes("orgId", p.orgId);
  const recipientId = await keyId(p.recipientPublicKey); // PublicKeyError if invalid
  const header = concat(
    prefix(RecordType.ORG_KEY_WRAP),
    org,
    recipientId,
    uuidBytes("wrapperUserId", p.wrapperUserId),
    p.wrapperSigningKey.keyId,
    orgKey.keyId,
  );
  const { enc, ct } = await hpkeSealBase(p.recipientPublicKey, concat(INFO_LABEL, org, recipientId), header, orgKey.privateKey, {
    ikmE: p.ikmE,
  });
  const body = concat(header, enc, ct);
  const signature = await p.wrapperSigningKey.sign(concat(SIG_LABEL, body));
  requireLength("signature", signature, SIGNATURE);
  return concat(body, signature);
}

/**
 * HPKE-wrap the organisation private key to an administrator's encryption key, signed by the
 * wrapping administrator. PublicKeyError for an invalid recipient key.
 */
export function wrapOrgKey(orgKey: KeyPair, p: WrapOrgKeyParams): Promise<Uint8Array> {
  return wrapOrgKeyFromParts(orgKey, { ...p, ikmE: crypto.getRandomValues(new Uint8Array(32)) });
}

function parse(record: Uint8Array): { header: OrgKeyWrapHeader; raw: Uint8Array } {
  const reader = new Reader(record);
  reader.prefix(RecordType.ORG_KEY_WRAP);
  const header: OrgKeyWrapHeader = {
    orgId: reader.uuid(),
    recipientKeyId: reader.take(KEY_ID_LENGTH),
    wrapperUserId: reader.uuid(),
    wrapperKeyId: reader.take(KEY_ID_LENGTH),
    orgKeyId: reader.take(KEY_ID_LENGTH),
  };
  reader.take(ENC + SCALAR + TAG + SIGNATURE);
  reader.end();
  return { header, raw: reader.consumed() };
}

/** The clear header, no key needed; OrgKeyWrapHeaderError unless the record has the exact 0x0f shape. */
export function parseOrgKeyWrapHeader(record: Uint8Array): OrgKeyWrapHeader {
  try {
    return parse(record).header;
  } catch (e) {
    if (e instanceof Malformed) throw new OrgKeyWrapHeaderError();
    throw e;
  }
}

/** The key pair of a decrypted scalar, which must be valid and have the expected id. */
async function scalarPair(scalar: Uint8Array, expectedKeyId: Uint8Array): Promise<KeyPair> {
  const d = bytesToBigInt(scalar);
  if (d < 1n || d >= P256_N) throw new Malformed();
  const pair = await keyPairFromPrivate(scalar);
  if (!equalBytes(pair.keyId, expectedKeyId)) throw new Malformed();
  return pair;
}

function isHostile(e: unknown): boolean {
  return e instanceof Malformed || e instanceof PrimitiveError || e instanceof PublicKeyError;
}

/**
 * Verify the wrapper's signature, check the addressing, decrypt, check the key.
 *
 * `orgKeyId` is the id of the organisation key the caller pinned; the header must name it and
 * the decrypted scalar must be that key. `wrapperSigningPublicKey` is the wrapper's signing key
 * as the caller's directory knows it (a certified administrator of the organisation: the
 * caller's check), and `wrapperUserId` its user (recommended). OrgKeyUnwrapError.
 */
export async function openOrgKeyWrap(
  record: Uint8Array,
  p: {
    orgId: string;
    orgKeyId: Uint8Array;
    recipient: OrgKeyRecipient;
    wrapperSigningPublicKey: Uint8Array;
    wrapperUserId?: string;
  },
): Promise<KeyPair> {
  const org = uuidBytes("orgId", p.orgId);
  const expectedKeyId = requireLength("orgKeyId", p.orgKeyId, KEY_ID_LENGTH);
  const wrapper = p.wrapperUserId === undefined ? null : uuidBytes("wrapperUserId", p.wrapperUserId);
  requireLength("recipient.keyId", p.recipient.keyId, KEY_ID_LENGTH);
  try {
    const { header, raw } = parse(record);
    if (!equalBytes(await keyId(p.wrapperSigningPublicKey), header.wrapperKeyId)) throw new Malformed();
    const signedEnd = raw.length - SIGNATURE;
    await p256Verify(p.wrapperSigningPublicKey, concat(SIG_LABEL, raw.subarray(0, signedEnd)), raw.subarray(signedEnd));
    if (
      !equalBytes(uuidBytes("orgId", header.orgId), org) ||
      !equalBytes(header.recipientKeyId, p.recipient.keyId) ||
      !equalBytes(header.orgKeyId, expectedKeyId) ||
      (wrapper !== null && !equalBytes(uuidBytes("wrapperUserId", header.wrapperUserId), wrapper))
    ) {
      throw new Malformed();
    }
    const scalar = await hpkeOpenBase(
      p.recipient,
      raw.subarray(WRAP_HEADER, WRAP_HEADER + ENC),
      concat(INFO_LABEL, org, p.recipient.keyId),
      raw.subarray(0, WRAP_HEADER),
      raw.subarray(WRAP_HEADER + ENC, signedEnd),
    );
    return await scalarPair(scalar, expectedKeyId);
  } catch (e) {
    if (isHostile(e)) throw new OrgKeyUnwrapError();
    throw e;
  }
}

function handoverKey(secret: Uint8Array): Promise<Uint8Array> {
  return hkdfSha256(secret, { salt: new Uint8Array(0), info: HANDOVER_INFO, length: 32 });
}

/** Deterministic form of sealOrgKeyHandover (nonce given). */
export async function sealOrgKeyHandoverFromParts(
  orgKey: KeyPair,
  p: { orgId: string; inviteSecret: Uint8Array; nonce: Uint8Array },
): Promise<Uint8Array> {
  requireOrgKey(orgKey);
  const secret = requireLength("inviteSecret", p.inviteSecret, INVITE_SECRET_LENGTH);
  const aad = concat(prefix(RecordType.ORG_KEY_HANDOVER), uuidBytes("orgId", p.orgId), (await deriveInviteKey(secret)).keyId);
  const nonce = requireLength("nonce", p.nonce, NONCE);
  return concat(aad, nonce, await aes256gcmSeal(await handoverKey(secret), nonce, orgKey.privateKey, aad));
}

/**
 * The organisation private key for whoever opens an administrator's invite link: sealed under
 * a key derived from the link's secret `s`, which the server never sees.
 */
export function sealOrgKeyHandover(orgKey: KeyPair, p: { orgId: string; inviteSecret: Uint8Array }): Promise<Uint8Array> {
  return sealOrgKeyHandoverFromParts(orgKey, { ...p, nonce: crypto.getRandomValues(new Uint8Array(NONCE)) });
}

/**
 * Open a 0x10 record with the invite link's secret and check the key against the link's
 * organisation key id. OrgKeyHandoverError.
 */
export async function openOrgKeyHandover(
  record: Uint8Array,
  p: { orgId: string; inviteSecret: Uint8Array; orgKeyId: Uint8Array },
): Promise<KeyPair> {
  const org = uuidBytes("orgId", p.orgId);
  const secret = requireLength("inviteSecret", p.inviteSecret, INVITE_SECRET_LENGTH);
  const expectedKeyId = requireLength("orgKeyId", p.orgKeyId, KEY_ID_LENGTH);
  const inviteKeyId = (await deriveInviteKey(secret)).keyId;
  try {
    const reader = new Reader(record);
    reader.prefix(RecordType.ORG_KEY_HANDOVER);
    if (!equalBytes(reader.take(16), org) || !equalBytes(reader.take(KEY_ID_LENGTH), inviteKeyId)) {
      throw new Malformed();
    }
    const aad = reader.consumed();
    const nonce = reader.take(NONCE);
    const ciphertext = reader.take(SCALAR + TAG);
    reader.end();
    const scalar = await aes256gcmOpen(await handoverKey(secret), nonce, ciphertext, aad);
    return await scalarPair(scalar, expectedKeyId);
  } catch (e) {
    if (isHostile(e)) throw new OrgKeyHandoverError();
    throw e;
  }
}
