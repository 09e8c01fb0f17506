/**
 * The two-week-wait downgrade (DESIGN.md section 2, docs/api.md): only the referring GP may
 * lower a closed two-week-wait referral to urgent or routine. The GP's reason travels as an
 * end-to-end encrypted text message in the thread; the server stores the new coded urgency
 * and keeps the original (`OutcomeOut.downgrade`). Pure rules, no DOM, tested in Vitest.
 */
import type { CaseDetail, OutcomeCodes } from "./api";
import type { FieldError } from "./components";

export type LowerUrgency = "urgent" | "routine";

export const LOWER_URGENCIES: [LowerUrgency, string][] = [
  ["urgent", "Urgent"],
  ["routine", "Routine"],
];

/** Longest reason accepted in the form: a message, not a letter. */
export const MAX_REASON_LENGTH = 2000;

const URGENCY_NAMES: Record<string, string> = {
  two_week_wait: "Two-week wait (suspected cancer)",
  urgent: "Urgent",
  routine: "Routine",
};

export const urgencyName = (u: string | undefined): string => (u ? (URGENCY_NAMES[u] ?? u) : "");

/** The "Change urgency" control shows for the referring GP of a closed two-week-wait referral. */
export function canDowngrade(detail: CaseDetail | null, userId: string): boolean {
  if (!detail || !detail.outcome) return false;
  const o = detail.outcome;
  return detail.case.state === "closed" && detail.case.createdBy === userId && o.category === "referral" && o.urgency === "two_week_wait";
}

/** Errors of the form, in page order (the NHS.UK error summary lists them). */
export function downgradeErrors(form: { urgency: string; reason: string }): FieldError[] {
  const found: FieldError[] = [];
  if (!LOWER_URGENCIES.some(([k]) => k === form.urgency)) found.push({ field: "downgrade-urgency", message: "Select the new urgency" });
  const reason = form.reason.trim();
  if (!reason) found.push({ field: "downgrade-reason", message: "Enter why you are changing the urgency" });
  else if (reason.length > MAX_REASON_LENGTH) found.push({ field: "downgrade-reason", message: `The reason must be ${MAX_REASON_LENGTH} characters or fewer` });
  return found;
}

/**
 * The urgency as both sides read it, with the original decision kept visible:
 * "Urgent (downgraded from two-week wait by the referring GP)".
 */
export function urgencyText(o: OutcomeCodes & { downgrade?: { fromUrgency: string } | undefined }): string {
  const now = urgencyName(o.urgency);
  if (!o.downgrade) return now;
  const from = o.downgrade.fromUrgency === "two_week_wait" ? "two-week wait" : urgencyName(o.downgrade.fromUrgency).toLowerCase();
  return `${now} (downgraded from ${from} by the referring GP)`;
}

/**
 * The GP's reason: the text of the verified thread message the stored downgrade names, sent by
 * the GP who made the change (a message from anyone else is never shown as the reason).
 */
export function downgradeReason(
  o: { downgrade?: { reasonMsgId: string; by: string } | undefined } | null | undefined,
  thread: readonly { clientMsgId: string; sender: { userId: string } | null; body: Record<string, unknown> }[],
): string | null {
  const d = o?.downgrade;
  if (!d) return null;
  const m = thread.find((t) => t.clientMsgId === d.reasonMsgId && t.sender?.userId === d.by);
  return m && typeof m.body.text === "string" ? m.body.text : null;
}
