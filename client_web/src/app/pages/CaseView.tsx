import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { type Api, type CaseDetail, type Me, type Receipt, apiErrorMessage } from "../api";
import { type OpenedEntry, type OutcomeBody, openMessages, openMyCaseKey, openOutcome, openPhoto, sealOutcome, sealText } from "../cases";
import { type OutcomeDraft, OutcomeForm, OutcomePanel } from "./Outcome";
import { BackLink, Button, Checkboxes, Textarea, usePageTitle } from "../components";
import { ContentType, messageHash } from "../cryptoFacade";
import type { Outbox } from "../outbox";
import type { Realtime } from "../realtime";
import type { Session } from "../session";
import { StateTag } from "./Cases";

const TAG_NAMES: Record<string, string> = { locator: "Locator photo", close_up: "Close-up photo", dermoscopic: "Dermoscopic photo" };

/** A photo from a verified photo-reference message: downloaded, hash-checked, decrypted here. */
function PhotoView({ api, caseId, body }: { api: Api; caseId: string; body: Record<string, unknown> }): JSX.Element {
  const [url, setUrl] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let made: string | null = null;
    openPhoto((id) => api.downloadAttachment(caseId, id), body).then(
      (p) => {
        made = URL.createObjectURL(new Blob([p.jpeg as Uint8Array<ArrayBuffer>], { type: "image/jpeg" }));
        setUrl(made);
      },
      () => setFailed(true),
    );
    return () => {
      if (made) URL.revokeObjectURL(made);
    };
  }, [caseId, body.attachment_id]);
  const name = `${TAG_NAMES[String(body.tag)] ?? "Photo"} of ${String(body.body_site)}`;
  if (failed) return <p class="nhsuk-error-message">This photo could not be decrypted or has been altered.</p>;
  if (!url) return <p>Decrypting the photo…</p>;
  return <img class="dl-photo" src={url} alt={name} data-testid="case-photo" />;
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
export function CaseView(props: { api: Api; me: Me; session: Session; realtime: Realtime; outbox: Outbox; caseId: string }): JSX.Element {
  const { api, me, session, realtime, outbox, caseId } = props;
  const [, setOutboxVersion] = useState(0);
  const [detail, setDetail] = useState<CaseDetail | null>(null);
  const detailRef = useRef<CaseDetail | null>(null);
  detailRef.current = detail;
  const [thread, setThread] = useState<OpenedEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reply, setReply] = useState("");
  const [replyError, setReplyError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const [ask, setAsk] = useState(new Set<string>());
  const [outcome, setOutcome] = useState<OutcomeBody | null>(null);
  const [receipts, setReceipts] = useState<Receipt[]>([]);
  const [typingName, setTypingName] = useState<string | null>(null);
  const typingTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const lastTypingSent = useRef(0);
  const readSent = useRef(0);
  // The case key and the hash of the last message, in memory while this page is open.
  const caseKey = useRef<Uint8Array | null>(null);
  const lastHash = useRef<Uint8Array | null>(null);
  usePageTitle("Case");

  useEffect(
    () => () => {
      caseKey.current?.fill(0);
      caseKey.current = null;
    },
    [caseId],
  );

  async function load() {
    const keys = session.unlocked;
    if (!keys) return;
    try {
      const d = await api.caseDetail(caseId);
      const msgs = await api.messages(caseId);
      if (caseKey.current === null) caseKey.current = await openMyCaseKey(keys, d);
      const opened = await openMessages(caseKey.current, d, msgs);
      lastHash.current = opened.lastHash;
      setOutcome(await openOutcome(caseKey.current, d));
      setDetail(d);
      setThread(opened.entries);
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
    const offOutbox = outbox.subscribe(() => {
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
    if (!keys || !caseKey.current || !lastHash.current) return;
    setSending(true);
    try {
      // Chain after the last queued message of this case if any, else after the thread.
      const previousHash = outbox.lastHash(caseId) ?? lastHash.current;
      const text = reply.trim();
      const state = detail?.case.state;
      const asking = isDermatologist && state === "in_review" && ask.has("yes");
      const answering = !isDermatologist && state === "awaiting_gp";
      const m = await sealText(keys, { caseKey: caseKey.current, caseId, previousHash, text, question: asking });
      if (asking || answering) {
        // A lifecycle move carrying the message (docs/api.md): sent now, not queued, because
        // the move must happen in order with what the other side sees.
        await api.move(caseId, asking ? "ask" : "answer", m);
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
  const canReply = detail !== null && ["in_review", "awaiting_gp"].includes(detail.case.state);
  const canClose = detail !== null && isDermatologist && detail.case.state === "in_review" && detail.case.claimedBy === me.userId;

  async function close(d: OutcomeDraft): Promise<string | null> {
    const keys = session.unlocked;
    if (!keys || !caseKey.current || !lastHash.current) return "Your keys are locked. Unlock Dermline and try again.";
    try {
      const payload = await sealOutcome(keys, { caseKey: caseKey.current, caseId, previousHash: lastHash.current, body: d.body });
      await api.close(caseId, { ...d.codes, payload });
      await load();
      return null;
    } catch (e) {
      return apiErrorMessage(e);
    }
  }
  return (
    <>
      <BackLink href="#/cases">Back to your cases</BackLink>
      <h1>Case {caseId.slice(0, 8)}</h1>
      {error && <p class="nhsuk-error-message">{error}</p>}
      {detail && (
        <p>
          <StateTag state={detail.case.state} /> {detail.case.priority === "urgent" ? "Urgent" : "Routine"}
        </p>
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
      {detail?.outcome && outcome && <OutcomePanel codes={detail.outcome} body={outcome} />}
      {thread === null && !error && <p>Decrypting the case…</p>}
      {thread?.map((m) => (
        <section key={m.seq} class="nhsuk-card">
          <div class="nhsuk-card__content">
            <h2 class="nhsuk-card__heading nhsuk-heading-s">
              {m.contentType === ContentType.CLINICAL_HISTORY
                ? "Clinical history"
                : m.contentType === ContentType.PHOTO_REFERENCE
                  ? (TAG_NAMES[String(m.body.tag)] ?? "Photo")
                  : m.contentType === ContentType.QUESTION
                    ? "Question"
                    : "Message"}{" "}
              from {m.sender?.displayName ?? "unknown"}
            </h2>
            {m.contentType === ContentType.CLINICAL_HISTORY ? (
              <ClinicalHistoryView body={m.body} />
            ) : m.contentType === ContentType.PHOTO_REFERENCE ? (
              <PhotoView api={api} caseId={caseId} body={m.body} />
            ) : (
              <p class="nhsuk-card__description" data-testid="message-text">
                {typeof m.body.text === "string" ? m.body.text : ""}
              </p>
            )}
          </div>
        </section>
      ))}
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
      {canClose && <OutcomeForm onSubmit={close} />}
    </>
  );
}
