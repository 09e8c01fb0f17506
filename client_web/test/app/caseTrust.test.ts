/**
 * A case answer checked against the log and the pins together (src/app/trust.ts): certified
 * participants pass silently with their badge; the server substituting a participant's key (with
 * the honest certification beside it), rewriting the log, or leaving the proofs out once the
 * device has seen the log, each refuse sending and name the problem; messages from keys no log
 * entry backs are unreadable; nothing unbacked is pinned.
 */
import { describe, expect, it } from "vitest";
import type { CaseDetail, Participant, ThreadMessage } from "../../src/app/api";
import { buildNewCase, openMessages, openMyCaseKeys, sealText } from "../../src/app/cases";
import { PinStore, memoryPinBackend } from "../../src/app/pins";
import { checkCaseTrust, verifyAnswer } from "../../src/app/trust";
import type { LogSource, OrgProof } from "../../src/app/transparency";
import { type KeyPair, type PublicSigningIdentity, OrganisationKind, Role, generateKeyPair, makeMemberStatement, makeOrganisationKeyStatement, messageHash } from "../../src/crypto/index";
import { p256Sign } from "../../src/crypto/primitives/ecc";
import { TestLog } from "../helpers/log";
import { history, user } from "../helpers/people";

const PRACTICE = "11111111-2222-4333-8444-555555555555";
const SERVICE = "66666666-7777-4888-9999-aaaaaaaaaaaa";
const T = 1_700_000_000_000;
const signer = (pair: KeyPair): PublicSigningIdentity => ({ keyId: pair.keyId, publicKey: pair.publicKey, sign: (m) => p256Sign(pair.privateKey, m) });
const source = (log: TestLog): LogSource => ({
  head: async () => ({ treeHead: await log.head(), logPublicKey: log.key.publicKey }),
  consistency: (a, b) => log.consistency(a, b),
  entries: async (start, end) => log.entries.slice(start, end).map((entry, i) => ({ index: start + i, entry })),
  inclusion: (index, size) => log.inclusion(index, size),
});

async function world() {
  const log = await TestLog.create();
  const gp = await user();
  const derm = await user();
  const orgs: Record<string, { ok: KeyPair; index: number; name: string }> = {};
  for (const [id, name, kind] of [
    [PRACTICE, "Riverside Surgery", OrganisationKind.PRACTICE],
    [SERVICE, "North Dermatology", OrganisationKind.SERVICE],
  ] as const) {
    const ok = await generateKeyPair();
    orgs[id] = { ok, name, index: await log.appendStatement(await makeOrganisationKeyStatement({ orgId: id, orgKind: kind, name, orgKey: signer(ok), issuedAtMs: T })) };
  }
  const certify = async (u: Awaited<ReturnType<typeof user>>, orgId: string, role: Role) =>
    log.appendStatement(
      await makeMemberStatement({ userId: u.keys.userId, orgId, role, signingPublicKey: u.sig.publicKey, encryptionPublicKey: u.enc.publicKey, inviteStatementHash: null, signer: signer(orgs[orgId]!.ok), issuedAtMs: T }),
    );
  const gpIdx = await certify(gp, PRACTICE, Role.GP);
  const dermIdx = await certify(derm, SERVICE, Role.DERMATOLOGIST);
  const made = await buildNewCase(gp.keys, {
    practiceId: PRACTICE,
    recordsPublicKey: (await generateKeyPair()).publicKey,
    serviceId: SERVICE,
    dermatologists: [{ userId: derm.keys.userId, displayName: "Dr Dan Dermatologist", roles: [], encryptionPublicKey: derm.enc.publicKey, signingPublicKey: derm.sig.publicKey }],
    priority: "routine",
    history,
  });
  /** The case answer as an honest server gives it, proofs against the current head. */
  const detail = async (): Promise<CaseDetail> => {
    const orgProofs: OrgProof[] = await Promise.all(
      [PRACTICE, SERVICE].map(async (id) => ({ orgId: id, name: orgs[id]!.name, orgKey: await log.ref(orgs[id]!.index), recordsKeys: [], recordsPublicKey: null })),
    );
    const participants: Participant[] = [
      { userId: gp.keys.userId, role: "gp", displayName: "Dr Gill GP", encryptionPublicKey: gp.enc.publicKey, signingPublicKey: gp.sig.publicKey, orgId: PRACTICE, proof: { certification: { member: await log.ref(gpIdx), invite: null }, uncertified: null } },
      { userId: derm.keys.userId, role: "dermatologist", displayName: "Dr Dan Dermatologist", encryptionPublicKey: derm.enc.publicKey, signingPublicKey: derm.sig.publicKey, orgId: SERVICE, proof: { certification: { member: await log.ref(dermIdx), invite: null }, uncertified: null } },
    ];
    return {
      case: { caseId: made.request.caseId, practiceId: PRACTICE, serviceId: SERVICE, createdBy: gp.keys.userId, state: "in_review", priority: "routine", updatedAt: "", outcomeCategory: null, lastSeq: 1, claimedBy: derm.keys.userId },
      participants,
      caseKeys: made.request.caseKeys.map((k) => ({ ...k, epoch: 0 })),
      outcome: null,
      treeHead: await log.head(),
      orgs: orgProofs,
      removed: [],
    };
  };
  const msgs: ThreadMessage[] = [{ seq: 1, clientMsgId: made.firstMessage.clientMsgId, senderId: gp.keys.userId, envelope: made.firstMessage.envelope, createdAt: "" }];
  return { log, gp, derm, detail, msgs, orgs };
}

describe("a case answer checked against the log", () => {
  it("certified participants pass silently, with their organisation's badge", async () => {
    const { log, derm, detail } = await world();
    const pins = new PinStore(derm.keys.userId, memoryPinBackend());
    const t = await checkCaseTrust(pins, derm.keys, await detail(), source(log));
    expect(t.sendBlocked).toBe(false);
    expect(t.log!.verified).toBe(true);
    expect(t.checks.map((c) => [c.state, c.pin.certifiedBy])).toEqual([["first_use", "Riverside Surgery"]]);
    expect(Object.keys((await pins.read()).orgs).sort()).toEqual([PRACTICE, SERVICE].sort());
  });

  it("substitute_encryption_key at first contact: refused, named, not pinned, their messages unreadable", async () => {
    const { log, gp, derm, detail, msgs } = await world();
    const pins = new PinStore(derm.keys.userId, memoryPinBackend());
    const d = await detail();
    const attacker = await generateKeyPair();
    const lying = { ...d, participants: [{ ...d.participants[0]!, signingPublicKey: attacker.publicKey }, d.participants[1]!] };
    const t = await checkCaseTrust(pins, derm.keys, lying, source(log));
    expect(t.sendBlocked).toBe(true);
    expect(t.log!.unlogged.map((u) => u.name)).toEqual(["Dr Gill GP"]);
    expect(t.log!.unlogged[0]!.message).toMatch(/Dr Gill GP/);
    expect((await pins.read()).people[gp.keys.userId]).toBeUndefined();
    expect(t.trusted.participants[0]!.untrusted).toBe(true);
    // The history was wrapped and signed by the GP: with the GP's keys unbacked, the case key's
    // wrap cannot be checked either, so nothing opens.
    await expect(openMyCaseKeys(derm.keys, t.trusted)).rejects.toThrow("not in the key log");
    // With the honest answer first (pinned), the same lie later uses the pinned keys instead.
    await checkCaseTrust(pins, derm.keys, d, source(log));
    const later = await checkCaseTrust(pins, derm.keys, lying, source(log));
    expect(later.sendBlocked).toBe(true);
    expect(later.trusted.participants[0]!.signingPublicKey).toEqual(gp.sig.publicKey);
    const caseKeys = await openMyCaseKeys(derm.keys, later.trusted);
    const forged = await sealText({ ...derm.keys, userId: gp.keys.userId }, { caseKey: caseKeys.get(0)!, caseId: d.case.caseId, previousHash: await messageHash(msgs[0]!.envelope), text: "forged" });
    const r = await openMessages(caseKeys, later.trusted, [...msgs, { seq: 2, clientMsgId: forged.clientMsgId, senderId: gp.keys.userId, envelope: forged.envelope, createdAt: "" }]);
    expect(r.entries).toHaveLength(1);
    expect(r.unreadable.map((u) => u.reason)).toEqual(["not_verified"]);
  });

  it("a rewritten log, or proofs left out after the log was seen, stop sending", async () => {
    const { log, derm, detail } = await world();
    const pins = new PinStore(derm.keys.userId, memoryPinBackend());
    await checkCaseTrust(pins, derm.keys, await detail(), source(log));
    const d = await detail();
    const t = await checkCaseTrust(pins, derm.keys, { ...d, treeHead: null }, source(log));
    expect(t.sendBlocked).toBe(true);
    expect(t.log!.hardStop).toMatch(/no proof from its key log/);
    // rewrite_log: a head of the same size over another history, signed by the log key.
    const other = await TestLog.create();
    Object.assign(other, { key: log.key });
    for (let i = 0; i < log.size; i++) await other.append(new Uint8Array([i]));
    const r = await checkCaseTrust(pins, derm.keys, { ...d, treeHead: await other.head() }, source(other));
    expect(r.sendBlocked).toBe(true);
    expect(r.log!.hardStop).toMatch(/rewritten/);
  });

  it("without any log (an older server) first use still pins and nothing is refused", async () => {
    const { derm, detail } = await world();
    const pins = new PinStore(derm.keys.userId, memoryPinBackend());
    const d = await detail();
    const v = await verifyAnswer(pins, { head: () => Promise.reject(new Error("no log")), consistency: () => Promise.reject(new Error("no log")) }, { treeHead: null, orgs: [], people: [], removals: [] });
    expect(v).toMatchObject({ verified: false, hardStop: null });
    const t = await checkCaseTrust(pins, derm.keys, { ...d, treeHead: null });
    expect(t.sendBlocked).toBe(false);
  });

  it("hide_removal: a removal read in the log of a participant the server still lists stops sending", async () => {
    const { log, gp, derm, detail } = await world();
    const pins = new PinStore(derm.keys.userId, memoryPinBackend());
    expect((await checkCaseTrust(pins, derm.keys, await detail(), source(log))).hiddenRemovals).toEqual([]);
    // The GP is removed from the practice (logged); the server keeps listing them and says nothing.
    await log.appendRemoval(gp.keys.userId, PRACTICE);
    const t = await checkCaseTrust(pins, derm.keys, await detail(), source(log));
    expect(t.hiddenRemovals.map((h) => h.name)).toEqual(["Dr Gill GP"]);
    expect(t.sendBlocked).toBe(true);
    expect((await pins.read()).removals!.map((r) => r.userId)).toEqual([gp.keys.userId]);
    // The server naming the removal (a rotation is due) is not a hidden removal.
    const honest = await detail();
    const named = await checkCaseTrust(pins, derm.keys, { ...honest, rotation: { nextEpoch: 1, removed: [gp.keys.userId] } }, source(log));
    expect(named.hiddenRemovals).toEqual([]);
    // A forged entry in the range (the server lying about what the head added) is not read as
    // fact and does not move the pin: the same range is read again next time.
    const pins2 = new PinStore("other", memoryPinBackend());
    const before = await detail();
    await checkCaseTrust(pins2, derm.keys, before, source(log));
    await log.appendRemoval(derm.keys.userId, SERVICE);
    const lying: LogSource = { ...source(log), entries: async (start) => [{ index: start, entry: new Uint8Array([3, 0]) }] };
    await checkCaseTrust(pins2, derm.keys, await detail(), lying);
    expect((await pins2.read()).removals ?? []).toEqual([]);
    await checkCaseTrust(pins2, derm.keys, await detail(), source(log));
    expect((await pins2.read()).removals!.map((r) => r.userId)).toEqual([derm.keys.userId]);
  });
});
