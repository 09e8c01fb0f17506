/**
 * A certified invite link (docs/protocol.md section 21) checked in the browser before an
 * account is made: the organisation key named by the fragment, the invite statement it signed,
 * the token hash and the invite key derived from `s`; the member statement signed with the
 * invite key verifies under the trust rule; an administrator's handover gives the organisation
 * key, wrapped to the new administrator. Every substitution the server could try is refused.
 */
import { describe, expect, it } from "vitest";
import { type InviteProof, InviteTrustError, checkCertifiedInvite, handoverWrap, memberStatementFor, pinFromInvite } from "../../src/app/certifiedInvite";
import { PinStore, memoryPinBackend } from "../../src/app/pins";
import { makeCertifiedInvite } from "../../src/app/orgKeyAdmin";
import {
  type KeyPair,
  type PublicSigningIdentity,
  OrganisationKind,
  Role,
  deriveInviteKey,
  formatInviteFragment,
  generateInviteSecret,
  generateKeyPair,
  inviteTokenHash,
  makeInviteStatement,
  makeOrganisationKeyStatement,
  openOrgKeyWrap,
  parseInviteFragment,
  sealOrgKeyHandover,
  verifyMemberStatement,
} from "../../src/crypto/index";
import { toBase64Url } from "../../src/crypto/bytes";
import { p256Sign } from "../../src/crypto/primitives/ecc";
import { TestLog } from "../helpers/log";
import { user } from "../helpers/people";

const ORG = "0f1e2d3c-4b5a-4968-8776-655443322110";
const T = 1_700_000_000_000;
const signer = (pair: KeyPair): PublicSigningIdentity => ({ keyId: pair.keyId, publicKey: pair.publicKey, sign: (m) => p256Sign(pair.privateKey, m) });

async function invite(role: Role = Role.DERMATOLOGIST, roleName = "dermatologist") {
  const log = await TestLog.create();
  const ok = await generateKeyPair();
  const orgIdx = await log.appendStatement(await makeOrganisationKeyStatement({ orgId: ORG, orgKind: OrganisationKind.SERVICE, name: "North Dermatology", orgKey: signer(ok), issuedAtMs: T }));
  const token = toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  const secret = generateInviteSecret();
  const ik = await deriveInviteKey(secret);
  const statement = await makeInviteStatement({ orgId: ORG, role, invitePublicKey: ik.publicKey, expiresAtMs: T + 1, tokenHash: await inviteTokenHash(token), orgKey: signer(ok), issuedAtMs: T });
  const invIdx = await log.appendStatement(statement);
  const link = parseInviteFragment(formatInviteFragment(token, secret, ok.keyId));
  const proof: InviteProof = {
    orgId: ORG,
    role: roleName,
    treeHead: await log.head(),
    logPublicKey: log.key.publicKey,
    orgKey: await log.ref(orgIdx),
    inviteStatement: await log.ref(invIdx),
    handover: role === Role.ADMIN ? await sealOrgKeyHandover(ok, { orgId: ORG, inviteSecret: secret }) : null,
  };
  return { log, ok, link, proof, token, secret };
}

describe("a certified invite link", () => {
  it("checks, signs the member statement with the invite key and pins the organisation from the invite", async () => {
    const { ok, link, proof } = await invite();
    const c = await checkCertifiedInvite(link, proof);
    expect(c.orgName).toBe("North Dermatology");
    const u = await user();
    const member = await memberStatementFor(c, { userId: u.keys.userId, signingPublicKey: u.sig.publicKey, encryptionPublicKey: u.enc.publicKey });
    const m = await verifyMemberStatement(member, { orgId: ORG, orgPublicKey: ok.publicKey, inviteStatement: c.inviteStatement });
    expect([m.userId, m.role]).toEqual([u.keys.userId, Role.DERMATOLOGIST]);
    expect(m.encryptionPublicKey).toEqual(u.enc.publicKey);
    const pins = new PinStore(u.keys.userId, memoryPinBackend());
    await pinFromInvite(pins, c);
    const p = await pins.read();
    expect(p.orgs[ORG]).toMatchObject({ from: "invite", orgPublicKey: ok.publicKey });
    expect(p.log!.publicKey).toEqual(proof.logPublicKey);
  });

  it("refuses every substitution: another organisation key, a stripped or foreign statement, another token, role or secret", async () => {
    const { link, proof, log } = await invite();
    const refused = async (l: typeof link, p: InviteProof) => expect(checkCertifiedInvite(l, p)).rejects.toBeInstanceOf(InviteTrustError);
    // The server shows the invite as uncertified (a downgrade).
    await refused(link, { ...proof, inviteStatement: null });
    await refused(link, { ...proof, orgKey: null, treeHead: null });
    // replace_org_key: a whole other organisation with its own key and invite for this token.
    const other = await invite();
    await refused(link, { ...proof, ...{ orgKey: other.proof.orgKey, inviteStatement: other.proof.inviteStatement, treeHead: other.proof.treeHead, logPublicKey: other.proof.logPublicKey } });
    // Another role than the statement's.
    await refused(link, { ...proof, role: "admin" });
    // The link's secret does not derive the certified invite key; the token is another.
    await refused(parseInviteFragment(formatInviteFragment(link.token, generateInviteSecret(), link.orgKeyId)), proof);
    await refused(parseInviteFragment(formatInviteFragment(other.token, link.secret, link.orgKeyId)), proof);
    // A proof that does not hold at the head.
    await refused(link, { ...proof, orgKey: { ...proof.orgKey!, index: 1 } });
    // A head signed by another key than the one named.
    await refused(link, { ...proof, treeHead: await log.head(log.size, await generateKeyPair()) });
  });

  it("an administrator's invite hands over the organisation key, wrapped to the new administrator", async () => {
    const { ok, link, proof } = await invite(Role.ADMIN, "admin");
    const c = await checkCertifiedInvite(link, proof);
    const admin = await user();
    const wrap = (await handoverWrap(c, admin.keys))!;
    const opened = await openOrgKeyWrap(wrap, {
      orgId: ORG,
      orgKeyId: ok.keyId,
      recipient: { privateKey: admin.keys.encryption.privateKey, publicKey: admin.enc.publicKey, keyId: admin.enc.keyId },
      wrapperSigningPublicKey: admin.sig.publicKey,
      wrapperUserId: admin.keys.userId,
    });
    expect(opened.publicKey).toEqual(ok.publicKey);
    // A handover of another key than the link names is refused.
    const other = await generateKeyPair();
    const bad = await checkCertifiedInvite(link, proof);
    await expect(handoverWrap({ ...bad, handover: await sealOrgKeyHandover(other, { orgId: ORG, inviteSecret: c.secret }) }, admin.keys)).rejects.toThrow();
  });

  it("an invite made by the administrator's browser passes the newcomer's check (both directions of the same rules)", async () => {
    const log = await TestLog.create();
    const ok = await generateKeyPair();
    const orgIdx = await log.appendStatement(await makeOrganisationKeyStatement({ orgId: ORG, orgKind: OrganisationKind.SERVICE, name: "North Dermatology", orgKey: signer(ok), issuedAtMs: T }));
    for (const role of ["dermatologist", "admin"]) {
      const made = await makeCertifiedInvite(ok, { orgId: ORG, role, expiresAtMs: T + 3600_000, nowMs: T });
      expect(made.handover === null).toBe(role !== "admin");
      const idx = await log.appendStatement(made.inviteStatement);
      const link = parseInviteFragment(made.fragment);
      expect(link.token).toBe(made.token);
      const c = await checkCertifiedInvite(link, {
        orgId: ORG,
        role,
        treeHead: await log.head(),
        logPublicKey: log.key.publicKey,
        orgKey: await log.ref(orgIdx),
        inviteStatement: await log.ref(idx),
        handover: made.handover,
      });
      if (role === "admin") {
        const admin = await user();
        expect(await handoverWrap(c, admin.keys)).not.toBeNull();
      }
    }
  });
});
