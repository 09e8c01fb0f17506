import { Fragment, type JSX } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { type Api, ApiError, type CaseDetail, type Me, type Person, type Receipt, apiErrorMessage } from "../api";
import {
  type CaseKeys,
  FINDING_TEXT,
  LEGACY_NOTE,
  type OpenedEntry,
  type OutcomeBody,
  SendChain,
  type ThreadItem,
  UNREADABLE_TEXT,
  buildRotation,
  buildShareWraps,
  colleaguesWithoutKey,
  currentEpoch,
  openMessages,
  openMyCaseKeys,
  openOutcome,
  openPhoto,
  sealOutcome,
  sealText,
} from "../cases";
import { type OutcomeDraft, OutcomeForm, OutcomePanel } from "./Outcome";
import { DowngradeControl } from "./Downgrade";
import { type LowerUrgency, canDowngrade, downgradeReason } from "../downgrade";
import { closeRetention } from "../retention";
import { BackLink, Button, Checkboxes, ErrorSummary, type FieldError, Textarea, usePageTitle } from "../components";
import { RETAKE_REASONS, openThumbnail, pairedLegacyThumbnails, sealPhotos, sealRetakeRequest, threadPhotos, uploadPhotos } from "../photos";
import { PhotoCapture, type PhotoDraft, draftsToSend, photoErrors } from "./PhotoField";
import { PhotoViewer, type ViewerPhoto } from "./PhotoViewer";
import { PatientLinks } from "./PatientLinks";
import { ContentType, messageHash } from "../cryptoFacade";
import type { Outbox } from "../outbox";
import { type PinStore, type PersonPin, badge, blocked, changeWarning, observeRecordsKey } from "../pins";
import { type CaseTrust, checkCaseTrust, directoryPeople, logSource, verifyAnswer } from "../trust";
import type { Realtime } from "../realtime";
import type { Session } from "../session";
import { StateTag } from "./Cases";

const TAG_NAMES: Record<string, string> = { locator: "Locator photo", close_up: "Close-up photo", dermoscopic: "Dermoscopic photo" };

const photoName = (body: Record<string, unknown>) => `${TAG_NAMES[String(body.tag)] ?? "Photo"} of ${String(body.body_site)}`;
const RETAKE_REASON_TEXT = Object.fromEntries(RETAKE_REASONS);

const jpegBlobUrl = (jpeg: Uint8Array) => URL.createObjectURL(new Blob([jpeg as Uint8Array<ArrayBuffer>], { type: "image/jpeg" }));

/** Download, hash-check and decrypt a photo reference; a blob: URL of the JPEG. */
async function photoUrl(api: Api, caseId: string, body: Record<string, unknown>): Promise<string> {
  const p = await openPhoto((id) => api.downloadAttachment(caseId, id), body);
  return jpegBlobUrl(p.jpeg);
}

/**
 * The small image for a photo card: the thumbnail inside the photo's own signed reference; for
 * an old thread, the legacy thumbnail reference paired with it (src/app/photos.ts); failing
 * both, the photo itself.
 */
async function smallUrl(api: Api, caseId: string, body: Record<string, unknown>, legacyThumb: Record<string, unknown> | undefined): Promise<string> {
  if (body.thumbnail !== undefined) {
    const jpeg = await openThumbnail((id) => api.downloadAttachment(caseId, id), body);
    if (jpeg === null) throw new Error("no thumbnail");
    return jpegBlobUrl(jpeg);
  }
  return photoUrl(api, caseId, legacyThumb ?? body);
}

/**
 * A photo in the thread: its THUMBNAIL (a separate small attachment) is downloaded and shown
 * first; the full photo is fetched only in the full-screen viewer. A photo that fails to
 * download, verify or decrypt shows a message in its own card and never breaks the thread.
 */
function PhotoCard(p: {
  api: Api;
  caseId: string;
  body: Record<string, unknown>;
  legacyThumb: Record<string, unknown> | undefined;
  onView: () => void;
  compare: boolean;
  onCompare: (on: boolean) => void;
  index: number;
}): JSX.Element {
  const { api, caseId, body, legacyThumb } = p;
  const [url, setUrl] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let made: string | null = null;
    let live = true;
    smallUrl(api, caseId, body, legacyThumb).then(
      (u) => {
        made = u;
        if (live) setUrl(u);
        else URL.revokeObjectURL(u);
      },
      () => live && setFailed(true),
    );
    return () => {
      live = false;
      if (made) URL.revokeObjectURL(made);
    };
  }, [caseId, body.attachment_id, legacyThumb?.attachment_id]);
  const name = photoName(body);
  const id = `compare-${String(body.attachment_id)}`;
  return (
    <div class="dl-photo-card" data-testid="photo-card">
      {failed ? (
        <p class="nhsuk-error-message" data-testid="photo-failed">
          This photo could not be decrypted or has been altered.
        </p>
      ) : url ? (
        // Decrypted and hash-checked but not a decodable image: the same message, no broken icon.
        <img class="dl-photo" src={url} alt={name} data-testid="case-photo" onError={() => setFailed(true)} />
      ) : (
        <p>Decrypting the photo…</p>
      )}
      {typeof body.caption === "string" && (
        <p class="nhsuk-body-s dl-photo-caption" data-testid="photo-caption">
          {body.caption}
        </p>
      )}
      {!failed && (
        <div class="dl-photo-actions">
          <button type="button" class="nhsuk-button nhsuk-button--secondary dl-small-button" onClick={p.onView}>
            View full screen<span class="nhsuk-u-visually-hidden">: photo {p.index}, {name}</span>
          </button>
          <div class="nhsuk-checkboxes">
            <div class="nhsuk-checkboxes__item">
              <input class="nhsuk-checkboxes__input" id={id} type="checkbox" checked={p.compare} onChange={(e) => p.onCompare((e.currentTarget as HTMLInputElement).checked)} />
              <label class="nhsuk-label nhsuk-checkboxes__label" for={id}>
                Compare photo {p.index}
              </label>
            </div>
          </div>
        </div>
      )}
    </div>
  );
}

/**
 * Receipts only move forward (the server keeps the highest seq per user and kind), so merging
 * keeps the maximum: a slow HTTP answer can never undo a newer live event.
 */
export function mergeReceipts(a: Receipt[], b: Receipt[]): Receipt[] {
  const best = new Map<string, Receipt>();
  for (const r of [...a, ...b]) {
    const k = `${r.userId}/${r.kind}`;
    const cur = best.get(k);
    if (!cur || r.seq > cur.seq) best.set(k, r);
  }
  return [...best.values()];
}

const yesNo = (b: unknown) => (b ? "Yes" : "No");

function ClinicalHistoryView({ body }: { body: Record<string, unknown> }): JSX.Element {
  const p = body.patient as Record<string, string>;
  const changes = body.changes as Record<string, boolean>;
  const symptoms = body.symptoms as Record<string, boolean>;
  const listed = (o: Record<string, boolean>) =>
    Object.entries(o)
      .filter(([, v]) => v)
      .map(([k]) => k)
      .join(", ") || "None";
  const rows: [string, string][] = [
    ["NHS number", p.nhs_number!.replace(/(\d{3})(\d{3})(\d{4})/, "$1 $2 $3")],
    ["Name", p.name!],
    ["Date of birth", p.date_of_birth!],
    ["Sex", p.sex!],
    ["Body site", String(body.body_site)],
    ["Duration", String(body.duration)],
    ["Changes", listed(changes)],
    ["Symptoms", listed(symptoms)],
    ["Previous skin cancer", yesNo(body.previous_skin_cancer)],
    ["Skin type", String(body.skin_type)],
    ["Relevant history", typeof body.relevant_history === "string" ? body.relevant_history : "Not given"],
    ["Medicines", typeof body.medicines === "string" ? body.medicines : "Not given"],
    ["Question", String(body.question)],
    ["Consent to photographs", yesNo(body.consent_to_photography)],
  ];
  return (
    <dl class="nhsuk-summary-list" data-testid="clinical-history">
      {rows.map(([k, v]) => (
        <div class="nhsuk-summary-list__row" key={k}>
          <dt class="nhsuk-summary-list__key">{k}</dt>
          <dd class="nhsuk-summary-list__value">{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/** One case: metadata, the decrypted and verified thread, and the moves open to me. */
export function CaseView(props: { api: Api; me: Me; session: Session; realtime: Realtime; outbox: Outbox; pins: PinStore; caseId: string }): JSX.Element {
  const { api, me, session, realtime, outbox, pins, caseId } = props;
  const [, setOutboxVersion] = useState(0);
  const [detail, setDetail] = useState<CaseDetail | null>(null);
  const detailRef = useRef<CaseDetail | null>(null);
  detailRef.current = detail;
  const [thread, setThread] = useState<OpenedEntry[] | null>(null);
  // The thread as shown, in the server's order: verified messages and unreadable items.
  const [items, setItems] = useState<ThreadItem[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [reply, setReply] = useState("");
  const [replyError, setReplyError] = useState<string | null>(null);
  const [viewer, setViewer] = useState<ViewerPhoto[] | null>(null);
  const [compare, setCompare] = useState<string[]>([]);
  const [retakeOpen, setRetakeOpen] = useState(false);
  const [retakePhotos, setRetakePhotos] = useState(new Set<string>());
  const [retakeReasons, setRetakeReasons] = useState(new Set<string>());
  const [retakeText, setRetakeText] = useState("");
  const [retakeErrors, setRetakeErrors] = useState<FieldError[]>([]);
  const [newPhotos, setNewPhotos] = useState<PhotoDraft[]>([]);
  const [photoErrs, setPhotoErrs] = useState<FieldError[]>([]);
  const [photoBusy, setPhotoBusy] = useState(false);
  const [sending, setSending] = useState(false);
  const [ask, setAsk] = useState(new Set<string>());
  const [outcome, setOutcome] = useState<OutcomeBody | null>(null);
  const [receipts, setReceipts] = useState<Receipt[]>([]);
  const [typingName, setTypingName] = useState<string | null>(null);
  // Service dermatologists who joined after the case was made and lack its key.
  const [lacking, setLacking] = useState<Person[]>([]);
  const [sharing, setSharing] = useState(false);
  const [shareStatus, setShareStatus] = useState<string | null>(null);
  const typingTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const lastTypingSent = useRef(0);
  const readSent = useRef(0);
  // My case keys by epoch, in memory while this page is open; new messages use the newest.
  const caseKeys = useRef<CaseKeys | null>(null);
  // What my next message names as its previous hash (docs/protocol.md section 23, "Senders").
  const chain = useRef(new SendChain());
  const loaded = useRef(false);
  // The participants' keys as checked against this device's pins (src/app/trust.ts).
  const [trust, setTrust] = useState<CaseTrust | null>(null);
  const [people, setPeople] = useState<Record<string, PersonPin>>({});
  const sendBlocked = useRef(false);
  // My messages the server acknowledged (client message id -> when), to notice one that the
  // thread then leaves out: the server withholding messages (docs/protocol.md section 23).
  const acked = useRef(new Map<string, number>());
  const [withheld, setWithheld] = useState(0);
  // A new key epoch being made after someone was taken off the case (docs/protocol.md 24).
  const [securing, setSecuring] = useState(false);
  const [secureError, setSecureError] = useState<string | null>(null);
  const rotating = useRef(false);
  const triedEpoch = useRef<number | null>(null);
  const keyEpoch = useRef(0);
  const [removing, setRemoving] = useState<string | null>(null);
  usePageTitle("Case");

  useEffect(
    () => () => {
      for (const k of caseKeys.current?.values() ?? []) k.fill(0);
      caseKeys.current = null;
      chain.current = new SendChain();
      acked.current = new Map();
      loaded.current = false;
    },
    [caseId],
  );

  /** The key, epoch and previous hash for my next message (null while locked or loading). */
  function sealing(): { caseKey: Uint8Array; epoch: number; previousHash: Uint8Array } | null {
    const ks = caseKeys.current;
    // Nothing is sealed while someone's keys changed without the user accepting the change,
    // nor while the case waits for its next epoch (the old key is no longer for new messages).
    if (!ks || !loaded.current || sendBlocked.current || rotating.current || detailRef.current?.rotation) return null;
    const epoch = Math.max(keyEpoch.current, currentEpoch(ks));
    const caseKey = ks.get(epoch);
    if (caseKey === undefined) return null; // no wrap of the current epoch for me
    return { caseKey, epoch, previousHash: chain.current.head(outbox.lastHash(caseId)) };
  }
  /** Record a message of mine as the newest I hold (sent directly or queued). */
  async function chained(envelope: Uint8Array): Promise<void> {
    chain.current.sent(await messageHash(envelope));
  }
  /** The server stored this message of mine (a send or a move carrying it succeeded). */
  function stored(clientMsgId: string): void {
    acked.current.set(clientMsgId, Date.now());
  }

  /**
   * The records keys a new epoch is wrapped to: the practice's (always) and the service's (when
   * it has one), each checked against this device's pins, and against the log's records-key
   * chain when the server has the log (src/app/transparency.ts).
   */
  async function recordsKeysFor(d: CaseDetail): Promise<{ orgId: string; publicKey: Uint8Array }[]> {
    const listed = await api.organisations().catch(() => []);
    const out: { orgId: string; publicKey: Uint8Array }[] = [];
    for (const orgId of [d.case.practiceId, d.case.serviceId]) {
      const org = d.orgs?.find((o) => o.orgId === orgId);
      const myOrg = (me.memberships ?? []).some((m) => m.orgId === orgId);
      if (d.treeHead && org && (org.recordsKeys.length > 0 || myOrg)) {
        // Verified: the chain from the pin, with the organisation's certified admins as the
        // approvers (its directory, which its own members can read).
        const answer = myOrg ? await api.directoryAnswer(orgId) : null;
        const v = await verifyAnswer(pins, logSource(api), {
          treeHead: answer?.treeHead ?? d.treeHead,
          orgs: [answer?.org ?? org],
          people: answer ? directoryPeople(answer, orgId, (p) => p.roles.some((r) => r.orgId === orgId && r.role === "admin")) : [],
          removals: [],
          recordsKeys: true,
        });
        const k = v.records.get(orgId);
        if (v.hardStop) throw new Error(v.hardStop);
        if (k) {
          out.push({ orgId, publicKey: k.publicKey });
          continue;
        }
        if (v.recordsProblems.has(orgId)) throw new Error(v.recordsProblems.get(orgId));
      }
      const key = org?.recordsPublicKey ?? listed.find((o) => o.orgId === orgId)?.recordsPublicKey ?? (await pins.read()).records[orgId]?.publicKey ?? null;
      if (key === null) {
        if (orgId === d.case.practiceId) throw new Error("The practice's records key is not available to this device.");
        continue;
      }
      if ((await pins.update((p, now) => observeRecordsKey(p, orgId, key, null, now))) === "changed") {
        throw new Error("A records key of this case has changed without a certified change. Dermline will not wrap the conversation to it.");
      }
      out.push({ orgId, publicKey: key });
    }
    return out;
  }

  /** Make the next epoch after a removal; the first complete rotation wins (compare-and-set). */
  async function secure(d: CaseDetail): Promise<void> {
    const keys = session.unlocked;
    if (!keys || !d.rotation || rotating.current) return;
    rotating.current = true;
    setSecuring(true);
    setSecureError(null);
    try {
      const caseKeys = await buildRotation(keys, { detail: d, epoch: d.rotation.nextEpoch, recordsKeys: await recordsKeysFor(d) });
      try {
        await api.rotateEpoch(caseId, d.rotation.nextEpoch, caseKeys);
      } catch (e) {
        // Another participant's rotation won the race: go on with theirs.
        if (!(e instanceof ApiError && e.code === "epoch_conflict")) throw e;
      }
    } catch (e) {
      setSecureError(e instanceof ApiError ? apiErrorMessage(e) : e instanceof Error ? e.message : String(e));
    } finally {
      rotating.current = false;
      setSecuring(false);
    }
    await load();
  }

  /** Messages queued at an older epoch: sealed again, same text and id, under the new key. */
  async function resealQueued(): Promise<void> {
    const keys = session.unlocked;
    if (!keys || outbox.epochRefused(caseId).length === 0) return;
    const seal = sealing();
    if (!seal) return;
    let previousHash = seal.previousHash;
    setSecuring(true);
    try {
      await outbox.reseal(caseId, async (item) => {
        const m = await sealText(keys, { ...seal, previousHash, caseId, text: item.preview, clientMsgId: item.clientMsgId });
        const hash = await messageHash(m.envelope);
        previousHash = hash;
        chain.current.sent(hash);
        return { envelope: m.envelope, hash };
      });
    } finally {
      setSecuring(false);
    }
  }

  /** Take a dermatologist off the case (the referrer or the responder); a new epoch follows. */
  async function removeFromCase(userId: string): Promise<void> {
    setRemoving(null);
    try {
      await api.removeParticipant(caseId, userId);
    } catch (e) {
      setError(apiErrorMessage(e));
    }
    await load();
  }

  async function load() {
    const keys = session.unlocked;
    if (!keys) return;
    const started = Date.now();
    try {
      // Every key used below is the one this device pinned for that person (src/app/trust.ts).
      const checked = await checkCaseTrust(pins, keys, await api.caseDetail(caseId), logSource(api));
      const d = checked.trusted;
      sendBlocked.current = checked.sendBlocked;
      setTrust(checked);
      setPeople((await pins.read()).people);
      const msgs = await api.messages(caseId);
      // Keys of epochs opened before are kept; a new epoch's wrap is opened when it appears.
      caseKeys.current = await openMyCaseKeys(keys, d, caseKeys.current ?? new Map());
      const opened = await openMessages(caseKeys.current, d, msgs);
      chain.current.loaded(opened.lastHash, opened.hashes);
      loaded.current = true;
      setOutcome(await openOutcome(caseKeys.current, d));
      setDetail(d);
      setThread(opened.entries);
      setItems(opened.items);
      const shown = new Set(opened.items.map((i) => i.entry.clientMsgId));
      setWithheld([...acked.current].filter(([id, at]) => at <= started && !shown.has(id)).length);
      keyEpoch.current = d.case.keyEpoch ?? 0;
      detailRef.current = d;
      const mine = d.participants.some((p) => p.userId === keys.userId);
      if (d.rotation && mine && !checked.sendBlocked && triedEpoch.current !== d.rotation.nextEpoch) {
        // Someone was taken off: this client makes the next epoch (the server cannot). Once
        // per epoch: a failure is shown, not retried in a loop.
        triedEpoch.current = d.rotation.nextEpoch;
        void secure(d);
      } else if (!d.rotation) {
        await resealQueued();
      }
      if (d.participants.some((p) => p.userId === keys.userId)) {
        // Who lacks the key: the service directory's dermatologists minus the participants.
        api.directory(d.case.serviceId).then(
          (people) => setLacking(colleaguesWithoutKey(people, d)),
          () => setLacking([]),
        );
      }
      const stored = await api.receipts(caseId).catch(() => [] as Receipt[]);
      setReceipts((old) => mergeReceipts(old, stored));
      // Read receipt up to the newest message I have now decrypted and shown.
      const top = opened.entries.reduce((a, m) => Math.max(a, m.seq), 0);
      if (top > readSent.current && document.visibilityState === "visible") {
        readSent.current = top;
        realtime.receipt(caseId, "read", top);
      }
    } catch (e) {
      setError(e instanceof Error && e.name.endsWith("Error") && !(e.name === "ApiError") ? "This case could not be decrypted or verified. It may have been altered." : apiErrorMessage(e));
    }
  }
  useEffect(() => {
    void load();
    // Live: a state change or a new message in this case re-reads and re-verifies the thread.
    const mine = (d: Record<string, unknown>) => d.case_id === undefined || d.case_id === caseId;
    const offCase = realtime.on("case", (d) => mine(d) && void load());
    const offMsg = realtime.on("message", (d) => mine(d) && void load());
    const leave = realtime.join(caseId);
    const offTyping = realtime.on("typing", (d) => {
      if (d.case_id !== caseId || d.user_id === me.userId) return;
      const who = detailRef.current?.participants.find((p) => p.userId === d.user_id)?.displayName ?? "Someone";
      setTypingName(who);
      if (typingTimer.current) clearTimeout(typingTimer.current);
      typingTimer.current = setTimeout(() => setTypingName(null), 4000);
    });
    const offReceipt = realtime.on("receipt", (d) => {
      if (d.case_id !== caseId) return;
      setReceipts((old) =>
        mergeReceipts(old, [{ userId: String(d.user_id), kind: d.kind === "read" ? "read" : "delivered", seq: Number(d.seq) }]),
      );
    });
    // When a queued message is acknowledged, re-read the thread (it now has a seq).
    let queued = outbox.pending(caseId).length;
    let waitingIds = new Set(outbox.pending(caseId).map((i) => i.clientMsgId));
    const offOutbox = outbox.subscribe(() => {
      // An item that left the queue was acknowledged (failed ones stay, marked failed).
      const nowIds = new Set(outbox.pending(caseId).map((i) => i.clientMsgId));
      for (const id of waitingIds) if (!nowIds.has(id)) stored(id);
      waitingIds = nowIds;
      // Refused for the key epoch: secure the conversation (or pick up the new epoch) and reseal.
      if (outbox.epochRefused(caseId).length > 0 && !rotating.current) void load();
      setOutboxVersion((v) => v + 1);
      const now = outbox.pending(caseId).length;
      if (now < queued) void load();
      queued = now;
    });
    return () => {
      offCase();
      offMsg();
      leave();
      offOutbox();
      offTyping();
      offReceipt();
    };
  }, [caseId, realtime]);

  const isDermatologist = (me.memberships ?? []).some((m) => m.role === "dermatologist");

  async function send(ev: Event) {
    ev.preventDefault();
    const keys = session.unlocked;
    if (reply.trim().length === 0) {
      setReplyError("Enter a message");
      return;
    }
    const seal = sealing();
    if (keys && !seal && (securing || detailRef.current?.rotation)) {
      setReplyError("Dermline is securing the conversation after a change of members. Try again in a moment.");
      return;
    }
    if (!keys || !seal) return;
    setSending(true);
    try {
      const text = reply.trim();
      const state = detail?.case.state;
      const asking = isDermatologist && state === "in_review" && ask.has("yes");
      const answering = !isDermatologist && state === "awaiting_gp";
      const m = await sealText(keys, { ...seal, caseId, text, question: asking });
      await chained(m.envelope);
      if (asking || answering) {
        // A lifecycle move carrying the message (docs/api.md): sent now, not queued, because
        // the move must happen in order with what the other side sees.
        await api.move(caseId, asking ? "ask" : "answer", m);
        stored(m.clientMsgId);
        setReply("");
        setAsk(new Set());
        setReplyError(null);
        await load();
        return;
      }
      setReply("");
      setReplyError(null);
      // Sealed once; the outbox sends it until the server acknowledges (resends are de-duplicated
      // by client message id), so going offline loses nothing and shows nothing twice.
      await outbox.add({ caseId, clientMsgId: m.clientMsgId, envelope: m.envelope, preview: text, hash: await messageHash(m.envelope) });
    } catch (e) {
      setReplyError(apiErrorMessage(e));
    } finally {
      setSending(false);
    }
  }
  const delivered = new Set(thread?.map((t) => t.clientMsgId) ?? []);
  // "Read by": other participants whose read receipt covers my newest message.
  const lastMineSeq = (thread ?? []).filter((t) => t.sender?.userId === me.userId).reduce((a, t) => Math.max(a, t.seq), 0);
  const readers = receipts
    .filter((r) => r.kind === "read" && r.userId !== me.userId && r.seq >= lastMineSeq)
    .map((r) => detail?.participants.find((p) => p.userId === r.userId)?.displayName ?? "another participant");
  const waiting = outbox.pending(caseId).filter((i) => !delivered.has(i.clientMsgId));
  const blockedNow = trust !== null && trust.sendBlocked;
  const canReply = detail !== null && !blockedNow && ["in_review", "awaiting_gp"].includes(detail.case.state);
  const canClose = detail !== null && !blockedNow && isDermatologist && detail.case.state === "in_review" && detail.case.claimedBy === me.userId;

  // Photos: one card per full photo, numbered in thread order; each reference carries its own
  // thumbnail. Old threads may hold legacy thumbnail references instead (threadPhotos pairs
  // them only with a photo from the same sender; src/app/photos.ts).
  const photos = threadPhotos(thread ?? []);
  const pairedThumbs = pairedLegacyThumbnails(photos);
  const fullPhotos = photos.map((ph) => ph.body);
  const legacyThumbs = new Map(photos.flatMap((ph) => (ph.legacyThumbnail ? [[String(ph.body.attachment_id), ph.legacyThumbnail] as const] : [])));
  const photoIndex = new Map(fullPhotos.map((b, i) => [String(b.attachment_id), i + 1]));
  const viewerPhoto = (b: Record<string, unknown>): ViewerPhoto => ({
    id: String(b.attachment_id),
    name: `Photo ${photoIndex.get(String(b.attachment_id)) ?? ""}: ${photoName(b)}`,
    load: () => photoUrl(api, caseId, b),
  });
  const byId = new Map(fullPhotos.map((b) => [String(b.attachment_id), b]));
  const toggleCompare = (id: string, on: boolean) => setCompare((c) => (on ? [...c.filter((x) => x !== id), id].slice(-2) : c.filter((x) => x !== id)));
  const isResponder = detail !== null && !blockedNow && isDermatologist && detail.case.state === "in_review" && detail.case.claimedBy === me.userId;
  const rejected = detail?.case.state === "closed" && detail.outcome?.category === "image_rejected";
  const canAddPhotos = detail !== null && !blockedNow && !isDermatologist && (detail.case.state === "awaiting_gp" || rejected);
  // Patient photo links: the referring GP, while the case is open (server/domain/policy.py rule 5).
  const canMakePatientLink =
    detail !== null && !blockedNow && detail.case.createdBy === me.userId && ["draft", "submitted", "in_review", "awaiting_gp"].includes(detail.case.state);

  // One NHS.UK error summary for the page's forms; memoised so it takes focus only when the
  // errors change, not on every live update of the thread.
  const summary = useMemo<FieldError[]>(() => [...(replyError ? [{ field: "reply", message: replyError }] : []), ...retakeErrors, ...photoErrs], [replyError, retakeErrors, photoErrs]);

  async function requestRetake(ev: Event) {
    ev.preventDefault();
    const found: FieldError[] = [];
    if (retakePhotos.size === 0) found.push({ field: "retake-photos", message: "Select the photos to take again" });
    if (retakeReasons.size === 0) found.push({ field: "retake-reasons", message: "Select why the photos need to be taken again" });
    if (!retakeText.trim()) found.push({ field: "retake-text", message: "Enter what the GP should photograph again" });
    setRetakeErrors(found);
    const keys = session.unlocked;
    const seal = sealing();
    if (found.length > 0 || !keys || !seal) return;
    setSending(true);
    try {
      // The coded reasons and what to retake travel inside the encrypted retake_request
      // message (content type 5); the server sees only the "ask" move (case -> awaiting_gp).
      const m = await sealRetakeRequest(keys, {
        ...seal,
        caseId,
        attachmentIds: fullPhotos.map((b) => String(b.attachment_id)).filter((id) => retakePhotos.has(id)),
        reasons: RETAKE_REASONS.map(([k]) => k).filter((k) => retakeReasons.has(k)),
        text: retakeText,
      });
      await chained(m.envelope);
      await api.move(caseId, "ask", m);
      stored(m.clientMsgId);
      setRetakeOpen(false);
      setRetakePhotos(new Set());
      setRetakeReasons(new Set());
      setRetakeText("");
      await load();
    } catch (e) {
      setRetakeErrors([{ field: "retake-text", message: apiErrorMessage(e) }]);
    } finally {
      setSending(false);
    }
  }

  async function sendNewPhotos(ev: Event) {
    ev.preventDefault();
    const found = newPhotos.length === 0 ? [{ field: "new-photos", message: "Take or choose at least one photo" }] : photoErrors("new-photos", newPhotos);
    setPhotoErrs(found);
    const keys = session.unlocked;
    if (found.length > 0 || !keys || !sealing() || !detail) return;
    setPhotoBusy(true);
    try {
      // After an "image rejected" outcome the case is closed: resubmitting reopens the SAME
      // case (closed -> submitted, docs/architecture.md) so it can take the new photos.
      if (detail.case.state === "closed") await api.move(caseId, "resubmit");
      const seal = sealing()!;
      const sealed = await sealPhotos(keys, { ...seal, caseId, photos: await draftsToSend(newPhotos) });
      await uploadPhotos((id, rec, sha) => api.uploadAttachment(caseId, id, rec, sha), sealed.uploads);
      for (const m of sealed.messages) {
        await api.sendMessage(caseId, m.clientMsgId, m.envelope);
        stored(m.clientMsgId);
        await chained(m.envelope);
      }
      const n = newPhotos.length;
      const note = await sealText(keys, { ...seal, caseId, previousHash: sealed.lastHash, text: `I have added ${n} new photo${n > 1 ? "s" : ""}.` });
      await chained(note.envelope);
      if (detail.case.state === "awaiting_gp") await api.move(caseId, "answer", note);
      else await api.sendMessage(caseId, note.clientMsgId, note.envelope);
      stored(note.clientMsgId);
      for (const d of newPhotos) URL.revokeObjectURL(d.preview);
      setNewPhotos([]);
      await load();
    } catch (e) {
      setPhotoErrs([{ field: "new-photos", message: apiErrorMessage(e) }]);
    } finally {
      setPhotoBusy(false);
    }
  }

  async function close(d: OutcomeDraft): Promise<string | null> {
    const keys = session.unlocked;
    const seal = sealing();
    if (!keys || !seal) return "Your keys are locked. Unlock Dermline and try again.";
    try {
      const payload = await sealOutcome(keys, { ...seal, caseId, body: d.body });
      // The retention date from the date of birth only this client can read (../retention.ts).
      await api.close(caseId, { ...d.codes, payload }, closeRetention(thread ?? [], ContentType.CLINICAL_HISTORY));
      await load();
      return null;
    } catch (e) {
      return apiErrorMessage(e);
    }
  }
  // The referring GP lowers a two-week-wait referral (DESIGN.md section 2): the reason is sealed
  // as a text message of this thread and sent with the change; both sides then re-read the case.
  async function downgrade(urgency: LowerUrgency, reasonText: string): Promise<string | null> {
    const keys = session.unlocked;
    const seal = sealing();
    if (!keys || !seal) return "Your keys are locked. Unlock Dermline and try again.";
    try {
      const m = await sealText(keys, { ...seal, caseId, text: reasonText });
      await chained(m.envelope);
      await api.downgrade(caseId, urgency, m);
      stored(m.clientMsgId);
      await load();
      return null;
    } catch (e) {
      return apiErrorMessage(e);
    }
  }
  async function shareKey() {
    const keys = session.unlocked;
    const seal = sealing();
    if (!keys || !seal || lacking.length === 0) return;
    setSharing(true);
    setShareStatus(null);
    try {
      // Wrap only to keys this device pinned: a changed key blocks sharing with that person.
      const checks = await pins.observe(
        lacking.map((c) => ({ userId: c.userId, name: c.displayName, signingPublicKey: c.signingPublicKey, encryptionPublicKey: c.encryptionPublicKey })),
      );
      const stop = blocked(checks);
      if (stop.length > 0) {
        setError(stop.map(changeWarning).join(" "));
        return;
      }
      const wraps = await buildShareWraps(keys, { caseKey: seal.caseKey, epoch: seal.epoch, caseId, colleagues: lacking });
      const added = await api.shareCaseKeys(caseId, wraps);
      setShareStatus(`Shared with ${added.length} ${added.length === 1 ? "colleague" : "colleagues"}. They can now open this case.`);
      setLacking([]);
      await load();
    } catch (e) {
      setError(apiErrorMessage(e));
    } finally {
      setSharing(false);
    }
  }
  return (
    <>
      <BackLink href="#/cases">Back to your cases</BackLink>
      <ErrorSummary errors={summary} />
      <h1>Case {caseId.slice(0, 8)}</h1>
      {error && <p class="nhsuk-error-message">{error}</p>}
      {trust?.selfMismatch && (
        <div class="nhsuk-warning-callout" data-testid="self-key-warning">
          <h2 class="nhsuk-warning-callout__label">
            <span>
              <span class="nhsuk-u-visually-hidden">Important: </span>
              Your security keys are listed wrongly
            </span>
          </h2>
          <p>The server lists security keys for you in this case that are not yours. Dermline will not send anything in this case. Tell your administrator.</p>
        </div>
      )}
      {securing && (
        <div class="nhsuk-inset-text" role="status" data-testid="securing">
          <p>Securing the conversation after a change of members…</p>
        </div>
      )}
      {secureError && (
        <div class="nhsuk-warning-callout" data-testid="secure-error">
          <h2 class="nhsuk-warning-callout__label">
            <span>
              <span class="nhsuk-u-visually-hidden">Important: </span>
              The conversation could not be secured
            </span>
          </h2>
          <p>{secureError}</p>
        </div>
      )}
      {withheld > 0 && (
        <div class="nhsuk-warning-callout" data-testid="withheld-warning">
          <h2 class="nhsuk-warning-callout__label">
            <span>
              <span class="nhsuk-u-visually-hidden">Important: </span>
              Check this conversation
            </span>
          </h2>
          <p>
            {withheld === 1 ? "A message you sent is" : `${withheld} messages you sent are`} missing from this conversation, although the server
            accepted {withheld === 1 ? "it" : "them"}: the server may be withholding messages from you.
          </p>
        </div>
      )}
      {trust?.log?.hardStop && (
        <div class="nhsuk-warning-callout" data-testid="log-warning">
          <h2 class="nhsuk-warning-callout__label">
            <span>
              <span class="nhsuk-u-visually-hidden">Important: </span>
              Dermline has stopped sending in this case
            </span>
          </h2>
          <p>{trust.log.hardStop}</p>
        </div>
      )}
      {trust?.hiddenRemovals.map((h) => (
        <div key={h.userId} class="nhsuk-warning-callout" data-testid="hidden-removal-warning">
          <h2 class="nhsuk-warning-callout__label">
            <span>
              <span class="nhsuk-u-visually-hidden">Important: </span>
              A removal is being hidden
            </span>
          </h2>
          <p>
            The key log shows that {h.name} was removed from their organisation, but the server still lists them in this case. Dermline will not
            send anything in this case until this is resolved: tell your administrator.
          </p>
        </div>
      ))}
      {trust?.log?.unlogged.map((u) => (
        <div key={u.userId} class="nhsuk-warning-callout" data-testid="unlogged-warning">
          <h2 class="nhsuk-warning-callout__label">
            <span>
              <span class="nhsuk-u-visually-hidden">Important: </span>
              Security keys not certified
            </span>
          </h2>
          <p>{u.message}</p>
          <p>
            <a href={`#/cases/${caseId}/people/${u.userId}`} data-testid="check-safety-number">
              Check {u.name}'s safety number
            </a>
          </p>
        </div>
      ))}
      {trust?.blocked.map((c) => (
        <div key={c.userId} class="nhsuk-warning-callout" data-testid="key-change-warning">
          <h2 class="nhsuk-warning-callout__label">
            <span>
              <span class="nhsuk-u-visually-hidden">Important: </span>
              Security keys changed
            </span>
          </h2>
          <p>{changeWarning(c)}</p>
          <p>
            <a href={`#/cases/${caseId}/people/${c.userId}`} data-testid="check-safety-number">
              Check {c.name}'s safety number
            </a>
          </p>
        </div>
      ))}
      {detail && (
        <p>
          <StateTag state={detail.case.state} /> {detail.case.priority === "urgent" ? "Urgent" : "Routine"}
        </p>
      )}
      {detail && (
        <details class="nhsuk-details" data-testid="case-people">
          <summary class="nhsuk-details__summary">
            <span class="nhsuk-details__summary-text">People in this case and their security keys</span>
          </summary>
          <div class="nhsuk-details__text">
            <ul class="nhsuk-list">
              {detail.participants
                .filter((p) => p.userId !== me.userId)
                .map((p) => {
                  const pin = people[p.userId];
                  const b = pin ? badge(pin) : null;
                  // The referring GP or the responder may take a dermatologist off the case
                  // (never the referrer or the responder themselves; docs/api.md).
                  const canRemove =
                    !blockedNow &&
                    (detail.case.createdBy === me.userId || detail.case.claimedBy === me.userId) &&
                    p.userId !== detail.case.createdBy &&
                    p.userId !== detail.case.claimedBy;
                  return (
                    <li key={p.userId} data-testid="case-person">
                      {p.displayName}{" "}
                      {b && (
                        <strong class={`nhsuk-tag ${b.tag}`} data-testid="person-badge">
                          {b.text}
                        </strong>
                      )}{" "}
                      <a href={`#/cases/${caseId}/people/${p.userId}`}>
                        Safety number<span class="nhsuk-u-visually-hidden"> of {p.displayName}</span>
                      </a>
                      {canRemove && removing !== p.userId && (
                        <>
                          {" "}
                          <button type="button" class="nhsuk-button nhsuk-button--secondary dl-small-button" onClick={() => setRemoving(p.userId)}>
                            Remove from case<span class="nhsuk-u-visually-hidden">: {p.displayName}</span>
                          </button>
                        </>
                      )}
                      {canRemove && removing === p.userId && (
                        <div class="nhsuk-inset-text" data-testid="remove-confirm">
                          <p>
                            {p.displayName} will not be able to read anything sent in this case from now on. The conversation is secured with a new key
                            that they do not get.
                          </p>
                          <button type="button" class="nhsuk-button nhsuk-button--warning dl-small-button" onClick={() => void removeFromCase(p.userId)}>
                            Remove {p.displayName} from this case
                          </button>{" "}
                          <button type="button" class="nhsuk-button nhsuk-button--secondary dl-small-button" onClick={() => setRemoving(null)}>
                            Cancel
                          </button>
                        </div>
                      )}
                    </li>
                  );
                })}
            </ul>
          </div>
        </details>
      )}
      {detail && isDermatologist && detail.case.state === "submitted" && (
        <Button
          type="button"
          onClick={() =>
            void api.move(caseId, "claim").then(
              () => load(),
              (e) => setError(apiErrorMessage(e)),
            )
          }
        >
          Claim this case
        </Button>
      )}
      {detail && caseKeys.current && !blockedNow && lacking.length > 0 && (
        <Button type="button" secondary disabled={sharing} onClick={() => void shareKey()}>
          {sharing
            ? "Sharing…"
            : `Share with ${lacking.length} ${lacking.length === 1 ? "colleague" : "colleagues"} who joined the service later`}
        </Button>
      )}
      {shareStatus && (
        <p class="nhsuk-body" role="status" data-testid="share-status">
          {shareStatus}
        </p>
      )}
      {detail?.outcome && outcome && <OutcomePanel codes={detail.outcome} body={outcome} reason={downgradeReason(detail.outcome, thread ?? [])} />}
      {detail?.outcome && outcome && !blockedNow && canDowngrade(detail, me.userId) && <DowngradeControl from={detail.outcome.urgency ?? ""} onSubmit={downgrade} />}
      {thread === null && !error && <p>Decrypting the case…</p>}
      {compare.length === 2 && (
        <Button type="button" secondary onClick={() => setViewer(compare.map((id) => viewerPhoto(byId.get(id)!)))}>
          View the 2 selected photos side by side
        </Button>
      )}
      {thread !== null &&
        items.map((item, i) => {
          if (item.kind === "unreadable") {
            const u = item.entry;
            return (
              <section key={`u${i}`} class="nhsuk-card dl-unreadable" data-testid="unreadable-message">
                <div class="nhsuk-card__content">
                  <h2 class="nhsuk-card__heading nhsuk-heading-s">
                    Unreadable message <strong class="nhsuk-tag nhsuk-tag--red">Not shown</strong>
                  </h2>
                  <p class="nhsuk-card__description" data-testid="unreadable-reason">
                    {UNREADABLE_TEXT[u.reason]}
                  </p>
                </div>
              </section>
            );
          }
          const m = item.entry;
          // Transcript warnings show even where the message itself is not drawn as a card.
          const warnings = m.findings.map((f) => (
            <div key={`w${i}${f}`} class="nhsuk-warning-callout dl-transcript-warning" data-testid="transcript-warning" data-finding={f}>
              <h2 class="nhsuk-warning-callout__label">
                <span>
                  <span class="nhsuk-u-visually-hidden">Important: </span>
                  Check this conversation
                </span>
              </h2>
              <p>{FINDING_TEXT[f]}</p>
            </div>
          ));
          // A patient_link message carries a key, not text: the links section below shows it. A
          // paired legacy thumbnail reference is shown inside its photo's card, not on its own.
          if (m.contentType === ContentType.PATIENT_LINK || pairedThumbs.has(m.body)) return <Fragment key={`m${i}`}>{warnings}</Fragment>;
          return (
            <Fragment key={`m${i}`}>
              {warnings}
              <section class={`nhsuk-card${m.contentType === ContentType.RETAKE_REQUEST ? " dl-retake-card" : ""}`} data-testid={m.contentType === ContentType.RETAKE_REQUEST ? "retake-request" : "thread-message"}>
                <div class="nhsuk-card__content">
                  <h2 class="nhsuk-card__heading nhsuk-heading-s">
                    {m.contentType === ContentType.CLINICAL_HISTORY
                      ? "Clinical history"
                      : m.contentType === ContentType.PHOTO_REFERENCE
                        ? `Photo ${photoIndex.get(String(m.body.attachment_id)) ?? ""}: ${TAG_NAMES[String(m.body.tag)] ?? "Photo"}`
                        : m.contentType === ContentType.QUESTION
                          ? "Question"
                          : m.contentType === ContentType.RETAKE_REQUEST
                            ? "Photos to take again"
                            : "Message"}{" "}
                    from {m.sender?.displayName ?? "unknown"}
                  </h2>
                  {m.contentType === ContentType.CLINICAL_HISTORY ? (
                    <ClinicalHistoryView body={m.body} />
                  ) : m.contentType === ContentType.PHOTO_REFERENCE ? (
                    <PhotoCard
                      api={api}
                      caseId={caseId}
                      body={m.body}
                      legacyThumb={legacyThumbs.get(String(m.body.attachment_id))}
                      index={photoIndex.get(String(m.body.attachment_id)) ?? 0}
                      onView={() => setViewer([viewerPhoto(m.body)])}
                      compare={compare.includes(String(m.body.attachment_id))}
                      onCompare={(on) => toggleCompare(String(m.body.attachment_id), on)}
                    />
                  ) : m.contentType === ContentType.RETAKE_REQUEST ? (
                    <>
                      <p class="nhsuk-body-s">
                        Photos:{" "}
                        {(m.body.attachment_ids as string[])
                          .map((id) => {
                            const b = byId.get(id);
                            return b ? `photo ${photoIndex.get(id)} (${photoName(b)})` : "a photo not in this thread";
                          })
                          .join(", ")}
                      </p>
                      <p class="nhsuk-body-s">Reasons: {(m.body.reasons as string[]).map((r) => RETAKE_REASON_TEXT[r] ?? r).join(", ")}</p>
                      {typeof m.body.text === "string" && (
                        <p class="nhsuk-card__description" data-testid="retake-text">
                          {m.body.text}
                        </p>
                      )}
                    </>
                  ) : (
                    <p class="nhsuk-card__description" data-testid="message-text">
                      {typeof m.body.text === "string" ? m.body.text : ""}
                    </p>
                  )}
                  {m.legacy && (
                    <p class="nhsuk-body-s dl-legacy-note" data-testid="legacy-note">
                      {LEGACY_NOTE}
                    </p>
                  )}
                </div>
              </section>
            </Fragment>
          );
        })}
      {viewer && <PhotoViewer photos={viewer} onClose={() => setViewer(null)} />}
      {thread && (
        <PatientLinks
          api={api}
          caseId={caseId}
          session={session}
          realtime={realtime}
          thread={thread}
          canMake={canMakePatientLink}
          sealing={sealing}
          onSent={async (envelope, id) => {
            await chained(envelope);
            stored(id);
          }}
          reload={load}
        />
      )}
      {lastMineSeq > 0 && readers.length > 0 && (
        <p class="nhsuk-body-s" data-testid="read-by">
          Read by {readers.join(", ")}
        </p>
      )}
      <p class="nhsuk-body-s dl-typing" role="status" aria-live="polite" data-testid="typing">
        {typingName ? `${typingName} is typing…` : ""}
      </p>
      {waiting.map((w) => (
        <section key={w.clientMsgId} class="nhsuk-card dl-pending" data-testid="pending-message">
          <div class="nhsuk-card__content">
            <h2 class="nhsuk-card__heading nhsuk-heading-s">
              Your message{" "}
              <strong class={`nhsuk-tag ${w.failed ? "nhsuk-tag--red" : "nhsuk-tag--yellow"}`}>
                {w.failed ? "Not sent" : "Waiting to send"}
              </strong>
            </h2>
            <p class="nhsuk-card__description">{w.preview}</p>
          </div>
        </section>
      ))}
      {canReply && (
        <form onSubmit={send} noValidate>
          <Textarea
            id="reply"
            label="Your message"
            value={reply}
            onInput={(v) => {
              setReply(v);
              const now = Date.now();
              if (now - lastTypingSent.current > 2500) {
                lastTypingSent.current = now;
                realtime.typing(caseId);
              }
            }}
            error={replyError}
            rows={3}
          />
          {isDermatologist && detail?.case.state === "in_review" && (
            <Checkboxes
              id="ask"
              legend="Waiting for the GP"
              options={[["yes", "This needs an answer from the GP (the case waits for the GP)"]]}
              value={ask}
              onChange={setAsk}
            />
          )}
          <Button disabled={sending}>
            {sending ? "Sending…" : !isDermatologist && detail?.case.state === "awaiting_gp" ? "Send answer" : "Send message"}
          </Button>
        </form>
      )}
      {isResponder && fullPhotos.length > 0 && !retakeOpen && (
        <Button type="button" secondary onClick={() => setRetakeOpen(true)}>
          Request a retake
        </Button>
      )}
      {isResponder && retakeOpen && (
        <form onSubmit={requestRetake} noValidate data-testid="retake-form">
          <h2>Request a retake</h2>
          <p>The case goes back to the GP, who adds new photos to this case.</p>
          <Checkboxes
            id="retake-photos"
            legend="Which photos need to be taken again?"
            options={fullPhotos.map((b): [string, string] => [String(b.attachment_id), `Photo ${photoIndex.get(String(b.attachment_id))}: ${photoName(b)}`])}
            value={retakePhotos}
            onChange={setRetakePhotos}
            error={retakeErrors.find((e) => e.field === "retake-photos")?.message ?? null}
          />
          <Checkboxes
            id="retake-reasons"
            legend="Why?"
            hint="Select all that apply"
            options={RETAKE_REASONS}
            value={retakeReasons}
            onChange={setRetakeReasons}
            error={retakeErrors.find((e) => e.field === "retake-reasons")?.message ?? null}
          />
          <Textarea
            id="retake-text"
            label="What should the GP photograph again?"
            value={retakeText}
            onInput={setRetakeText}
            error={retakeErrors.find((e) => e.field === "retake-text")?.message ?? null}
            rows={3}
          />
          <Button disabled={sending}>Send retake request</Button>
        </form>
      )}
      {canAddPhotos && (
        <form onSubmit={sendNewPhotos} noValidate data-testid="add-photos-form">
          <h2>Add new photos to this case</h2>
          <PhotoCapture
            id="new-photos"
            legend={rejected ? "The photos were rejected. Take new photos" : "New photos"}
            drafts={newPhotos}
            onChange={setNewPhotos}
            defaultBodySite={String(thread?.find((t) => t.contentType === ContentType.CLINICAL_HISTORY)?.body.body_site ?? "")}
            errors={photoErrs}
          />
          <Button disabled={photoBusy}>{photoBusy ? "Encrypting and sending…" : "Send new photos"}</Button>
        </form>
      )}
      {canClose && <OutcomeForm onSubmit={close} />}
    </>
  );
}
