import type { JSX } from "preact";
import { useState } from "preact/hooks";
import type { OutcomeCodes, OutcomeDowngrade } from "../api";
import type { OutcomeBody } from "../cases";
import { Button, Checkboxes, ErrorSummary, type FieldError, Radios, Textarea } from "../components";
import { urgencyText } from "../downgrade";

export const CATEGORY_NAMES: Record<string, string> = {
  advice_and_guidance: "Advice and guidance (managed in primary care)",
  referral: "Referral",
  image_rejected: "Images rejected",
};
const URGENCY: [string, string][] = [
  ["routine", "Routine"],
  ["urgent", "Urgent"],
  ["two_week_wait", "Two-week wait (suspected cancer)"],
];
const DESTINATION: [string, string][] = [
  ["dermatology_clinic", "Dermatology clinic"],
  ["skin_surgery", "Skin surgery or plastics"],
  ["other", "Other"],
];
const REASONS: [string, string][] = [
  ["out_of_focus", "Out of focus"],
  ["too_far", "Taken from too far away"],
  ["poor_lighting", "Poor lighting"],
  ["no_dermoscopic_image", "No dermoscopic image"],
  ["wrong_or_missing_locator", "Wrong or missing locator image"],
  ["other", "Other"],
];
const label = (list: [string, string][], v?: string) => list.find(([k]) => k === v)?.[1] ?? v ?? "";

export interface OutcomeDraft {
  codes: OutcomeCodes;
  body: OutcomeBody;
}

/**
 * The structured outcome form (DESIGN.md section 2): a coded category with its coded fields
 * (sent in the clear for the service figures) and the clinical content (encrypted).
 */
export function OutcomeForm({ onSubmit }: { onSubmit: (d: OutcomeDraft) => Promise<string | null> }): JSX.Element {
  const [category, setCategory] = useState("");
  const [summary, setSummary] = useState("");
  const [plan, setPlan] = useState("");
  const [rerefer, setRerefer] = useState("");
  const [urgency, setUrgency] = useState("");
  const [destination, setDestination] = useState("");
  const [reasons, setReasons] = useState(new Set<string>());
  const [retake, setRetake] = useState("");
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  const err = (f: string) => errors.find((e) => e.field === f)?.message ?? null;

  async function submit(ev: Event) {
    ev.preventDefault();
    const found: FieldError[] = [];
    if (!category) found.push({ field: "category", message: "Select the outcome" });
    if (!summary.trim()) found.push({ field: "summary", message: "Enter your advice or the reason for the outcome" });
    if (category === "referral" && !urgency) found.push({ field: "urgency", message: "Select how urgent the referral is" });
    if (category === "referral" && !destination) found.push({ field: "destination", message: "Select where to refer the patient" });
    if (category === "image_rejected" && reasons.size === 0) found.push({ field: "reasons", message: "Select at least one reason" });
    setErrors(found);
    if (found.length) return;
    const details: Record<string, string | string[]> = {};
    const codes: OutcomeCodes = { category: category as OutcomeCodes["category"] };
    if (category === "advice_and_guidance") {
      if (plan.trim()) details.treatment_plan = plan.trim();
      if (rerefer.trim()) details.re_refer_if = rerefer.trim();
    } else if (category === "referral") {
      codes.urgency = urgency as NonNullable<OutcomeCodes["urgency"]>;
      codes.destination = destination as NonNullable<OutcomeCodes["destination"]>;
      details.urgency = urgency;
      details.destination = destination;
    } else {
      codes.reasons = [...reasons].sort();
      details.reasons = codes.reasons;
      if (retake.trim()) details.what_to_retake = retake.trim();
    }
    setBusy(true);
    const problem = await onSubmit({ codes, body: { category: codes.category, summary: summary.trim(), details } });
    setBusy(false);
    if (problem) setErrors([{ field: "category", message: problem }]);
  }

  return (
    <form onSubmit={submit} noValidate>
      <h2>Close the case with an outcome</h2>
      <ErrorSummary errors={errors} />
      <Radios
        id="category"
        legend="Outcome"
        options={Object.entries(CATEGORY_NAMES) as [string, string][]}
        value={category}
        onChange={setCategory}
        error={err("category")}
      />
      {category === "referral" && (
        <>
          <Radios id="urgency" legend="Urgency" options={URGENCY} value={urgency} onChange={setUrgency} error={err("urgency")} />
          <Radios id="destination" legend="Refer to" options={DESTINATION} value={destination} onChange={setDestination} error={err("destination")} />
        </>
      )}
      {category === "image_rejected" && (
        <>
          <Checkboxes id="reasons" legend="Why the images cannot be used" hint="Select all that apply" options={REASONS} value={reasons} onChange={setReasons} error={err("reasons")} />
          <Textarea id="retake" label="What to retake (optional)" value={retake} onInput={setRetake} rows={2} />
        </>
      )}
      <Textarea id="summary" label="Advice for the GP" hint="The advice, diagnosis or reason, in plain words" value={summary} onInput={setSummary} error={err("summary")} />
      {category === "advice_and_guidance" && (
        <>
          <Textarea id="plan" label="Treatment plan (optional)" value={plan} onInput={setPlan} rows={2} />
          <Textarea id="rerefer" label="When to refer again (optional)" value={rerefer} onInput={setRerefer} rows={2} />
        </>
      )}
      <Button disabled={busy}>{busy ? "Encrypting and closing…" : "Close case"}</Button>
    </form>
  );
}

/**
 * The outcome as both sides see it: coded fields and the decrypted advice. A two-week-wait
 * referral lowered by the referring GP shows the original decision and the GP's reason.
 */
export function OutcomePanel({
  codes,
  body,
  reason,
}: {
  codes: OutcomeCodes & { downgrade?: OutcomeDowngrade | undefined };
  body: OutcomeBody;
  reason?: string | null;
}): JSX.Element {
  const rows: [string, string][] = [["Outcome", CATEGORY_NAMES[codes.category] ?? codes.category]];
  if (codes.urgency) rows.push(["Urgency", codes.downgrade ? urgencyText(codes) : label(URGENCY, codes.urgency)]);
  if (codes.downgrade) rows.push(["Reason for the change", reason ?? "The reason is in the case thread."]);
  if (codes.destination) rows.push(["Refer to", label(DESTINATION, codes.destination)]);
  if (codes.reasons?.length) rows.push(["Reasons", codes.reasons.map((r) => label(REASONS, r)).join(", ")]);
  rows.push(["Advice", body.summary]);
  if (typeof body.details.treatment_plan === "string") rows.push(["Treatment plan", body.details.treatment_plan]);
  if (typeof body.details.re_refer_if === "string") rows.push(["Refer again if", body.details.re_refer_if]);
  if (typeof body.details.what_to_retake === "string") rows.push(["What to retake", body.details.what_to_retake]);
  return (
    <div class="nhsuk-card nhsuk-card--feature" data-testid="outcome">
      <div class="nhsuk-card__content nhsuk-card__content--feature">
        <h2 class="nhsuk-card__heading nhsuk-card__heading--feature">Outcome</h2>
        <dl class="nhsuk-summary-list">
          {rows.map(([k, v]) => (
            <div class="nhsuk-summary-list__row" key={k}>
              <dt class="nhsuk-summary-list__key">{k}</dt>
              <dd class="nhsuk-summary-list__value">{v}</dd>
            </div>
          ))}
        </dl>
      </div>
    </div>
  );
}
