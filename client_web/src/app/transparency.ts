/**
 * Checking the server's directory and case answers against the key transparency log
 * (docs/protocol.md sections 18-20; the JSON shapes are docs/api.md, contract section 1-3).
 *
 * Every answer carries a signed tree head and, for each fact the client uses, a LogRef (the
 * whole log entry, its index and an inclusion proof against THAT head). The client:
 *
 * 1. verifies the head under the pinned log key (pinned on first use from
 *    GET /transparency/head) and that it extends the pinned head (a consistency proof from
 *    GET /transparency/consistency); a head that does not is a hard stop ("log_rewritten"), an
 *    older one too ("log_stale": the server withholds newer entries);
 * 2. takes facts only from the entries (parsed), never from the JSON beside them; a
 *    convenience field that disagrees with its entry is an attack;
 * 3. applies the trust rules of section 20: the organisation key (self-signed, pinned: another
 *    key for a pinned organisation is a hard stop), members certified by it (directly or through
 *    an invite) or listed as uncertified, the records-key chain from the pin.
 *
 * Failures are TrustError with a stable code and a plain message for the page.
 */
import {
  type CertifiedMember,
  LogEntryType,
  type LogEntry,
  type RecordsKeyStatement,
  type TreeHead,
  equalBytes,
  parseLogEntry,
  parseTreeHead,
  verifyEntryIncluded,
  verifyMemberStatement,
  verifyOrganisationKeyStatement,
  verifyRecordsKeyChain,
  verifyTreeHead,
  verifyTreeHeadExtends,
} from "./cryptoFacade";
import { type LoggedRemoval, type PinStore, observeRecordsKey, recordChain } from "./pins";

export interface LogRef {
  index: number;
  entry: Uint8Array;
  proof: Uint8Array[];
}

export interface Certification {
  member: LogRef;
  invite: LogRef | null;
}

/** How a member's keys are in the log: a certification or an uncertified entry. */
export interface MemberProof {
  certification: Certification | null;
  uncertified: LogRef | null;
}

export interface RecordsKeyLink {
  statement: LogRef;
  approvals: LogRef[];
}

/** What an answer says about one organisation (directory `org`, case `orgs[]`). */
export interface OrgProof {
  orgId: string;
  name: string;
  orgKey: LogRef | null;
  recordsKeys: RecordsKeyLink[];
  /** The convenience field (OrganisationOut); must agree with the chain's newest key. */
  recordsPublicKey: Uint8Array | null;
}

export type TrustErrorCode =
  | "log_head_invalid"
  | "log_rewritten"
  | "log_stale"
  | "not_in_log"
  | "org_key_invalid"
  | "org_key_changed"
  | "org_key_missing"
  | "member_invalid"
  | "records_key_invalid"
  | "records_key_changed";

const MESSAGES: Record<TrustErrorCode, string> = {
  log_head_invalid: "The server's answer is not signed by the key log this device trusts. Dermline has stopped using it.",
  log_rewritten: "The server's key log has been rewritten. Dermline has stopped: tell your administrator.",
  log_stale: "The server showed an older state of its key log than this device has already seen. Dermline will not send anything until it shows the current one.",
  not_in_log: "The server showed security keys that are not in its public key log. Dermline will not use them.",
  org_key_invalid: "The organisation key the server shows is not valid. Dermline will not use it.",
  org_key_changed: "The organisation key of {org} is not the one this device trusts. Dermline has stopped: tell your administrator.",
  org_key_missing: "The server no longer shows the organisation key of {org} that this device trusts. Dermline has stopped: tell your administrator.",
  member_invalid: "The server shows security keys for {name} that are not certified by their organisation or not in the key log. Dermline will not send them anything.",
  records_key_invalid: "The records key of {org} is not certified correctly. Dermline will not send a case to it: tell your practice administrator.",
  records_key_changed: "The records key of {org} has changed without a certified change. Dermline will not send a case to it: tell your practice administrator.",
};

export class TrustError extends Error {
  constructor(
    readonly code: TrustErrorCode,
    readonly subject: string = "",
  ) {
    super(MESSAGES[code].replace("{org}", subject || "the organisation").replace("{name}", subject || "this person"));
    this.name = "TrustError";
  }
}

/** The transparency routes the checks need (api.ts). */
export interface LogSource {
  head(): Promise<{ treeHead: Uint8Array; logPublicKey: Uint8Array }>;
  consistency(from: number, to: number): Promise<Uint8Array[]>;
  /** Entries start <= i < end (a page); absent: removals are not read from the log. */
  entries?(start: number, end: number): Promise<{ index: number; entry: Uint8Array }[]>;
  inclusion?(index: number, size: number): Promise<Uint8Array[]>;
}

/** The most entries read in one head move (a directory changes rarely; more is a monitor's job). */
export const MAX_SCAN = 500;

/**
 * The removal entries among the entries a new head added (from `from` to the head's size),
 * each proven included at that head (docs/protocol.md section 24: the client does not trust the
 * server about removals). Throws on anything that does not verify.
 */
export async function scanRemovals(log: LogSource, from: number, head: TreeHead): Promise<LoggedRemoval[]> {
  if (!log.entries || !log.inclusion) return [];
  const end = Math.min(head.treeSize, from + MAX_SCAN);
  const out: LoggedRemoval[] = [];
  let next = from;
  while (next < end) {
    const page = await log.entries(next, end);
    if (page.length === 0) throw new TrustError("not_in_log");
    for (const { index, entry } of page) {
      if (index !== next) throw new TrustError("not_in_log");
      await verifyEntryIncluded(entry, { index, treeHead: head, proof: await log.inclusion(index, head.treeSize) });
      const e = await parseLogEntry(entry);
      if (e.entryType === LogEntryType.REMOVAL) out.push({ index, userId: e.userId, orgId: e.orgId, role: e.role });
      next++;
    }
  }
  return out;
}

/**
 * Verify an answer's tree head against the pins and move the pinned head forward. On first
 * use the log key comes from GET /transparency/head (or, for a newcomer, the invite answer
 * through pinLogKey). Returns the verified head, for the inclusion proofs of the same answer.
 */
export async function acceptHead(pins: PinStore, log: LogSource, record: Uint8Array): Promise<TreeHead> {
  let found = (await pins.read()).log;
  if (found === null) {
    const first = await log.head();
    await pinLogKey(pins, first.logPublicKey, first.treeHead);
    found = (await pins.read()).log!;
  }
  const pinned = found;
  let next: TreeHead;
  try {
    next = await verifyTreeHead(record, pinned.publicKey);
  } catch {
    throw new TrustError("log_head_invalid");
  }
  const old = parseTreeHead(pinned.treeHead);
  if (next.treeSize < old.treeSize) {
    throw new TrustError("log_stale");
  }
  try {
    const proof = next.treeSize === old.treeSize ? [] : await log.consistency(old.treeSize, next.treeSize);
    await verifyTreeHeadExtends(old, next, proof);
  } catch (e) {
    if (e instanceof TrustError) throw e;
    throw new TrustError("log_rewritten");
  }
  if (next.treeSize > old.treeSize) {
    // Read what the new head added for removals before moving the pin; if that fails the pin
    // stays, so the same entries are read next time (never skipped).
    let removals: LoggedRemoval[];
    try {
      removals = await scanRemovals(log, old.treeSize, next);
    } catch {
      return next;
    }
    await pins.update((p) => {
      // Another page may have moved the pin meanwhile: keep the larger (both verified).
      if (p.log === null || parseTreeHead(p.log.treeHead).treeSize < next.treeSize) p.log = { publicKey: pinned.publicKey, treeHead: record };
      const known = new Set((p.removals ?? []).map((r) => r.index));
      p.removals = [...(p.removals ?? []), ...removals.filter((r) => !known.has(r.index))];
    });
  }
  return next;
}

/** Pin the log key on first use (its head must verify under it); a different key is refused. */
export async function pinLogKey(pins: PinStore, logPublicKey: Uint8Array, treeHead: Uint8Array): Promise<void> {
  try {
    await verifyTreeHead(treeHead, logPublicKey);
  } catch {
    throw new TrustError("log_head_invalid");
  }
  await pins.update((p) => {
    if (p.log === null) p.log = { publicKey: logPublicKey, treeHead };
    else if (!equalBytes(p.log.publicKey, logPublicKey)) throw new TrustError("log_head_invalid");
  });
}

/** An entry proven to be in the log at the verified head; its parsed fields. */
export async function provenEntry(ref: LogRef, head: TreeHead): Promise<LogEntry> {
  try {
    await verifyEntryIncluded(ref.entry, { index: ref.index, treeHead: head, proof: ref.proof });
    return await parseLogEntry(ref.entry);
  } catch {
    throw new TrustError("not_in_log");
  }
}

async function provenStatement(ref: LogRef, head: TreeHead): Promise<Uint8Array> {
  const e = await provenEntry(ref, head);
  if (e.entryType !== LogEntryType.STATEMENT) throw new TrustError("not_in_log");
  return e.statement.record;
}

/**
 * The organisation key of an organisation, from its logged statement, checked against the pin
 * (pinned here on first use: `from` says whether it came with this user's invite link). Null
 * when the organisation has no key (an older organisation) and none was pinned.
 */
export async function verifyOrgKey(pins: PinStore, head: TreeHead, org: OrgProof): Promise<Uint8Array | null> {
  const pinned = (await pins.read()).orgs[org.orgId];
  if (org.orgKey === null) {
    if (pinned) throw new TrustError("org_key_missing", pinned.name);
    return null;
  }
  const record = await provenStatement(org.orgKey, head);
  let s;
  try {
    s = await verifyOrganisationKeyStatement(record, { orgId: org.orgId });
  } catch {
    throw new TrustError("org_key_invalid", org.name);
  }
  await pins.update((p, now) => {
    const old = p.orgs[org.orgId];
    if (!old) p.orgs[org.orgId] = { orgId: org.orgId, name: s.name, orgPublicKey: s.orgPublicKey, from: "first_use", firstSeenMs: now };
    else if (!equalBytes(old.orgPublicKey, s.orgPublicKey)) throw new TrustError("org_key_changed", old.name);
  });
  return s.orgPublicKey;
}

export interface MemberKeys {
  userId: string;
  name: string;
  signingPublicKey: Uint8Array;
  encryptionPublicKey: Uint8Array;
}

export interface MemberResult {
  /** The organisation's name when its key certified these keys; null for an uncertified member. */
  certifiedBy: string | null;
  /** The member statement and its invite statement (to let admins approve records keys). */
  certified: (CertifiedMember & { role: number }) | null;
}

/**
 * A member's listed keys must be exactly the keys of their logged entry: a certification by
 * the organisation key (verified with the trust rule) or an uncertified-member entry.
 */
export async function verifyMember(head: TreeHead, org: { orgId: string; name: string; orgPublicKey: Uint8Array | null }, m: MemberKeys, proof: MemberProof): Promise<MemberResult> {
  const bad = () => new TrustError("member_invalid", m.name);
  const sameKeys = (u: string, o: string, s: Uint8Array, e: Uint8Array) =>
    u === m.userId && o === org.orgId && equalBytes(s, m.signingPublicKey) && equalBytes(e, m.encryptionPublicKey);
  if (proof.certification !== null) {
    if (org.orgPublicKey === null) throw bad();
    const statement = await provenStatement(proof.certification.member, head);
    const invite = proof.certification.invite === null ? null : await provenStatement(proof.certification.invite, head);
    let s;
    try {
      s = await verifyMemberStatement(statement, { orgId: org.orgId, orgPublicKey: org.orgPublicKey, inviteStatement: invite });
    } catch {
      throw bad();
    }
    if (!sameKeys(s.userId, s.orgId, s.signingPublicKey, s.encryptionPublicKey)) throw bad();
    return { certifiedBy: org.name, certified: { statement, inviteStatement: invite, role: s.role } };
  }
  if (proof.uncertified !== null) {
    const e = await provenEntry(proof.uncertified, head);
    if (e.entryType !== LogEntryType.UNCERTIFIED_MEMBER || !sameKeys(e.userId, e.orgId, e.signingPublicKey, e.encryptionPublicKey)) throw bad();
    return { certifiedBy: null, certified: null };
  }
  throw bad();
}

/**
 * The records key to wrap a case key to: the newest key of a verified chain that extends the
 * pin (docs/protocol.md section 20), or for an organisation without a chain the legacy key,
 * pinned on first use and never replaced without a chain. Pins the result.
 */
export async function verifyRecordsKey(
  pins: PinStore,
  head: TreeHead,
  org: OrgProof,
  orgPublicKey: Uint8Array | null,
  admins: readonly CertifiedMember[],
): Promise<{ publicKey: Uint8Array; sequence: number | null } | null> {
  const pinned = (await pins.read()).records[org.orgId];
  if (org.recordsKeys.length === 0) {
    if (org.recordsPublicKey === null) return null;
    if (pinned && pinned.sequence !== null && !equalBytes(pinned.publicKey, org.recordsPublicKey)) throw new TrustError("records_key_changed", org.name);
    const key = org.recordsPublicKey;
    const state = await pins.update((p, now) => observeRecordsKey(p, org.orgId, key, null, now));
    if (state === "changed") throw new TrustError("records_key_changed", org.name);
    return { publicKey: key, sequence: pinned?.sequence ?? null };
  }
  if (orgPublicKey === null) throw new TrustError("records_key_invalid", org.name);
  const changes = [];
  for (const link of org.recordsKeys) {
    const statement = await provenStatement(link.statement, head);
    const approvals = [];
    for (const a of link.approvals) approvals.push(await provenStatement(a, head));
    changes.push({ statement, approvals });
  }
  // A legacy pin (no sequence) must be certified by sequence 0 naming that same key.
  const pin = pinned ? { sequence: pinned.sequence ?? 0, recordsPublicKey: pinned.publicKey } : null;
  let newest: RecordsKeyStatement;
  try {
    newest = await verifyRecordsKeyChain(changes, { orgId: org.orgId, orgPublicKey, admins, pin });
  } catch {
    throw new TrustError(pinned ? "records_key_changed" : "records_key_invalid", org.name);
  }
  if (org.recordsPublicKey !== null && !equalBytes(org.recordsPublicKey, newest.recordsPublicKey)) throw new TrustError("records_key_invalid", org.name);
  await pins.update((p, now) => recordChain(p, org.orgId, newest.recordsPublicKey, newest.sequence, now));
  return { publicKey: newest.recordsPublicKey, sequence: newest.sequence };
}

/** The removals an answer lists, each proven in the log (entry 0x03). */
export async function verifyRemovals(head: TreeHead, refs: readonly LogRef[]): Promise<{ userId: string; orgId: string | null }[]> {
  const out = [];
  for (const r of refs) {
    const e = await provenEntry(r, head);
    if (e.entryType !== LogEntryType.REMOVAL) throw new TrustError("not_in_log");
    out.push({ userId: e.userId, orgId: e.orgId });
  }
  return out;
}

/** Admin member statements (for records-key approvals), from verified members. */
export function certifiedAdmins(results: readonly MemberResult[]): CertifiedMember[] {
  return results.flatMap((r) => (r.certified !== null && r.certified.role === 3 ? [{ statement: r.certified.statement, inviteStatement: r.certified.inviteStatement ?? null }] : []));
}
