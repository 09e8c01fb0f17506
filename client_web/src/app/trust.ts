/**
 * The keys a case may be read and written with (docs/protocol.md section 18): every participant
 * the server lists is checked against this device's pins before their keys are used.
 *
 * - First contact pins silently.
 * - A participant whose listed keys differ from the pinned ones is reported (KeyCheck "changed"
 *   or "changed_verified") and, until the user accepts the change, the PINNED keys stand in for
 *   the listed ones: their wraps and messages are verified against the keys this device knows,
 *   so a server that substitutes someone's signing key cannot slip in messages in their name
 *   (they show as unreadable), and the page sends nothing while anyone is blocked.
 * - The server listing ME with keys that are not mine is the same attack on everyone else; it
 *   is reported as `selfMismatch` and my own keys stand in.
 */
import type { Api, CaseDetail, DirectoryAnswer, Participant } from "./api";
import { type CertifiedMember, equalBytes } from "./cryptoFacade";
import { type KeyCheck, type PinStore, blocked } from "./pins";
import type { UnlockedKeys } from "./session";
import {
  type LogRef,
  type LogSource,
  type MemberProof,
  type MemberResult,
  type OrgProof,
  TrustError,
  acceptHead,
  certifiedAdmins,
  verifyMember,
  verifyOrgKey,
  verifyRecordsKey,
  verifyRemovals,
} from "./transparency";

/** A person as an answer lists them, with the organisation they are listed for. */
export interface AnsweredPerson {
  userId: string;
  name: string;
  orgId: string | undefined;
  signingPublicKey: Uint8Array;
  encryptionPublicKey: Uint8Array;
  proof: MemberProof | undefined;
}

export interface LogVerdict {
  /** False when the answer carried no log proofs (a server before the log): first use only. */
  verified: boolean;
  /** Per person: the certifying organisation's name, or null (logged uncertified). */
  certifiedBy: Map<string, string | null>;
  /** People whose listed keys the log does not back as the rules require: never used. */
  unlogged: { userId: string; name: string; message: string }[];
  /** A hard stop for the whole answer (log rewritten, organisation key changed, ...). */
  hardStop: string | null;
  /** Per organisation (when asked for): the records key to wrap to, checked against the pin. */
  records: Map<string, { publicKey: Uint8Array; sequence: number | null } | null>;
  /** Per organisation: its records key could not be accepted (the message). */
  recordsProblems: Map<string, string>;
  /** Removals proven in the log. */
  removals: { userId: string; orgId: string | null }[];
}

/**
 * Check one answer's log proofs (src/app/transparency.ts): the head, each organisation's key,
 * each person's keys, optionally the records keys (admins for the two-person rule come from
 * the certified administrators among `people`), and the removals. Never throws for what the
 * server sent: every failure is in the verdict, for the page to show and to refuse to use.
 */
export async function verifyAnswer(
  pins: PinStore,
  log: LogSource,
  a: { treeHead: Uint8Array | null | undefined; orgs: readonly OrgProof[]; people: readonly AnsweredPerson[]; removals: readonly LogRef[]; recordsKeys?: boolean },
): Promise<LogVerdict> {
  const v: LogVerdict = { verified: false, certifiedBy: new Map(), unlogged: [], hardStop: null, records: new Map(), recordsProblems: new Map(), removals: [] };
  if (a.treeHead === null || a.treeHead === undefined) {
    // A device that has already seen this server's log requires it in every answer: a
    // server cannot switch the checks off by leaving the proofs out.
    if ((await pins.read()).log !== null) v.hardStop = "The server's answer has no proof from its key log. Dermline will not use the keys in it.";
    return v;
  }
  try {
    const head = await acceptHead(pins, log, a.treeHead);
    const orgKeys = new Map<string, Uint8Array | null>();
    for (const org of a.orgs) orgKeys.set(org.orgId, await verifyOrgKey(pins, head, org));
    const results: (MemberResult & { orgId: string })[] = [];
    for (const p of a.people) {
      const org = a.orgs.find((o) => o.orgId === p.orgId);
      if (!org || !p.proof) {
        v.unlogged.push({ userId: p.userId, name: p.name, message: new TrustError("member_invalid", p.name).message });
        continue;
      }
      try {
        const r = await verifyMember(head, { orgId: org.orgId, name: org.name, orgPublicKey: orgKeys.get(org.orgId) ?? null }, p, p.proof);
        v.certifiedBy.set(p.userId, r.certifiedBy);
        results.push({ ...r, orgId: org.orgId });
      } catch (e) {
        if (!(e instanceof TrustError)) throw e;
        v.unlogged.push({ userId: p.userId, name: p.name, message: e.message });
      }
    }
    if (a.recordsKeys) {
      for (const org of a.orgs) {
        const admins: CertifiedMember[] = certifiedAdmins(results.filter((r) => r.orgId === org.orgId));
        try {
          v.records.set(org.orgId, await verifyRecordsKey(pins, head, org, orgKeys.get(org.orgId) ?? null, admins));
        } catch (e) {
          if (!(e instanceof TrustError)) throw e;
          v.recordsProblems.set(org.orgId, e.message);
        }
      }
    }
    v.removals = await verifyRemovals(head, a.removals);
    v.verified = true;
  } catch (e) {
    if (!(e instanceof TrustError)) throw e;
    v.hardStop = e.message;
  }
  return v;
}

export interface CaseTrust {
  /** The detail with every participant's keys as this device trusts them. */
  trusted: CaseDetail;
  checks: KeyCheck[];
  /** The people whose changed keys block sending (named in the warning). */
  blocked: KeyCheck[];
  /** The server lists other keys for the signed-in user. */
  selfMismatch: boolean;
  /** The answer's log proofs (null when no log source was given). */
  log: LogVerdict | null;
  /** People the log shows removed (read by this device) whom the server still lists. */
  hiddenRemovals: { userId: string; name: string }[];
  /** Sending is refused: a blocked person, an unlogged person, my own keys, a hidden removal, a hard stop. */
  sendBlocked: boolean;
}

const ROLE_CODE: Record<string, number> = { gp: 1, dermatologist: 2, admin: 3, records_officer: 4, auditor: 5 };

export async function checkCaseTrust(pins: PinStore, keys: UnlockedKeys, detail: CaseDetail, log: LogSource | null = null): Promise<CaseTrust> {
  const others = detail.participants.filter((p) => p.userId !== keys.userId);
  const verdict =
    log === null
      ? null
      : await verifyAnswer(pins, log, {
          treeHead: detail.treeHead,
          orgs: detail.orgs ?? [],
          people: others.map((p) => ({ ...p, name: p.displayName, orgId: p.orgId, proof: p.proof })),
          removals: (detail.removed ?? []).flatMap((r) => (r.log ? [r.log] : [])),
        });
  // Only keys the log backs are pinned; with no verdict (no log source) first use pins all.
  const untrusted = new Set(verdict === null ? [] : verdict.hardStop !== null ? others.map((p) => p.userId) : verdict.unlogged.map((u) => u.userId));
  const checks = await pins.observe(
    others
      .filter((p) => !untrusted.has(p.userId))
      .map((p) => ({
        userId: p.userId,
        name: p.displayName,
        signingPublicKey: p.signingPublicKey,
        encryptionPublicKey: p.encryptionPublicKey,
        certifiedBy: verdict?.certifiedBy.get(p.userId) ?? null,
      })),
  );
  const byId = new Map(checks.map((c) => [c.userId, c]));
  const pinned = (await pins.read()).people;
  let selfMismatch = false;
  const participants = detail.participants.map((p): Participant => {
    if (p.userId === keys.userId) {
      const mine = equalBytes(p.signingPublicKey, keys.signing.publicKey) && equalBytes(p.encryptionPublicKey, keys.encryption.publicKey);
      if (!mine) selfMismatch = true;
      return { ...p, signingPublicKey: keys.signing.publicKey, encryptionPublicKey: keys.encryption.publicKey };
    }
    const c = byId.get(p.userId);
    if (c === undefined) {
      // Keys the log does not back: the pinned keys if this device has them, else none at all
      // (their messages show as unreadable: nobody can check who sent them).
      const pin = pinned[p.userId];
      return pin ? { ...p, signingPublicKey: pin.signingPublicKey, encryptionPublicKey: pin.encryptionPublicKey } : { ...p, untrusted: true };
    }
    return c.state === "changed" || c.state === "changed_verified"
      ? { ...p, signingPublicKey: c.pin.signingPublicKey, encryptionPublicKey: c.pin.encryptionPublicKey }
      : p;
  });
  // A removal this device read in the log (after the person's current membership entry) of a
  // participant the server still lists and does not name as removed: the server hides it
  // (docs/protocol.md section 24). Nothing more is sent in the case.
  const listedRemoved = new Set([...(detail.rotation?.removed ?? []), ...(detail.removed ?? []).map((r) => r.userId)]);
  const removals = (await pins.read()).removals ?? [];
  const hiddenRemovals = others
    .filter((p) => {
      const since = p.proof?.certification?.member.index ?? p.proof?.uncertified?.index ?? -1;
      return (
        !listedRemoved.has(p.userId) &&
        removals.some((r) => r.userId === p.userId && r.index > since && (r.orgId === null || r.orgId === p.orgId) && (r.role === null || r.role === ROLE_CODE[p.role]))
      );
    })
    .map((p) => ({ userId: p.userId, name: p.displayName }));
  const stop = blocked(checks);
  const sendBlocked =
    stop.length > 0 || selfMismatch || hiddenRemovals.length > 0 || (verdict !== null && (verdict.hardStop !== null || verdict.unlogged.length > 0));
  return { trusted: { ...detail, participants }, checks, blocked: stop, selfMismatch, log: verdict, hiddenRemovals, sendBlocked };
}

/** The API's transparency routes as the checks' LogSource. */
export function logSource(api: Pick<Api, "transparencyHead" | "consistency" | "logEntries" | "inclusion">): LogSource {
  return {
    head: () => api.transparencyHead(),
    consistency: (from, to) => api.consistency(from, to),
    entries: (start, end) => api.logEntries(start, end),
    inclusion: (index, size) => api.inclusion(index, size),
  };
}

/** The members of a directory answer (all, or those `keep` selects) as AnsweredPerson. */
export function directoryPeople(answer: DirectoryAnswer, orgId: string, keep: (p: DirectoryAnswer["members"][number]) => boolean = () => true): AnsweredPerson[] {
  return answer.members.filter(keep).map((m) => ({
    userId: m.userId,
    name: m.displayName,
    orgId,
    signingPublicKey: m.signingPublicKey,
    encryptionPublicKey: m.encryptionPublicKey,
    proof: m.proof,
  }));
}
