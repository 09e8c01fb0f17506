/**
 * Signed statements (statement.ts), the invite key and fragment (invite.ts) and the records
 * signing key (recordsKey.ts): made here with the production WebCrypto signer, then parsed
 * and checked by the trust rules of docs/protocol.md section 19, each rule broken once and
 * refused with its one error. The byte-for-byte agreement with Python is statement.json
 * (statementVectors.test.ts) and the interop suite.
 */
import { describe, expect, it } from "vitest";
import {
  type KeyPair,
  KeyPurpose,
  generateKeyPair,
  keyPairFromSeed,
  signingIdentity,
  toAccountKey,
} from "../../src/crypto/account";
import { concat, fromHex, toBase64Url, toHex, utf8 } from "../../src/crypto/bytes";
import {
  InviteLinkFormatError,
  InviteStatementError,
  MemberStatementError,
  OrganisationKeyStatementError,
  RecordsKeyChainError,
  StatementError,
  StatementSignatureError,
} from "../../src/crypto/errors";
import { keyId } from "../../src/crypto/fingerprint";
import {
  deriveInviteKey,
  formatInviteFragment,
  generateInviteSecret,
  parseInviteFragment,
} from "../../src/crypto/invite";
import { deriveRecordsSigningKey } from "../../src/crypto/recordsKey";
import {
  type CertifiedMember,
  OrganisationKind,
  type PublicSigningIdentity,
  type RecordsKeyChange,
  Role,
  StatementKind,
  inviteTokenHash,
  makeApprovalStatement,
  makeInviteStatement,
  makeMemberStatement,
  makeOrganisationKeyStatement,
  makeRecordsKeyStatement,
  parseStatement,
  statementHash,
  verifyInviteStatement,
  verifyMemberStatement,
  verifyOrganisationKeyStatement,
  verifyRecordsKeyChain,
  verifyStatement,
} from "../../src/crypto/statement";

async function errorOf(fn: () => Promise<unknown> | unknown): Promise<string> {
  try {
    await fn();
    return "ok";
  } catch (e) {
    return (e as Error).name;
  }
}

async function signer(pair: KeyPair): Promise<PublicSigningIdentity> {
  return { ...signingIdentity(await toAccountKey(pair, KeyPurpose.SIGNING)), publicKey: pair.publicKey };
}

const AT = 1_790_000_000_000;
const ORG = "7d0c6f8e-4a0b-4c53-9f1e-2b9d4b1f6a01";
const OTHER_ORG = "7d0c6f8e-4a0b-4c53-9f1e-2b9d4b1f6a02";
const TOKEN = toBase64Url(new Uint8Array(32).fill(7));

const orgKey = await generateKeyPair();
const otherOrgKey = await generateKeyPair();
const OK = await signer(orgKey);

async function person() {
  return { userId: crypto.randomUUID(), sig: await generateKeyPair(), enc: await generateKeyPair() };
}

async function invitation(role: Role, org = ORG, key = OK) {
  const secret = generateInviteSecret();
  const inviteKey = await deriveInviteKey(secret);
  const invite = await makeInviteStatement({
    orgId: org,
    role,
    invitePublicKey: inviteKey.publicKey,
    expiresAtMs: AT + 86_400_000,
    tokenHash: await inviteTokenHash(TOKEN),
    orgKey: key,
    issuedAtMs: AT,
  });
  return { secret, inviteKey, invite };
}

async function memberVia(p: Awaited<ReturnType<typeof person>>, role: Role, invite: Uint8Array | null, by: KeyPair) {
  return makeMemberStatement({
    userId: p.userId,
    orgId: ORG,
    role,
    signingPublicKey: p.sig.publicKey,
    encryptionPublicKey: p.enc.publicKey,
    inviteStatementHash: invite === null ? null : await statementHash(invite),
    signer: await signer(by),
    issuedAtMs: AT + 1,
  });
}

describe("organisation key statement", () => {
  it("is self-signed, names the organisation, and refuses another organisation or a change", async () => {
    const rec = await makeOrganisationKeyStatement({
      orgId: ORG,
      orgKind: OrganisationKind.PRACTICE,
      name: "Cafe\u0301 Practice", // NFD: stored NFC
      orgKey: OK,
      issuedAtMs: AT,
    });
    const s = await verifyOrganisationKeyStatement(rec, { orgId: ORG });
    expect(s.kind).toBe(StatementKind.ORGANISATION_KEY);
    expect(s.name).toBe("Café Practice");
    expect(toHex(s.orgPublicKey)).toBe(toHex(orgKey.publicKey));
    expect(toHex(s.signerKeyId)).toBe(toHex(orgKey.keyId));
    expect(s.issuedAtMs).toBe(AT);
    expect(toHex(s.hash)).toBe(toHex(await statementHash(rec)));
    expect(await errorOf(() => verifyOrganisationKeyStatement(rec, { orgId: OTHER_ORG }))).toBe(
      OrganisationKeyStatementError.name,
    );
    const bad = rec.slice();
    bad[bad.length - 70]! ^= 1; // in the name
    expect(await errorOf(() => verifyOrganisationKeyStatement(bad, { orgId: ORG }))).toBe(
      OrganisationKeyStatementError.name,
    );
    // A statement naming one key but signed by another.
    const forged = await makeOrganisationKeyStatement({
      orgId: ORG,
      orgKind: OrganisationKind.PRACTICE,
      name: "Riverside",
      orgKey: { ...(await signer(otherOrgKey)), publicKey: otherOrgKey.publicKey },
      issuedAtMs: AT,
    });
    const swapped = concat(forged.subarray(0, forged.length - 64), rec.subarray(rec.length - 64));
    expect(await errorOf(() => verifyOrganisationKeyStatement(swapped, { orgId: ORG }))).toBe(
      OrganisationKeyStatementError.name,
    );
  });

  it("refuses names that are empty, too long, or hold control characters (misuse and on parse)", async () => {
    for (const name of ["", "x".repeat(201), "a\u0000b", "line\nbreak", "\ud800"]) {
      await expect(
        makeOrganisationKeyStatement({ orgId: ORG, orgKind: 1, name, orgKey: OK, issuedAtMs: AT }),
      ).rejects.toThrow(RangeError);
    }
    const ok = await makeOrganisationKeyStatement({ orgId: ORG, orgKind: 2, name: "é".repeat(100), orgKey: OK, issuedAtMs: AT });
    expect((await parseStatement(ok)).kind).toBe(1);
    await expect(
      makeOrganisationKeyStatement({ orgId: ORG, orgKind: 1, name: "ok", orgKey: { ...OK, publicKey: otherOrgKey.publicKey }, issuedAtMs: AT }),
    ).rejects.toThrow(RangeError);
  });
});

describe("member statements", () => {
  it("through an invite: every rule", async () => {
    const gp = await person();
    const { inviteKey, invite } = await invitation(Role.GP);
    const member = await memberVia(gp, Role.GP, invite, inviteKey);
    const s = await verifyMemberStatement(member, { orgId: ORG, orgPublicKey: orgKey.publicKey, inviteStatement: invite });
    expect(s.userId).toBe(gp.userId);
    expect(s.role).toBe(Role.GP);
    expect(toHex(s.inviteStatementHash!)).toBe(toHex(await statementHash(invite)));
    expect(toHex(s.signingPublicKey)).toBe(toHex(gp.sig.publicKey));
    const inv = await verifyInviteStatement(invite, { orgId: ORG, orgPublicKey: orgKey.publicKey });
    expect(toHex(inv.invitePublicKey)).toBe(toHex(inviteKey.publicKey));
    expect(toHex(inv.tokenHash)).toBe(toHex(await inviteTokenHash(TOKEN)));

    const refused = async (record: Uint8Array, p: { orgId?: string; orgPublicKey?: Uint8Array; inviteStatement?: Uint8Array | null }) =>
      errorOf(() =>
        verifyMemberStatement(record, {
          orgId: p.orgId ?? ORG,
          orgPublicKey: p.orgPublicKey ?? orgKey.publicKey,
          inviteStatement: p.inviteStatement === undefined ? invite : p.inviteStatement,
        }),
      );
    const E = MemberStatementError.name;
    // Another organisation key, another organisation.
    expect(await refused(member, { orgPublicKey: otherOrgKey.publicKey })).toBe(E);
    expect(await refused(member, { orgId: OTHER_ORG })).toBe(E);
    // The invite was for a GP; the member claims admin.
    expect(await refused(await memberVia(gp, Role.ADMIN, invite, inviteKey), {})).toBe(E);
    // Signed by someone other than the invite key.
    expect(await refused(await memberVia(gp, Role.GP, invite, gp.sig), {})).toBe(E);
    // Names another invite than the one given.
    const second = await invitation(Role.GP);
    expect(await refused(await memberVia(gp, Role.GP, second.invite, inviteKey), {})).toBe(E);
    expect(await refused(member, { inviteStatement: second.invite })).toBe(E);
    // An invite signed by a key other than the organisation's.
    const rogue = await invitation(Role.GP, ORG, await signer(otherOrgKey));
    expect(await refused(await memberVia(gp, Role.GP, rogue.invite, rogue.inviteKey), { inviteStatement: rogue.invite })).toBe(E);
    // The invite statement given is not an invite (kind check).
    expect(await refused(member, { inviteStatement: member })).toBe(E);
    // Through an invite, but checked as if signed by the OK directly.
    expect(await refused(member, { inviteStatement: null })).toBe(E);
    expect(await errorOf(() => verifyInviteStatement(invite, { orgId: OTHER_ORG, orgPublicKey: orgKey.publicKey }))).toBe(
      InviteStatementError.name,
    );
  });

  it("directly by the organisation key", async () => {
    const admin = await person();
    const member = await memberVia(admin, Role.ADMIN, null, orgKey);
    const s = await verifyMemberStatement(member, { orgId: ORG, orgPublicKey: orgKey.publicKey, inviteStatement: null });
    expect(s.inviteStatementHash).toBeNull();
    const { invite } = await invitation(Role.ADMIN);
    expect(
      await errorOf(() => verifyMemberStatement(member, { orgId: ORG, orgPublicKey: orgKey.publicKey, inviteStatement: invite })),
    ).toBe(MemberStatementError.name);
    expect(
      await errorOf(async () =>
        verifyMemberStatement(await memberVia(admin, Role.ADMIN, null, admin.sig), {
          orgId: ORG,
          orgPublicKey: orgKey.publicKey,
          inviteStatement: null,
        }),
      ),
    ).toBe(MemberStatementError.name);
  });
});

describe("verifyStatement and parseStatement", () => {
  it("checks kind, signer and signature; parse refuses malformed layouts", async () => {
    const admin = await person();
    const member = await memberVia(admin, Role.ADMIN, null, orgKey);
    expect((await verifyStatement(member, orgKey.publicKey)).kind).toBe(StatementKind.MEMBER);
    expect((await verifyStatement(member, orgKey.publicKey, StatementKind.MEMBER)).kind).toBe(3);
    expect(await errorOf(() => verifyStatement(member, orgKey.publicKey, StatementKind.INVITE))).toBe(
      StatementSignatureError.name,
    );
    expect(await errorOf(() => verifyStatement(member, otherOrgKey.publicKey))).toBe(StatementSignatureError.name);
    expect(await errorOf(() => verifyStatement(member, new Uint8Array(65)))).toBe(StatementSignatureError.name);
    const L = member.length - 64 - 30;
    const malformed: [string, Uint8Array][] = [
      ["empty", new Uint8Array(0)],
      ["truncated", member.subarray(0, member.length - 1)],
      ["trailing", concat(member, new Uint8Array(1))],
      ["kind 0", (() => { const m = member.slice(); m[3] = 0; return m; })()],
      ["kind 6", (() => { const m = member.slice(); m[3] = 6; return m; })()],
      ["issued at 2^53", concat(member.subarray(0, 20), fromHex("0020000000000000"), member.subarray(28))],
      ["body length + 1", (() => { const m = member.slice(); m[29] = L + 1; return m; })()],
      ["role 6", (() => { const m = member.slice(); m[30 + 32] = 6; return m; })()],
      ["signing key compressed", (() => { const m = member.slice(); m[30 + 33] = 2; return m; })()],
      ["record type 0x0d", (() => { const m = member.slice(); m[2] = 0x0d; return m; })()],
    ];
    for (const [what, rec] of malformed) {
      expect([what, await errorOf(() => parseStatement(rec))]).toEqual([what, StatementError.name]);
      expect([what, await errorOf(() => verifyStatement(rec, orgKey.publicKey))]).toEqual([what, StatementSignatureError.name]);
    }
  });

  it("the statement hash leaves out the (malleable) signature", async () => {
    const admin = await person();
    const a = await memberVia(admin, Role.ADMIN, null, orgKey);
    const signedPart = a.slice(0, a.length - 64) as Uint8Array<ArrayBuffer>;
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", signedPart));
    expect(toHex(await statementHash(a))).toBe(toHex(digest));
  });
});

describe("records key chain", async () => {
  const admins = await Promise.all([person(), person(), person()]);
  const adminMembers: CertifiedMember[] = await Promise.all(
    admins.map(async (a) => ({ statement: await memberVia(a, Role.ADMIN, null, orgKey) })),
  );
  const gp = await person();
  const gpMember: CertifiedMember = { statement: await memberVia(gp, Role.GP, null, orgKey) };
  const records = [await generateKeyPair(), await generateKeyPair(), await generateKeyPair()];
  const rsk = await Promise.all(records.map((r) => deriveRecordsSigningKey(r.privateKey)));

  const link = async (sequence: number, by: KeyPair) =>
    makeRecordsKeyStatement({
      orgId: ORG,
      sequence,
      recordsPublicKey: records[sequence]!.publicKey,
      recordsSigningPublicKey: rsk[sequence]!.publicKey,
      previousRecordsKeyId: sequence === 0 ? null : records[sequence - 1]!.keyId,
      signer: await signer(by),
      issuedAtMs: AT + sequence,
    });
  const approve = async (statement: Uint8Array, who: { userId: string; sig: KeyPair }) =>
    makeApprovalStatement({
      approvedStatementHash: await statementHash(statement),
      approverUserId: who.userId,
      approverSigningKey: await signer(who.sig),
      issuedAtMs: AT + 9,
    });

  const s0 = await link(0, orgKey);
  const s1 = await link(1, rsk[0]!); // rollover by the holder of the old file
  const s2 = await link(2, orgKey); // two-person change
  const twoApprovals = [await approve(s2, admins[0]!), await approve(s2, admins[1]!)];
  const good: RecordsKeyChange[] = [{ statement: s0 }, { statement: s1 }, { statement: s2, approvals: twoApprovals }];
  const verify = (changes: RecordsKeyChange[], extra: Partial<Parameters<typeof verifyRecordsKeyChain>[1]> = {}) =>
    verifyRecordsKeyChain(changes, { orgId: ORG, orgPublicKey: orgKey.publicKey, admins: adminMembers, ...extra });
  const E = RecordsKeyChainError.name;

  it("the records signing key is derived from the records scalar", async () => {
    expect(toHex(rsk[0]!.publicKey)).not.toBe(toHex(records[0]!.publicKey));
    expect(toHex((await deriveRecordsSigningKey(records[0]!.privateKey)).privateKey)).toBe(toHex(rsk[0]!.privateKey));
  });

  it("sequence 0, a rollover and a two-person change verify", async () => {
    expect((await verify([{ statement: s0 }])).sequence).toBe(0);
    expect((await verify(good.slice(0, 2))).sequence).toBe(1);
    const newest = await verify(good);
    expect(newest.sequence).toBe(2);
    expect(toHex(newest.recordsPublicKey)).toBe(toHex(records[2]!.publicKey));
    expect(toHex(newest.previousRecordsKeyId!)).toBe(toHex(records[1]!.keyId));
    expect(
      (await verify(good, { pin: { sequence: 1, recordsPublicKey: records[1]!.publicKey } })).sequence,
    ).toBe(2);
  });

  it("refuses every broken rule", async () => {
    const s2ByGp = await approve(s2, gp);
    const others = await Promise.all([person(), person()]);
    const uncertified = await Promise.all(others.map((o) => approve(s2, o)));
    const s1ByOk = await link(1, orgKey);
    const s1ByStranger = await link(1, (await generateKeyPair()));
    const s0ByOther = await link(0, otherOrgKey);
    const otherApproved = await approve(s1, admins[1]!);
    const notApproval = adminMembers[0]!.statement;
    const skip = await makeRecordsKeyStatement({
      orgId: ORG,
      sequence: 1,
      recordsPublicKey: records[1]!.publicKey,
      recordsSigningPublicKey: rsk[1]!.publicKey,
      previousRecordsKeyId: records[2]!.keyId,
      signer: await signer(rsk[0]!),
      issuedAtMs: AT,
    });
    const bad: [string, RecordsKeyChange[], Partial<Parameters<typeof verifyRecordsKeyChain>[1]>][] = [
      ["empty chain", [], {}],
      ["sequence 0 not by the OK", [{ statement: s0ByOther }], {}],
      ["another organisation key", good, { orgPublicKey: otherOrgKey.publicKey }],
      ["another organisation", good, { orgId: OTHER_ORG }],
      ["starts at sequence 1", [{ statement: s1 }], {}],
      ["sequence repeated", [{ statement: s0 }, { statement: s0 }], {}],
      ["names a previous key that is not the previous", [{ statement: s0 }, { statement: skip }], {}],
      ["change by the OK without approvals", [{ statement: s0 }, { statement: s1ByOk }], {}],
      ["change by neither OK nor rollover key", [{ statement: s0 }, { statement: s1ByStranger }], {}],
      ["one approval", [good[0]!, good[1]!, { statement: s2, approvals: [twoApprovals[0]!] }], {}],
      ["the same admin twice", [good[0]!, good[1]!, { statement: s2, approvals: [twoApprovals[0]!, twoApprovals[0]!] }], {}],
      ["an approval by a GP", [good[0]!, good[1]!, { statement: s2, approvals: [...twoApprovals, s2ByGp] }], {}],
      ["approvals by uncertified people", [good[0]!, good[1]!, { statement: s2, approvals: uncertified }], {}],
      ["an approval of another statement", [good[0]!, good[1]!, { statement: s2, approvals: [...twoApprovals, otherApproved] }], {}],
      ["an approval that is not an approval", [good[0]!, good[1]!, { statement: s2, approvals: [...twoApprovals, notApproval] }], {}],
      ["admins not given", good, { admins: [] }],
      ["the pinned key is not in the chain", good, { pin: { sequence: 1, recordsPublicKey: records[2]!.publicKey } }],
      ["the pin is beyond the chain", good.slice(0, 2), { pin: { sequence: 2, recordsPublicKey: records[2]!.publicKey } }],
    ];
    for (const [what, changes, extra] of bad) {
      expect([what, await errorOf(() => verify(changes, extra))]).toEqual([what, E]);
    }
    // Admin entries that do not verify simply cannot approve; the others still count.
    const withJunk = [...adminMembers, gpMember, { statement: new Uint8Array(10) }];
    expect((await verify(good, { admins: withJunk })).sequence).toBe(2);
  });

  it("misuse: exactly sequence 0 has no previous key", async () => {
    await expect(
      makeRecordsKeyStatement({
        orgId: ORG,
        sequence: 1,
        recordsPublicKey: records[1]!.publicKey,
        recordsSigningPublicKey: rsk[1]!.publicKey,
        previousRecordsKeyId: null,
        signer: OK,
        issuedAtMs: AT,
      }),
    ).rejects.toThrow(RangeError);
    await expect(
      makeRecordsKeyStatement({
        orgId: ORG,
        sequence: 1,
        recordsPublicKey: records[1]!.publicKey,
        recordsSigningPublicKey: rsk[1]!.publicKey,
        previousRecordsKeyId: new Uint8Array(16),
        signer: OK,
        issuedAtMs: AT,
      }),
    ).rejects.toThrow(RangeError);
  });
});

describe("invite fragment and key", () => {
  it("round-trips a certified and a server-made invite, canonical spellings only", async () => {
    const secret = new Uint8Array(32).fill(0xab);
    const kid = (await keyPairFromSeed(new Uint8Array(32).fill(1))).keyId;
    const text = formatInviteFragment(TOKEN, secret, kid);
    expect(text.split(".").map((p) => p.length)).toEqual([43, 43, 22]);
    const link = parseInviteFragment(text);
    expect(link.certified).toBe(true);
    expect(toHex(link.secret!)).toBe(toHex(secret));
    expect(toHex(link.orgKeyId!)).toBe(toHex(kid));
    expect(parseInviteFragment(TOKEN)).toEqual({ token: TOKEN, secret: null, orgKeyId: null, certified: false });
    const [t, s, k] = text.split(".") as [string, string, string];
    const last = (x: string, c: string) => x.slice(0, -1) + c;
    for (const bad of [
      "",
      `${TOKEN}.`,
      `${t}.${s}`,
      `${t}.${s}.${k}.`,
      `${t}.${s}.${last(k, "B")}`, // spare bits set
      `${t}.${last(s, "B")}.${k}`,
      `${last(t, "B")}`,
      `${t}=.${s}.${k}`,
      `${t}.${s}.${k}\n`,
      `${t.slice(1)}.${s}.${k}`,
    ]) {
      expect([bad, await errorOf(() => parseInviteFragment(bad))]).toEqual([bad, InviteLinkFormatError.name]);
    }
    expect(() => formatInviteFragment(TOKEN, secret, null)).toThrow(RangeError);
    expect(() => formatInviteFragment("short")).toThrow(RangeError);
  });

  it("derives one invite key per secret", async () => {
    const s = generateInviteSecret();
    const a = await deriveInviteKey(s);
    const b = await deriveInviteKey(s);
    expect(toHex(a.publicKey)).toBe(toHex(b.publicKey));
    expect(toHex(a.keyId)).toBe(toHex(await keyId(a.publicKey)));
    expect(toHex((await deriveInviteKey(generateInviteSecret())).publicKey)).not.toBe(toHex(a.publicKey));
    expect(toHex(await inviteTokenHash("abc"))).toBe(
      toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", utf8.encode("abc")))),
    );
    await expect(inviteTokenHash("é")).rejects.toThrow(RangeError);
  });
});
