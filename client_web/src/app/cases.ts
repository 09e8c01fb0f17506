/**
 * Case crypto in the client (DESIGN.md sections 2-4; docs/api.md "Creating a case"): a fresh
 * case key for epoch 0, HPKE-wrapped and signed by the GP to the GP, to every addressed
 * dermatologist and to the practice's records key (the server refuses a case without it), and
 * the clinical history as the first message, sealed and signed on this device. Reading a case
 * opens the reader's own wrap (verifying the wrapper's signature with the key the server lists
 * for that participant) and then every message, each verified against its sender's key.
 *
 * Key commitment (docs/protocol.md section 8): every wrap is a 0x0b record whose signed header
 * commits to the case key; the server refuses a case whose wraps commit to different keys,
 * openCaseKeyWrap refuses a key that its wrap's commitment does not name, and openMessages /
 * openOutcome check the key they are given (CaseView keeps it across refreshes) against that
 * commitment again before decrypting anything with it.
 */
import type { CaseDetail, NewCaseRequest, OutcomeCodes, Participant, Person, ThreadMessage } from "./api";
import {
  ContentType,
  GENESIS_HASH,
  caseKeyCommitment,
  caseKeyMatchesCommitment,
  decodeContent,
  decodePhotoReference,
  decryptAttachment,
  encodeContent,
  equalBytes,
  generateCaseKey,
  keyId,
  messageHash,
  openCaseKeyWrap,
  openMessage,
  parseCaseKeyWrapHeader,
  parseMessageHeader,
  sealMessage,
  signingIdentity,
  wrapCaseKey,
  type Body,
} from "./cryptoFacade";
import type { UnlockedKeys } from "./session";
import { type PhotoToSend, type SealedMessage, type SealedUpload, sealPhotos } from "./photos";

export interface ClinicalHistory {
  patient: { nhs_number: string; name: string; date_of_birth: string; sex: string };
  body_site: string;
  duration: string;
  changes: { size: boolean; shape: boolean; colour: boolean };
  symptoms: { itch: boolean; bleeding: boolean; scaling: boolean; soreness: boolean };
  previous_skin_cancer: boolean;
  skin_type: string;
  relevant_history?: string;
  medicines?: string;
  question: string;
  consent_to_photography: boolean;
}

export type NewCasePhoto = PhotoToSend;

export interface NewCase {
  request: NewCaseRequest;
  /** The clinical history (the thread's first message). */
  firstMessage: { clientMsgId: string; envelope: Uint8Array };
  /** Encrypted photos and thumbnails to upload (thumbnails first) before the messages. */
  uploads: SealedUpload[];
  /** Their photo-reference messages, chained after the clinical history. */
  photoMessages: SealedMessage[];
}

/** Everything the server needs to create a case, made and signed here. */
export async function buildNewCase(
  keys: UnlockedKeys,
  p: {
    practiceId: string;
    recordsPublicKey: Uint8Array;
    serviceId: string;
    dermatologists: Person[];
    priority: "routine" | "urgent";
    history: ClinicalHistory;
    photos?: NewCasePhoto[];
  },
): Promise<NewCase> {
  const caseId = crypto.randomUUID();
  const caseKey = generateCaseKey();
  try {
    const wrapper = signingIdentity(keys.signing);
    const wrapTo = (recipientPublicKey: Uint8Array) =>
      wrapCaseKey(caseKey, { caseId, epoch: 0, recipientPublicKey, wrapperUserId: keys.userId, wrapper });
    const caseKeys: NewCaseRequest["caseKeys"] = [
      { recipientKind: "user", recipientId: keys.userId, wrappedKey: await wrapTo(keys.encryption.publicKey) },
      { recipientKind: "organisation", recipientId: p.practiceId, wrappedKey: await wrapTo(p.recordsPublicKey) },
    ];
    for (const d of p.dermatologists) {
      caseKeys.push({ recipientKind: "user", recipientId: d.userId, wrappedKey: await wrapTo(d.encryptionPublicKey) });
    }
    // Every wrap commits to this one key (the server checks the same; a bug here would
    // otherwise leave the records key or a dermatologist with another key).
    const commitment = await caseKeyCommitment(caseKey, { caseId, epoch: 0 });
    for (const k of caseKeys) {
      const c = parseCaseKeyWrapHeader(k.wrappedKey).commitment;
      if (c === null || !equalBytes(c, commitment)) throw new Error("a case key wrap does not commit to the case key");
    }
    const clientMsgId = crypto.randomUUID();
    const envelope = await sealMessage(encodeHistory(p.history), {
      caseKey,
      caseId,
      epoch: 0,
      clientMessageId: clientMsgId,
      senderUserId: keys.userId,
      sender: wrapper,
      contentType: ContentType.CLINICAL_HISTORY,
      previousHash: GENESIS_HASH,
    });
    // Photos: thumbnail and full image, a fresh file key each, encrypted with the chunked
    // attachment format; the keys and the ciphertext hashes travel only inside the signed,
    // encrypted photo-reference messages (src/app/photos.ts).
    const sealed = await sealPhotos(keys, { caseKey, caseId, previousHash: await messageHash(envelope), photos: p.photos ?? [] });
    return {
      uploads: sealed.uploads,
      photoMessages: sealed.messages,
      request: {
        caseId,
        practiceId: p.practiceId,
        serviceId: p.serviceId,
        priority: p.priority,
        participants: [keys.userId, ...p.dermatologists.map((d) => d.userId)],
        caseKeys,
        draft: true,
      },
      firstMessage: { clientMsgId, envelope },
    };
  } finally {
    caseKey.fill(0);
  }
}

function encodeHistory(h: ClinicalHistory): Uint8Array {
  // encodeContent validates the schema (crypto/content.py) and writes the canonical JSON.
  return encodeContent(ContentType.CLINICAL_HISTORY, h as unknown as Body);
}

export interface OpenedEntry {
  seq: number;
  clientMsgId: string;
  sender: Participant | null;
  contentType: number;
  body: Body;
  createdAt: string;
}

/**
 * Open my wrap of the case key (epoch 0), verifying its wrapper's signature on it. The wrapper
 * is the creating GP, or for a key shared later (POST /cases/{id}/keys) another participant:
 * it must be a listed participant, and the key listed for it must have signed.
 */
export async function openMyCaseKey(keys: UnlockedKeys, detail: CaseDetail): Promise<Uint8Array> {
  const mine = detail.caseKeys.find((k) => k.recipientKind === "user" && k.recipientId === keys.userId && k.epoch === 0);
  if (!mine) throw new Error("no case key for this user");
  const wrapperId = parseCaseKeyWrapHeader(mine.wrappedKey).wrapperUserId;
  const wrapper = detail.participants.find((p) => p.userId === wrapperId);
  if (!wrapper) throw new Error("the case key was wrapped by someone who is not a participant");
  return openCaseKeyWrap(mine.wrappedKey, {
    caseId: detail.case.caseId,
    epoch: 0,
    recipient: {
      privateKey: keys.encryption.privateKey,
      publicKey: keys.encryption.publicKey,
      keyId: await keyId(keys.encryption.publicKey),
    },
    wrapperSigningPublicKey: wrapper.signingPublicKey,
    wrapperUserId: wrapper.userId,
  });
}

/**
 * The service's dermatologists who lack the case key: the directory's dermatologists of the
 * case's service minus the case's participants (docs/api.md, "Sharing the case key").
 */
export function colleaguesWithoutKey(directory: Person[], detail: CaseDetail): Person[] {
  const serviceId = detail.case.serviceId;
  const participants = new Set(detail.participants.map((p) => p.userId));
  return directory.filter((p) => !participants.has(p.userId) && p.roles.some((r) => r.orgId === serviceId && r.role === "dermatologist"));
}

/**
 * Wrap the case key I hold (epoch 0, same key, signed by me) to each colleague. Every wrap must
 * carry the commitment the server compares with the epoch's (else 422 case_key_mismatch).
 */
export async function buildShareWraps(
  keys: UnlockedKeys,
  p: { caseKey: Uint8Array; caseId: string; colleagues: Person[] },
): Promise<{ recipientId: string; wrappedKey: Uint8Array }[]> {
  const wrapper = signingIdentity(keys.signing);
  const commitment = await caseKeyCommitment(p.caseKey, { caseId: p.caseId, epoch: 0 });
  const out: { recipientId: string; wrappedKey: Uint8Array }[] = [];
  for (const c of p.colleagues) {
    const wrappedKey = await wrapCaseKey(p.caseKey, {
      caseId: p.caseId,
      epoch: 0,
      recipientPublicKey: c.encryptionPublicKey,
      wrapperUserId: keys.userId,
      wrapper,
    });
    const got = parseCaseKeyWrapHeader(wrappedKey).commitment;
    if (got === null || !equalBytes(got, commitment)) throw new Error("a case key wrap does not commit to the case key");
    out.push({ recipientId: c.userId, wrappedKey });
  }
  return out;
}

/**
 * Before decrypting with a case key: it must be the key that the signed commitment of each of
 * my epoch-0 wraps in the detail names (legacy 0x06 wraps carry none). openMyCaseKey checked
 * this at unwrap time; this holds a key kept since then to the same rule.
 */
export async function checkCaseKeyCommitment(caseKey: Uint8Array, detail: CaseDetail): Promise<void> {
  for (const k of detail.caseKeys) {
    if (k.epoch !== 0) continue;
    const commitment = parseCaseKeyWrapHeader(k.wrappedKey).commitment;
    if (commitment !== null && !(await caseKeyMatchesCommitment(caseKey, commitment, { caseId: detail.case.caseId, epoch: 0 }))) {
      throw new Error("the case key does not match the case's key commitment");
    }
  }
}

/** Every message opened with the case key, each verified against its sender's listed key. */
export async function openMessages(caseKey: Uint8Array, detail: CaseDetail, messages: ThreadMessage[]): Promise<{ entries: OpenedEntry[]; lastHash: Uint8Array }> {
  await checkCaseKeyCommitment(caseKey, detail);
  const byId = new Map(detail.participants.map((p) => [p.userId, p]));
  const entries: OpenedEntry[] = [];
  let lastHash: Uint8Array = GENESIS_HASH;
  for (const m of [...messages].sort((a, b) => a.seq - b.seq)) {
    const header = parseMessageHeader(m.envelope);
    const sender = byId.get(header.senderUserId) ?? null;
    if (!sender || sender.userId !== m.senderId) throw new Error("message from someone who is not a participant");
    const opened = await openMessage(m.envelope, {
      caseKey,
      caseId: detail.case.caseId,
      epoch: 0,
      senderSigningPublicKey: sender.signingPublicKey,
    });
    // The first message must start the chain; later ones may race between two senders, so a
    // fork is not an error here (the server orders by seq).
    if (entries.length === 0 && !opened.header.previousHash.every((b) => b === 0)) {
      throw new Error("thread does not start at the genesis hash");
    }
    lastHash = await messageHash(m.envelope);
    entries.push({
      seq: m.seq,
      clientMsgId: m.clientMsgId,
      sender,
      contentType: opened.header.contentType,
      body: decodeContent(opened.header.contentType, opened.body),
      createdAt: m.createdAt,
    });
  }
  return { entries, lastHash };
}

/** Open my wrap and every message (the case key is wiped afterwards). */
export async function openThread(keys: UnlockedKeys, detail: CaseDetail, messages: ThreadMessage[]): Promise<OpenedEntry[]> {
  const caseKey = await openMyCaseKey(keys, detail);
  try {
    return (await openMessages(caseKey, detail, messages)).entries;
  } finally {
    caseKey.fill(0);
  }
}

/** A text message in the thread, sealed and signed here; previousHash chains it. */
export async function sealText(
  keys: UnlockedKeys,
  p: { caseKey: Uint8Array; caseId: string; previousHash: Uint8Array; text: string; question?: boolean },
): Promise<{ clientMsgId: string; envelope: Uint8Array }> {
  const clientMsgId = crypto.randomUUID();
  const type = p.question ? ContentType.QUESTION : ContentType.TEXT;
  const envelope = await sealMessage(encodeContent(type, { text: p.text }), {
    caseKey: p.caseKey,
    caseId: p.caseId,
    epoch: 0,
    clientMessageId: clientMsgId,
    senderUserId: keys.userId,
    sender: signingIdentity(keys.signing),
    contentType: type,
    previousHash: p.previousHash,
  });
  return { clientMsgId, envelope };
}

export interface OutcomeBody {
  category: OutcomeCodes["category"];
  summary: string;
  details: Record<string, string | string[]>;
}

/** The outcome's clinical content: an `outcome` envelope for this case, signed by me. */
export async function sealOutcome(
  keys: UnlockedKeys,
  p: { caseKey: Uint8Array; caseId: string; previousHash: Uint8Array; body: OutcomeBody },
): Promise<Uint8Array> {
  return sealMessage(encodeContent(ContentType.OUTCOME, p.body as unknown as Body), {
    caseKey: p.caseKey,
    caseId: p.caseId,
    epoch: 0,
    clientMessageId: crypto.randomUUID(),
    senderUserId: keys.userId,
    sender: signingIdentity(keys.signing),
    contentType: ContentType.OUTCOME,
    previousHash: p.previousHash,
  });
}

/**
 * Open the outcome's payload: verified against its author's key, of content type `outcome`,
 * and its encrypted category must equal the coded category the server shows in the clear.
 */
export async function openOutcome(caseKey: Uint8Array, detail: CaseDetail): Promise<OutcomeBody | null> {
  const o = detail.outcome;
  if (!o) return null;
  const author = detail.participants.find((p) => p.userId === o.authorId);
  if (!author) throw new Error("the outcome's author is not a participant");
  await checkCaseKeyCommitment(caseKey, detail);
  const opened = await openMessage(o.payload, {
    caseKey,
    caseId: detail.case.caseId,
    epoch: 0,
    senderSigningPublicKey: author.signingPublicKey,
  });
  if (opened.header.contentType !== ContentType.OUTCOME || opened.header.senderUserId !== o.authorId) {
    throw new Error("the outcome payload is not an outcome by its author");
  }
  const body = decodeContent(ContentType.OUTCOME, opened.body) as unknown as OutcomeBody;
  if (body.category !== o.category) throw new Error("the outcome category does not match its coded form");
  return body;
}

/** Download, check the hash of and decrypt one photo from its (verified) reference body. */
export async function openPhoto(
  download: (attachmentId: string) => Promise<Uint8Array>,
  body: Body,
): Promise<{ jpeg: Uint8Array; tag: string; bodySite: string }> {
  const ref = decodePhotoReference(encodeContent(ContentType.PHOTO_REFERENCE, body));
  const record = await download(ref.attachmentId);
  const jpeg = await decryptAttachment(ref.fileKey, record, ref.ciphertextSha256);
  ref.fileKey.fill(0);
  return { jpeg, tag: ref.tag, bodySite: ref.bodySite };
}
