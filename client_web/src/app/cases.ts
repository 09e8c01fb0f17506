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
  checkTranscript,
  type Body,
  type Finding,
  type MessageHeader,
  type OpenedMessage,
  type TranscriptEntry,
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
  /** The epoch of the case key the message was sealed with (from its signed header). */
  epoch: number;
  /** A 0x07 record: sent with an older app version, not bound to the case key commitment. */
  legacy: boolean;
  /** What the hash chain shows at this message (docs/protocol.md section 23); [] when nothing. */
  findings: Finding[];
}

/**
 * Why a message could not be shown. Each is one item in the thread; the rest still loads.
 * - damaged:          its envelope does not parse (or the server's sequence number is invalid)
 * - not_participant:  it names a sender who is not a participant, or not the sender the server says
 * - unlogged_keys:    its sender's keys are neither in the key transparency log nor pinned here
 * - no_key:           this device holds no case key for the epoch it names
 * - not_verified:     its signature, key commitment or encryption does not check out
 * - bad_content:      it opened but its content is not a valid body of its type
 */
export type UnreadableReason = "damaged" | "not_participant" | "unlogged_keys" | "no_key" | "not_verified" | "bad_content";

export interface UnreadableEntry {
  seq: number;
  clientMsgId: string;
  senderId: string;
  createdAt: string;
  reason: UnreadableReason;
}

/** One item of the thread, in the server's order. */
export type ThreadItem = { kind: "message"; entry: OpenedEntry } | { kind: "unreadable"; entry: UnreadableEntry };

export const UNREADABLE_TEXT: Record<UnreadableReason, string> = {
  damaged: "The message is damaged: this app cannot read its format.",
  not_participant: "It claims to come from someone who is not a participant in this case, or from someone other than the sender the server names.",
  unlogged_keys: "It is signed with security keys that are not in the server's public key log, so Dermline cannot check who sent it.",
  no_key: "This device has no key for the part of the conversation it belongs to. It may have been sent after a change of members that did not include you.",
  not_verified: "Its signature or encryption does not check out: it was altered, or it was not sent by the person it names.",
  bad_content: "Its content is not in a form this app can show.",
};

/** The warning shown in the thread at a message for each transcript finding, in plain words. */
export const FINDING_TEXT: Record<Finding, string> = {
  genesis: "This message does not follow from the start of the conversation as it was shown to you: the start may be missing, or the server may have shown it out of place.",
  gap: "A message before this one is missing: the server may have withheld it, or shown you a different conversation from the one other people see.",
  reorder: "This message replies to a message shown after it: the server may have changed the order of the conversation.",
  replay: "This message was already shown earlier in the conversation: the server may be repeating it.",
};

export const LEGACY_NOTE = "Sent with an older app version: not bound to the case key commitment.";

/** My case keys by epoch (each one checked against its wrap's signed commitment). */
export type CaseKeys = Map<number, Uint8Array>;

async function openWrap(keys: UnlockedKeys, detail: CaseDetail, epoch: number): Promise<Uint8Array> {
  const mine = detail.caseKeys.find((k) => k.recipientKind === "user" && k.recipientId === keys.userId && k.epoch === epoch);
  if (!mine) throw new Error("no case key for this user");
  const wrapperId = parseCaseKeyWrapHeader(mine.wrappedKey).wrapperUserId;
  const wrapper = detail.participants.find((p) => p.userId === wrapperId);
  if (!wrapper) throw new Error("the case key was wrapped by someone who is not a participant");
  if (wrapper.untrusted) throw new Error("the case key was wrapped by someone whose keys are not in the key log");
  return openCaseKeyWrap(mine.wrappedKey, {
    caseId: detail.case.caseId,
    epoch,
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
 * Open my wrap of the case key (epoch 0), verifying its wrapper's signature on it. The wrapper
 * is the creating GP, or for a key shared later (POST /cases/{id}/keys) another participant:
 * it must be a listed participant, and the key listed for it must have signed.
 */
export function openMyCaseKey(keys: UnlockedKeys, detail: CaseDetail): Promise<Uint8Array> {
  return openWrap(keys, detail, 0);
}

/**
 * Every epoch's case key this user holds a wrap of (docs/protocol.md section 24: readers open
 * each message with the key of its epoch). Keys already in `have` are kept (not unwrapped
 * again); a wrap that fails to open leaves its epoch out, so only that epoch's messages show
 * as unreadable. Throws only when no wrap at all opens.
 */
export async function openMyCaseKeys(keys: UnlockedKeys, detail: CaseDetail, have: CaseKeys = new Map()): Promise<CaseKeys> {
  const out: CaseKeys = new Map(have);
  const epochs = new Set(detail.caseKeys.filter((k) => k.recipientKind === "user" && k.recipientId === keys.userId).map((k) => k.epoch));
  let failure: unknown = new Error("no case key for this user");
  for (const epoch of [...epochs].sort((a, b) => a - b)) {
    if (out.has(epoch)) continue;
    try {
      out.set(epoch, await openWrap(keys, detail, epoch));
    } catch (e) {
      failure = e;
    }
  }
  if (out.size === 0) throw failure;
  return out;
}

/** The newest epoch whose key I hold: the one new messages are sealed with. */
export function currentEpoch(caseKeys: CaseKeys): number {
  return Math.max(...caseKeys.keys());
}

/**
 * The hash a new message of mine names (docs/protocol.md section 23, "Senders"): the newest
 * message I hold, INCLUDING my own last sent, so that two sends without a reload in between
 * chain one after the other instead of forking from the same message.
 */
export class SendChain {
  private own: Uint8Array | null = null;
  private thread: Uint8Array = GENESIS_HASH;

  /** After a (re)load: the newest verified message and the hashes of every verified message. */
  loaded(lastHash: Uint8Array, hashes: readonly Uint8Array[]): void {
    this.thread = lastHash;
    const own = this.own;
    if (own !== null && hashes.some((h) => equalBytes(h, own))) this.own = null;
  }

  /** After sealing a message that is being sent (directly or through the outbox). */
  sent(hash: Uint8Array): void {
    this.own = hash;
  }

  /** The previous hash for the next message; `queued` is the outbox's newest of this case. */
  head(queued: Uint8Array | null = null): Uint8Array {
    return this.own ?? queued ?? this.thread;
  }
}

export interface OpenedThread {
  /** The verified messages, in the server's order, each with its transcript findings. */
  entries: OpenedEntry[];
  /** The messages that could not be opened, each with its reason. */
  unreadable: UnreadableEntry[];
  /** Both, in the server's order, for display. */
  items: ThreadItem[];
  /** The hash of the newest verified message (GENESIS_HASH for none): what to chain to. */
  lastHash: Uint8Array;
  /** The hashes of every verified message (SendChain.loaded). */
  hashes: Uint8Array[];
}

/**
 * The next key epoch (docs/protocol.md section 24): a fresh case key for `epoch`, wrapped (0x0b,
 * signed by me, all carrying its commitment) to every participant the detail lists (with the
 * keys this device trusts: pass the trusted detail) and to each records key given. The server
 * requires exactly these recipients; removed people are no longer participants, so they get
 * nothing. The new key is wiped here: every participant, me included, opens its own wrap.
 */
export async function buildRotation(
  keys: UnlockedKeys,
  p: { detail: CaseDetail; epoch: number; recordsKeys: { orgId: string; publicKey: Uint8Array }[] },
): Promise<NewCaseRequest["caseKeys"]> {
  const caseId = p.detail.case.caseId;
  const caseKey = generateCaseKey();
  try {
    const wrapper = signingIdentity(keys.signing);
    const wrapTo = (recipientPublicKey: Uint8Array) => wrapCaseKey(caseKey, { caseId, epoch: p.epoch, recipientPublicKey, wrapperUserId: keys.userId, wrapper });
    const out: NewCaseRequest["caseKeys"] = [];
    for (const person of p.detail.participants) {
      if (person.untrusted) throw new Error("a participant's keys are not trusted");
      const publicKey = person.userId === keys.userId ? keys.encryption.publicKey : person.encryptionPublicKey;
      out.push({ recipientKind: "user", recipientId: person.userId, wrappedKey: await wrapTo(publicKey) });
    }
    for (const r of p.recordsKeys) out.push({ recipientKind: "organisation", recipientId: r.orgId, wrappedKey: await wrapTo(r.publicKey) });
    const commitment = await caseKeyCommitment(caseKey, { caseId, epoch: p.epoch });
    for (const k of out) {
      const c = parseCaseKeyWrapHeader(k.wrappedKey).commitment;
      if (c === null || !equalBytes(c, commitment)) throw new Error("a case key wrap does not commit to the case key");
    }
    return out;
  } finally {
    caseKey.fill(0);
  }
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
 * Wrap the case key I hold (the given epoch's, by default 0; same key, signed by me) to each colleague. Every wrap must
 * carry the commitment the server compares with the epoch's (else 422 case_key_mismatch).
 */
export async function buildShareWraps(
  keys: UnlockedKeys,
  p: { caseKey: Uint8Array; caseId: string; epoch?: number; colleagues: Person[] },
): Promise<{ recipientId: string; wrappedKey: Uint8Array }[]> {
  const wrapper = signingIdentity(keys.signing);
  const epoch = p.epoch ?? 0;
  const commitment = await caseKeyCommitment(p.caseKey, { caseId: p.caseId, epoch });
  const out: { recipientId: string; wrappedKey: Uint8Array }[] = [];
  for (const c of p.colleagues) {
    const wrappedKey = await wrapCaseKey(p.caseKey, {
      caseId: p.caseId,
      epoch,
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
 * that epoch's wraps in the detail names (legacy 0x06 wraps carry none). openMyCaseKeys
 * checked this at unwrap time; this holds keys kept since then to the same rule.
 */
export async function checkCaseKeyCommitment(caseKey: Uint8Array | CaseKeys, detail: CaseDetail): Promise<void> {
  const keys = caseKey instanceof Map ? caseKey : new Map([[0, caseKey]]);
  for (const k of detail.caseKeys) {
    const key = keys.get(k.epoch);
    if (key === undefined) continue;
    const commitment = parseCaseKeyWrapHeader(k.wrappedKey).commitment;
    if (commitment !== null && !(await caseKeyMatchesCommitment(key, commitment, { caseId: detail.case.caseId, epoch: k.epoch }))) {
      throw new Error("the case key does not match the case's key commitment");
    }
  }
}

const validSeq = (seq: unknown): seq is number => typeof seq === "number" && Number.isSafeInteger(seq) && seq >= 0;

/**
 * Open the thread as the server gave it (its order, never re-sorted: the transcript check is
 * over the server's order). Each message is opened with the key of the epoch its header names
 * and verified against the key listed for the sender its header names (which must be the
 * sender the server names); one that fails is an unreadable item with its reason, and the
 * rest still loads. Then checkTranscript runs over the verified messages, and each finding is
 * attached to its message (docs/protocol.md section 23). A single key is epoch 0's.
 */
export async function openMessages(caseKey: Uint8Array | CaseKeys, detail: CaseDetail, messages: ThreadMessage[]): Promise<OpenedThread> {
  const keys: CaseKeys = caseKey instanceof Map ? caseKey : new Map([[0, caseKey]]);
  await checkCaseKeyCommitment(keys, detail);
  const byId = new Map(detail.participants.map((p) => [p.userId, p]));
  const entries: OpenedEntry[] = [];
  const unreadable: UnreadableEntry[] = [];
  const items: ThreadItem[] = [];
  const chain: TranscriptEntry[] = [];
  const hashes: Uint8Array[] = [];
  const fail = (m: ThreadMessage, reason: UnreadableReason) => {
    const entry: UnreadableEntry = { seq: m.seq, clientMsgId: m.clientMsgId, senderId: m.senderId, createdAt: m.createdAt, reason };
    unreadable.push(entry);
    items.push({ kind: "unreadable", entry });
  };
  for (const m of messages) {
    let header: MessageHeader;
    let hash: Uint8Array;
    try {
      if (!validSeq(m.seq)) throw new RangeError("invalid seq");
      header = parseMessageHeader(m.envelope);
      hash = await messageHash(m.envelope);
    } catch {
      fail(m, "damaged");
      continue;
    }
    const sender = byId.get(header.senderUserId);
    if (!sender || header.senderUserId !== m.senderId) {
      fail(m, "not_participant");
      continue;
    }
    if (sender.untrusted) {
      fail(m, "unlogged_keys");
      continue;
    }
    const key = keys.get(header.epoch);
    if (key === undefined) {
      fail(m, "no_key");
      continue;
    }
    let opened: OpenedMessage;
    try {
      opened = await openMessage(m.envelope, {
        caseKey: key,
        caseId: detail.case.caseId,
        epoch: header.epoch,
        senderSigningPublicKey: sender.signingPublicKey,
        senderUserId: sender.userId,
      });
    } catch {
      fail(m, "not_verified");
      continue;
    }
    let body: Body;
    try {
      body = decodeContent(opened.header.contentType, opened.body);
    } catch {
      fail(m, "bad_content");
      continue;
    }
    const entry: OpenedEntry = {
      seq: m.seq,
      clientMsgId: header.clientMessageId,
      sender,
      contentType: opened.header.contentType,
      body,
      createdAt: m.createdAt,
      epoch: header.epoch,
      legacy: header.commitment === null,
      findings: [],
    };
    entries.push(entry);
    items.push({ kind: "message", entry });
    chain.push({ seq: m.seq, clientMessageId: header.clientMessageId, previousHash: header.previousHash, messageHash: hash });
    hashes.push(hash);
  }
  checkTranscript(chain).forEach((f, i) => {
    entries[i]!.findings = f;
  });
  return { entries, unreadable, items, lastHash: hashes.length ? hashes[hashes.length - 1]! : GENESIS_HASH, hashes };
}

/** Open my wraps and every message (the case keys are wiped afterwards). */
export async function openThread(keys: UnlockedKeys, detail: CaseDetail, messages: ThreadMessage[]): Promise<OpenedThread> {
  const caseKeys = await openMyCaseKeys(keys, detail);
  try {
    return await openMessages(caseKeys, detail, messages);
  } finally {
    for (const k of caseKeys.values()) k.fill(0);
  }
}

/** A text message in the thread, sealed and signed here; previousHash chains it. */
export async function sealText(
  keys: UnlockedKeys,
  p: { caseKey: Uint8Array; caseId: string; epoch?: number; previousHash: Uint8Array; text: string; question?: boolean; clientMsgId?: string },
): Promise<{ clientMsgId: string; envelope: Uint8Array }> {
  // A given client message id: a queued message resealed under a new epoch (it was refused,
  // so never stored under that id).
  const clientMsgId = p.clientMsgId ?? crypto.randomUUID();
  const type = p.question ? ContentType.QUESTION : ContentType.TEXT;
  const envelope = await sealMessage(encodeContent(type, { text: p.text }), {
    caseKey: p.caseKey,
    caseId: p.caseId,
    epoch: p.epoch ?? 0,
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
  p: { caseKey: Uint8Array; caseId: string; epoch?: number; previousHash: Uint8Array; body: OutcomeBody },
): Promise<Uint8Array> {
  return sealMessage(encodeContent(ContentType.OUTCOME, p.body as unknown as Body), {
    caseKey: p.caseKey,
    caseId: p.caseId,
    epoch: p.epoch ?? 0,
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
export async function openOutcome(caseKey: Uint8Array | CaseKeys, detail: CaseDetail): Promise<OutcomeBody | null> {
  const o = detail.outcome;
  if (!o) return null;
  const author = detail.participants.find((p) => p.userId === o.authorId);
  if (!author) throw new Error("the outcome's author is not a participant");
  const keys: CaseKeys = caseKey instanceof Map ? caseKey : new Map([[0, caseKey]]);
  await checkCaseKeyCommitment(keys, detail);
  // The outcome is sealed with the key of the epoch its signed header names.
  const epoch = parseMessageHeader(o.payload).epoch;
  const key = keys.get(epoch);
  if (key === undefined) throw new Error("no case key for the outcome's epoch");
  const opened = await openMessage(o.payload, {
    caseKey: key,
    caseId: detail.case.caseId,
    epoch,
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
