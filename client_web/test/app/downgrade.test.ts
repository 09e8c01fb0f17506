/**
 * The two-week-wait downgrade rules of the web client (src/app/downgrade.ts): who sees the
 * control, the form's errors, how the changed urgency reads, and which message is the reason.
 */
import { describe, expect, it } from "vitest";
import type { CaseDetail, OutcomeOut } from "../../src/app/api";
import { MAX_REASON_LENGTH, canDowngrade, downgradeErrors, downgradeReason, urgencyText } from "../../src/app/downgrade";

const GP = "11111111-1111-4111-8111-111111111111";
const DERM = "22222222-2222-4222-8222-222222222222";

function detail(state: string, outcome: Partial<OutcomeOut> | null, createdBy = GP): CaseDetail {
  return {
    case: {
      caseId: "c",
      practiceId: "p",
      serviceId: "s",
      createdBy,
      state,
      priority: "routine",
      updatedAt: "2026-11-28T09:00:00+00:00",
      outcomeCategory: outcome?.category ?? null,
      lastSeq: 3,
      claimedBy: DERM,
    },
    participants: [],
    caseKeys: [],
    outcome: outcome ? { category: "referral", payload: new Uint8Array(), authorId: DERM, ...outcome } : null,
  };
}

describe("who may change the urgency", () => {
  const tww = { category: "referral" as const, urgency: "two_week_wait" as const, destination: "dermatology_clinic" as const };
  it("the referring GP of a closed two-week-wait referral", () => {
    expect(canDowngrade(detail("closed", tww), GP)).toBe(true);
  });
  it("nobody else, and not for other outcomes or open cases", () => {
    expect(canDowngrade(detail("closed", tww), DERM)).toBe(false);
    expect(canDowngrade(detail("closed", tww, DERM), GP)).toBe(false);
    expect(canDowngrade(detail("closed", { ...tww, urgency: "urgent" }), GP)).toBe(false);
    expect(canDowngrade(detail("closed", { category: "advice_and_guidance" }), GP)).toBe(false);
    expect(canDowngrade(detail("in_review", null), GP)).toBe(false);
    expect(canDowngrade(null, GP)).toBe(false);
  });
});

describe("the form", () => {
  it("needs a lower urgency and a reason", () => {
    expect(downgradeErrors({ urgency: "", reason: "  " })).toEqual([
      { field: "downgrade-urgency", message: "Select the new urgency" },
      { field: "downgrade-reason", message: "Enter why you are changing the urgency" },
    ]);
    expect(downgradeErrors({ urgency: "two_week_wait", reason: "seen" }).map((e) => e.field)).toEqual(["downgrade-urgency"]);
    expect(downgradeErrors({ urgency: "urgent", reason: "x".repeat(MAX_REASON_LENGTH + 1) }).map((e) => e.field)).toEqual(["downgrade-reason"]);
    expect(downgradeErrors({ urgency: "routine", reason: "Seen in clinic; benign" })).toEqual([]);
    expect(downgradeErrors({ urgency: "urgent", reason: "x".repeat(MAX_REASON_LENGTH) })).toEqual([]);
  });
});

describe("how the outcome reads", () => {
  it("keeps the original decision visible", () => {
    const at = "2026-11-28T10:00:00+00:00";
    expect(urgencyText({ category: "referral", urgency: "two_week_wait" })).toBe("Two-week wait (suspected cancer)");
    expect(urgencyText({ category: "referral", urgency: "urgent", downgrade: { fromUrgency: "two_week_wait" } })).toBe(
      "Urgent (downgraded from two-week wait by the referring GP)",
    );
    const o = { downgrade: { fromUrgency: "two_week_wait" as const, by: GP, at, reasonMsgId: "m2" } };
    const thread = [
      { clientMsgId: "m1", sender: { userId: GP }, body: { text: "history" } },
      { clientMsgId: "m2", sender: { userId: GP }, body: { text: "Seen today: regressing" } },
    ];
    expect(downgradeReason(o, thread)).toBe("Seen today: regressing");
    // Only the message the record names, and only from the GP who made the change.
    expect(downgradeReason({ downgrade: { ...o.downgrade, reasonMsgId: "m9" } }, thread)).toBeNull();
    expect(downgradeReason({ downgrade: { ...o.downgrade, by: DERM } }, thread)).toBeNull();
    expect(downgradeReason({}, thread)).toBeNull();
    expect(downgradeReason(null, thread)).toBeNull();
  });
});
