/**
 * The retention date the closing web client sends (src/app/retention.ts), from the table the
 * Python client checks too: tests/vectors/retention.json (group RetentionDate). The
 * closure date is an input (a fake clock), never the real day.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ContentType } from "../../src/crypto/content";
import { RetentionError, closeRetention, retentionFor, todayUtc } from "../../src/app/retention";

interface Case {
  tcId: number;
  comment: string;
  result: "valid" | "invalid";
  date_of_birth: string;
  closed_on: string;
  age_at_closure?: number;
  rule?: string;
  rule_date?: string;
  retain_until?: string;
}

const doc = JSON.parse(readFileSync(new URL("../../../tests/vectors/retention.json", import.meta.url), "utf8"));
const cases: Case[] = doc.testGroups.find((g: { type: string }) => g.type === "RetentionDate").tests;

describe("retention date (shared table)", () => {
  it("covers every rule", () => {
    expect(new Set(cases.filter((c) => c.result === "valid").map((c) => c.rule))).toEqual(new Set(["adult", "child", "child_17"]));
  });
  for (const c of cases) {
    it(`${c.tcId}: ${c.comment}`, () => {
      if (c.result === "invalid") {
        expect(() => retentionFor(c.date_of_birth, c.closed_on)).toThrow(RetentionError);
        return;
      }
      expect(retentionFor(c.date_of_birth, c.closed_on)).toEqual({
        ageAtClosure: c.age_at_closure,
        rule: c.rule,
        ruleDate: c.rule_date,
        retainUntil: c.retain_until,
      });
    });
  }
  it("refuses a malformed or impossible date", () => {
    expect(() => retentionFor("15/03/1984", "2026-11-28")).toThrow(RetentionError);
    expect(() => retentionFor("2023-02-29", "2026-11-28")).toThrow(RetentionError);
  });
});

describe("the close form's retention field", () => {
  const history = { contentType: ContentType.CLINICAL_HISTORY, body: { patient: { date_of_birth: "2009-11-28" } } };
  const text = { contentType: ContentType.TEXT, body: { text: "hello" } };
  const now = new Date("2026-11-28T23:30:00Z");

  it("reads the date of birth from the clinical history and uses the UTC day", () => {
    expect(todayUtc(now)).toBe("2026-11-28");
    expect(closeRetention([text, history], ContentType.CLINICAL_HISTORY, now)).toEqual({ retain_until: "2035-12-31" });
  });
  it("sends nothing without a readable date of birth (the server then keeps the case longest)", () => {
    expect(closeRetention([text], ContentType.CLINICAL_HISTORY, now)).toBeUndefined();
    const bad = { contentType: ContentType.CLINICAL_HISTORY, body: { patient: { date_of_birth: "2030-01-01" } } };
    expect(closeRetention([bad], ContentType.CLINICAL_HISTORY, now)).toBeUndefined();
  });
});
