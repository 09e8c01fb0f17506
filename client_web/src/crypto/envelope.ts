/**
 * The message envelope (record type 0x07); port of crypto/envelope.py.
 *
 *     off len                               off len
 *       0   3  01 01 07                      71   1  content type
 *       3  16  case id                       72   8  timestamp (u64 ms, informative)
 *      19   4  epoch (u32)                   80  32  previous message hash (or 32 zeros)
 *      23  16  client message id            112  12  nonce
 *      39  16  sender user id               124   4  ciphertext length N (16..1 MiB+16)
 *      55  16  sender key id (signing key)  128   N  AES-256-GCM ciphertext || tag
 *                                          128+N 64  ECDSA P-256 signature (r || s)
 *   message key = HKDF-SHA256(case key, "", "dermline/v1/message-key" || 0x00 || case id || epoch)
 *   aad         = bytes 0..111 (the header)
 *   signed      = "dermline/v1/sig/message" || 0x00 || bytes 0..128+N-1
 *
 * openMessage parses strictly, checks that the signing key matches the sender key id, verifies
 * the signature, checks the expected case and epoch, and only then decrypts; any failure is
 * one MessageOpenError and nothing partial is returned.
 */
import { concat, equalBytes, requireBytes, requireLength, u32be, u64be } from "./bytes";
import type { SigningIdentity } from "./account";
import { type ContentType, MAX_BODY_BYTES, isContentType } from "./content";
import {
  MessageHeaderError,
  MessageOpenError,
  MessageSignatureError,
  PrimitiveError,
  PublicKeyError,
} from "./errors";
import { keyId } from "./fingerprint";
import { aes256gcmOpen, aes256gcmSeal } from "./primitives/aead";
import { p256Verify } from "./primitives/ecc";
import { hkdfSha256, sha256 } from "./primitives/kdf";
import { Malformed, Reader, RecordType, checkUint, checkUint64, label, prefix, uuidBytes } from "./wire";

export const HEADER_LENGTH = 112;
export const GENESIS_HASH = new Uint8Array(32);
const NONCE = 12;
const TAG = 16;
const SIGNATURE = 64;
const KEY_INFO = label("message-key", true);
const SIG_LABEL = label("sig/message", true);

export interface MessageHeader {
  caseId: string;
  epoch: number;
  clientMessageId: string;
  senderUserId: string;
  senderKeyId: Uint8Array;
  contentType: ContentType;
  timestampMs: bigint;
  previousHash: Uint8Array;
}

export interface OpenedMessage {
  header: MessageHeader;
  body: Uint8Array;
}

/**
 * The next message's previousHash: SHA-256 of the envelope WITHOUT its signature. ECDSA
 * signatures are malleable ((r, n - s) also verifies), so a relay could change a record's bytes
 * without the key; the signed part cannot change. MessageHeaderError if malformed.
 */
export async function messageHash(record: Uint8Array): Promise<Uint8Array> {
  requireBytes("record", record);
  let signed: Uint8Array;
  try {
    signed = parse(record).signed;
  } catch (e) {
    if (e instanceof Malformed) throw new MessageHeaderError();
    throw e;
  }
  return sha256(signed);
}

function messageKey(caseKey: Uint8Array, caseId: Uint8Array, epoch: number): Promise<Uint8Array> {
  requireLength("caseKey", caseKey, 32);
  return hkdfSha256(caseKey, {
    salt: new Uint8Array(0),
    info: concat(KEY_INFO, caseId, u32be(epoch)),
    length: 32,
  });
}

export interface SealMessageParams {
  caseKey: Uint8Array;
  caseId: string;
  epoch: number;
  clientMessageId: string;
  senderUserId: string;
  sender: SigningIdentity;
  contentType: ContentType;
  previousHash: Uint8Array;
}

export async function sealMessageFromParts(
  body: Uint8Array,
  p: SealMessageParams & { timestampMs: bigint; nonce: Uint8Array },
): Promise<Uint8Array> {
  requireBytes("body", body);
  if (body.length > MAX_BODY_BYTES) throw new RangeError("body is larger than 1 MiB");
  const caseId = uuidBytes("caseId", p.caseId);
  const epoch = checkUint("epoch", p.epoch, 32);
  if (typeof p.contentType !== "number" || !isContentType(p.contentType)) {
    throw new RangeError("unknown content type");
  }
  requireLength("sender.keyId", p.sender.keyId, 16);
  const header = concat(
    prefix(RecordType.MESSAGE),
    caseId,
    u32be(epoch),
    uuidBytes("clientMessageId", p.clientMessageId),
    uuidBytes("senderUserId", p.senderUserId),
    p.sender.keyId,
    new Uint8Array([p.contentType]),
    u64be(checkUint64("timestampMs", p.timestampMs)),
    requireLength("previousHash", p.previousHash, 32),
  );
  requireLength("nonce", p.nonce, NONCE);
  const ct = await aes256gcmSeal(await messageKey(p.caseKey, caseId, epoch), p.nonce, body, header);
  const signed = concat(header, p.nonce, u32be(ct.length), ct);
  const sig = await p.sender.sign(concat(SIG_LABEL, signed));
  requireLength("signature", sig, SIGNATURE);
  return concat(signed, sig);
}

/** Encrypt and sign one message body (from encodeContent); time and nonce drawn here. */
export function sealMessage(body: Uint8Array, p: SealMessageParams): Promise<Uint8Array> {
  return sealMessageFromParts(body, {
    ...p,
    timestampMs: BigInt(Date.now()),
    nonce: crypto.getRandomValues(new Uint8Array(NONCE)),
  });
}

function parse(record: Uint8Array) {
  const reader = new Reader(record);
  reader.prefix(RecordType.MESSAGE);
  const caseId = reader.uuid();
  const epoch = reader.u32();
  const clientMessageId = reader.uuid();
  const senderUserId = reader.uuid();
  const senderKeyId = reader.take(16);
  const contentType = reader.byte();
  if (!isContentType(contentType)) throw new Malformed();
  const header: MessageHeader = {
    caseId,
    epoch,
    clientMessageId,
    senderUserId,
    senderKeyId,
    contentType,
    timestampMs: reader.u64(),
    previousHash: reader.take(32),
  };
  reader.take(NONCE);
  const length = reader.u32();
  if (length < TAG || length > MAX_BODY_BYTES + TAG) throw new Malformed();
  const ciphertext = reader.take(length);
  const signed = reader.consumed();
  const signature = reader.take(SIGNATURE);
  reader.end();
  return { header, signed, ciphertext, signature };
}

/** The clear header for routing (no key, no signature check); MessageHeaderError. */
export function parseMessageHeader(record: Uint8Array): MessageHeader {
  try {
    return parse(record).header;
  } catch (e) {
    if (e instanceof Malformed) throw new MessageHeaderError();
    throw e;
  }
}

/** Parse, check the signing key against the sender key id, verify the signature. */
async function verify(record: Uint8Array, senderSigningPublicKey: Uint8Array) {
  const parsed = parse(record);
  if (!equalBytes(await keyId(senderSigningPublicKey), parsed.header.senderKeyId)) {
    throw new Malformed();
  }
  await p256Verify(senderSigningPublicKey, concat(SIG_LABEL, parsed.signed), parsed.signature);
  return parsed;
}

function isHostile(e: unknown): boolean {
  return e instanceof Malformed || e instanceof PrimitiveError || e instanceof PublicKeyError;
}

/**
 * Structure and signature only, no key needed (the server's upload check; readers verify again
 * in openMessage). MessageSignatureError.
 */
export async function verifyMessageSignature(
  record: Uint8Array,
  senderSigningPublicKey: Uint8Array,
): Promise<MessageHeader> {
  try {
    return (await verify(record, senderSigningPublicKey)).header;
  } catch (e) {
    if (isHostile(e)) throw new MessageSignatureError();
    throw e;
  }
}

/** Verify, then decrypt. MessageOpenError on any failure; never partial output. */
export async function openMessage(
  record: Uint8Array,
  p: { caseKey: Uint8Array; caseId: string; epoch: number; senderSigningPublicKey: Uint8Array },
): Promise<OpenedMessage> {
  const caseId = uuidBytes("caseId", p.caseId);
  const epoch = checkUint("epoch", p.epoch, 32);
  const key = await messageKey(p.caseKey, caseId, epoch);
  try {
    const { header, signed, ciphertext } = await verify(record, p.senderSigningPublicKey);
    if (!equalBytes(uuidBytes("caseId", header.caseId), caseId) || header.epoch !== epoch) {
      throw new Malformed();
    }
    const nonce = signed.subarray(HEADER_LENGTH, HEADER_LENGTH + NONCE);
    const body = await aes256gcmOpen(key, nonce, ciphertext, signed.subarray(0, HEADER_LENGTH));
    return { header, body };
  } catch (e) {
    if (isHostile(e)) throw new MessageOpenError();
    throw e;
  }
}
