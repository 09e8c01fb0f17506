import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { Button, ErrorSummary, type FieldError, Radios, Textarea } from "../components";
import { LOWER_URGENCIES, type LowerUrgency, MAX_REASON_LENGTH, downgradeErrors, urgencyName } from "../downgrade";

type Step = "closed" | "form" | "check";

/**
 * "Change urgency" for the referring GP of a closed two-week-wait referral (DESIGN.md section
 * 2): choose urgent or routine, give a reason (required; sent end-to-end encrypted into the
 * thread so the dermatologist sees why), check the change, then confirm. NHS.UK patterns:
 * error summary that takes focus, then "Check your answers" before the change is made.
 */
export function DowngradeControl(p: { from: string; onSubmit: (urgency: LowerUrgency, reason: string) => Promise<string | null> }): JSX.Element {
  const [step, setStep] = useState<Step>("closed");
  const [urgency, setUrgency] = useState("");
  const [reason, setReason] = useState("");
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  const err = (f: string) => errors.find((e) => e.field === f)?.message ?? null;

  // Each step moves focus to its heading, so a screen reader announces where the user is.
  useEffect(() => {
    if (step !== "closed" && errors.length === 0) heading.current?.focus();
  }, [step]);

  function check(ev: Event) {
    ev.preventDefault();
    const found = downgradeErrors({ urgency, reason });
    setErrors(found);
    if (found.length === 0) setStep("check");
  }

  async function confirm() {
    setBusy(true);
    const problem = await p.onSubmit(urgency as LowerUrgency, reason.trim());
    setBusy(false);
    if (problem) {
      setErrors([{ field: "downgrade-urgency", message: problem }]);
      setStep("form");
      return;
    }
    setErrors([]);
    setUrgency("");
    setReason("");
    setStep("closed");
  }

  if (step === "closed") {
    return (
      <div data-testid="downgrade">
        <Button type="button" secondary onClick={() => setStep("form")}>
          Change urgency
        </Button>
      </div>
    );
  }
  if (step === "check") {
    return (
      <div data-testid="downgrade">
        <h2 ref={heading} tabIndex={-1}>
          Check the change before you confirm it
        </h2>
        <dl class="nhsuk-summary-list" data-testid="downgrade-check">
          <div class="nhsuk-summary-list__row">
            <dt class="nhsuk-summary-list__key">Urgency now</dt>
            <dd class="nhsuk-summary-list__value">{urgencyName(p.from)}</dd>
          </div>
          <div class="nhsuk-summary-list__row">
            <dt class="nhsuk-summary-list__key">New urgency</dt>
            <dd class="nhsuk-summary-list__value">{urgencyName(urgency)}</dd>
          </div>
          <div class="nhsuk-summary-list__row">
            <dt class="nhsuk-summary-list__key">Reason</dt>
            <dd class="nhsuk-summary-list__value">{reason.trim()}</dd>
          </div>
        </dl>
        <div class="nhsuk-warning-callout">
          <h3 class="nhsuk-warning-callout__label">
            <span class="nhsuk-u-visually-hidden">Important: </span>You cannot undo this
          </h3>
          <p>The referral stops being a two-week wait. The dermatologist sees the new urgency and your reason; the original decision stays on the record.</p>
        </div>
        <Button type="button" disabled={busy} onClick={() => void confirm()}>
          {busy ? "Encrypting and saving…" : "Confirm change"}
        </Button>{" "}
        <Button type="button" secondary disabled={busy} onClick={() => setStep("form")}>
          Change your answers
        </Button>
      </div>
    );
  }
  return (
    <form onSubmit={check} noValidate data-testid="downgrade">
      <h2 ref={heading} tabIndex={-1}>
        Change the urgency of this referral
      </h2>
      <ErrorSummary errors={errors} />
      <p>Only you, the referring GP, can lower a two-week-wait referral. It is now: {urgencyName(p.from)}.</p>
      <Radios id="downgrade-urgency" legend="New urgency" options={LOWER_URGENCIES} value={urgency} onChange={setUrgency} error={err("downgrade-urgency")} />
      <Textarea
        id="downgrade-reason"
        label="Why are you changing the urgency?"
        hint={`The dermatologist sees this in the case thread. It is encrypted before it leaves this device. Up to ${MAX_REASON_LENGTH} characters.`}
        value={reason}
        onInput={setReason}
        error={err("downgrade-reason")}
        rows={3}
      />
      <Button>Continue</Button>{" "}
      <Button
        type="button"
        secondary
        onClick={() => {
          setErrors([]);
          setStep("closed");
        }}
      >
        Cancel
      </Button>
    </form>
  );
}
