import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { type FieldError, Select, Textarea, TextInput } from "../components";
import { PHOTO_TAGS, type PhotoTag, type PhotoToSend, QUALITY_REASON_TEXT, sendAnywayCaption } from "../photos";
import { type PreparedPhoto, PhotoError, preparePhoto } from "../../photo/index";

const PHOTO_ERRORS: Record<string, string> = {
  photo_empty: "The selected file is empty",
  photo_too_large: "The photo must be smaller than the size limit",
  photo_unsupported_format: "The photo must be a JPEG or PNG",
  photo_truncated: "The photo file is incomplete. Take or select it again",
  photo_corrupt: "The photo file is damaged. Take or select it again",
  photo_too_many_pixels: "The photo has too many pixels",
};
export const TAG_LABELS: Record<PhotoTag, string> = { locator: "Locator (where on the body)", close_up: "Close-up", dermoscopic: "Dermoscopic" };

/** One photo chosen on this device, prepared (src/photo) and waiting to be sent. */
export interface PhotoDraft {
  key: string;
  name: string;
  prepared: PreparedPhoto;
  preview: string;
  tag: PhotoTag | "";
  bodySite: string;
  /** "Send anyway" for a photo with a quality warning, with the GP's stated reason. */
  anyway: boolean;
  reason: string;
}

/**
 * Errors for the NHS.UK error summary (field ids match the inputs below): every photo needs a
 * type and a body site; a photo with a quality warning is sent only with "send anyway" and a
 * stated reason (the verdict never blocks, but the decision is recorded).
 */
export function photoErrors(id: string, drafts: readonly PhotoDraft[]): FieldError[] {
  const out: FieldError[] = [];
  drafts.forEach((d, i) => {
    const n = i + 1;
    if (!d.tag) out.push({ field: `${id}-${n}-tag`, message: `Select the type of photo ${n}` });
    if (!d.bodySite.trim()) out.push({ field: `${id}-${n}-site`, message: `Enter the body site of photo ${n}` });
    if (d.prepared.quality.verdict === "warn") {
      if (!d.anyway) out.push({ field: `${id}-${n}-anyway`, message: `Photo ${n} may not be good enough: take it again, remove it, or choose to send it anyway` });
      else if (!d.reason.trim()) out.push({ field: `${id}-${n}-reason`, message: `Enter why you are sending photo ${n} despite the warning` });
    }
  });
  return out;
}

/** The drafts as photos to seal (call after photoErrors returned none). */
export async function draftsToSend(drafts: readonly PhotoDraft[]): Promise<PhotoToSend[]> {
  const out: PhotoToSend[] = [];
  for (const d of drafts) {
    if (!d.tag) throw new RangeError("photo type missing");
    const warn = d.prepared.quality.verdict === "warn";
    out.push({
      jpeg: new Uint8Array(await d.prepared.jpeg.arrayBuffer()),
      thumbnail: new Uint8Array(await d.prepared.thumbnail.arrayBuffer()),
      tag: d.tag,
      bodySite: d.bodySite.trim(),
      ...(warn ? { caption: sendAnywayCaption(d.prepared.quality.reasons, d.reason) } : {}),
    });
  }
  return out;
}

/**
 * Photo capture: take photos with the camera or choose several from the gallery; each
 * is prepared on this device (upright, every metadata block including GPS removed, long edge
 * capped, thumbnail made: src/photo) and its quality checked BEFORE anything is sent. Each photo
 * is tagged (locator, close-up, dermoscopic) with its body site. Controlled: the parent keeps
 * the drafts and shows `photoErrors` in its error summary.
 */
export function PhotoCapture(p: {
  id: string;
  drafts: PhotoDraft[];
  onChange: (drafts: PhotoDraft[]) => void;
  defaultBodySite: string;
  errors: FieldError[];
  legend?: string;
}): JSX.Element {
  const [pickError, setPickError] = useState<string | null>(null);
  const [busy, setBusy] = useState(0);
  const drafts = useRef(p.drafts);
  drafts.current = p.drafts;
  const err = (f: string) => p.errors.find((e) => e.field === f)?.message ?? null;
  useEffect(() => () => drafts.current.forEach((d) => URL.revokeObjectURL(d.preview)), []);

  async function pick(ev: Event) {
    const input = ev.currentTarget as HTMLInputElement;
    const files = [...(input.files ?? [])];
    input.value = "";
    setPickError(null);
    setBusy(files.length);
    const added: PhotoDraft[] = [];
    const failed: string[] = [];
    for (const file of files) {
      try {
        const prepared = await preparePhoto(file);
        added.push({ key: crypto.randomUUID(), name: file.name, prepared, preview: URL.createObjectURL(prepared.thumbnail), tag: "", bodySite: p.defaultBodySite, anyway: false, reason: "" });
      } catch (e) {
        // The file name is the GP's own; no clinical content is logged or sent.
        failed.push(`${file.name}: ${e instanceof PhotoError ? (PHOTO_ERRORS[e.code] ?? "it cannot be used") : "it cannot be used"}`);
      } finally {
        setBusy((b) => b - 1);
      }
    }
    if (failed.length) setPickError(failed.join(". "));
    p.onChange([...drafts.current, ...added]);
  }

  const update = (key: string, patch: Partial<PhotoDraft>) => p.onChange(drafts.current.map((d) => (d.key === key ? { ...d, ...patch } : d)));
  const remove = (key: string) => {
    const d = drafts.current.find((x) => x.key === key);
    if (d) URL.revokeObjectURL(d.preview);
    p.onChange(drafts.current.filter((x) => x.key !== key));
  };

  // A file that could not be prepared, or the parent's error for the whole field.
  const fieldError = pickError ?? err(p.id);
  return (
    <div class={`nhsuk-form-group${fieldError ? " nhsuk-form-group--error" : ""}`} data-testid={`${p.id}-capture`}>
      <fieldset class="nhsuk-fieldset" aria-describedby={`${p.id}-hint${fieldError ? ` ${p.id}-error` : ""}`}>
        <legend class="nhsuk-fieldset__legend nhsuk-fieldset__legend--s">{p.legend ?? "Photos"}</legend>
        <div class="nhsuk-hint" id={`${p.id}-hint`}>
          Take a locator photo (where on the body), a close-up and, if you can, a dermoscopic photo. Each is checked on this device before it is sent.
        </div>
        {fieldError && (
          <span class="nhsuk-error-message" id={`${p.id}-error`}>
            <span class="nhsuk-u-visually-hidden">Error:</span> {fieldError}
          </span>
        )}
        <div class="dl-photo-pickers">
          <label class="nhsuk-label" for={`${p.id}-camera`}>
            Take photos with the camera
          </label>
          <input class="nhsuk-file-upload" id={`${p.id}-camera`} type="file" accept="image/*" capture="environment" multiple onChange={pick} />
          <label class="nhsuk-label" for={p.id}>
            Or choose photos from the gallery
          </label>
          <input class="nhsuk-file-upload" id={p.id} type="file" accept="image/*" multiple onChange={pick} />
        </div>
        {busy > 0 && (
          <p class="nhsuk-body-s" role="status">
            Preparing {busy} photo{busy > 1 ? "s" : ""} on this device…
          </p>
        )}
        {p.drafts.map((d, i) => {
          const n = i + 1;
          const warn = d.prepared.quality.verdict === "warn";
          return (
            <div class={`nhsuk-card dl-photo-draft${warn ? " dl-photo-draft--warn" : ""}`} key={d.key} data-testid={`${p.id}-${n}`}>
              <div class="nhsuk-card__content">
                <h3 class="nhsuk-heading-xs">Photo {n}</h3>
                <img src={d.preview} alt={`Photo ${n} as it will be sent`} width={d.prepared.thumbWidth} height={d.prepared.thumbHeight} />
                {warn ? (
                  <div class="nhsuk-warning-callout" data-testid={`${p.id}-${n}-warning`}>
                    <h4 class="nhsuk-warning-callout__label">
                      <span class="nhsuk-u-visually-hidden">Important: </span>Check this photo
                    </h4>
                    <p>It may not be good enough for a diagnosis: {d.prepared.quality.reasons.map((r) => QUALITY_REASON_TEXT[r] ?? r).join(", ")}. Take it again if you can.</p>
                  </div>
                ) : (
                  <p class="nhsuk-body-s" data-testid={`${p.id}-${n}-ok`}>
                    Quality check passed. Location data and other metadata removed.
                  </p>
                )}
                <Select
                  id={`${p.id}-${n}-tag`}
                  label="Type of photo"
                  options={[["", "Select the type"], ...PHOTO_TAGS.map((t): [string, string] => [t, TAG_LABELS[t]])]}
                  value={d.tag}
                  onChange={(v) => update(d.key, { tag: v as PhotoTag | "" })}
                  error={err(`${p.id}-${n}-tag`)}
                />
                <TextInput id={`${p.id}-${n}-site`} label="Body site" value={d.bodySite} onInput={(v) => update(d.key, { bodySite: v })} error={err(`${p.id}-${n}-site`)} />
                {warn && (
                  <div class={`nhsuk-form-group${err(`${p.id}-${n}-anyway`) ? " nhsuk-form-group--error" : ""}`}>
                    {err(`${p.id}-${n}-anyway`) && (
                      <span class="nhsuk-error-message" id={`${p.id}-${n}-anyway-error`}>
                        <span class="nhsuk-u-visually-hidden">Error:</span> {err(`${p.id}-${n}-anyway`)}
                      </span>
                    )}
                    <div class="nhsuk-checkboxes">
                      <div class="nhsuk-checkboxes__item">
                        <input
                          class="nhsuk-checkboxes__input"
                          id={`${p.id}-${n}-anyway`}
                          type="checkbox"
                          checked={d.anyway}
                          aria-describedby={err(`${p.id}-${n}-anyway`) ? `${p.id}-${n}-anyway-error` : undefined}
                          onChange={(e) => update(d.key, { anyway: (e.currentTarget as HTMLInputElement).checked })}
                        />
                        <label class="nhsuk-label nhsuk-checkboxes__label" for={`${p.id}-${n}-anyway`}>
                          Send photo {n} anyway
                        </label>
                      </div>
                    </div>
                  </div>
                )}
                {warn && d.anyway && (
                  <Textarea
                    id={`${p.id}-${n}-reason`}
                    label={`Why are you sending photo ${n} anyway?`}
                    hint="The dermatologist sees this with the photo"
                    value={d.reason}
                    onInput={(v) => update(d.key, { reason: v })}
                    error={err(`${p.id}-${n}-reason`)}
                    rows={2}
                  />
                )}
                <button type="button" class="nhsuk-button nhsuk-button--secondary dl-small-button" onClick={() => remove(d.key)}>
                  Remove photo {n}
                </button>
              </div>
            </div>
          );
        })}
      </fieldset>
    </div>
  );
}
