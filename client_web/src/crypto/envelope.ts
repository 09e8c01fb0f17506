/**
 * The message envelope; port of crypto/envelope.py. Two record types: new messages are type
 * 0x0e (docs/protocol.md section 22), the 0x07 layout with the epoch's case key commitment in
 * the signed header and a padded body; type 0x07 (section 9) still parses, verifies and opens
 * (stored records are never rewritten), and readers label such messages "sent with an older
 * app version: not bound to the case key commitment" (header.commitment is null).
 *
 *     off len                               off len
 *       0   3  01 01 0e                      71   1  content type
 *       3  16  case id                       72   8  timestamp (u64 ms, informative)
 *      19   4  epoch (u32)                   80  32  previous message hash (or 32 zeros)
 *      23  16  client message id            112  32  epoch key commitment (caseKeyCommitment)
 *      39  16  sender user id               144  12  nonce
 *      55  16  sender key id (signing key)  156   4  ciphertext length N (N - 16 a multiple of
 *                                                    256, 272 <= N <= 1 MiB + 272)
 *                                          160   N  AES-256-GCM ciphertext || tag (padded body)
 *                                          160+N 64  ECDSA P-256 signature (r || s)
 *   message key = HKDF-SHA256(case key, "", "dermline/v1/message-key" || 0x00 || case id || epoch)
 *   aad         = bytes 0..143 (the header, commitment included)
 *   signed      = "dermline/v1/sig/message" || 0x00 || bytes 0..159+N
 *   padded body = body || 0x80 || 0x00 ... up to the next multiple of 256 (ISO/IEC 7816-4; at
 *                 least one byte added)
 *
 * Type 0x07 is the same without the commitment: header bytes 0..111 (the AAD), nonce at 112,
 * length at 124 (16 <= N <= 1 MiB + 16), ciphertext at 128, no padding.
 *
 * openMessage parses strictly, checks that the signing key matches the sender key id, verifies
 * the signature, checks the expected case and epoch (and sender user when given), for 0x0e
 * checks that the header's commitment is the one of the case key it was given (constant time,
 * before decrypting), decrypts, and for 0x0e removes the padding (refusing malformed padding);
 * any failure is one MessageOpenError and nothing partial is returned.
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
import { caseKeyCommitment } from "./caseKey";
import { keyId } from "./fingerprint";
import { aes256gcmOpen, aes256gcmSeal } from "./primitives/aead";
import { p256Verify } from "./primitives/ecc";
import { hkdfSha256, sha256 } from "./primitives/kdf";
import { Malformed, Reader, RecordType, checkUint, checkUint64, label, prefix, uuidBytes } from "./wire";

/** Header (the AAD) of the legacy record, type 0x07. */
export const HEADER_LENGTH = 112;
/** Header (the AAD) of the committed record, type 0x0e: the 0x07 header and the commitment. */
export const COMMITTED_HEADER_LENGTH = 144;
export const PADDING_BLOCK = 256;
export const GENESIS_HASH = new Uint8Array(32);
const COMMITMENT = 32;
const MAX_PADDED = (Math.floor(MAX_BODY_BYTES / PADDING_BLOCK) + 1) * PADDING_BLOCK;
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
  /**
   * The epoch's case key commitment (type 0x0e); null for a legacy 0x07 record, which readers
   * label as not bound to the case key commitment.
   */
  commitment: Uint8Array | null;
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

/** ISO/IEC 7816-4: 0x80 then zeros up to the next multiple of 256 (at least one byte). */
function pad(body: Uint8Array): Uint8Array {
  const out = new Uint8Array((Math.floor(body.length / PADDING_BLOCK) + 1) * PADDING_BLOCK);
  out.set(body);
  out[body.length] = 0x80;
  return out;
}

/** Undo pad; Malformed unless the padding is exactly that (fewer than 256 zeros after 0x80). */
function unpad(padded: Uint8Array): Uint8Array {
  let end = padded.length;
  while (end > 0 && padded[end - 1] === 0) end--;
  if (end === 0 || padded[end - 1] !== 0x80 || padded.length - end >= PADDING_BLOCK) throw new Malformed();
  return padded.slice(0, end - 1);
}

type SealFromParts = SealMessageParams & { timestampMs: bigint; nonce: Uint8Array };

async function seal(committed: boolean, body: Uint8Array, p: SealFromParts): Promise<Uint8Array> {
  requireBytes("body", body);
  if (body.length > MAX_BODY_BYTES) throw new RangeError("body is larger than 1 MiB");
  const caseId = uuidBytes("caseId", p.caseId);
  const epoch = checkUint("epoch", p.epoch, 32);
  if (typeof p.contentType !== "number" || !isContentType(p.contentType)) {
    throw new RangeError("unknown content type");
  }
  requireLength("sender.keyId", p.sender.keyId, 16);
  const header = concat(
    prefix(committed ? RecordType.MESSAGE_COMMITTED : RecordType.MESSAGE),
    caseId,
    u32be(epoch),
    uuidBytes("clientMessageId", p.clientMessageId),
    uuidBytes("senderUserId", p.senderUserId),
    p.sender.keyId,
    new Uint8Array([p.contentType]),
    u64be(checkUint64("timestampMs", p.timestampMs)),
    requireLength("previousHash", p.previousHash, 32),
    committed ? await caseKeyCommitment(p.caseKey, { caseId: p.caseId, epoch }) : new Uint8Array(0),
  );
  requireLength("nonce", p.nonce, NONCE);
  const plaintext = committed ? pad(body) : body;
  const ct = await aes256gcmSeal(await messageKey(p.caseKey, caseId, epoch), p.nonce, plaintext, header);
  const signed = concat(header, p.nonce, u32be(ct.length), ct);
  const sig = await p.sender.sign(concat(SIG_LABEL, signed));
  requireLength("signature", sig, SIGNATURE);
  return concat(signed, sig);
}

/** Deterministic form of sealMessage (time and nonce given): type 0x0e. */
export function sealMessageFromParts(body: Uint8Array, p: SealFromParts): Promise<Uint8Array> {
  return seal(true, body, p);
}

/**
 * The legacy record (type 0x07: no commitment, no padding), deterministically. Only for the
 * published v1 vectors and for tests that old records still open: new messages are 0x0e.
 */
export function sealLegacyMessageFromParts(body: Uint8Array, p: SealFromParts): Promise<Uint8Array> {
  return seal(false, body, p);
}

/**
 * Encrypt, pad and sign one message body (from encodeContent): type 0x0e, whose header carries
 * the commitment of `caseKey` for this case and epoch; time and nonce drawn here.
 */
export function sealMessage(body: Uint8Array, p: SealMessageParams): Promise<Uint8Array> {
  return sealMessageFromParts(body, {
    ...p,
    timestampMs: BigInt(Date.now()),
    nonce: crypto.getRandomValues(new Uint8Array(NONCE)),
  });
}

function parse(record: Uint8Array) {
  const reader = new Reader(record);
  const kind = reader.take(3);
  let committed: boolean;
  if (equalBytes(kind, prefix(RecordType.MESSAGE_COMMITTED))) committed = true;
  else if (equalBytes(kind, prefix(RecordType.MESSAGE))) committed = false;
  else throw new Malformed();
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
    commitment: committed ? reader.take(COMMITMENT) : null,
  };
  reader.take(NONCE);
  const length = reader.u32();
  if (committed) {
    const padded = length - TAG;
    if (padded < PADDING_BLOCK || padded > MAX_PADDED || padded % PADDING_BLOCK !== 0) throw new Malformed();
  } else if (length < TAG || length > MAX_BODY_BYTES + TAG) {
    throw new Malformed();
  }
  const ciphertext = reader.take(length);
  const signed = reader.consumed();
  const signature = reader.take(SIGNATURE);
  reader.end();
  return { header, signed, ciphertext, signature };
}

/**
 * The clear header for routing (no key, no signature check), either type; checks the whole
 * record's structure (for 0x0e a padded length). MessageHeaderError.
 */
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

/**
 * Verify, then decrypt. MessageOpenError on any failure; never partial output.
 *
 * `senderUserId`, when given, must be the header's sender user id: the signature proves which
 * key signed, and a participant could sign a header naming another participant as the sender.
 * Type 0x0e: the header's commitment must be the commitment of `caseKey` for this case and
 * epoch (constant time, before decrypting) and the padding well-formed. Type 0x07 opens without
 * either; header.commitment is then null, and the reader says so.
 */
export async function openMessage(
  record: Uint8Array,
  p: {
    caseKey: Uint8Array;
    caseId: string;
    epoch: number;
    senderSigningPublicKey: Uint8Array;
    senderUserId?: string;
  },
): Promise<OpenedMessage> {
  const caseId = uuidBytes("caseId", p.caseId);
  const epoch = checkUint("epoch", p.epoch, 32);
  const sender = p.senderUserId === undefined ? null : uuidBytes("senderUserId", p.senderUserId);
  const key = await messageKey(p.caseKey, caseId, epoch);
  const expectedCommitment = await caseKeyCommitment(p.caseKey, { caseId: p.caseId, epoch });
  try {
    const { header, signed, ciphertext } = await verify(record, p.senderSigningPublicKey);
    if (!equalBytes(uuidBytes("caseId", header.caseId), caseId) || header.epoch !== epoch) {
      throw new Malformed();
    }
    if (sender !== null && !equalBytes(uuidBytes("senderUserId", header.senderUserId), sender)) {
      throw new Malformed();
    }
    let aadEnd: number;
    if (header.commitment === null) aadEnd = HEADER_LENGTH;
    else if (equalBytes(header.commitment, expectedCommitment)) aadEnd = COMMITTED_HEADER_LENGTH;
    else throw new Malformed();
    const nonce = signed.subarray(aadEnd, aadEnd + NONCE);
    const plaintext = await aes256gcmOpen(key, nonce, ciphertext, signed.subarray(0, aadEnd));
    const body = header.commitment === null ? plaintext : unpad(plaintext);
    return { header, body };
  } catch (e) {
    if (isHostile(e)) throw new MessageOpenError();
    throw e;
  }
}
