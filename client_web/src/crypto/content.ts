/**
 * Content types and the plaintext bodies inside message envelopes; port of crypto/content.py.
 *
 * A body is a UTF-8 JSON object with "v": 1 and exactly the fields of its content type
 * (required present, no unknown ones); strings non-empty and at most 100,000 characters (code
 * points, as Python counts); no NaN/Infinity; no duplicate keys; at most 1 MiB. `file_key` is
 * base64url without padding (43 chars, spare bits zero), `ciphertext_sha256` lower-case hex,
 * identifiers lower-case hyphenated UUIDs. encodeContent writes sorted keys (by code point, as
 * Python's sort_keys), no spaces, raw UTF-8 (ensure_ascii=False), so both clients produce the
 * same bytes; decoders accept any key order and spacing. Schemas: see crypto/content.py.
 * A photo_reference may carry its `thumbnail` ({attachment_id, file_key, ciphertext_sha256,
 * ciphertext_size}, the patient drop's shape), whose attachment id must differ from the photo's.
 */
import { fromBase64Url, fromHex, requireBytes, requireLength, toBase64Url, toHex, utf8 } from "./bytes";
import { ContentError } from "./errors";
import { JsonFloat, JsonInt, type JsonValue, parseStrictJson } from "./strictJson";
import { uuidBytes, uuidString } from "./wire";

export const BODY_VERSION = 1;
export const MAX_BODY_BYTES = 1 << 20;
const MAX_STRING = 100_000;
const MAX_LIST = 1000;

export const ContentType = {
  TEXT: 0x01,
  CLINICAL_HISTORY: 0x02,
  PHOTO_REFERENCE: 0x03,
  QUESTION: 0x04,
  RETAKE_REQUEST: 0x05,
  OUTCOME: 0x06,
  RECEIPT: 0x07,
  // 0x08 unassigned: the published envelope vectors use it as the unknown type (content.py).
  PATIENT_LINK: 0x09,
} as const;
export type ContentType = (typeof ContentType)[keyof typeof ContentType];

export function isContentType(v: number): v is ContentType {
  return Number.isInteger(v) && ((v >= 0x01 && v <= 0x07) || v === 0x09);
}

type Check = (v: JsonValue) => boolean;

const codePoints = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};
const string: Check = (v) => typeof v === "string" && v.length > 0 && codePoints(v) <= MAX_STRING;
const boolean: Check = (v) => typeof v === "boolean";
const size: Check = (v) => v instanceof JsonInt && v.value >= 0n && v.value < 2n ** 53n;
const uuid: Check = (v) =>
  typeof v === "string" && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(v);
const hex32: Check = (v) => typeof v === "string" && /^[0-9a-f]{64}$/.test(v);
// 43 base64url characters carry 258 bits; the last must leave the 2 spare bits zero.
const b64_32: Check = (v) =>
  typeof v === "string" && /^[A-Za-z0-9_-]{43}$/.test(v) && "AEIMQUYcgkosw048".includes(v[42]!);
const oneOf =
  (choices: string[]): Check =>
  (v) =>
    typeof v === "string" && choices.includes(v);
const listOf =
  (item: Check, minimum = 1): Check =>
  (v) =>
    Array.isArray(v) && v.length >= minimum && v.length <= MAX_LIST && v.every(item);
const stringOrStrings: Check = (v) => string(v) || listOf(string)(v);
const details: Check = (v) =>
  v instanceof Map &&
  v.size <= MAX_LIST &&
  [...v.entries()].every(([k, x]) => string(k) && stringOrStrings(x));
const object =
  (required: Record<string, Check>, optional: Record<string, Check> = {}): Check =>
  (v) => {
    if (!(v instanceof Map)) return false;
    for (const k of Object.keys(required)) if (!v.has(k)) return false;
    for (const [k, x] of v) {
      const c = Object.hasOwn(required, k) ? required[k] : Object.hasOwn(optional, k) ? optional[k] : undefined;
      if (c === undefined || !c(x)) return false;
    }
    return true;
  };

/** The four fields that name an encrypted attachment: a photo's own and its thumbnail's. */
const ATTACHMENT_REF: Record<string, Check> = {
  attachment_id: uuid,
  file_key: b64_32,
  ciphertext_sha256: hex32,
  ciphertext_size: size,
};
/** A photo's thumbnail attachment: photo_reference and the patient drop's photo body. */
const THUMBNAIL: Check = object(ATTACHMENT_REF);

const SCHEMAS: Record<ContentType, Check> = {
  [ContentType.TEXT]: object({ text: string }),
  [ContentType.CLINICAL_HISTORY]: object(
    {
      patient: object({ nhs_number: string, name: string, date_of_birth: string, sex: string }),
      body_site: string,
      duration: string,
      changes: object({ size: boolean, shape: boolean, colour: boolean }),
      symptoms: object({ itch: boolean, bleeding: boolean, scaling: boolean, soreness: boolean }),
      previous_skin_cancer: boolean,
      skin_type: string,
      question: string,
      consent_to_photography: boolean,
    },
    { relevant_history: string, medicines: string },
  ),
  [ContentType.PHOTO_REFERENCE]: object(
    {
      ...ATTACHMENT_REF,
      media_type: string,
      tag: oneOf(["locator", "close_up", "dermoscopic"]),
      body_site: string,
    },
    { caption: string, thumbnail: THUMBNAIL },
  ),
  [ContentType.QUESTION]: object({ text: string }),
  [ContentType.RETAKE_REQUEST]: object(
    { attachment_ids: listOf(uuid), reasons: listOf(string) },
    { text: string },
  ),
  [ContentType.OUTCOME]: object({
    category: oneOf(["advice_and_guidance", "referral", "image_rejected"]),
    summary: string,
    details,
  }),
  [ContentType.RECEIPT]: object({ kind: oneOf(["delivered", "read"]), message_ids: listOf(uuid) }),
  [ContentType.PATIENT_LINK]: object({
    link_id: uuid,
    expires_at_ms: size,
    max_photos: size,
    drop_box_private_key: b64_32,
  }),
};

/** The photo body inside a patient drop record (crypto/patient_drop.py, protocol.md 17). */
const PATIENT_PHOTO: Check = object(
  {
    ...ATTACHMENT_REF,
    media_type: string,
    tag: oneOf(["locator", "close_up", "dermoscopic"]),
    body_site: string,
  },
  {
    thumbnail: THUMBNAIL,
    quality: object({ verdict: oneOf(["ok", "warn"]), reasons: listOf(string, 0) }),
    send_anyway_reason: string,
  },
);

function validateWith(check: Check, body: JsonValue): boolean {
  if (!(body instanceof Map)) return false;
  const v = body.get("v");
  if (!(v instanceof JsonInt) || v.value !== BigInt(BODY_VERSION)) return false;
  const fields = new Map(body);
  fields.delete("v");
  return check(fields);
}

function validate(contentType: ContentType, body: JsonValue): boolean {
  if (!validateWith(SCHEMAS[contentType], body)) return false;
  // The one rule across fields: a photo's thumbnail is another attachment than the photo.
  if (contentType === ContentType.PHOTO_REFERENCE) {
    const b = body as Map<string, JsonValue>;
    const t = b.get("thumbnail");
    if (t instanceof Map && t.get("attachment_id") === b.get("attachment_id")) return false;
  }
  return true;
}

/** A plain JS value as produced by decodeContent and accepted by encodeContent. */
export type Body = { [k: string]: unknown };

function fromPlain(v: unknown): JsonValue {
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new RangeError("NaN and Infinity are not JSON");
    return Number.isInteger(v) ? new JsonInt(BigInt(v)) : new JsonFloat(v);
  }
  if (typeof v === "bigint") return new JsonInt(v);
  if (Array.isArray(v)) return v.map(fromPlain);
  if (typeof v === "object") {
    return new Map(Object.entries(v as Body).map(([k, x]) => [k, fromPlain(x)] as [string, JsonValue]));
  }
  throw new TypeError("body holds a value JSON cannot represent");
}

function toPlain(v: JsonValue): unknown {
  if (v instanceof JsonInt) return Number(v.value);
  if (v instanceof JsonFloat) return v.value;
  if (Array.isArray(v)) return v.map(toPlain);
  if (v instanceof Map) {
    const o: Body = {};
    for (const [k, x] of v) {
      Object.defineProperty(o, k, { value: toPlain(x), enumerable: true, writable: true, configurable: true });
    }
    return o;
  }
  return v;
}

const cmpCodePoints = (a: string, b: string): number => {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
};

function hasLoneSurrogate(s: string): boolean {
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

/** Python json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False). */
function serialise(v: JsonValue): string {
  if (v === null) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "string") {
    // Python would fail to UTF-8-encode a lone surrogate; refuse it as invalid input.
    if (hasLoneSurrogate(v)) throw new RangeError("string holds a lone surrogate");
    // JSON.stringify escapes exactly what Python's encoder escapes with ensure_ascii=False:
    // '"', '\\', and U+0000..U+001F (\b \t \n \f \r short forms, others \u00xx lower-case).
    return JSON.stringify(v);
  }
  if (v instanceof JsonInt) return v.value.toString();
  if (v instanceof JsonFloat) throw new RangeError("non-integer numbers are not used in bodies");
  if (Array.isArray(v)) return `[${v.map(serialise).join(",")}]`;
  const keys = [...v.keys()].sort(cmpCodePoints);
  return `{${keys.map((k) => `${serialise(k)}:${serialise(v.get(k)!)}`).join(",")}}`;
}

function checkType(contentType: unknown): ContentType {
  if (typeof contentType !== "number" || !isContentType(contentType)) {
    throw new RangeError("unknown content type");
  }
  return contentType;
}

/** UTF-8 JSON plaintext for a body ("v": 1 added); RangeError if it does not fit its schema. */
export function encodeContent(contentType: ContentType, body: Body): Uint8Array {
  checkType(contentType);
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new TypeError("body must be an object");
  }
  const full = fromPlain({ ...body, v: BODY_VERSION });
  if (!validate(contentType, full)) {
    throw new RangeError("body does not match its content type's schema");
  }
  const data = utf8.encode(serialise(full));
  if (data.length > MAX_BODY_BYTES) throw new RangeError("body is larger than 1 MiB");
  return data;
}

/** Parse and check a decrypted body; ContentError if it is not valid. */
export function decodeContent(contentType: ContentType, data: Uint8Array): Body {
  checkType(contentType);
  requireBytes("data", data);
  try {
    if (data.length > MAX_BODY_BYTES) throw new ContentError();
    const body = parseStrictJson(utf8.decode(data));
    if (!validate(contentType, body)) throw new ContentError();
    return toPlain(body) as Body;
  } catch {
    throw new ContentError();
  }
}

/** What names an encrypted attachment: a photo, its thumbnail, a patient drop's photo. */
export interface AttachmentRef {
  attachmentId: string;
  fileKey: Uint8Array;
  ciphertextSha256: Uint8Array;
  ciphertextSize: number;
}

/** A photo's thumbnail: its own attachment under its own file key (crypto/content.py). */
export type PhotoThumbnail = AttachmentRef;

/** Internal (also patientDrop.ts): the ATTACHMENT_REF body fields; `where` prefixes error names. */
export function attachmentRefToBody(r: AttachmentRef, where = ""): Body {
  return {
    attachment_id: uuidString(uuidBytes(`${where}attachmentId`, r.attachmentId)),
    file_key: toBase64Url(requireLength(`${where}fileKey`, r.fileKey, 32)),
    ciphertext_sha256: toHex(requireLength(`${where}ciphertextSha256`, r.ciphertextSha256, 32)),
    ciphertext_size: r.ciphertextSize,
  };
}

/** Internal (also patientDrop.ts): the ATTACHMENT_REF fields of a body its schema has checked. */
export function attachmentRefFromBody(b: Body): AttachmentRef {
  // The schema has checked every field; the casts only restate it for the compiler.
  return {
    attachmentId: b.attachment_id as string,
    fileKey: fromBase64Url(b.file_key as string),
    ciphertextSha256: fromHex(b.ciphertext_sha256 as string),
    ciphertextSize: b.ciphertext_size as number,
  };
}

export interface PhotoReference {
  attachmentId: string;
  fileKey: Uint8Array;
  ciphertextSha256: Uint8Array;
  ciphertextSize: number;
  mediaType: string;
  tag: "locator" | "close_up" | "dermoscopic";
  bodySite: string;
  caption?: string;
  /** One signed message binds the photo and its thumbnail. */
  thumbnail?: PhotoThumbnail;
}

export function encodePhotoReference(ref: PhotoReference): Uint8Array {
  const body: Body = {
    ...attachmentRefToBody(ref),
    media_type: ref.mediaType,
    tag: ref.tag,
    body_site: ref.bodySite,
  };
  if (ref.caption !== undefined) body.caption = ref.caption;
  if (ref.thumbnail !== undefined) body.thumbnail = attachmentRefToBody(ref.thumbnail, "thumbnail.");
  return encodeContent(ContentType.PHOTO_REFERENCE, body);
}

export function decodePhotoReference(data: Uint8Array): PhotoReference {
  const b = decodeContent(ContentType.PHOTO_REFERENCE, data);
  const ref: PhotoReference = {
    ...attachmentRefFromBody(b),
    mediaType: b.media_type as string,
    tag: b.tag as PhotoReference["tag"],
    bodySite: b.body_site as string,
  };
  if (typeof b.caption === "string") ref.caption = b.caption;
  const t = b.thumbnail as Body | undefined;
  if (t !== undefined) ref.thumbnail = attachmentRefFromBody(t);
  return ref;
}

/** Internal to patientDrop.ts: the canonical photo body; RangeError if it is not valid. */
export function encodePatientPhotoBody(body: Body, maxBytes: number): Uint8Array {
  const full = fromPlain({ ...body, v: BODY_VERSION });
  if (!validateWith(PATIENT_PHOTO, full)) {
    throw new RangeError("photo does not match the patient photo schema");
  }
  const data = utf8.encode(serialise(full));
  if (data.length > maxBytes) throw new RangeError("photo body is larger than 64 KiB");
  return data;
}

/** Internal to patientDrop.ts: parse a decrypted photo body; ContentError if invalid. */
export function decodePatientPhotoBody(data: Uint8Array): Body {
  try {
    const body = parseStrictJson(utf8.decode(data));
    if (!validateWith(PATIENT_PHOTO, body)) throw new ContentError();
    return toPlain(body) as Body;
  } catch {
    throw new ContentError();
  }
}
