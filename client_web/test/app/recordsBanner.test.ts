/**
 * The banner every practice member sees after a records-key change (contract section 6): the
 * date of the newest statement's log entry and the names of the approving administrators, or
 * a rollover signed with the previous records key; nothing for the first key.
 */
import { describe, expect, it } from "vitest";
import type { DirectoryAnswer } from "../../src/app/api";
import { recordsKeyChangeText } from "../../src/app/pages/RecordsKeyBanner";
import { type KeyPair, deriveRecordsSigningKey, generateKeyPair, keyId, makeApprovalStatement, makeRecordsKeyStatement, statementHash } from "../../src/crypto/index";
import { p256Sign } from "../../src/crypto/primitives/ecc";
import { TestLog } from "../helpers/log";

const ORG = "11111111-2222-4333-8444-555555555555";
const T = 1_700_000_000_000;
const signer = (k: KeyPair) => ({ keyId: k.keyId, sign: (m: Uint8Array) => p256Sign(k.privateKey, m) });

async function link(seq: number, rk: KeyPair, prev: KeyPair | null, by: KeyPair) {
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

describe("the records key banner", () => {
  it("names the date and the approving administrators, or the rollover; nothing for the first key", async () => {
    const log = await TestLog.create();
    const ok = await generateKeyPair();
    const rk0 = await generateKeyPair();
    const rk1 = await generateKeyPair();
    const s0 = await log.appendStatement(await link(0, rk0, null, ok));
    const answer = (recordsKeys: DirectoryAnswer["org"] extends infer O ? (O extends { recordsKeys: infer R } ? R : never) : never): DirectoryAnswer => ({
      treeHead: null,
      org: { orgId: ORG, name: "Elm Surgery", orgKey: null, recordsKeys, recordsPublicKey: null },
      members: [
        { userId: "a0000000-0000-4000-8000-000000000001", displayName: "Ann Admin", roles: [], encryptionPublicKey: ok.publicKey, signingPublicKey: ok.publicKey },
        { userId: "b0000000-0000-4000-8000-000000000002", displayName: "Bob Admin", roles: [], encryptionPublicKey: ok.publicKey, signingPublicKey: ok.publicKey },
      ],
      removals: [],
    });
    expect(await recordsKeyChangeText(answer([{ statement: await log.ref(s0), approvals: [] }]), "Elm Surgery")).toBeNull();
    const change = await link(1, rk1, rk0, ok);
    const s1 = await log.appendStatement(change);
    const approvals = [];
    for (const id of ["a0000000-0000-4000-8000-000000000001", "b0000000-0000-4000-8000-000000000002"]) {
      const k = await generateKeyPair();
      approvals.push(await log.ref(await log.appendStatement(await makeApprovalStatement({ approvedStatementHash: await statementHash(change), approverUserId: id, approverSigningKey: signer(k), issuedAtMs: T }))));
    }
    const text = await recordsKeyChangeText(answer([{ statement: await log.ref(s0), approvals: [] }, { statement: await log.ref(s1), approvals }]), "Elm Surgery");
    const day = new Date(1_700_000_000_000).toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric" });
    expect(text).toBe(`The Elm Surgery records key changed on ${day}, approved by Ann Admin and Bob Admin.`);
    const rollover = await recordsKeyChangeText(answer([{ statement: await log.ref(s0), approvals: [] }, { statement: await log.ref(s1), approvals: [] }]), "Elm Surgery");
    expect(rollover).toMatch(/signed with the previous records key/);
  });
});
