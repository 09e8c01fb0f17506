/**
 * An administrator's use of the organisation key in the browser (docs/protocol.md section 21):
 * opening their own wrap of it (0x0f) and making certified invites. The key is opened only for
 * the moment it signs and is wiped afterwards; it is checked against the organisation key this
 * device pinned from the log, and the wrap's signer must be the administrator themselves or an
 * administrator whose keys the organisation certified in the log.
 */
import type { Api, Organisation } from "./api";
import { ROLE_CODES } from "./certifiedInvite";
import {
  type KeyPair,
  OrganisationKind,
  deriveInviteKey,
  equalBytes,
  formatInviteFragment,
  generateInviteSecret,
  inviteTokenHash,
  keyId,
  generateKeyPair,
  makeInviteStatement,
  makeMemberStatement,
  makeOrganisationKeyStatement,
  openOrgKeyWrap,
  sealOrgKeyHandover,
  signingIdentity,
  wrapOrgKey,
} from "./cryptoFacade";
import { toBase64Url } from "../crypto/bytes";
import { p256Sign } from "../crypto/primitives/ecc";
import type { PinStore } from "./pins";
import type { UnlockedKeys } from "./session";
import { directoryPeople, logSource, verifyAnswer } from "./trust";

/** The organisation key, from my wrap, checked against the pinned key and its wrapper. */
export async function openMyOrgKey(api: Api, keys: UnlockedKeys, pins: PinStore, orgId: string): Promise<KeyPair> {
  const answer = await api.directoryAnswer(orgId);
  const admins = directoryPeople(answer, orgId, (p) => p.roles.some((r) => r.orgId === orgId && r.role === "admin"));
  const v = await verifyAnswer(pins, logSource(api), { treeHead: answer.treeHead, orgs: answer.org ? [answer.org] : [], people: admins, removals: [] });
  if (v.hardStop) throw new Error(v.hardStop);
  const pinned = (await pins.read()).orgs[orgId];
  if (!pinned) throw new Error("This organisation has no organisation key this device can check.");
  const w = await api.myOrgKeyWrap(orgId);
  const wrapper = answer.members.find((m) => m.userId === w.wrapperUserId);
  const trusted =
    w.wrapperUserId === keys.userId
      ? equalBytes(w.wrapperSigningPublicKey, keys.signing.publicKey)
      : wrapper !== undefined && v.certifiedBy.get(w.wrapperUserId) != null && equalBytes(wrapper.signingPublicKey, w.wrapperSigningPublicKey);
  if (!trusted) throw new Error("Your copy of the organisation key was not given to you by a certified administrator. Ask another administrator.");
  return openOrgKeyWrap(w.wrap, {
    orgId,
    orgKeyId: await keyId(pinned.orgPublicKey),
    recipient: { privateKey: keys.encryption.privateKey, publicKey: keys.encryption.publicKey, keyId: keys.encryption.keyId },
    wrapperSigningPublicKey: w.wrapperSigningPublicKey,
    wrapperUserId: w.wrapperUserId,
  });
}

export interface CertifiedInviteMade {
  token: string;
  inviteStatement: Uint8Array;
  handover: Uint8Array | null;
  /** What goes after #/invite/: token.s.okid (the secret never reaches the server). */
  fragment: string;
}

/**
 * A certified invite: a fresh token and secret s, the invite statement signed by the
 * organisation key (role, token hash, the invite key derived from s, the expiry), and for an
 * administrator the organisation key handed over under s (0x10).
 */
export async function makeCertifiedInvite(ok: KeyPair, p: { orgId: string; role: string; expiresAtMs: number; nowMs: number }): Promise<CertifiedInviteMade> {
  const role = ROLE_CODES[p.role];
  if (role === undefined) throw new RangeError("unknown role");
  const token = toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  const secret = generateInviteSecret();
  try {
    const ik = await deriveInviteKey(secret);
    ik.privateKey.fill(0);
    const inviteStatement = await makeInviteStatement({
      orgId: p.orgId,
      role,
      invitePublicKey: ik.publicKey,
      expiresAtMs: p.expiresAtMs,
      tokenHash: await inviteTokenHash(token),
      orgKey: { keyId: ok.keyId, sign: (m) => p256Sign(ok.privateKey, m) },
      issuedAtMs: p.nowMs,
    });
    const handover = p.role === "admin" ? await sealOrgKeyHandover(ok, { orgId: p.orgId, inviteSecret: secret }) : null;
    return { token, inviteStatement, handover, fragment: formatInviteFragment(token, secret, ok.keyId) };
  } finally {
    secret.fill(0);
  }
}

/** Expiries tried in turn (the server refuses one beyond its configured invite lifetime). */
export const CERTIFIED_INVITE_LIFETIMES_MS = [7 * 24 * 3600_000 - 10 * 60_000, 24 * 3600_000, 3600_000];

/** Make and create a certified invite for an organisation that has an organisation key. */
export async function createCertifiedInvite(
  api: Api,
  keys: UnlockedKeys,
  pins: PinStore,
  org: Organisation,
  role: string,
  loginName: string | null,
): Promise<{ fragment: string; expiresAt: string; role: string; orgId: string }> {
  const ok = await openMyOrgKey(api, keys, pins, org.orgId);
  try {
    let last: unknown = null;
    for (const lifetime of CERTIFIED_INVITE_LIFETIMES_MS) {
      const now = Date.now();
      const made = await makeCertifiedInvite(ok, { orgId: org.orgId, role, expiresAtMs: now + lifetime, nowMs: now });
      try {
        const created = await api.invite(org.orgId, role, loginName, { token: made.token, inviteStatement: made.inviteStatement, handover: made.handover });
        return { fragment: made.fragment, expiresAt: created.expiresAt, role: created.role, orgId: created.orgId };
      } catch (e) {
        last = e;
        if (!(e instanceof Error && "code" in e && (e as { code: string }).code === "statement_invalid")) throw e;
      }
    }
    throw last;
  } finally {
    ok.privateKey.fill(0);
  }
}

/**
 * Set up an organisation's key (docs/protocol.md sections 18 and 21): a fresh P-256 key made
 * here, its self-signed statement, a wrap (0x0f) to each administrator whose keys the log
 * shows (certified or enrolled uncertified), then the administrator's own member statement
 * signed by the new key (so they are a certified administrator, who can approve records-key
 * changes). The key's private part is wiped here; it lives only in the wraps.
 */
export async function setUpOrgKey(api: Api, keys: UnlockedKeys, pins: PinStore, org: Organisation): Promise<Uint8Array> {
  const answer = await api.directoryAnswer(org.orgId);
  const isAdmin = (p: { roles: { orgId: string; role: string }[] }) => p.roles.some((r) => r.orgId === org.orgId && r.role === "admin");
  const v = await verifyAnswer(pins, logSource(api), { treeHead: answer.treeHead, orgs: answer.org ? [answer.org] : [], people: directoryPeople(answer, org.orgId, isAdmin), removals: [] });
  if (v.hardStop) throw new Error(v.hardStop);
  if (!v.verified) throw new Error("The server does not show its key log, so the administrators' keys cannot be checked.");
  const admins = answer.members.filter((m) => isAdmin(m) && v.certifiedBy.has(m.userId) && m.userId !== keys.userId);
  const ok = await generateKeyPair();
  try {
    const now = Date.now();
    const statement = await makeOrganisationKeyStatement({
      orgId: org.orgId,
      orgKind: org.kind === "practice" ? OrganisationKind.PRACTICE : OrganisationKind.SERVICE,
      name: org.name,
      orgKey: { keyId: ok.keyId, publicKey: ok.publicKey, sign: (m) => p256Sign(ok.privateKey, m) },
      issuedAtMs: now,
    });
    const wrapper = signingIdentity(keys.signing);
    const wraps = [await wrapOrgKey(ok, { orgId: org.orgId, recipientPublicKey: keys.encryption.publicKey, wrapperUserId: keys.userId, wrapperSigningKey: wrapper })];
    for (const a of admins) wraps.push(await wrapOrgKey(ok, { orgId: org.orgId, recipientPublicKey: a.encryptionPublicKey, wrapperUserId: keys.userId, wrapperSigningKey: wrapper }));
    await api.setOrgKey(org.orgId, statement, wraps);
    await pins.update((p, t) => {
      p.orgs[org.orgId] = { orgId: org.orgId, name: org.name, orgPublicKey: ok.publicKey, from: "first_use", firstSeenMs: t };
    });
    const me = await makeMemberStatement({
      userId: keys.userId,
      orgId: org.orgId,
      role: ROLE_CODES.admin!,
      signingPublicKey: keys.signing.publicKey,
      encryptionPublicKey: keys.encryption.publicKey,
      inviteStatementHash: null,
      signer: { keyId: ok.keyId, sign: (m) => p256Sign(ok.privateKey, m) },
      issuedAtMs: now,
    });
    await api.certify(org.orgId, me);
    return ok.keyId;
  } finally {
    ok.privateKey.fill(0);
  }
}
