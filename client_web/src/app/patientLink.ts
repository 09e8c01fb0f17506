/**
 * Patient photo links (docs/protocol.md section 17; docs/api.md "Patient photo
 * links"). Three roles, mirroring client_py/patient.py:
 *
 * - the GP: `makePatientLink` makes a fresh drop-box key pair, asks the server for a link (the
 *   server returns the token once), posts the drop-box PRIVATE key into the case thread as a
 *   signed, encrypted `patient_link` message, and returns the URL `ORIGIN/#/p/<token>.<pk>`;
 * - the patient (no account): `sendAsPatient` checks the link, encrypts each prepared photo and
 *   its thumbnail under fresh file keys, uploads them, seals one drop record per photo to the
 *   drop-box PUBLIC key and submits them (single use);
 * - any reader of the case: `openPatientSubmission` opens the records with the private key found
 *   in the thread; photos then download and hash-check like any attachment.
 *
 * The token and the public key travel only in the URL fragment, which browsers never send; the
 * patient's requests carry the token in the X-Dermline-Link-Token header, never in a URL.
 */
import {
  ContentType,
  encodeContent,
  encryptAttachment,
  fromBase64Url,
  generateKeyPair,
  openPatientPhoto,
  parseLinkFragment,
  type PatientPhoto,
  sealPatientPhoto,
  toBase64Url,
  formatLinkFragment,
} from "../crypto/index";
import { hpkeRecipientFromScalar } from "../crypto/primitives/hpke";
import { ApiError, ServerUnavailable } from "./api";
import type { OpenedEntry } from "./cases";
import { type PhotoTag, withRetry } from "./photos";
import type { UnlockedKeys } from "./session";
import { sealMessage, signingIdentity } from "../crypto/index";

export const LINK_TOKEN_HEADER = "X-Dermline-Link-Token";
const BASE = "/api/v1";

export interface PatientLinkInfo {
  linkId: string;
  caseId: string;
  createdAt: string;
  expiresAt: string;
  maxPhotos: number;
  uploads: number;
  status: "active" | "used" | "revoked" | "expired";
}

function csrfFromCookie(): string | null {
  const m = /(?:^|;\s*)dermline_csrf=([^;]+)/.exec(document.cookie);
  return m ? decodeURIComponent(m[1]!) : null;
}

async function request(
  method: "GET" | "POST",
  path: string,
  o: { json?: unknown; body?: Uint8Array; headers?: Record<string, string>; patient?: boolean } = {},
): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = { Accept: "application/json", ...(o.headers ?? {}) };
  if (o.json !== undefined) headers["Content-Type"] = "application/json";
  const csrf = csrfFromCookie();
  // The patient routes need no CSRF token (the link token is their credential).
  if (method === "POST" && !o.patient && csrf) headers["X-CSRF-Token"] = csrf;
  let res: Response;
  try {
    res = await fetch(BASE + path, {
      method,
      headers,
      // The patient's requests carry no cookie at all: nothing but the token authorises them.
      credentials: o.patient ? "omit" : "same-origin",
      cache: "no-store",
      body: o.json !== undefined ? JSON.stringify(o.json) : o.body !== undefined ? (o.body as Uint8Array<ArrayBuffer>) : null,
    });
  } catch {
    throw new ServerUnavailable();
  }
  let data: unknown = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = (data as { error?: { code?: unknown } } | null)?.error?.code;
    throw new ApiError(res.status, typeof err === "string" ? err : "internal");
  }
  return (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
}

function linkOut(r: Record<string, unknown>): PatientLinkInfo {
  const status = String(r.status);
  return {
    linkId: String(r.link_id),
    caseId: String(r.case_id),
    createdAt: String(r.created_at),
    expiresAt: String(r.expires_at),
    maxPhotos: Number(r.max_photos),
    uploads: Number(r.uploads),
    status: (["active", "used", "revoked", "expired"].includes(status) ? status : "expired") as PatientLinkInfo["status"],
  };
}

// ------------------------------------------------------------------ GP side

export async function listPatientLinks(caseId: string): Promise<PatientLinkInfo[]> {
  const r = await request("GET", `/cases/${caseId}/patient-links`);
  return (Array.isArray(r.links) ? r.links : []).map((x) => linkOut(x as Record<string, unknown>));
}

export async function revokePatientLink(caseId: string, linkId: string): Promise<PatientLinkInfo> {
  return linkOut(await request("POST", `/cases/${caseId}/patient-links/${linkId}/revoke`));
}

export async function patientSubmission(caseId: string, linkId: string): Promise<Uint8Array[]> {
  const r = await request("GET", `/cases/${caseId}/patient-links/${linkId}/submission`);
  return (Array.isArray(r.records) ? r.records : []).map((x) => fromBase64Url(String(x)));
}

export interface MadeLink {
  link: PatientLinkInfo;
  url: string;
}

/**
 * Make a link for the case and put its drop-box private key into the thread (signed by me,
 * chained after `previousHash`). The private key is wiped from memory once sealed.
 */
export async function makePatientLink(
  keys: UnlockedKeys,
  p: { caseKey: Uint8Array; caseId: string; epoch?: number; previousHash: Uint8Array; ttlMinutes: number; maxPhotos: number; origin: string },
  send: (clientMsgId: string, envelope: Uint8Array) => Promise<unknown>,
): Promise<MadeLink> {
  const box = await generateKeyPair();
  try {
    const made = await request("POST", `/cases/${p.caseId}/patient-links`, { json: { ttl_minutes: p.ttlMinutes, max_photos: p.maxPhotos } });
    const link = linkOut(made.link as Record<string, unknown>);
    const token = fromBase64Url(String(made.token));
    const body = encodeContent(ContentType.PATIENT_LINK, {
      link_id: link.linkId,
      expires_at_ms: Date.parse(link.expiresAt),
      max_photos: link.maxPhotos,
      drop_box_private_key: toBase64Url(box.privateKey),
    });
    const clientMsgId = crypto.randomUUID();
    const envelope = await sealMessage(body, {
      caseKey: p.caseKey,
      caseId: p.caseId,
      epoch: p.epoch ?? 0,
      clientMessageId: clientMsgId,
      senderUserId: keys.userId,
      sender: signingIdentity(keys.signing),
      contentType: ContentType.PATIENT_LINK,
      previousHash: p.previousHash,
    });
    body.fill(0);
    await send(clientMsgId, envelope);
    return { link, url: `${p.origin}/#/p/${formatLinkFragment(token, box.publicKey)}` };
  } finally {
    box.privateKey.fill(0);
  }
}

// ------------------------------------------------------------------ patient side

export interface PatientLinkCheck {
  linkId: string;
  expiresAt: string;
  maxPhotos: number;
}

/** The token and public key from the fragment; PatientLinkFormatError for a mistyped link. */
export function readFragment(fragment: string): { token: Uint8Array; publicKey: Uint8Array } {
  return parseLinkFragment(fragment);
}

export async function checkPatientLink(token: Uint8Array): Promise<PatientLinkCheck> {
  const r = await request("POST", "/patient/link", { headers: { [LINK_TOKEN_HEADER]: toBase64Url(token) }, patient: true });
  return { linkId: String(r.link_id), expiresAt: String(r.expires_at), maxPhotos: Number(r.max_photos) };
}

export interface PatientPhotoToSend {
  jpeg: Uint8Array;
  thumbnail: Uint8Array;
  tag: PhotoTag;
  bodySite: string;
  quality: { verdict: "ok" | "warn"; reasons: string[] };
  sendAnywayReason?: string;
}

/**
 * Encrypt, upload and submit. `onProgress(done, total)` counts uploads (two per photo). Uploads
 * retry on network errors; the submission is sent once (it uses up the link).
 */
export async function sendAsPatient(
  fragment: { token: Uint8Array; publicKey: Uint8Array },
  linkId: string,
  photos: readonly PatientPhotoToSend[],
  onProgress: (done: number, total: number) => void = () => undefined,
): Promise<number> {
  const headers = { [LINK_TOKEN_HEADER]: toBase64Url(fragment.token) };
  const total = photos.length * 2;
  let done = 0;
  const upload = async (bytes: Uint8Array) => {
    const fileKey = crypto.getRandomValues(new Uint8Array(32));
    const { record, sha256 } = await encryptAttachment(fileKey, bytes);
    const attachmentId = crypto.randomUUID();
    let tried = 0;
    await withRetry(async () => {
      tried += 1;
      try {
        await request("POST", "/patient/attachments", {
          body: record,
          headers: { ...headers, "Content-Type": "application/octet-stream", "X-Attachment-Id": attachmentId, "X-Ciphertext-SHA256": toHex(sha256) },
          patient: true,
        });
      } catch (e) {
        // A 409 on a retry: the earlier attempt landed and only its answer was lost.
        if (tried > 1 && e instanceof ApiError && e.status === 409) return;
        throw e;
      }
    });
    onProgress(++done, total);
    return { attachmentId, fileKey, ciphertextSha256: sha256, ciphertextSize: record.length };
  };
  const records: string[] = [];
  for (const [index, ph] of photos.entries()) {
    const thumb = await upload(ph.thumbnail);
    const full = await upload(ph.jpeg);
    const photo: PatientPhoto = {
      ...full,
      mediaType: "image/jpeg",
      tag: ph.tag,
      bodySite: ph.bodySite,
      thumbnail: thumb,
      quality: ph.quality,
      ...(ph.sendAnywayReason ? { sendAnywayReason: ph.sendAnywayReason } : {}),
    };
    try {
      records.push(toBase64Url(await sealPatientPhoto(photo, { linkId, index, dropBoxPublicKey: fragment.publicKey })));
    } finally {
      full.fileKey.fill(0);
      thumb.fileKey.fill(0);
    }
  }
  const r = await request("POST", "/patient/submit", { json: { records }, headers, patient: true });
  return Number(r.received);
}

function toHex(u: Uint8Array): string {
  return [...u].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// ------------------------------------------------------------------ readers

/** linkId -> drop-box private key, from the (verified) patient_link messages of the thread. */
export function dropBoxKeys(thread: readonly OpenedEntry[]): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const m of thread) {
    if (m.contentType === ContentType.PATIENT_LINK) {
      out.set(String(m.body.link_id), fromBase64Url(String(m.body.drop_box_private_key)));
    }
  }
  return out;
}

/**
 * Open a link's submission: one photo per record, in index order. Throws (PatientDropError, or
 * a duplicate index) if anything does not check out; the caller shows one clear message.
 */
export async function openPatientSubmission(linkId: string, privateKey: Uint8Array, records: readonly Uint8Array[]): Promise<PatientPhoto[]> {
  const dropBox = await hpkeRecipientFromScalar(privateKey);
  const byIndex = new Map<number, PatientPhoto>();
  for (const r of records) {
    const { index, photo } = await openPatientPhoto(r, { linkId, dropBox });
    if (byIndex.has(index)) throw new RangeError("two photo records share an index");
    byIndex.set(index, photo);
  }
  return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, p]) => p);
}
