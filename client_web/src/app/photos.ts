/**
 * Photos in a case thread: sealing, thumbnails, upload with retry, retake requests.
 *
 * Each photo travels as TWO encrypted attachments, each with a fresh file key (crypto
 * attachment format, docs/api.md "Photos"): the 320 px thumbnail and the 2048 px photo. ONE
 * signed `photo_reference` message (content type 3) names both: the photo's fields, and the
 * thumbnail's in its `thumbnail` object (crypto/content.py, docs/protocol.md). The thread shows
 * the thumbnail and fetches the full photo only when it is opened. Because one signature covers
 * both, no reader has to pair messages or decide whom to trust for a pairing. "Send anyway"
 * despite a quality warning is recorded in the `caption`, inside the same signed message.
 *
 * Earlier versions of this client posted the thumbnail as a reference of its own, linked by its
 * `media_type`: `image/jpeg; dermline-role=thumbnail; for=<photo attachment id>`. Nothing writes
 * that any more, but threads holding such pairs still render: {@link threadPhotos} hides those
 * references and uses one as the thumbnail of its photo only if the photo's sender sent it.
 */
import { ApiError, ServerUnavailable } from "./api";
import { ContentType, decodePhotoReference, decryptAttachment, encodeContent, encodePhotoReference, encryptAttachment, messageHash, newFileKey, sealMessage, signingIdentity, type Body } from "./cryptoFacade";
import type { UnlockedKeys } from "./session";

export type PhotoTag = "locator" | "close_up" | "dermoscopic";
export const PHOTO_TAGS: readonly PhotoTag[] = ["locator", "close_up", "dermoscopic"];

export interface PhotoToSend {
  /** Prepared (upright, metadata-free) JPEG bytes of the photo and of its thumbnail. */
  jpeg: Uint8Array;
  thumbnail: Uint8Array;
  tag: PhotoTag;
  bodySite: string;
  /** Shown with the photo; holds the stated reason when sent despite a quality warning. */
  caption?: string;
}

export interface SealedMessage {
  clientMsgId: string;
  envelope: Uint8Array;
}

export interface SealedUpload {
  attachmentId: string;
  record: Uint8Array;
  sha256: Uint8Array;
}

/** The legacy link (read only): a thumbnail's own reference named its photo in media_type. */
const LEGACY_THUMB_PREFIX = "image/jpeg; dermline-role=thumbnail; for=";
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * For a LEGACY thumbnail reference (an old client's separate message), the photo attachment id
 * it points at; null for an ordinary photo reference. New messages never carry this link.
 */
export function thumbnailTarget(mediaType: unknown): string | null {
  if (typeof mediaType !== "string" || !mediaType.startsWith(LEGACY_THUMB_PREFIX)) return null;
  const id = mediaType.slice(LEGACY_THUMB_PREFIX.length);
  return UUID_RE.test(id) ? id : null;
}

/** A photo as a thread shows it. */
export interface ThreadPhoto {
  /** The full photo's reference body: the viewer, side-by-side review and retakes use it. */
  body: Body;
  /** An old client's separate thumbnail reference for it, used only when `body` has none. */
  legacyThumbnail?: Body;
}

/**
 * The photos of a thread, in thread order, one per full photo. A photo's thumbnail is the one
 * inside its own signed reference (`body.thumbnail`). For old threads, a legacy thumbnail
 * reference (see {@link thumbnailTarget}) serves as the thumbnail of the photo it names only if
 * that photo has none of its own and the same participant sent both, so one participant cannot
 * dress another's photo with a different picture; the first such reference wins. Only a paired
 * legacy reference is hidden (see {@link pairedLegacyThumbnails}): any other is shown as the
 * photo it is, so nothing a participant signed goes unseen.
 */
export function threadPhotos(
  entries: readonly { contentType: number; body: Body; sender: { userId: string } | null }[],
): ThreadPhoto[] {
  const refs = entries.filter((m) => m.contentType === ContentType.PHOTO_REFERENCE);
  // Photos that may take a legacy thumbnail: ordinary references without one of their own.
  const bare = new Map<string, string | undefined>();
  for (const m of refs) {
    if (thumbnailTarget(m.body.media_type) === null && m.body.thumbnail === undefined) bare.set(String(m.body.attachment_id), m.sender?.userId);
  }
  const pairs = new Map<string, Body>();
  for (const m of refs) {
    const target = thumbnailTarget(m.body.media_type);
    const sender = m.sender?.userId;
    if (target === null || pairs.has(target) || sender === undefined || !bare.has(target) || bare.get(target) !== sender) continue;
    pairs.set(target, m.body);
  }
  const paired = new Set(pairs.values());
  return refs
    .filter((m) => !paired.has(m.body))
    .map((m) => {
      const t = thumbnailTarget(m.body.media_type) === null ? pairs.get(String(m.body.attachment_id)) : undefined;
      return t === undefined ? { body: m.body } : { body: m.body, legacyThumbnail: t };
    });
}

/** The legacy thumbnail references that {@link threadPhotos} paired with a photo: the thread
 * shows them inside their photo's card, not as cards of their own. */
export function pairedLegacyThumbnails(photos: readonly ThreadPhoto[]): Set<Body> {
  return new Set(photos.flatMap((p) => (p.legacyThumbnail === undefined ? [] : [p.legacyThumbnail])));
}

/**
 * Download, hash-check and decrypt the thumbnail named inside a photo reference body; null if
 * the reference has no thumbnail. The file key is wiped after use.
 */
export async function openThumbnail(download: (attachmentId: string) => Promise<Uint8Array>, body: Body): Promise<Uint8Array | null> {
  const ref = decodePhotoReference(encodeContent(ContentType.PHOTO_REFERENCE, body));
  ref.fileKey.fill(0);
  const t = ref.thumbnail;
  if (t === undefined) return null;
  try {
    return await decryptAttachment(t.fileKey, await download(t.attachmentId), t.ciphertextSha256);
  } finally {
    t.fileKey.fill(0);
  }
}

export const QUALITY_REASON_TEXT: Record<string, string> = {
  blurred: "blurred",
  over_exposed: "too bright",
  under_exposed: "too dark",
  low_resolution: "low resolution",
  framing: "lesion not centred",
};

/** The caption recording a "send anyway" decision: the warning and the GP's stated reason. */
export function sendAnywayCaption(reasons: readonly string[], statedReason: string): string {
  const reason = statedReason.trim();
  if (reason.length === 0) throw new RangeError("a stated reason is required to send a photo with a quality warning");
  const warned = reasons.map((r) => QUALITY_REASON_TEXT[r] ?? r).join(", ");
  return `Sent despite a quality warning (${warned}). Reason: ${reason}`;
}

async function sealOne(
  keys: UnlockedKeys,
  p: { caseKey: Uint8Array; caseId: string; epoch: number; previousHash: Uint8Array; contentType: ContentType; body: Uint8Array },
): Promise<SealedMessage> {
  const clientMsgId = crypto.randomUUID();
  const envelope = await sealMessage(p.body, {
    caseKey: p.caseKey,
    caseId: p.caseId,
    epoch: p.epoch,
    clientMessageId: clientMsgId,
    senderUserId: keys.userId,
    sender: signingIdentity(keys.signing),
    contentType: p.contentType,
    previousHash: p.previousHash,
  });
  return { clientMsgId, envelope };
}

async function encryptOne(bytes: Uint8Array): Promise<{ upload: SealedUpload; fileKey: Uint8Array; size: number }> {
  const fileKey = newFileKey();
  const { record, sha256 } = await encryptAttachment(fileKey, bytes);
  return { upload: { attachmentId: crypto.randomUUID(), record, sha256 }, fileKey, size: record.length };
}

/**
 * Encrypt photos (thumbnail and full image, each with a fresh file key) and seal ONE reference
 * message per photo, its thumbnail inside, chained from `previousHash`. File keys are wiped once
 * sealed into the messages. Returns the uploads (thumbnails first, so a thread can show them as
 * soon as possible) and the messages in thread order.
 */
export async function sealPhotos(
  keys: UnlockedKeys,
  p: { caseKey: Uint8Array; caseId: string; epoch?: number; previousHash: Uint8Array; photos: readonly PhotoToSend[] },
): Promise<{ uploads: SealedUpload[]; messages: SealedMessage[]; lastHash: Uint8Array }> {
  const thumbs: SealedUpload[] = [];
  const fulls: SealedUpload[] = [];
  const messages: SealedMessage[] = [];
  let previous = p.previousHash;
  for (const ph of p.photos) {
    const full = await encryptOne(ph.jpeg);
    const thumb = await encryptOne(ph.thumbnail);
    try {
      const body = encodePhotoReference({
        attachmentId: full.upload.attachmentId,
        fileKey: full.fileKey,
        ciphertextSha256: full.upload.sha256,
        ciphertextSize: full.size,
        mediaType: "image/jpeg",
        tag: ph.tag,
        bodySite: ph.bodySite,
        ...(ph.caption ? { caption: ph.caption } : {}),
        thumbnail: {
          attachmentId: thumb.upload.attachmentId,
          fileKey: thumb.fileKey,
          ciphertextSha256: thumb.upload.sha256,
          ciphertextSize: thumb.size,
        },
      });
      const m = await sealOne(keys, { caseKey: p.caseKey, caseId: p.caseId, epoch: p.epoch ?? 0, previousHash: previous, contentType: ContentType.PHOTO_REFERENCE, body });
      previous = await messageHash(m.envelope);
      messages.push(m);
      thumbs.push(thumb.upload);
      fulls.push(full.upload);
    } finally {
      full.fileKey.fill(0);
      thumb.fileKey.fill(0);
    }
  }
  return { uploads: [...thumbs, ...fulls], messages, lastHash: previous };
}

/** Retake request reasons: the same codes as the "image rejected" outcome (docs/api.md). */
export const RETAKE_REASONS: [string, string][] = [
  ["out_of_focus", "Out of focus"],
  ["too_far", "Taken from too far away"],
  ["poor_lighting", "Poor lighting"],
  ["no_dermoscopic_image", "No dermoscopic image"],
  ["wrong_or_missing_locator", "Wrong or missing locator image"],
  ["other", "Other"],
];

/** A `retake_request` message (content type 5): which photos, coded reasons, what to retake. */
export async function sealRetakeRequest(
  keys: UnlockedKeys,
  p: { caseKey: Uint8Array; caseId: string; epoch?: number; previousHash: Uint8Array; attachmentIds: string[]; reasons: string[]; text: string },
): Promise<SealedMessage> {
  const known = new Set(RETAKE_REASONS.map(([k]) => k));
  if (p.reasons.length === 0 || p.reasons.some((r) => !known.has(r))) throw new RangeError("retake reasons must be known codes");
  const body: Body = { attachment_ids: p.attachmentIds, reasons: p.reasons };
  if (p.text.trim()) body.text = p.text.trim();
  return sealOne(keys, { ...p, epoch: p.epoch ?? 0, contentType: ContentType.RETAKE_REQUEST, body: encodeContent(ContentType.RETAKE_REQUEST, body) });
}

/** Whether an upload failure is worth retrying: the network, 429 and 5xx; never 4xx refusals. */
export function retryable(e: unknown): boolean {
  if (e instanceof ServerUnavailable) return true;
  if (e instanceof ApiError) return e.status === 429 || e.status >= 500;
  return false;
}

/**
 * Run `op` until it succeeds, retrying retryable failures with exponential backoff (base, 2x,
 * 4x ...). The last error is rethrown.
 */
export async function withRetry<T>(
  op: () => Promise<T>,
  o: { attempts?: number; baseMs?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<T> {
  const attempts = o.attempts ?? 4;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let i = 1; ; i++) {
    try {
      return await op();
    } catch (e) {
      if (i >= attempts || !retryable(e)) throw e;
      await sleep((o.baseMs ?? 400) * 2 ** (i - 1));
    }
  }
}

/**
 * Upload encrypted photos with retry. The server answers 409 `conflict` when an attachment id
 * already exists; on a RETRY that means the earlier attempt landed and only its answer was lost,
 * so it counts as done (the id is a fresh random UUID, and the reader checks the ciphertext hash
 * from the signed reference anyway, so nothing else could have been stored under it unnoticed).
 */
export async function uploadPhotos(
  upload: (attachmentId: string, record: Uint8Array, sha256: Uint8Array) => Promise<void>,
  uploads: readonly SealedUpload[],
  o: { attempts?: number; baseMs?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<void> {
  for (const u of uploads) {
    let tried = 0;
    await withRetry(async () => {
      tried += 1;
      try {
        await upload(u.attachmentId, u.record, u.sha256);
      } catch (e) {
        if (tried > 1 && e instanceof ApiError && e.status === 409) return;
        throw e;
      }
    }, o);
  }
}
