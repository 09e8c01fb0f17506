/**
 * Accepting a certified invite link (docs/protocol.md section 21): `#/invite/<token>.<s>.<okid>`.
 * The fragment never reaches the server, so the key id of the organisation key in it is a trust
 * anchor the server cannot change. Before anything is made, the browser checks what the server
 * shows for the invite (POST /invites/inspect):
 *
 * - the tree head verifies under the log key the answer names (pinned at first contact);
 * - the organisation key statement is in the log, self-signed for this organisation, and its
 *   key has exactly the id in the link;
 * - the invite statement is in the log, signed by that key, for this organisation and role,
 *   names SHA-256 of this token, and its invite key is the key derived from `s`.
 *
 * Then the member statement (the new account's keys) is signed with the invite key, the
 * organisation key is pinned "from the invite", and for an administrator's invite the handover
 * (0x10) is opened with `s` and the organisation key wrapped to the new administrator (0x0f).
 * A link that carries `s` but whose invite the server shows uncertified is refused: a server
 * cannot downgrade a certified invite.
 */
import {
  type InviteLink,
  type KeyPair,
  LogEntryType,
  type Role,
  deriveInviteKey,
  equalBytes,
  inviteTokenHash,
  keyId,
  makeMemberStatement,
  openOrgKeyHandover,
  parseLogEntry,
  statementHash,
  verifyEntryIncluded,
  verifyInviteStatement,
  verifyOrganisationKeyStatement,
  verifyTreeHead,
  wrapOrgKey,
  signingIdentity,
} from "./cryptoFacade";
import { p256Sign } from "../crypto/primitives/ecc";
import type { PinStore } from "./pins";
import type { UnlockedKeys } from "./session";
import type { LogRef } from "./transparency";

export const ROLE_CODES: Record<string, Role> = { gp: 1, dermatologist: 2, admin: 3, records_officer: 4, auditor: 5 };

/** What the inspect answer shows of a certified invite (contract section 5). */
export interface InviteProof {
  orgId: string;
  role: string;
  treeHead: Uint8Array | null;
  logPublicKey: Uint8Array | null;
  inviteStatement: LogRef | null;
  orgKey: LogRef | null;
  handover: Uint8Array | null;
}

export interface CheckedInvite {
  orgId: string;
  orgName: string;
  role: Role;
  orgPublicKey: Uint8Array;
  inviteStatement: Uint8Array;
  inviteKey: KeyPair;
  treeHead: Uint8Array;
  logPublicKey: Uint8Array;
  handover: Uint8Array | null;
  secret: Uint8Array;
  orgKeyId: Uint8Array;
}

export class InviteTrustError extends Error {
  constructor() {
    super("This invitation link was certified by your organisation, but what the server shows for it does not match. Do not use it: ask your administrator for a new link.");
    this.name = "InviteTrustError";
  }
}

async function proven(ref: LogRef, head: Awaited<ReturnType<typeof verifyTreeHead>>): Promise<Uint8Array> {
  await verifyEntryIncluded(ref.entry, { index: ref.index, treeHead: head, proof: ref.proof });
  const e = await parseLogEntry(ref.entry);
  if (e.entryType !== LogEntryType.STATEMENT) throw new InviteTrustError();
  return e.statement.record;
}

/** Check a certified link against the inspect answer; InviteTrustError for anything wrong. */
export async function checkCertifiedInvite(link: InviteLink, proof: InviteProof): Promise<CheckedInvite> {
  if (!link.certified || link.secret === null || link.orgKeyId === null) throw new TypeError("not a certified link");
  const role = ROLE_CODES[proof.role];
  if (role === undefined || proof.treeHead === null || proof.logPublicKey === null || proof.orgKey === null || proof.inviteStatement === null) {
    throw new InviteTrustError();
  }
  try {
    const head = await verifyTreeHead(proof.treeHead, proof.logPublicKey);
    const orgRecord = await proven(proof.orgKey, head);
    const org = await verifyOrganisationKeyStatement(orgRecord, { orgId: proof.orgId });
    if (!equalBytes(await keyId(org.orgPublicKey), link.orgKeyId)) throw new InviteTrustError();
    const inviteRecord = await proven(proof.inviteStatement, head);
    const invite = await verifyInviteStatement(inviteRecord, { orgId: proof.orgId, orgPublicKey: org.orgPublicKey });
    const inviteKey = await deriveInviteKey(link.secret);
    if (invite.role !== role || !equalBytes(invite.tokenHash, await inviteTokenHash(link.token)) || !equalBytes(invite.invitePublicKey, inviteKey.publicKey)) {
      throw new InviteTrustError();
    }
    return {
      orgId: proof.orgId,
      orgName: org.name,
      role,
      orgPublicKey: org.orgPublicKey,
      inviteStatement: inviteRecord,
      inviteKey,
      treeHead: proof.treeHead,
      logPublicKey: proof.logPublicKey,
      handover: proof.handover,
      secret: link.secret,
      orgKeyId: link.orgKeyId,
    };
  } catch (e) {
    if (e instanceof InviteTrustError) throw e;
    throw new InviteTrustError();
  }
}

/** The member statement of the new account, signed with the invite key (then forgotten). */
export async function memberStatementFor(c: CheckedInvite, k: { userId: string; signingPublicKey: Uint8Array; encryptionPublicKey: Uint8Array }): Promise<Uint8Array> {
  const ik = c.inviteKey;
  return makeMemberStatement({
    userId: k.userId,
    orgId: c.orgId,
    role: c.role,
    signingPublicKey: k.signingPublicKey,
    encryptionPublicKey: k.encryptionPublicKey,
    inviteStatementHash: await statementHash(c.inviteStatement),
    signer: { keyId: ik.keyId, sign: (m) => p256Sign(ik.privateKey, m) },
    issuedAtMs: Date.now(),
  });
}

/** Pin the log key and head and the organisation key, "from the invite", for the new user. */
export async function pinFromInvite(pins: PinStore, c: CheckedInvite): Promise<void> {
  await pins.update((p, now) => {
    if (p.log === null) p.log = { publicKey: c.logPublicKey, treeHead: c.treeHead };
    p.orgs[c.orgId] = { orgId: c.orgId, name: c.orgName, orgPublicKey: c.orgPublicKey, from: "invite", firstSeenMs: now };
  });
}

/**
 * An administrator's invite: the organisation key from the handover, opened with `s` (it must
 * be the key the link names), wrapped to the new administrator's own encryption key so that it
 * no longer depends on the link. Null when the invite carries no handover.
 */
export async function handoverWrap(c: CheckedInvite, keys: UnlockedKeys): Promise<Uint8Array | null> {
  if (c.handover === null) return null;
  const ok = await openOrgKeyHandover(c.handover, { orgId: c.orgId, inviteSecret: c.secret, orgKeyId: c.orgKeyId });
  try {
    return await wrapOrgKey(ok, { orgId: c.orgId, recipientPublicKey: keys.encryption.publicKey, wrapperUserId: keys.userId, wrapperSigningKey: signingIdentity(keys.signing) });
  } finally {
    ok.privateKey.fill(0);
  }
}
