/**
 * Pinned keys (docs/protocol.md section 18): first use pins silently; a changed key of an
 * unverified person blocks until accepted; a verified person's change is a hard stop until
 * verified again; a records key that changes without a chain is refused; and a case whose
 * server substitutes a participant's keys is read with the pinned keys (forged messages are
 * unreadable) while the page refuses to send.
 */
import { describe, expect, it } from "vitest";
import type { CaseDetail, Participant, ThreadMessage } from "../../src/app/api";
import { buildNewCase, openMessages, openMyCaseKeys, sealText } from "../../src/app/cases";
import { messageHash, safetyNumber } from "../../src/app/cryptoFacade";
import {
  PinStore,
  acceptChange,
  badge,
  blocked,
  changeWarning,
  emptyPins,
  markVerified,
  memoryPinBackend,
  observePerson,
  observeRecordsKey,
  recordChain,
} from "../../src/app/pins";
import { checkCaseTrust } from "../../src/app/trust";
import { history, user } from "../helpers/people";

const keysOf = (u: Awaited<ReturnType<typeof user>>) => ({ signingPublicKey: u.sig.publicKey, encryptionPublicKey: u.enc.publicKey });

describe("pinning people's keys", () => {
  it("first use pins silently, the same keys pass, a change blocks until accepted", async () => {
    const dan = await user();
    const attacker = await user();
    const pins = emptyPins("me");
    const first = observePerson(pins, { userId: "dan", name: "Dr Dan Dermatologist", ...keysOf(dan) }, 1000);
    expect(first.state).toBe("first_use");
    expect(badge(first.pin).text).toBe("Not verified");
    expect(observePerson(pins, { userId: "dan", name: "Dr Dan Dermatologist", ...keysOf(dan) }, 2000).state).toBe("same");
    const changed = observePerson(pins, { userId: "dan", name: "Dr Dan Dermatologist", ...keysOf(attacker) }, 3000);
    expect(changed.state).toBe("changed");
    expect(blocked([first, changed])).toEqual([changed]);
    expect(changeWarning(changed)).toMatch(/^Dr Dan Dermatologist's security keys have changed\./);
    expect(badge(changed.pin).text).toBe("Security keys changed");
    // The pinned keys are untouched until the user accepts.
    expect(pins.people.dan!.signingPublicKey).toEqual(dan.sig.publicKey);
    expect(() => markVerified(pins, "dan")).toThrow();
    acceptChange(pins, "dan", false, 4000);
    expect(pins.people.dan!.signingPublicKey).toEqual(attacker.sig.publicKey);
    expect(observePerson(pins, { userId: "dan", name: "Dr Dan Dermatologist", ...keysOf(attacker) }, 5000).state).toBe("same");
  });

  it("a server that goes back to the pinned keys clears the pending change", async () => {
    const dan = await user();
    const other = await user();
    const pins = emptyPins("me");
    observePerson(pins, { userId: "dan", name: "Dan", ...keysOf(dan) }, 1);
    observePerson(pins, { userId: "dan", name: "Dan", ...keysOf(other) }, 2);
    expect(observePerson(pins, { userId: "dan", name: "Dan", ...keysOf(dan) }, 3).state).toBe("same");
    expect(pins.people.dan!.changed).toBeNull();
    expect(() => acceptChange(pins, "dan", false, 4)).toThrow();
  });

  it("a verified person's change is a hard stop: accepting needs verifying again", async () => {
    const dan = await user();
    const other = await user();
    const pins = emptyPins("me");
    observePerson(pins, { userId: "dan", name: "Dan", ...keysOf(dan) }, 1);
    markVerified(pins, "dan");
    expect(badge(pins.people.dan!).text).toBe("Verified");
    const c = observePerson(pins, { userId: "dan", name: "Dan", ...keysOf(other) }, 2);
    expect(c.state).toBe("changed_verified");
    expect(changeWarning(c)).toMatch(/since you verified them/);
    expect(() => acceptChange(pins, "dan", false, 3)).toThrow("verified again");
    acceptChange(pins, "dan", true, 3);
    expect(pins.people.dan!.verified).toBe(true);
    expect(pins.people.dan!.encryptionPublicKey).toEqual(other.enc.publicKey);
  });

  it("certified people get the organisation's badge", async () => {
    const dan = await user();
    const pins = emptyPins("me");
    const c = observePerson(pins, { userId: "dan", name: "Dan", certifiedBy: "North Dermatology", ...keysOf(dan) }, 1);
    expect(badge(c.pin)).toEqual({ text: "Certified by North Dermatology", tag: "nhsuk-tag--blue" });
  });

  it("a records key is pinned on first use and a different one is refused without a chain", async () => {
    const a = (await user()).enc.publicKey;
    const b = (await user()).enc.publicKey;
    const pins = emptyPins("me");
    expect(observeRecordsKey(pins, "org", a, null, 1)).toBe("first_use");
    expect(observeRecordsKey(pins, "org", a, 0, 2)).toBe("same");
    expect(pins.records.org!.sequence).toBe(0);
    expect(observeRecordsKey(pins, "org", b, null, 3)).toBe("changed");
    expect(pins.records.org!.publicKey).toEqual(a);
    recordChain(pins, "org", b, 1, 4);
    expect(observeRecordsKey(pins, "org", b, 1, 5)).toBe("same");
    expect(() => recordChain(pins, "org", a, 0, 6)).toThrow("cannot go back");
  });

  it("the store keeps one record per signed-in user and serialises updates", async () => {
    const backend = memoryPinBackend();
    const dan = await user();
    const s1 = new PinStore("u1", backend);
    const s2 = new PinStore("u2", backend);
    await Promise.all([
      s1.observe([{ userId: "dan", name: "Dan", ...keysOf(dan) }]),
      s1.observe([{ userId: "eve", name: "Eve", ...keysOf(dan) }]),
    ]);
    expect(Object.keys((await s1.read()).people).sort()).toEqual(["dan", "eve"]);
    expect((await s2.read()).people).toEqual({});
    // A fresh store object (a reload) reads the same pins.
    expect(Object.keys((await new PinStore("u1", backend).read()).people).sort()).toEqual(["dan", "eve"]);
  });
});

describe("a case read against the pins", () => {
  async function setup() {
    const gp = await user();
    const derm = await user();
    const made = await buildNewCase(gp.keys, {
      practiceId: "p",
      recordsPublicKey: (await user()).enc.publicKey,
      serviceId: "s",
      dermatologists: [{ userId: derm.keys.userId, displayName: "Dr Dan Dermatologist", roles: [], ...keysOf(derm) }],
      priority: "routine",
      history,
    });
    const participants: Participant[] = [
      { userId: gp.keys.userId, role: "gp", displayName: "Dr Gill GP", ...keysOf(gp) },
      { userId: derm.keys.userId, role: "dermatologist", displayName: "Dr Dan Dermatologist", ...keysOf(derm) },
    ];
    const detail: CaseDetail = {
      case: {
        caseId: made.request.caseId,
        practiceId: "p",
        serviceId: "s",
        createdBy: gp.keys.userId,
        state: "in_review",
        priority: "routine",
        updatedAt: "",
        outcomeCategory: null,
        lastSeq: 1,
        claimedBy: derm.keys.userId,
      },
      participants,
      caseKeys: made.request.caseKeys.map((k) => ({ ...k, epoch: 0 })),
      outcome: null,
    };
    const msgs: ThreadMessage[] = [
      { seq: 1, clientMsgId: made.firstMessage.clientMsgId, senderId: gp.keys.userId, envelope: made.firstMessage.envelope, createdAt: "" },
    ];
    return { gp, derm, detail, msgs };
  }

  it("a substituted signing key is reported, the pinned key verifies, and the forgery is unreadable", async () => {
    const { gp, derm, detail, msgs } = await setup();
    const pins = new PinStore(derm.keys.userId, memoryPinBackend());
    const honest = await checkCaseTrust(pins, derm.keys, detail);
    expect(honest.checks.map((c) => c.state)).toEqual(["first_use"]);
    expect(honest.blocked).toEqual([]);
    expect(honest.selfMismatch).toBe(false);
    // The server lists its own keys for the GP and injects a message "from the GP".
    const attacker = await user();
    const lying: CaseDetail = { ...detail, participants: [{ ...detail.participants[0]!, ...keysOf(attacker) }, detail.participants[1]!] };
    const caseKey = (await openMyCaseKeys(derm.keys, honest.trusted)).get(0)!;
    const forged = await sealText({ ...attacker.keys, userId: gp.keys.userId }, { caseKey, caseId: detail.case.caseId, previousHash: await messageHash(msgs[0]!.envelope), text: "Discharge" });
    const list = [...msgs, { seq: 2, clientMsgId: forged.clientMsgId, senderId: gp.keys.userId, envelope: forged.envelope, createdAt: "" }];
    const t = await checkCaseTrust(pins, derm.keys, lying);
    expect(t.blocked.map((c) => [c.name, c.state])).toEqual([["Dr Gill GP", "changed"]]);
    expect(t.trusted.participants[0]!.signingPublicKey).toEqual(gp.sig.publicKey);
    const r = await openMessages(caseKey, t.trusted, list);
    expect(r.entries).toHaveLength(1); // the GP's real history still opens
    expect(r.unreadable.map((u) => u.reason)).toEqual(["not_verified"]);
    // Read with the listed keys instead, the forgery would have opened: the pin is what stops it.
    expect((await openMessages(caseKey, lying, list)).entries.map((e) => e.body.text)).toEqual(["Discharge"]);
  });

  it("the server listing other keys for me is reported and my own keys stand in", async () => {
    const { derm, detail } = await setup();
    const attacker = await user();
    const lying: CaseDetail = { ...detail, participants: [detail.participants[0]!, { ...detail.participants[1]!, ...keysOf(attacker) }] };
    const t = await checkCaseTrust(new PinStore(derm.keys.userId, memoryPinBackend()), derm.keys, lying);
    expect(t.selfMismatch).toBe(true);
    expect(t.trusted.participants[1]!.encryptionPublicKey).toEqual(derm.enc.publicKey);
  });

  it("both people see the same safety number", async () => {
    const { gp, derm } = await setup();
    const a = await safetyNumber([gp.sig.publicKey, gp.enc.publicKey], [derm.sig.publicKey, derm.enc.publicKey]);
    const b = await safetyNumber([derm.sig.publicKey, derm.enc.publicKey], [gp.sig.publicKey, gp.enc.publicKey]);
    expect(a).toBe(b);
    expect(a).toMatch(/^(\d{5} ){11}\d{5}$/);
  });
});

describe("the safety-number route", () => {
  it("parses from a case and on its own", async () => {
    const { parseRoute, href } = await import("../../src/app/router");
    const c = "0b6c0d3e-1111-4222-8333-944455556666";
    const u = "1b6c0d3e-1111-4222-8333-944455556666";
    expect(parseRoute(`#/cases/${c}/people/${u}`)).toEqual({ name: "person", userId: u, caseId: c });
    expect(parseRoute(`#/people/${u}`)).toEqual({ name: "person", userId: u, caseId: null });
    expect(href({ name: "person", userId: u, caseId: c })).toBe(`#/cases/${c}/people/${u}`);
    expect(parseRoute(`#/people/not-a-uuid`)).toEqual({ name: "notFound" });
  });
});
