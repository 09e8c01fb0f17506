/**
 * Patient photo links on the case page (docs/api.md "Patient photo links").
 *
 * - The referring GP, while the case is open: "Ask the patient for photos" makes a one-time link
 *   (src/app/patientLink.ts), shown once as text with a copy button and as a QR code (an SVG made
 *   in this browser by @paulmillr/qr, shown through an <img> data URL: no inline script or style,
 *   and the link never reaches the server), with its expiry and a revoke button.
 * - Everyone who reads the case: the links and their state, and "Photos from the patient" for a
 *   used link, opened with the drop-box key found in the (signed) thread. These photos are
 *   clearly marked as sent through a link: they carry no participant's signature.
 * A photo that fails to open shows a message in its own card and never breaks the page.
 */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { type Api, apiErrorMessage } from "../api";
import type { OpenedEntry } from "../cases";
import { Button } from "../components";
import { decryptAttachment, type PatientPhoto } from "../../crypto/index";
import {
  type MadeLink,
  type PatientLinkInfo,
  dropBoxKeys,
  listPatientLinks,
  makePatientLink,
  openPatientSubmission,
  patientSubmission,
  revokePatientLink,
} from "../patientLink";
import { QUALITY_REASON_TEXT } from "../photos";
import type { Realtime } from "../realtime";
import type { Session } from "../session";
import { PhotoViewer, type ViewerPhoto } from "./PhotoViewer";
import { qrDataUrl } from "./TotpSetup";

const TAG_NAMES: Record<string, string> = { locator: "Locator photo", close_up: "Close-up photo", dermoscopic: "Dermoscopic photo" };

function when(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return `${d.toLocaleDateString("en-GB", { day: "numeric", month: "long" })} at ${d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" })}`;
}

const STATUS_TEXT: Record<PatientLinkInfo["status"], [string, string]> = {
  active: ["Waiting for the patient", "nhsuk-tag--blue"],
  used: ["Photos received", "nhsuk-tag--green"],
  revoked: ["Cancelled", "nhsuk-tag--grey"],
  expired: ["Expired", "nhsuk-tag--grey"],
};

async function jpegUrl(api: Api, caseId: string, ref: { attachmentId: string; fileKey: Uint8Array; ciphertextSha256: Uint8Array }): Promise<string> {
  const record = await api.downloadAttachment(caseId, ref.attachmentId);
  const jpeg = await decryptAttachment(ref.fileKey, record, ref.ciphertextSha256);
  return URL.createObjectURL(new Blob([jpeg as Uint8Array<ArrayBuffer>], { type: "image/jpeg" }));
}

function PatientPhotoCard(p: { api: Api; caseId: string; photo: PatientPhoto; n: number; onView: () => void }): JSX.Element {
  const { api, caseId, photo } = p;
  const [url, setUrl] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    let made: string | null = null;
    jpegUrl(api, caseId, photo.thumbnail ?? photo).then(
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
  }, [caseId, photo.attachmentId]);
  const name = `${TAG_NAMES[photo.tag] ?? "Photo"} of ${photo.bodySite}`;
  return (
    <div class="dl-photo-card" data-testid="patient-photo-card">
      <h4 class="nhsuk-heading-xs">
        Patient photo {p.n}: {name}
      </h4>
      {failed ? (
        <p class="nhsuk-error-message" data-testid="photo-failed">
          This photo could not be decrypted or has been altered.
        </p>
      ) : url ? (
        <img class="dl-photo" src={url} alt={name} data-testid="patient-photo" onError={() => setFailed(true)} />
      ) : (
        <p>Decrypting the photo…</p>
      )}
      {photo.quality?.verdict === "warn" && (
        <p class="nhsuk-body-s" data-testid="patient-photo-warning">
          The patient's phone warned: {photo.quality.reasons.map((r) => QUALITY_REASON_TEXT[r] ?? r).join(", ")}.
          {photo.sendAnywayReason ? ` The patient sent it anyway: “${photo.sendAnywayReason}”` : ""}
        </p>
      )}
      {!failed && (
        <button type="button" class="nhsuk-button nhsuk-button--secondary dl-small-button" onClick={p.onView}>
          View full screen<span class="nhsuk-u-visually-hidden">: patient photo {p.n}, {name}</span>
        </button>
      )}
    </div>
  );
}

function Submission(p: { api: Api; caseId: string; link: PatientLinkInfo; privateKey: Uint8Array | undefined }): JSX.Element {
  const { api, caseId, link } = p;
  const [photos, setPhotos] = useState<PatientPhoto[] | null>(null);
  const [failed, setFailed] = useState(false);
  const [viewer, setViewer] = useState<ViewerPhoto[] | null>(null);
  useEffect(() => {
    let live = true;
    if (!p.privateKey) {
      setFailed(true);
      return;
    }
    patientSubmission(caseId, link.linkId)
      .then((records) => openPatientSubmission(link.linkId, p.privateKey!, records))
      .then(
        (ph) => live && setPhotos(ph),
        () => live && setFailed(true),
      );
    return () => {
      live = false;
    };
  }, [caseId, link.linkId, p.privateKey]);
  const viewerPhoto = (ph: PatientPhoto): ViewerPhoto => ({
    id: ph.attachmentId,
    name: `${TAG_NAMES[ph.tag] ?? "Photo"} of ${ph.bodySite} (from the patient)`,
    load: () => jpegUrl(api, caseId, ph),
  });
  return (
    <section class="nhsuk-card dl-patient-photos" data-testid="patient-photos">
      <div class="nhsuk-card__content">
        <h3 class="nhsuk-card__heading nhsuk-heading-s">Photos from the patient</h3>
        <p class="nhsuk-body-s">
          Sent by the patient through a one-time link on {when(link.createdAt)}. They are not signed by a member of the care team: check they show what you
          expect.
        </p>
        {failed ? (
          <p class="nhsuk-error-message" data-testid="patient-photos-failed">
            The patient's photos could not be opened or have been altered.
          </p>
        ) : photos === null ? (
          <p>Decrypting the patient's photos…</p>
        ) : (
          photos.map((ph, i) => <PatientPhotoCard key={ph.attachmentId} api={api} caseId={caseId} photo={ph} n={i + 1} onView={() => setViewer([viewerPhoto(ph)])} />)
        )}
        {viewer && <PhotoViewer photos={viewer} onClose={() => setViewer(null)} />}
      </div>
    </section>
  );
}

export function PatientLinks(p: {
  api: Api;
  caseId: string;
  session: Session;
  realtime: Realtime;
  thread: readonly OpenedEntry[];
  canMake: boolean;
  /** The case key, its epoch and the previous hash, for sealing the `patient_link` message. */
  sealing: () => { caseKey: Uint8Array; epoch: number; previousHash: Uint8Array } | null;
  /** Tell the thread about the stored message (the next one chains to it). */
  onSent: (envelope: Uint8Array, clientMsgId: string) => Promise<void>;
  /** Re-read the thread after the link message was sent. */
  reload: () => Promise<void>;
}): JSX.Element {
  const { api, caseId } = p;
  const [links, setLinks] = useState<PatientLinkInfo[]>([]);
  const [made, setMade] = useState<MadeLink | null>(null);
  const [qr, setQr] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [copied, setCopied] = useState<string | null>(null);
  const [arrived, setArrived] = useState<string | null>(null);
  const linkRef = useRef<HTMLInputElement>(null);
  const keys = dropBoxKeys(p.thread);

  async function refresh() {
    try {
      setLinks(await listPatientLinks(caseId));
    } catch {
      // The list is a convenience next to the thread; the thread still shows.
    }
  }
  useEffect(() => {
    void refresh();
    const off = p.realtime.on("patient_photos", (d) => {
      if (d.case_id !== caseId) return;
      setArrived("New photos have arrived from the patient.");
      void refresh();
    });
    return off;
  }, [caseId, p.realtime]);

  useEffect(() => {
    setQr(null);
    if (!made) return;
    let live = true;
    import("@paulmillr/qr").then(
      (m) => {
        const svg = m.default(made.url, "svg", { ecc: "medium", border: 4 });
        if (live) setQr(qrDataUrl(svg.replace(/^<svg\b/, '<svg shape-rendering="crispEdges"')));
      },
      () => undefined, // no QR code: the link and the copy button still work
    );
    return () => {
      live = false;
    };
  }, [made]);

  async function make() {
    const unlocked = p.session.unlocked;
    const seal = p.sealing();
    if (!unlocked || !seal) {
      setError("Your keys are locked. Unlock Dermline and try again.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const m = await makePatientLink(
        unlocked,
        { ...seal, caseId, ttlMinutes: 24 * 60, maxPhotos: 6, origin: window.location.origin },
        async (id, env) => {
          const r = await api.sendMessage(caseId, id, env);
          await p.onSent(env, id);
          return r;
        },
      );
      setMade(m);
      setCopied(null);
      await p.reload();
      await refresh();
    } catch (e) {
      setError(apiErrorMessage(e));
    } finally {
      setBusy(false);
    }
  }

  async function revoke(linkId: string) {
    setError(null);
    try {
      await revokePatientLink(caseId, linkId);
      if (made?.link.linkId === linkId) setMade(null);
      await refresh();
    } catch (e) {
      setError(apiErrorMessage(e));
    }
  }

  async function copy(url: string) {
    try {
      await navigator.clipboard.writeText(url);
      setCopied("The link is copied. Paste it into a text message or email to the patient.");
    } catch {
      linkRef.current?.select();
      setCopied("Copying is not allowed here. The link is selected: copy it with your device's copy command.");
    }
  }

  if (!p.canMake && links.length === 0) return <></>;
  return (
    <section class="dl-patient-links" data-testid="patient-links" aria-labelledby="patient-links-heading">
      <h2 id="patient-links-heading">Photos from the patient's own phone</h2>
      <p class="nhsuk-body-s" role="status" data-testid="patient-photos-arrived">
        {arrived ?? ""}
      </p>
      {error && (
        <p class="nhsuk-error-message" data-testid="patient-link-error">
          <span class="nhsuk-u-visually-hidden">Error:</span> {error}
        </p>
      )}
      {made && (
        <div class="nhsuk-inset-text" data-testid="patient-link-made">
          <span class="nhsuk-u-visually-hidden">Information: </span>
          <div class="nhsuk-form-group">
            <label class="nhsuk-label" for="patient-link-url">
              Link for the patient
            </label>
            <div class="nhsuk-hint" id="patient-link-url-hint">
              Shown only this once. It works once, for up to {made.link.maxPhotos} photos, until {when(made.link.expiresAt)}.
            </div>
            <input
              class="nhsuk-input"
              id="patient-link-url"
              ref={linkRef}
              type="text"
              readOnly
              value={made.url}
              aria-describedby="patient-link-url-hint"
              spellcheck={false}
              onFocus={(e) => e.currentTarget.select()}
            />
          </div>
          <Button type="button" onClick={() => void copy(made.url)}>
            Copy link
          </Button>
          {copied && (
            <p role="status" data-testid="patient-link-copied">
              {copied}
            </p>
          )}
          {qr && (
            <>
              <p>If the patient is with you, they can scan this code with their phone's camera.</p>
              <img class="dl-qr" src={qr} width={220} height={220} alt="QR code of the link for the patient" data-testid="patient-link-qr" />
            </>
          )}
          <p>Anyone who has the link can send photos with it until it is used, so send it only to the patient.</p>
          <Button type="button" secondary onClick={() => setMade(null)}>
            I have given the link to the patient
          </Button>
        </div>
      )}
      {p.canMake && !made && (
        <>
          <p>Send the patient a one-time link. They can take photos with their own phone without an account; only this case's care team can see them.</p>
          <Button type="button" secondary disabled={busy} onClick={() => void make()}>
            {busy ? "Making the link…" : "Ask the patient for photos"}
          </Button>
        </>
      )}
      {links.length > 0 && (
        <ul class="nhsuk-list" data-testid="patient-link-list">
          {links.map((l) => (
            <li key={l.linkId} data-testid="patient-link-row">
              Link made {when(l.createdAt)}{" "}
              <strong class={`nhsuk-tag ${STATUS_TEXT[l.status][1]}`} data-testid="patient-link-status">
                {STATUS_TEXT[l.status][0]}
              </strong>
              {l.status === "active" && <> (expires {when(l.expiresAt)})</>}
              {p.canMake && l.status === "active" && (
                <button type="button" class="nhsuk-button nhsuk-button--warning dl-small-button" onClick={() => void revoke(l.linkId)}>
                  Cancel this link<span class="nhsuk-u-visually-hidden"> made {when(l.createdAt)}</span>
                </button>
              )}
              {l.status === "used" && <Submission api={api} caseId={caseId} link={l} privateKey={keys.get(l.linkId)} />}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
