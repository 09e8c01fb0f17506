/**
 * Signed statements (0x0c), their trust rules, the invite key and fragment against EXACTLY the
 * Python reference vectors tests/vectors/dermline/statement.json and invite.json
 * (tools/gen_vectors.py; shape in tests/vectors/dermline/README.md). Valid statements are
 * re-made byte for byte with an RFC 6979 signer (as pyca signs) and, with the production
 * WebCrypto signer, equal up to the signature, which verifies. Runs in Node and in Chromium.
 */
import { describe, expect, it } from "vitest";
import { KeyPurpose, keyPairFromPrivate, signingIdentity, toAccountKey } from "../../src/crypto/account";
import { fromHex, toHex } from "../../src/crypto/bytes";
import {
  InviteLinkFormatError,
  InviteStatementError,
  MemberStatementError,
  OrganisationKeyStatementError,
  RecordsKeyChainError,
  StatementError,
  StatementSignatureError,
} from "../../src/crypto/errors";
import { deriveInviteKey, formatInviteFragment, parseInviteFragment } from "../../src/crypto/invite";
import {
  type PublicSigningIdentity,
  type Statement,
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
import { rfc6979Signer } from "../helpers/rfc6979";
import { loadVectors } from "../helpers/vectors";

type T = Record<string, unknown> & { tcId: number; comment: string; result: "valid" | "invalid"; flags: string[] };
interface VFile {
  numberOfTests: number;
  testGroups: { type: string; tests: T[] }[];
}

const statements = await loadVectors<VFile>("dermline/statement.json");
const invites = await loadVectors<VFile>("dermline/invite.json");
const group = (f: VFile, type: string): T[] => f.testGroups.find((g) => g.type === type)?.tests ?? [];
const cases = (f: VFile, type: string) => group(f, type).map((t) => [t.tcId, t.comment, t] as const);
const hx = (t: T, k: string) => fromHex(t[k] as string);
const optHx = (t: T, k: string) => (t[k] === null ? null : hx(t, k));

async function errorOf(fn: () => Promise<unknown> | unknown): Promise<string> {
  try {
    await fn();
    return "ok";
  } catch (e) {
    return (e as Error).name;
  }
}

/** A parsed statement in the vector file's field names (bytes as hex). */
function fields(s: Statement): Record<string, unknown> {
  const { record: _r, hash, signerKeyId, issuedAtMs, ...rest } = s;
  const out: Record<string, unknown> = {
    signer_key_id: toHex(signerKeyId),
    issued_at_ms: issuedAtMs,
    statement_hash: toHex(hash),
  };
  for (const [k, v] of Object.entries(rest)) {
    out[k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = v instanceof Uint8Array ? toHex(v) : v;
  }
  return out;
}

const FIELD_NAMES = new Set([
  "kind",
  "signer_key_id",
  "issued_at_ms",
  "statement_hash",
  "org_id",
  "org_kind",
  "org_public_key",
  "name",
  "role",
  "invite_public_key",
  "expires_at_ms",
  "token_hash",
  "user_id",
  "signing_public_key",
  "encryption_public_key",
  "invite_statement_hash",
  "sequence",
  "records_public_key",
  "records_signing_public_key",
  "previous_records_key_id",
  "approved_statement_hash",
  "approver_user_id",
]);
const expected = (t: T) => Object.fromEntries(Object.entries(t).filter(([k]) => FIELD_NAMES.has(k)));

/** Re-make a valid case with its kind's maker and the given signer. */
async function remake(t: T, signer: PublicSigningIdentity): Promise<Uint8Array> {
  const at = t.issued_at_ms as number;
  switch (t.kind) {
    case 1:
      return makeOrganisationKeyStatement({
        orgId: t.org_id as string,
        orgKind: t.org_kind as 1 | 2,
        name: t.name as string,
        orgKey: signer,
        issuedAtMs: at,
      });
    case 2:
      return makeInviteStatement({
        orgId: t.org_id as string,
        role: t.role as 1,
        invitePublicKey: hx(t, "invite_public_key"),
        expiresAtMs: t.expires_at_ms as number,
        tokenHash: hx(t, "token_hash"),
        orgKey: signer,
        issuedAtMs: at,
      });
    case 3:
      return makeMemberStatement({
        userId: t.user_id as string,
        orgId: t.org_id as string,
        role: t.role as 1,
        signingPublicKey: hx(t, "signing_public_key"),
        encryptionPublicKey: hx(t, "encryption_public_key"),
        inviteStatementHash: optHx(t, "invite_statement_hash"),
        signer,
        issuedAtMs: at,
      });
    case 4:
      return makeRecordsKeyStatement({
        orgId: t.org_id as string,
        sequence: t.sequence as number,
        recordsPublicKey: hx(t, "records_public_key"),
        recordsSigningPublicKey: hx(t, "records_signing_public_key"),
        previousRecordsKeyId: optHx(t, "previous_records_key_id"),
        signer,
        issuedAtMs: at,
      });
    default:
      return makeApprovalStatement({
        approvedStatementHash: hx(t, "approved_statement_hash"),
        approverUserId: t.approver_user_id as string,
        approverSigningKey: signer,
        issuedAtMs: at,
      });
  }
}

describe("statement.json", () => {
  it("covers the file", () => {
    expect(statements.testGroups.flatMap((g) => g.tests).length).toBe(statements.numberOfTests);
    expect(statements.testGroups.map((g) => g.type)).toEqual([
      "Statement",
      "OrganisationKeyStatement",
      "InviteStatement",
      "MemberStatement",
      "RecordsKeyChain",
    ]);
    // Every kind has a valid case.
    const kinds = new Set(group(statements, "Statement").filter((t) => t.result === "valid").map((t) => t.kind));
    expect([...kinds].sort()).toEqual([1, 2, 3, 4, 5]);
  });

  it.each(cases(statements, "Statement"))("Statement tc %i %s", async (_i, _c, t) => {
    const record = hx(t, "record");
    const signerPk = hx(t, "signer_public_key");
    expect(await errorOf(() => parseStatement(record))).toBe(t.parses ? "ok" : StatementError.name);
    expect(await errorOf(() => verifyStatement(record, signerPk))).toBe(
      t.signature_verifies ? "ok" : StatementSignatureError.name,
    );
    expect(t.result === "valid").toBe(t.signature_verifies);
    if (t.result !== "valid") return;
    expect(fields(await parseStatement(record))).toEqual(expected(t));
    expect(toHex(await statementHash(record))).toBe(t.statement_hash);
    const pair = await keyPairFromPrivate(hx(t, "signer_private_key"));
    expect(toHex(pair.publicKey)).toBe(t.signer_public_key);
    const deterministic = { keyId: pair.keyId, publicKey: pair.publicKey, sign: rfc6979Signer(pair.privateKey) };
    expect(toHex(await remake(t, deterministic))).toBe(t.record);
    const production = { ...signingIdentity(await toAccountKey(pair, KeyPurpose.SIGNING)), publicKey: pair.publicKey };
    const made = await remake(t, production);
    expect(toHex(made.subarray(0, made.length - 64))).toBe(toHex(record.subarray(0, record.length - 64)));
    expect(fields(await verifyStatement(made, signerPk))).toEqual(expected(t));
  });

  it.each(cases(statements, "OrganisationKeyStatement"))("OrganisationKeyStatement tc %i %s", async (_i, _c, t) => {
    const verify = () => verifyOrganisationKeyStatement(hx(t, "record"), { orgId: t.org_id as string });
    expect(await errorOf(verify)).toBe(t.result === "valid" ? "ok" : OrganisationKeyStatementError.name);
    if (t.result === "valid") expect(toHex((await verify()).orgPublicKey)).toBe(t.org_public_key);
  });

  it.each(cases(statements, "InviteStatement"))("InviteStatement tc %i %s", async (_i, _c, t) => {
    const verify = () =>
      verifyInviteStatement(hx(t, "record"), { orgId: t.org_id as string, orgPublicKey: hx(t, "org_public_key") });
    expect(await errorOf(verify)).toBe(t.result === "valid" ? "ok" : InviteStatementError.name);
  });

  it.each(cases(statements, "MemberStatement"))("MemberStatement tc %i %s", async (_i, _c, t) => {
    const verify = () =>
      verifyMemberStatement(hx(t, "record"), {
        orgId: t.org_id as string,
        orgPublicKey: hx(t, "org_public_key"),
        inviteStatement: optHx(t, "invite_statement"),
      });
    expect(await errorOf(verify)).toBe(t.result === "valid" ? "ok" : MemberStatementError.name);
    if (t.result === "valid") {
      // org_public_key is the verifier's input here, not a field of the member statement.
      const { org_public_key: _ok, ...memberFields } = expected(t);
      expect(fields(await verify())).toEqual(memberFields);
    }
  });

  it.each(cases(statements, "RecordsKeyChain"))("RecordsKeyChain tc %i %s", async (_i, _c, t) => {
    const changes = (t.changes as { statement: string; approvals: string[] }[]).map((c) => ({
      statement: fromHex(c.statement),
      approvals: c.approvals.map(fromHex),
    }));
    const admins = (t.admins as { statement: string; invite_statement: string | null }[]).map((m) => ({
      statement: fromHex(m.statement),
      inviteStatement: m.invite_statement === null ? null : fromHex(m.invite_statement),
    }));
    const pin = t.pin as { sequence: number; records_public_key: string } | null;
    const verify = () =>
      verifyRecordsKeyChain(changes, {
        orgId: t.org_id as string,
        orgPublicKey: hx(t, "org_public_key"),
        admins,
        pin: pin === null ? null : { sequence: pin.sequence, recordsPublicKey: fromHex(pin.records_public_key) },
      });
    expect(await errorOf(verify)).toBe(t.result === "valid" ? "ok" : RecordsKeyChainError.name);
    if (t.result === "valid") {
      const newest = await verify();
      expect([newest.sequence, toHex(newest.recordsPublicKey)]).toEqual([t.sequence, t.records_public_key]);
    }
  });
});

describe("invite.json", () => {
  it("covers the file", () => {
    expect(invites.testGroups.flatMap((g) => g.tests).length).toBe(invites.numberOfTests);
    expect(invites.testGroups.map((g) => g.type)).toEqual(["InviteKey", "InviteFragment"]);
  });

  it.each(cases(invites, "InviteKey"))("InviteKey tc %i %s", async (_i, _c, t) => {
    const k = await deriveInviteKey(hx(t, "secret"));
    expect([toHex(k.privateKey), toHex(k.publicKey), toHex(k.keyId)]).toEqual([t.private_key, t.public_key, t.key_id]);
  });

  it.each(cases(invites, "InviteFragment"))("InviteFragment tc %i %s", async (_i, _c, t) => {
    const text = t.text as string;
    if (t.result === "invalid") {
      expect(await errorOf(() => parseInviteFragment(text))).toBe(InviteLinkFormatError.name);
      return;
    }
    expect(formatInviteFragment(t.token as string, optHx(t, "secret"), optHx(t, "org_key_id"))).toBe(text);
    const link = parseInviteFragment(text);
    expect({
      token: link.token,
      secret: link.secret === null ? null : toHex(link.secret),
      org_key_id: link.orgKeyId === null ? null : toHex(link.orgKeyId),
    }).toEqual({ token: t.token, secret: t.secret, org_key_id: t.org_key_id });
    expect(link.certified).toBe(t.secret !== null);
  });
});
