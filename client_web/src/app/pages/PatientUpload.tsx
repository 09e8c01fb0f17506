/**
 * The patient's photo page at #/p/<token>.<public key>: phone first, no
 * account. It explains what happens, asks for consent, takes or chooses photos, prepares and
 * checks them on the phone (src/photo, the same code the GP uses: upright, every metadata block
 * including GPS removed, quality warnings with "send anyway" and a reason), encrypts them so only
 * the care team of the case can open them (src/app/patientLink.ts), shows progress, and ends
 * with a success screen. Every failure has its own clear message; the link's token never leaves
 * this page except in the X-Dermline-Link-Token header of its own requests.
 */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, ServerUnavailable } from "../api";
import { Button, Checkboxes, ErrorSummary, type FieldError, usePageTitle } from "../components";
import { PatientLinkFormatError } from "../../crypto/index";
import { type PatientLinkCheck, checkPatientLink, readFragment, sendAsPatient } from "../patientLink";
import { PhotoCapture, type PhotoDraft, photoErrors } from "./PhotoField";

type Stage =
  | { kind: "checking" }
  | { kind: "unusable"; title: string; text: string }
  | { kind: "ready"; link: PatientLinkCheck }
  | { kind: "sending"; link: PatientLinkCheck; done: number; total: number }
  | { kind: "sent"; count: number };

function refusal(e: unknown): { title: string; text: string } {
  if (e instanceof PatientLinkFormatError) {
    return { title: "This link is not complete", text: "Part of the link is missing or changed. Open the link again from the message your GP practice sent you, or ask them to send it again." };
  }
  if (e instanceof ApiError && e.code === "link_invalid") {
    return {
      title: "This link can no longer be used",
      text: "The link has already been used, has expired or was cancelled. If you still need to send photos, contact your GP practice and ask for a new link.",
    };
  }
  if (e instanceof ApiError && e.code === "rate_limited") {
    return { title: "Too many attempts", text: "Wait a minute, then open the link again." };
  }
  if (e instanceof ServerUnavailable) {
    return { title: "Cannot connect", text: "Your phone cannot reach the service. Check your internet connection, then open the link again." };
  }
  return { title: "Something went wrong", text: "Try again later. If it keeps happening, contact your GP practice." };
}

function sendError(e: unknown): string {
  if (e instanceof ApiError && e.code === "payload_too_large") return "A photo is too large to send. Remove it and take it again.";
  if (e instanceof ApiError && e.code === "rate_limited") return "Too many attempts. Wait a minute and press Send photos again.";
  if (e instanceof ServerUnavailable) return "The photos could not be sent: your phone lost its connection. Check it and press Send photos again.";
  return "The photos could not be sent. Press Send photos to try again.";
}

export function PatientUpload({ fragment }: { fragment: string }): JSX.Element {
  const [stage, setStage] = useState<Stage>({ kind: "checking" });
  const [drafts, setDrafts] = useState<PhotoDraft[]>([]);
  const [consent, setConsent] = useState(new Set<string>());
  const [errors, setErrors] = useState<FieldError[]>([]);
  const heading = useRef<HTMLHeadingElement>(null);
  const parsed = useRef<{ token: Uint8Array; publicKey: Uint8Array } | null>(null);
  const title =
    stage.kind === "unusable" ? stage.title : stage.kind === "sent" ? "Photos sent" : stage.kind === "checking" ? "Checking your link" : "Send photos to your GP practice";
  usePageTitle(title, errors.length > 0);

  useEffect(() => {
    let live = true;
    try {
      parsed.current = readFragment(fragment);
    } catch (e) {
      setStage({ kind: "unusable", ...refusal(e) });
      return;
    }
    checkPatientLink(parsed.current.token).then(
      (link) => live && setStage({ kind: "ready", link }),
      (e) => live && setStage({ kind: "unusable", ...refusal(e) }),
    );
    return () => {
      live = false;
    };
  }, [fragment]);
  useEffect(() => {
    if (stage.kind === "sent" || stage.kind === "unusable") heading.current?.focus();
  }, [stage.kind]);

  async function send(ev: Event) {
    ev.preventDefault();
    if (stage.kind !== "ready" || !parsed.current) return;
    const found: FieldError[] = [];
    if (!consent.has("yes")) found.push({ field: "consent", message: "Confirm that you agree to send the photos" });
    if (drafts.length === 0) found.push({ field: "patient-photos", message: "Take or choose at least one photo" });
    if (drafts.length > stage.link.maxPhotos) found.push({ field: "patient-photos", message: `Send at most ${stage.link.maxPhotos} photos. Remove some photos` });
    found.push(...photoErrors("patient-photos", drafts));
    setErrors(found);
    if (found.length > 0) return;
    const link = stage.link;
    setStage({ kind: "sending", link, done: 0, total: drafts.length * 2 });
    try {
      const photos = [];
      for (const d of drafts) {
        const warn = d.prepared.quality.verdict === "warn";
        photos.push({
          jpeg: new Uint8Array(await d.prepared.jpeg.arrayBuffer()),
          thumbnail: new Uint8Array(await d.prepared.thumbnail.arrayBuffer()),
          tag: d.tag || "close_up",
          bodySite: d.bodySite.trim(),
          quality: { verdict: warn ? ("warn" as const) : ("ok" as const), reasons: [...d.prepared.quality.reasons] },
          ...(warn ? { sendAnywayReason: d.reason.trim() } : {}),
        });
      }
      const count = await sendAsPatient(parsed.current, link.linkId, photos, (done, total) => setStage({ kind: "sending", link, done, total }));
      for (const d of drafts) URL.revokeObjectURL(d.preview);
      setDrafts([]);
      setStage({ kind: "sent", count });
    } catch (e) {
      if (e instanceof ApiError && e.code === "link_invalid") {
        setStage({ kind: "unusable", ...refusal(e) });
        return;
      }
      setStage({ kind: "ready", link });
      setErrors([{ field: "patient-photos", message: sendError(e) }]);
    }
  }

  if (stage.kind === "checking") {
    return (
      <>
        <h1>Checking your link</h1>
        <p role="status">Please wait…</p>
      </>
    );
  }
  if (stage.kind === "unusable") {
    return (
      <div data-testid="patient-link-unusable">
        <h1 tabIndex={-1} ref={heading}>
          {stage.title}
        </h1>
        <p>{stage.text}</p>
      </div>
    );
  }
  if (stage.kind === "sent") {
    return (
      <div data-testid="patient-sent">
        <div class="nhsuk-panel">
          <h1 class="nhsuk-panel__title" tabIndex={-1} ref={heading}>
            Photos sent
          </h1>
          <div class="nhsuk-panel__body">
            {stage.count} photo{stage.count === 1 ? "" : "s"} sent to your GP practice
          </div>
        </div>
        <h2>What happens next</h2>
        <p>Your GP practice will look at the photos, with a skin specialist if needed, and contact you. You do not need to do anything else.</p>
        <p>This link has now been used and cannot be used again. You can close this page.</p>
      </div>
    );
  }
  const sending = stage.kind === "sending";
  return (
    <>
      <ErrorSummary errors={errors} />
      <h1>Send photos to your GP practice</h1>
      <p>Your GP has asked you to send photos of your skin. Only the doctors looking after you can see them.</p>
      <h2>What happens</h2>
      <ul class="nhsuk-list nhsuk-list--bullet">
        <li>Your phone removes details such as your location from each photo, checks it is clear, and locks (encrypts) it before it is sent.</li>
        <li>You can send up to {stage.link.maxPhotos} photos, once. The link stops working after you send them.</li>
        <li>Take photos in good daylight, hold the phone still, and include one photo from further away so the doctor can see where it is on your body.</li>
      </ul>
      <form onSubmit={send} noValidate>
        <PhotoCapture
          id="patient-photos"
          legend="Your photos"
          drafts={drafts}
          onChange={setDrafts}
          defaultBodySite=""
          errors={errors}
        />
        <Checkboxes
          id="consent"
          legend="Your agreement"
          options={[["yes", "I agree to send these photos to my GP practice for my care"]]}
          value={consent}
          onChange={setConsent}
          error={errors.find((e) => e.field === "consent")?.message ?? null}
        />
        {sending && (
          <p role="status" data-testid="patient-progress">
            Sending securely: {stage.done} of {stage.total} files
          </p>
        )}
        <Button disabled={sending}>{sending ? "Sending photos…" : "Send photos"}</Button>
      </form>
    </>
  );
}
