/**
 * The patient photo link; port of crypto/patient_drop.py (docs/protocol.md section 17).
 *
 * Link fragment (after "#/p/"): base64url(token, 32 bytes) "." base64url(drop-box public key,
 * 65 bytes), no padding, spare bits zero; the key must be a valid P-256 point.
 *
 * Drop record (type 0x0a), one per photo, unsigned (the patient has no identity):
 *     0   3  01 01 0a           |  23  65  HPKE enc
 *     3  16  link id            |  88   n  HPKE ciphertext (UTF-8 JSON photo body || tag)
 *    19   4  photo index (u32)  |
 *   info = "dermline/v1/patient-drop" || 0x00 || link id || index;  aad = bytes 0..22
 */
import { concat, equalBytes, fromBase64Url, requireLength, toBase64Url, u32be } from "./bytes";
import {
  type AttachmentRef,
  type Body,
  attachmentRefFromBody,
  attachmentRefToBody,
  decodePatientPhotoBody,
  encodePatientPhotoBody,
} from "./content";
import { ContentError, PatientDropError, PatientLinkFormatError, PrimitiveError, PublicKeyError } from "./errors";
import { p256CheckPublic } from "./primitives/ecc";
import { type HpkeRecipient, hpkeOpenBase, hpkeSealBase } from "./primitives/hpke";
import { Malformed, Reader, RecordType, checkUint, label, prefix, uuidBytes } from "./wire";

export const LINK_TOKEN_LENGTH = 32;
export const DROP_HEADER_LENGTH = 23;
export const MAX_DROP_BODY_BYTES = 1 << 16;
const ENC = 65;
const TAG = 16;
const INFO_LABEL = label("patient-drop", true);
const SPARE_ZERO = "AEIMQUYcgkosw048";

/** The thumbnail attachment of one patient photo. */
export type PatientThumbnail = AttachmentRef;

export type PhotoTag = "locator" | "close_up" | "dermoscopic";

export interface PatientPhoto {
  attachmentId: string;
  fileKey: Uint8Array;
  ciphertextSha256: Uint8Array;
  ciphertextSize: number;
  mediaType: string;
  tag: PhotoTag;
  bodySite: string;
  thumbnail?: PatientThumbnail;
  quality?: { verdict: "ok" | "warn"; reasons: string[] };
  sendAnywayReason?: string;
}

export interface DropHeader {
  linkId: string;
  index: number;
}

/** "<token>.<public key>", the part of the patient URL after "#/p/". */
export function formatLinkFragment(token: Uint8Array, dropBoxPublicKey: Uint8Array): string {
  requireLength("token", token, LINK_TOKEN_LENGTH);
  requireLength("dropBoxPublicKey", dropBoxPublicKey, ENC);
  return `${toBase64Url(token)}.${toBase64Url(dropBoxPublicKey)}`;
}

/** Token and drop-box public key from a fragment; PatientLinkFormatError if it is not one. */
export function parseLinkFragment(text: string): { token: Uint8Array; publicKey: Uint8Array } {
  if (typeof text !== "string") throw new TypeError("text must be a string");
  const dot = text.indexOf(".");
  const tokenText = dot < 0 ? "" : text.slice(0, dot);
  const keyText = dot < 0 ? "" : text.slice(dot + 1);
  if (
    !/^[A-Za-z0-9_-]{43}$/.test(tokenText) ||
    !SPARE_ZERO.includes(tokenText[42]!) ||
    !/^[A-Za-z0-9_-]{87}$/.test(keyText) ||
    !SPARE_ZERO.includes(keyText[86]!)
  ) {
    throw new PatientLinkFormatError();
  }
  const token = fromBase64Url(tokenText);
  const publicKey = fromBase64Url(keyText);
  try {
    p256CheckPublic(publicKey);
  } catch {
    throw new PatientLinkFormatError();
  }
  return { token, publicKey };
}

function photoToBody(p: PatientPhoto): Body {
  const body: Body = {
    ...attachmentRefToBody(p),
    media_type: p.mediaType,
    tag: p.tag,
    body_site: p.bodySite,
  };
  if (p.thumbnail !== undefined) body.thumbnail = attachmentRefToBody(p.thumbnail, "thumbnail.");
  if (p.quality !== undefined) {
    body.quality = { verdict: p.quality.verdict, reasons: [...p.quality.reasons] };
  }
  if (p.sendAnywayReason !== undefined) body.send_anyway_reason = p.sendAnywayReason;
  return body;
}

/** The canonical photo body bytes (what the record encrypts); RangeError if invalid. */
export function encodePatientPhoto(photo: PatientPhoto): Uint8Array {
  return encodePatientPhotoBody(photoToBody(photo), MAX_DROP_BODY_BYTES);
}

function bodyToPhoto(b: Body): PatientPhoto {
  // The schema has checked every field; the casts only restate it for the compiler.
  const photo: PatientPhoto = {
    ...attachmentRefFromBody(b),
    mediaType: b.media_type as string,
    tag: b.tag as PhotoTag,
    bodySite: b.body_site as string,
  };
  const t = b.thumbnail as Body | undefined;
  if (t !== undefined) photo.thumbnail = attachmentRefFromBody(t);
  const q = b.quality as { verdict: "ok" | "warn"; reasons: string[] } | undefined;
  if (q !== undefined) photo.quality = { verdict: q.verdict, reasons: q.reasons };
  if (b.send_anyway_reason !== undefined) photo.sendAnywayReason = b.send_anyway_reason as string;
  return photo;
}

/** Decode and check a photo body (the plaintext of a drop record); ContentError if invalid. */
export function decodePatientPhoto(plaintext: Uint8Array): PatientPhoto {
  return bodyToPhoto(decodePatientPhotoBody(plaintext));
}

function info(linkId: Uint8Array, index: number): Uint8Array {
  return concat(INFO_LABEL, linkId, u32be(index));
}

export async function sealPatientPhotoFromParts(
  photo: PatientPhoto,
  p: { linkId: string; index: number; dropBoxPublicKey: Uint8Array; ikmE: Uint8Array },
): Promise<Uint8Array> {
  const link = uuidBytes("linkId", p.linkId);
  const index = checkUint("index", p.index, 32);
  requireLength("dropBoxPublicKey", p.dropBoxPublicKey, ENC);
  try {
    p256CheckPublic(p.dropBoxPublicKey);
  } catch {
    throw new PublicKeyError();
  }
  const plaintext = encodePatientPhoto(photo);
  const header = concat(prefix(RecordType.PATIENT_DROP), link, u32be(index));
  const { enc, ct } = await hpkeSealBase(p.dropBoxPublicKey, info(link, index), header, plaintext, {
    ikmE: p.ikmE,
  });
  return concat(header, enc, ct);
}

/** HPKE-seal one photo's keys and metadata to the link's drop-box public key (0x0a). */
export function sealPatientPhoto(
  photo: PatientPhoto,
  p: { linkId: string; index: number; dropBoxPublicKey: Uint8Array },
): Promise<Uint8Array> {
  return sealPatientPhotoFromParts(photo, { ...p, ikmE: crypto.getRandomValues(new Uint8Array(32)) });
}

function parse(record: Uint8Array): { header: DropHeader; raw: Uint8Array } {
  const reader = new Reader(record);
  reader.prefix(RecordType.PATIENT_DROP);
  const header: DropHeader = { linkId: reader.uuid(), index: reader.u32() };
  const rest = record.length - DROP_HEADER_LENGTH;
  // At least "{}" and the tag; at most the 64 KiB body limit (crypto/patient_drop.py).
  if (rest < ENC + TAG + 2 || rest > ENC + TAG + MAX_DROP_BODY_BYTES) throw new Malformed();
  reader.take(rest);
  reader.end();
  return { header, raw: reader.consumed() };
}

/** The clear header without any key; PatientDropError unless the shape is v1. */
export function parsePatientPhotoHeader(record: Uint8Array): DropHeader {
  try {
    return parse(record).header;
  } catch (e) {
    if (e instanceof Malformed) throw new PatientDropError();
    throw e;
  }
}

/**
 * Check the link id, decrypt with the drop-box private key, parse the body. The caller must
 * check that indices of one submission are distinct and decrypt each attachment against its
 * ciphertextSha256. PatientDropError whatever went wrong.
 */
export async function openPatientPhoto(
  record: Uint8Array,
  p: { linkId: string; dropBox: HpkeRecipient },
): Promise<{ index: number; photo: PatientPhoto }> {
  const link = uuidBytes("linkId", p.linkId);
  try {
    const { header, raw } = parse(record);
    if (!equalBytes(uuidBytes("linkId", header.linkId), link)) throw new Malformed();
    const plaintext = await hpkeOpenBase(
      p.dropBox,
      raw.subarray(DROP_HEADER_LENGTH, DROP_HEADER_LENGTH + ENC),
      info(link, header.index),
      raw.subarray(0, DROP_HEADER_LENGTH),
      raw.subarray(DROP_HEADER_LENGTH + ENC),
    );
    return { index: header.index, photo: bodyToPhoto(decodePatientPhotoBody(plaintext)) };
  } catch (e) {
    if (e instanceof Malformed || e instanceof PrimitiveError || e instanceof ContentError) {
      throw new PatientDropError();
    }
    throw e;
  }
}
