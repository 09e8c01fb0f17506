/**
 * The browser's checks of directory and case answers against the key transparency log
 * (docs/protocol.md sections 18-20, src/app/transparency.ts), against a real log built from the
 * protocol's definitions (test/helpers/log.ts): heads verified and extended from the pin, facts
 * only from proven entries, the organisation key pinned, members certified or logged, the
 * records-key chain from the pin with the two-person rule. Each attack of the malicious-server
 * list that concerns keys is refused with its code.
 */
import { describe, expect, it } from "vitest";
import { PinStore, memoryPinBackend } from "../../src/app/pins";
import {
  type LogSource,
  type OrgProof,
  TrustError,
  acceptHead,
  certifiedAdmins,
  pinLogKey,
  verifyMember,
  verifyOrgKey,
  verifyRecordsKey,
  verifyRemovals,
} from "../../src/app/transparency";
import {
  type KeyPair,
  type PublicSigningIdentity,
  OrganisationKind,
  Role,
  deriveInviteKey,
  deriveRecordsSigningKey,
  generateInviteSecret,
  generateKeyPair,
  inviteTokenHash,
  keyId,
  makeApprovalStatement,
  makeInviteStatement,
  makeMemberStatement,
  makeOrganisationKeyStatement,
  makeRecordsKeyStatement,
  statementHash,
  verifyTreeHead,
} from "../../src/crypto/index";
import { p256Sign } from "../../src/crypto/primitives/ecc";
import { TestLog } from "../helpers/log";

const ORG = "6f1c1a52-6d0a-4c1e-9a5b-0a0b0c0d0e0f";
const T = 1_700_000_000_000;

const signer = (pair: KeyPair): PublicSigningIdentity => ({ keyId: pair.keyId, publicKey: pair.publicKey, sign: (m) => p256Sign(pair.privateKey, m) });

function source(log: TestLog): LogSource & { heads: number } {
  const s = {
    heads: 0,
    async head() {
      s.heads++;
      return { treeHead: await log.head(), logPublicKey: log.key.publicKey };
    },
    consistency: (from: number, to: number) => log.consistency(from, to),
  };
  return s;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TrustError) return e.code;
    throw e;
  }
  return "accepted";
}

async function person() {
  const sig = await generateKeyPair();
  const enc = await generateKeyPair();
  return { userId: crypto.randomUUID(), sig, enc };
}

/** An organisation with a key, logged, and a helper to certify members. */
async function organisation(log: TestLog, name = "North Dermatology") {
  const ok = await generateKeyPair();
  const orgKeyIndex = await log.appendStatement(
    await makeOrganisationKeyStatement({ orgId: ORG, orgKind: OrganisationKind.SERVICE, name, orgKey: signer(ok), issuedAtMs: T }),
  );
  return { ok, orgKeyIndex, name };
}

describe("tree heads", () => {
  it("pins the log key on first use and moves the pin forward along consistent heads", async () => {
    const log = await TestLog.create();
    await log.append(new Uint8Array([9]));
    const pins = new PinStore("me", memoryPinBackend());
    const src = source(log);
    await acceptHead(pins, src, await log.head());
    expect(src.heads).toBe(1);
    for (let i = 0; i < 5; i++) await log.append(new Uint8Array([i]));
    const h = await acceptHead(pins, src, await log.head());
    expect(h.treeSize).toBe(6);
    expect((await verifyTreeHead((await pins.read()).log!.treeHead, log.key.publicKey)).treeSize).toBe(6);
    // The same head again is fine; no new first-use fetch.
    await acceptHead(pins, src, await log.head());
    expect(src.heads).toBe(1);
  });

  it("a rewritten history (correctly signed) is a hard stop", async () => {
    const log = await TestLog.create();
    for (let i = 0; i < 3; i++) await log.append(new Uint8Array([i]));
    const pins = new PinStore("me", memoryPinBackend());
    await acceptHead(pins, source(log), await log.head());
    // The same log key signs a head over a different history.
    const fork = await TestLog.create();
    Object.assign(fork, { key: log.key });
    for (let i = 0; i < 5; i++) await fork.append(new Uint8Array([100 + i]));
    expect(await codeOf(acceptHead(pins, source(fork), await fork.head()))).toBe("log_rewritten");
    // Same size, different root: a fork too.
    const fork3 = await TestLog.create();
    Object.assign(fork3, { key: log.key });
    for (let i = 0; i < 3; i++) await fork3.append(new Uint8Array([50 + i]));
    expect(await codeOf(acceptHead(pins, source(fork3), await fork3.head()))).toBe("log_rewritten");
  });

  it("a head under another key, and an older head than the pin, are refused", async () => {
    const log = await TestLog.create();
    for (let i = 0; i < 4; i++) await log.append(new Uint8Array([i]));
    const pins = new PinStore("me", memoryPinBackend());
    await acceptHead(pins, source(log), await log.head());
    expect(await codeOf(acceptHead(pins, source(log), await log.head(4, await generateKeyPair())))).toBe("log_head_invalid");
    expect(await codeOf(acceptHead(pins, source(log), await log.head(2)))).toBe("log_stale");
    // A newcomer's log key from the invite answer cannot be replaced by another later.
    const other = await TestLog.create();
    await other.append(new Uint8Array([1]));
    expect(await codeOf(pinLogKey(pins, other.key.publicKey, await other.head()))).toBe("log_head_invalid");
  });
});

describe("organisations and members", () => {
  it("certified members (through an invite or directly), uncertified members, and substituted keys", async () => {
    const log = await TestLog.create();
    const org = await organisation(log);
    // Dan accepted a certified invite: the invite statement by OK, his member statement by IK.
    const dan = await person();
    const secret = generateInviteSecret();
    const ik = await deriveInviteKey(secret);
    const token = "A".repeat(43);
    const invite = await makeInviteStatement({ orgId: ORG, role: Role.DERMATOLOGIST, invitePublicKey: ik.publicKey, expiresAtMs: T + 1, tokenHash: await inviteTokenHash(token), orgKey: signer(org.ok), issuedAtMs: T });
    const inviteIndex = await log.appendStatement(invite);
    const danIndex = await log.appendStatement(
      await makeMemberStatement({ userId: dan.userId, orgId: ORG, role: Role.DERMATOLOGIST, signingPublicKey: dan.sig.publicKey, encryptionPublicKey: dan.enc.publicKey, inviteStatementHash: await statementHash(invite), signer: signer(ik), issuedAtMs: T }),
    );
    // Ann, an admin certified directly by OK; Una, enrolled through a server-made invite.
    const ann = await person();
    const annIndex = await log.appendStatement(
      await makeMemberStatement({ userId: ann.userId, orgId: ORG, role: Role.ADMIN, signingPublicKey: ann.sig.publicKey, encryptionPublicKey: ann.enc.publicKey, inviteStatementHash: null, signer: signer(org.ok), issuedAtMs: T }),
    );
    const una = await person();
    const unaIndex = await log.appendUncertified(una.userId, ORG, Role.DERMATOLOGIST, una.sig.publicKey, una.enc.publicKey);

    const pins = new PinStore("me", memoryPinBackend());
    const head = await acceptHead(pins, source(log), await log.head());
    const proof: OrgProof = { orgId: ORG, name: org.name, orgKey: await log.ref(org.orgKeyIndex), recordsKeys: [], recordsPublicKey: null };
    const ok = await verifyOrgKey(pins, head, proof);
    expect(ok).toEqual(org.ok.publicKey);
    expect((await pins.read()).orgs[ORG]!.from).toBe("first_use");
    const o = { orgId: ORG, name: org.name, orgPublicKey: ok };
    const keysOf = (p: Awaited<ReturnType<typeof person>>, name: string) => ({ userId: p.userId, name, signingPublicKey: p.sig.publicKey, encryptionPublicKey: p.enc.publicKey });

    const d = await verifyMember(head, o, keysOf(dan, "Dr Dan"), { certification: { member: await log.ref(danIndex), invite: await log.ref(inviteIndex) }, uncertified: null });
    expect(d.certifiedBy).toBe("North Dermatology");
    const a = await verifyMember(head, o, keysOf(ann, "Ann"), { certification: { member: await log.ref(annIndex), invite: null }, uncertified: null });
    expect(certifiedAdmins([d, a])).toHaveLength(1);
    const u = await verifyMember(head, o, keysOf(una, "Una"), { certification: null, uncertified: await log.ref(unaIndex) });
    expect(u.certifiedBy).toBeNull();

    // substitute_encryption_key / substitute_signing_key: the server lists its own key with
    // Dan's (honest) certification: the listed keys are not the logged ones.
    const attacker = await generateKeyPair();
    const danCert = { certification: { member: await log.ref(danIndex), invite: await log.ref(inviteIndex) }, uncertified: null };
    expect(await codeOf(verifyMember(head, o, { ...keysOf(dan, "Dr Dan"), encryptionPublicKey: attacker.publicKey }, danCert))).toBe("member_invalid");
    expect(await codeOf(verifyMember(head, o, { ...keysOf(dan, "Dr Dan"), signingPublicKey: attacker.publicKey }, danCert))).toBe("member_invalid");
    // Someone else's certification, a wrong proof, a missing proof.
    expect(await codeOf(verifyMember(head, o, keysOf(una, "Una"), danCert))).toBe("member_invalid");
    const badProof = { ...(await log.ref(unaIndex)), index: unaIndex - 1 };
    expect(await codeOf(verifyMember(head, o, keysOf(una, "Una"), { certification: null, uncertified: badProof }))).toBe("not_in_log");
    expect(await codeOf(verifyMember(head, o, keysOf(una, "Una"), { certification: null, uncertified: null }))).toBe("member_invalid");
    // A member statement signed by an invite key that OK never certified.
    const rogue = await person();
    const fakeIk = await generateKeyPair();
    const fakeInvite = await makeInviteStatement({ orgId: ORG, role: Role.DERMATOLOGIST, invitePublicKey: fakeIk.publicKey, expiresAtMs: T + 1, tokenHash: await inviteTokenHash(token), orgKey: signer(await generateKeyPair()), issuedAtMs: T });
    const fi = await log.appendStatement(fakeInvite);
    const fm = await log.appendStatement(
      await makeMemberStatement({ userId: rogue.userId, orgId: ORG, role: Role.DERMATOLOGIST, signingPublicKey: rogue.sig.publicKey, encryptionPublicKey: rogue.enc.publicKey, inviteStatementHash: await statementHash(fakeInvite), signer: signer(fakeIk), issuedAtMs: T }),
    );
    const head2 = await acceptHead(pins, source(log), await log.head());
    expect(await codeOf(verifyMember(head2, o, keysOf(rogue, "Rogue"), { certification: { member: await log.ref(fm), invite: await log.ref(fi) }, uncertified: null }))).toBe("member_invalid");
  });

  it("replace_org_key: another organisation key for a pinned organisation is a hard stop", async () => {
    const log = await TestLog.create();
    const org = await organisation(log);
    const pins = new PinStore("me", memoryPinBackend());
    const head = await acceptHead(pins, source(log), await log.head());
    await verifyOrgKey(pins, head, { orgId: ORG, name: org.name, orgKey: await log.ref(org.orgKeyIndex), recordsKeys: [], recordsPublicKey: null });
    const other = await generateKeyPair();
    const idx = await log.appendStatement(
      await makeOrganisationKeyStatement({ orgId: ORG, orgKind: OrganisationKind.SERVICE, name: org.name, orgKey: signer(other), issuedAtMs: T }),
    );
    const head2 = await acceptHead(pins, source(log), await log.head());
    expect(await codeOf(verifyOrgKey(pins, head2, { orgId: ORG, name: org.name, orgKey: await log.ref(idx), recordsKeys: [], recordsPublicKey: null }))).toBe("org_key_changed");
    expect(await codeOf(verifyOrgKey(pins, head2, { orgId: ORG, name: org.name, orgKey: null, recordsKeys: [], recordsPublicKey: null }))).toBe("org_key_missing");
    // A statement for the organisation that is not in the log at this head.
    const notLogged = { index: idx, entry: log.entries[org.orgKeyIndex]!, proof: await log.inclusion(idx) };
    expect(await codeOf(verifyOrgKey(pins, head2, { orgId: ORG, name: org.name, orgKey: notLogged, recordsKeys: [], recordsPublicKey: null }))).toBe("not_in_log");
  });

  it("removals are read from proven entries", async () => {
    const log = await TestLog.create();
    const who = crypto.randomUUID();
    const i = await log.appendRemoval(who, ORG);
    const pins = new PinStore("me", memoryPinBackend());
    const head = await acceptHead(pins, source(log), await log.head());
    expect(await verifyRemovals(head, [await log.ref(i)])).toEqual([{ userId: who, orgId: ORG }]);
  });
});

describe("the records key", () => {
  async function setup() {
    const log = await TestLog.create();
    const org = await organisation(log, "Riverside Surgery");
    const admins: { p: Awaited<ReturnType<typeof person>>; index: number }[] = [];
    for (let i = 0; i < 3; i++) {
      const p = await person();
      const index = await log.appendStatement(
        await makeMemberStatement({ userId: p.userId, orgId: ORG, role: Role.ADMIN, signingPublicKey: p.sig.publicKey, encryptionPublicKey: p.enc.publicKey, inviteStatementHash: null, signer: signer(org.ok), issuedAtMs: T }),
      );
      admins.push({ p, index });
    }
    const pins = new PinStore("me", memoryPinBackend());
    const rk0 = await generateKeyPair();
    return { log, org, admins, pins, rk0 };
  }
  const adminStatements = (log: TestLog, admins: { index: number }[]) => admins.map((a) => ({ statement: log.entries[a.index]!.slice(9), inviteStatement: null }));

  async function statement(seq: number, rk: KeyPair, prev: KeyPair | null, by: KeyPair) {
    return makeRecordsKeyStatement({
      orgId: ORG,
      sequence: seq,
      recordsPublicKey: rk.publicKey,
      recordsSigningPublicKey: (await deriveRecordsSigningKey(rk.privateKey)).publicKey,
      previousRecordsKeyId: prev ? await keyId(prev.publicKey) : null,
      signer: signer(by),
      issuedAtMs: T,
    });
  }

  it("legacy key pinned on first use; a swap without a chain is refused; sequence 0 certifies the pinned key", async () => {
    const { log, org, admins, pins, rk0 } = await setup();
    let head = await acceptHead(pins, source(log), await log.head());
    const legacy: OrgProof = { orgId: ORG, name: org.name, orgKey: await log.ref(org.orgKeyIndex), recordsKeys: [], recordsPublicKey: rk0.publicKey };
    const ok = (await verifyOrgKey(pins, head, legacy))!;
    expect(await verifyRecordsKey(pins, head, legacy, ok, [])).toEqual({ publicKey: rk0.publicKey, sequence: null });
    // swap_records_key: another raw key.
    const evil = await generateKeyPair();
    expect(await codeOf(verifyRecordsKey(pins, head, { ...legacy, recordsPublicKey: evil.publicKey }, ok, []))).toBe("records_key_changed");
    // Sequence 0 signed by OK naming the pinned key: accepted, the pin gets its sequence.
    const s0 = await log.appendStatement(await statement(0, rk0, null, org.ok));
    head = await acceptHead(pins, source(log), await log.head());
    const chain: OrgProof = { ...legacy, recordsKeys: [{ statement: await log.ref(s0), approvals: [] }] };
    expect(await verifyRecordsKey(pins, head, chain, ok, adminStatements(log, admins))).toEqual({ publicKey: rk0.publicKey, sequence: 0 });
    // A chain whose sequence 0 names another key than the pinned legacy key is refused.
    const pins2 = new PinStore("me2", memoryPinBackend());
    await pins2.update((p, now) => {
      p.records[ORG] = { orgId: ORG, publicKey: evil.publicKey, sequence: null, firstSeenMs: now };
    });
    const h2 = await acceptHead(pins2, source(log), await log.head());
    await verifyOrgKey(pins2, h2, { ...legacy, orgKey: await log.ref(org.orgKeyIndex) });
    expect(await codeOf(verifyRecordsKey(pins2, h2, chain, ok, []))).toBe("records_key_changed");
  });

  it("a rollover signed by the old records key, and a change with two admin approvals, are accepted; one approval is not", async () => {
    const { log, org, admins, pins, rk0 } = await setup();
    const s0 = await log.appendStatement(await statement(0, rk0, null, org.ok));
    const rk1 = await generateKeyPair();
    const s1 = await log.appendStatement(await statement(1, rk1, rk0, await deriveRecordsSigningKey(rk0.privateKey)));
    let head = await acceptHead(pins, source(log), await log.head());
    const base: OrgProof = { orgId: ORG, name: org.name, orgKey: await log.ref(org.orgKeyIndex), recordsKeys: [], recordsPublicKey: rk1.publicKey };
    const ok = (await verifyOrgKey(pins, head, base))!;
    const links = [
      { statement: await log.ref(s0), approvals: [] },
      { statement: await log.ref(s1), approvals: [] },
    ];
    expect((await verifyRecordsKey(pins, head, { ...base, recordsKeys: links }, ok, adminStatements(log, admins)))!.sequence).toBe(1);

    // Sequence 2 signed by OK (the old records key file lost): needs two certified admins.
    const rk2 = await generateKeyPair();
    const change = await statement(2, rk2, rk1, org.ok);
    const s2 = await log.appendStatement(change);
    const approve = async (a: { p: Awaited<ReturnType<typeof person>> }) =>
      log.appendStatement(await makeApprovalStatement({ approvedStatementHash: await statementHash(change), approverUserId: a.p.userId, approverSigningKey: signer(a.p.sig), issuedAtMs: T }));
    const a0 = await approve(admins[0]!);
    const a0again = await approve(admins[0]!);
    head = await acceptHead(pins, source(log), await log.head());
    const refs = async (...ids: number[]) => Promise.all(ids.map((i) => log.ref(i)));
    // Every proof against the head of the current size (the same answer).
    const withApprovals = async (...ids: number[]) => ({
      ...base,
      recordsPublicKey: rk2.publicKey,
      recordsKeys: [
        { statement: await log.ref(s0), approvals: [] },
        { statement: await log.ref(s1), approvals: [] },
        { statement: await log.ref(s2), approvals: await refs(...ids) },
      ],
    });
    const all = adminStatements(log, admins);
    // One admin, even twice: refused (two-person rule).
    expect(await codeOf(verifyRecordsKey(pins, head, await withApprovals(a0, a0again), ok, all))).toBe("records_key_changed");
    const a1 = await approve(admins[1]!);
    head = await acceptHead(pins, source(log), await log.head());
    expect((await verifyRecordsKey(pins, head, await withApprovals(a0, a1), ok, all))!.sequence).toBe(2);
    expect((await pins.read()).records[ORG]!.publicKey).toEqual(rk2.publicKey);
    // The convenience field naming another key than the chain's newest: refused.
    expect(await codeOf(verifyRecordsKey(pins, head, { ...(await withApprovals(a0, a1)), recordsPublicKey: rk1.publicKey }, ok, all))).toBe("records_key_invalid");
    // A shorter chain that no longer reaches the pinned sequence 2: refused.
    const shorter = (await withApprovals(a0, a1)).recordsKeys.slice(0, 2);
    expect(await codeOf(verifyRecordsKey(pins, head, { ...base, recordsKeys: shorter }, ok, all))).toBe("records_key_changed");
  });
});
