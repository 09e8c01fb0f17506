import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { type PreparedPhoto, PhotoError, preparePhoto } from "../../photo/index";

const PHOTO_ERRORS: Record<string, string> = {
  photo_empty: "The selected file is empty",
  photo_too_large: "The photo must be smaller than the size limit",
  photo_unsupported_format: "The photo must be a JPEG or PNG",
  photo_truncated: "The photo file is incomplete. Take or select it again",
  photo_corrupt: "The photo file is damaged. Take or select it again",
  photo_too_many_pixels: "The photo has too many pixels",
};
const REASONS: Record<string, string> = {
  blurred: "it looks blurred",
  over_exposed: "it looks too bright",
  under_exposed: "it looks too dark",
  low_resolution: "it has a low resolution",
  framing: "the lesion may not be in the centre",
};

/**
 * One photo input (NHS.UK file upload): the photo is prepared on the device (upright, metadata
 * and GPS stripped, long edge capped: src/photo) and its quality checked; a poor photo gives a
 * warning before sending, never a block. The preview is a blob: URL of the thumbnail.
 */
export function PhotoField(p: {
  id: string;
  label: string;
  hint: string;
  onChange: (prepared: PreparedPhoto | null) => void;
}): JSX.Element {
  const [error, setError] = useState<string | null>(null);
  const [prepared, setPrepared] = useState<PreparedPhoto | null>(null);
  const [preview, setPreview] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => () => {
    if (preview) URL.revokeObjectURL(preview);
  }, [preview]);

  async function pick(ev: Event) {
    const file = (ev.currentTarget as HTMLInputElement).files?.[0];
    setError(null);
    setPrepared(null);
    p.onChange(null);
    if (!file) return;
    setBusy(true);
    try {
      const out = await preparePhoto(file);
      setPrepared(out);
      setPreview(URL.createObjectURL(out.thumbnail));
      p.onChange(out);
    } catch (e) {
      setError(e instanceof PhotoError ? (PHOTO_ERRORS[e.code] ?? "The photo cannot be used") : "The photo cannot be used");
    } finally {
      setBusy(false);
    }
  }

  const describedBy = [`${p.id}-hint`, error ? `${p.id}-error` : ""].filter(Boolean).join(" ");
  return (
    <div class={`nhsuk-form-group${error ? " nhsuk-form-group--error" : ""}`}>
      <label class="nhsuk-label" for={p.id}>
        {p.label}
      </label>
      <div class="nhsuk-hint" id={`${p.id}-hint`}>
        {p.hint}
      </div>
      {error && (
        <span class="nhsuk-error-message" id={`${p.id}-error`}>
          <span class="nhsuk-u-visually-hidden">Error:</span> {error}
        </span>
      )}
      <input class="nhsuk-file-upload" id={p.id} name={p.id} type="file" accept="image/jpeg,image/png" aria-describedby={describedBy} onChange={pick} />
      {busy && <p class="nhsuk-body-s">Preparing the photo on this device…</p>}
      {prepared && preview && (
        <div class="dl-photo-preview" data-testid={`${p.id}-prepared`}>
          <img src={preview} alt={`Preview of the ${p.label.toLowerCase()}`} width={prepared.thumbWidth} height={prepared.thumbHeight} />
          {prepared.quality.verdict === "warn" ? (
            <p class="nhsuk-body-s" data-testid={`${p.id}-warning`}>
              <strong>Check this photo:</strong> {prepared.quality.reasons.map((r) => REASONS[r] ?? r).join(", ")}. You can still send it, or
              take it again.
            </p>
          ) : (
            <p class="nhsuk-body-s">Photo ready: location data and other metadata removed.</p>
          )}
        </div>
      )}
    </div>
  );
}
