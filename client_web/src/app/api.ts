/**
 * The server API as the pages see it (docs/api.md). `httpApi` talks to /api/v1 with fetch:
 * JSON in and out, binary values as unpadded base64url, the session in an HttpOnly cookie, and
 * the CSRF token in X-CSRF-Token on every unsafe request. Errors become ApiError with the
 * server's stable code (the fixed server message is never shown raw: pages map codes to
 * NHS.UK-style text), or ServerUnavailable when the server cannot be reached.
 */
import { fromBase64Url, toBase64Url } from "../crypto/bytes";
import type { LogRef, MemberProof, OrgProof } from "./transparency";
import { noteSignInAnswer } from "./signinNotice";

export class ServerUnavailable extends Error {
  constructor() {
    super("Dermline cannot connect to the server. Check your connection and try again.");
    this.name = "ServerUnavailable";
  }
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    /** seconds, from Retry-After (rate limits, sign-in delays and lockouts) */
    readonly retryAfter: number | null = null,
    /** Extra numeric fields of the error object (`key_epoch`, `next_epoch`; docs/api.md). */
    readonly details: Record<string, number> = {},
  ) {
    super(`server refused the request (${code})`);
    this.name = "ApiError";
  }
}

export interface InviteInfo {
  orgName: string;
  orgKind: string;
  role: string;
  loginName: string | null;
  /** The certified invite's proofs (contract section 5); absent fields are null. */
  orgId?: string;
  treeHead?: Uint8Array | null;
  logPublicKey?: Uint8Array | null;
  inviteStatement?: LogRef | null;
  orgKey?: LogRef | null;
  handover?: Uint8Array | null;
}

export interface AcceptInvite {
  token: string;
  userId: string;
  loginName: string;
  displayName: string;
  kdfParams: Uint8Array;
  authKey: Uint8Array;
  wrappedUsk: Uint8Array;
  encryptionPublicKey: Uint8Array;
  signingPublicKey: Uint8Array;
  /** encryption record followed by signing record, 80 bytes each */
  sealedPrivateKeys: Uint8Array;
  recoveryWrappedUsk: Uint8Array;
  /** A certified invite: the member statement signed with the invite key (kind 0x03). */
  memberStatement?: Uint8Array;
}

export interface Membership {
  orgId: string;
  role: string;
}

export interface Me {
  userId: string;
  displayName: string;
  loginName: string;
  roles: string[];
  memberships?: Membership[];
  kdfParams: Uint8Array;
  wrappedUsk: Uint8Array;
  sealedPrivateKeys: Uint8Array;
  encryptionPublicKey: Uint8Array;
  signingPublicKey: Uint8Array;
}

/** The step after the password (docs/api.md "Login"; "passkey_enrol" after the second factor). */
export type NextStep = "totp" | "enrol" | "passkey" | "passkey_only" | "passkey_enrol" | "done";

export interface Organisation {
  orgId: string;
  kind: "practice" | "service" | string;
  name: string;
  recordsPublicKey: Uint8Array | null;
  /** Hex of the organisation key's id, for display (null: no organisation key yet). */
  orgKeyId?: string | null;
}

export interface Person {
  userId: string;
  displayName: string;
  roles: Membership[];
  encryptionPublicKey: Uint8Array;
  signingPublicKey: Uint8Array;
  /** How the person's keys are in the transparency log (absent from an older server). */
  proof?: MemberProof;
}

/** GET /orgs/{id}/directory with its log proofs (docs/api.md; contract section 3). */
export interface DirectoryAnswer {
  /** null when the server sends no tree head (a server before the transparency log). */
  treeHead: Uint8Array | null;
  org: OrgProof | null;
  members: Person[];
  removals: LogRef[];
}

export interface CaseSummary {
  caseId: string;
  practiceId: string;
  serviceId: string;
  createdBy: string;
  state: string;
  priority: "routine" | "urgent";
  updatedAt: string;
  outcomeCategory: string | null;
  lastSeq: number;
  claimedBy: string | null;
  /** The case's current key epoch (docs/protocol.md section 24); 0 from an older server. */
  keyEpoch?: number;
}

export interface OutcomeCodes {
  category: "advice_and_guidance" | "referral" | "image_rejected";
  urgency?: "routine" | "urgent" | "two_week_wait";
  destination?: "dermatology_clinic" | "skin_surgery" | "other";
  reasons?: string[];
}

export interface OutcomeOut extends OutcomeCodes {
  payload: Uint8Array;
  authorId: string;
  /** A two-week-wait referral lowered by the referring GP (docs/api.md); the original stays. */
  downgrade?: OutcomeDowngrade;
}

export interface OutcomeDowngrade {
  fromUrgency: NonNullable<OutcomeCodes["urgency"]>;
  by: string;
  at: string;
  /** The thread message (client message id) that carries the GP's encrypted reason. */
  reasonMsgId: string;
}

export interface WrappedKey {
  epoch: number;
  recipientKind: "user" | "organisation";
  recipientId: string;
  wrappedKey: Uint8Array;
}

export interface Participant {
  userId: string;
  role: string;
  displayName: string;
  encryptionPublicKey: Uint8Array;
  signingPublicKey: Uint8Array;
  /** The organisation through which they take part, and their keys' log proof. */
  orgId?: string;
  proof?: MemberProof;
  /** Set by src/app/trust.ts: keys no log entry backs and no pin holds; never used. */
  untrusted?: boolean;
}

/** A required rotation: the epoch that must come next and who may no longer read. */
export interface Rotation {
  nextEpoch: number;
  removed: string[];
}

export interface CaseDetail {
  case: CaseSummary;
  participants: Participant[];
  caseKeys: WrappedKey[];
  outcome: OutcomeOut | null;
  /** The log proofs (absent from a server before the transparency log). */
  treeHead?: Uint8Array | null;
  orgs?: OrgProof[];
  rotation?: Rotation | null;
  removed?: { userId: string; log: LogRef | null }[];
}

export interface ThreadMessage {
  seq: number;
  clientMsgId: string;
  senderId: string;
  envelope: Uint8Array;
  createdAt: string;
}

export interface NewCaseRequest {
  caseId: string;
  practiceId: string;
  serviceId: string;
  priority: "routine" | "urgent";
  participants: string[];
  caseKeys: { recipientKind: "user" | "organisation"; recipientId: string; wrappedKey: Uint8Array }[];
  draft: boolean;
}

export interface Api extends AdminApi {
  inspectInvite(token: string): Promise<InviteInfo>;
  acceptInvite(req: AcceptInvite): Promise<void>;
  /** An administrator holding the organisation key wraps it to administrators (0x0f). */
  addOrgKeyWraps(orgId: string, wraps: Uint8Array[]): Promise<void>;
  prelogin(loginName: string): Promise<Uint8Array>;
  login(loginName: string, authKey: Uint8Array): Promise<NextStep>;
  /** "done", or "passkey_enrol" under a passkey requirement (docs/api.md "Passkeys"). */
  totp(code: string): Promise<NextStep>;
  /** The second step by a recovery code (each works once); as `totp`. */
  recoveryCode(code: string): Promise<NextStep>;
  enrolTotp(): Promise<{ otpauthUri: string; qrSvg: string }>;
  confirmTotp(code: string): Promise<string[]>;
  me(): Promise<Me>;
  logout(): Promise<void>;
  organisations(): Promise<Organisation[]>;
  directory(orgId: string): Promise<Person[]>;
  directoryAnswer(orgId: string): Promise<DirectoryAnswer>;
  /** GET /transparency/head and /transparency/consistency (docs/api.md). */
  transparencyHead(): Promise<{ treeHead: Uint8Array; logPublicKey: Uint8Array }>;
  consistency(from: number, to: number): Promise<Uint8Array[]>;
  logEntries(start: number, end: number): Promise<{ index: number; entry: Uint8Array }[]>;
  inclusion(index: number, size: number): Promise<Uint8Array[]>;
  createCase(req: NewCaseRequest): Promise<CaseSummary>;
  sendMessage(caseId: string, clientMsgId: string, envelope: Uint8Array): Promise<{ seq: number; duplicate: boolean }>;
  move(caseId: string, move: "submit" | "claim" | "withdraw" | "ask" | "answer" | "resubmit", message?: { clientMsgId: string; envelope: Uint8Array }): Promise<CaseSummary>;
  close(caseId: string, outcome: OutcomeCodes & { payload: Uint8Array }, retention?: { retain_until: string }): Promise<CaseSummary>;
  downgrade(caseId: string, urgency: "urgent" | "routine", reason: { clientMsgId: string; envelope: Uint8Array }): Promise<CaseSummary>;
  myCases(): Promise<CaseSummary[]>;
  queue(serviceId: string): Promise<CaseSummary[]>;
  caseDetail(caseId: string): Promise<CaseDetail>;
  /** Start the next key epoch (docs/api.md "Removals and epochs"); the case detail after it. */
  rotateEpoch(caseId: string, epoch: number, caseKeys: NewCaseRequest["caseKeys"]): Promise<CaseDetail>;
  /** Take a dermatologist off the case (the referring GP or the responder). */
  removeParticipant(caseId: string, userId: string): Promise<void>;
  /** Share the case key with service colleagues who lack it; the new participants' ids. */
  shareCaseKeys(caseId: string, wraps: { recipientId: string; wrappedKey: Uint8Array }[]): Promise<string[]>;
  messages(caseId: string, afterSeq?: number): Promise<ThreadMessage[]>;
  receipts(caseId: string): Promise<Receipt[]>;
  uploadAttachment(caseId: string, attachmentId: string, record: Uint8Array, sha256: Uint8Array): Promise<void>;
  downloadAttachment(caseId: string, attachmentId: string): Promise<Uint8Array>;
}

/** A user as an administrator of one of their organisations sees them (docs/api.md). */
export interface AdminUser {
  userId: string;
  loginName: string;
  displayName: string;
  memberships: Membership[];
  totpEnrolled: boolean;
  locked: boolean;
  disabled: boolean;
}

/** A new invite: the token is shown once (the link is `#/invite/TOKEN`). */
export interface CreatedInvite {
  token: string;
  orgId: string;
  role: string;
  expiresAt: string;
}

/** An invite as its organisation's administrators see it (never its token). */
export interface InviteSummary {
  /** opaque id: hex of the token's SHA-256 */
  inviteId: string;
  role: string;
  /** the only email address that may use it, if the administrator gave one */
  loginName: string | null;
  createdAt: string;
  expiresAt: string;
  createdBy: string | null;
  status: "pending" | "used" | "revoked" | "expired";
}

/** Administration (docs/api.md "Organisations and people"); used by pages/Admin*.tsx. */
export interface AdminApi {
  createOrganisation(kind: "practice" | "service", name: string, recordsPublicKey: Uint8Array | null): Promise<Organisation>;
  setRecordsKey(orgId: string, recordsPublicKey: Uint8Array): Promise<Organisation>;
  /** `certified`: a certified invite made with the organisation key (docs/api.md "Invites"). */
  invite(orgId: string, role: string, loginName: string | null, certified?: { token: string; inviteStatement: Uint8Array; handover: Uint8Array | null }): Promise<CreatedInvite>;
  /** POST /orgs/{id}/org-key: the statement and the wraps to administrators. */
  setOrgKey(orgId: string, statement: Uint8Array, wraps: Uint8Array[]): Promise<void>;
  /** POST /orgs/{id}/certifications: a member statement signed by the organisation key. */
  certify(orgId: string, statement: Uint8Array): Promise<void>;
  /** My wrap of the organisation key (GET /orgs/{id}/org-key/wrap). */
  myOrgKeyWrap(orgId: string): Promise<{ wrap: Uint8Array; wrapperUserId: string; wrapperSigningPublicKey: Uint8Array }>;
  users(orgId: string): Promise<AdminUser[]>;
  revokeSessions(userId: string): Promise<number>;
  resetTotp(userId: string): Promise<void>;
  invites(orgId: string): Promise<InviteSummary[]>;
  revokeInvite(orgId: string, inviteId: string): Promise<InviteSummary>;
}

export interface Receipt {
  userId: string;
  kind: "delivered" | "read";
  seq: number;
}

function caseOut(r: Record<string, unknown>): CaseSummary {
  return {
    caseId: String(r.case_id),
    practiceId: String(r.practice_id),
    serviceId: String(r.service_id),
    createdBy: String(r.created_by),
    state: String(r.state),
    priority: r.priority === "urgent" ? "urgent" : "routine",
    updatedAt: String(r.updated_at),
    outcomeCategory: typeof r.outcome_category === "string" ? r.outcome_category : null,
    lastSeq: typeof r.last_seq === "number" ? r.last_seq : 0,
    claimedBy: typeof r.claimed_by === "string" ? r.claimed_by : null,
    keyEpoch: typeof r.key_epoch === "number" ? r.key_epoch : 0,
  };
}

/** A LogRef (contract section 1); null for JSON null or absent. */
export function logRef(v: unknown): LogRef | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== "object") throw new ApiError(200, "bad_response");
  const r = v as Record<string, unknown>;
  if (typeof r.index !== "number" || !Number.isSafeInteger(r.index) || !Array.isArray(r.proof)) throw new ApiError(200, "bad_response");
  return { index: r.index, entry: unb64(r.entry), proof: r.proof.map(unb64) };
}

const logRefs = (v: unknown): LogRef[] => (Array.isArray(v) ? v.map((x) => logRef(x)).filter((x): x is LogRef => x !== null) : []);

/** A member's or participant's `certification` / `uncertified` (absent: undefined). */
export function memberProof(m: Record<string, unknown>): MemberProof | undefined {
  if (!("certification" in m) && !("uncertified" in m)) return undefined;
  const c = m.certification;
  let certification: MemberProof["certification"] = null;
  if (typeof c === "object" && c !== null) {
    const member = logRef((c as Record<string, unknown>).member);
    if (member === null) throw new ApiError(200, "bad_response");
    certification = { member, invite: logRef((c as Record<string, unknown>).invite) };
  }
  return { certification, uncertified: logRef(m.uncertified) };
}

/** An organisation's key and records-key chain (directory `org`, case `orgs[]`). */
export function orgProof(o: Record<string, unknown>): OrgProof {
  return {
    orgId: String(o.org_id),
    name: String(o.name),
    orgKey: logRef(o.org_key),
    recordsKeys: records(o.records_keys).map((k) => {
      const statement = logRef(k.statement);
      if (statement === null) throw new ApiError(200, "bad_response");
      return { statement, approvals: logRefs(k.approvals) };
    }),
    recordsPublicKey: typeof o.records_public_key === "string" ? unb64(o.records_public_key) : null,
  };
}

const optionalB64 = (v: unknown): Uint8Array | null => (typeof v === "string" ? unb64(v) : null);

const records = (v: unknown): Record<string, unknown>[] =>
  Array.isArray(v) ? (v.filter((x) => typeof x === "object" && x !== null) as Record<string, unknown>[]) : [];

function parseOutcome(v: unknown): OutcomeOut | null {
  if (typeof v !== "object" || v === null) return null;
  const o = v as Record<string, unknown>;
  const out: OutcomeOut = {
    category: o.category as OutcomeCodes["category"],
    payload: unb64(o.payload),
    authorId: String(o.author_id),
    reasons: Array.isArray(o.reasons) ? o.reasons.map(String) : [],
  };
  if (typeof o.urgency === "string") out.urgency = o.urgency as NonNullable<OutcomeCodes["urgency"]>;
  if (typeof o.destination === "string") out.destination = o.destination as NonNullable<OutcomeCodes["destination"]>;
  const d = o.downgrade;
  if (typeof d === "object" && d !== null) {
    const r = d as Record<string, unknown>;
    out.downgrade = {
      fromUrgency: r.from_urgency as OutcomeDowngrade["fromUrgency"],
      by: String(r.by),
      at: String(r.at),
      reasonMsgId: String(r.reason_msg_id),
    };
  }
  return out;
}

function caseDetailOut(r: Record<string, unknown>): CaseDetail {
  return {
    case: caseOut((r.case ?? {}) as Record<string, unknown>),
    participants: records(r.participants).map((p) => {
      const out: Participant = {
        userId: String(p.user_id),
        role: String(p.role),
        displayName: String(p.display_name),
        encryptionPublicKey: unb64(p.encryption_public_key),
        signingPublicKey: unb64(p.signing_public_key),
      };
      if (typeof p.org_id === "string") out.orgId = p.org_id;
      const proof = memberProof(p);
      if (proof) out.proof = proof;
      return out;
    }),
    caseKeys: records(r.case_keys).map((k) => ({
      epoch: Number(k.epoch),
      recipientKind: k.recipient_kind === "organisation" ? "organisation" : "user",
      recipientId: String(k.recipient_id),
      wrappedKey: unb64(k.wrapped_key),
    })),
    outcome: parseOutcome(r.outcome),
    treeHead: optionalB64(r.tree_head),
    orgs: records(r.orgs).map(orgProof),
    rotation:
      typeof r.rotation === "object" && r.rotation !== null
        ? {
            nextEpoch: Number((r.rotation as Record<string, unknown>).next_epoch),
            removed: Array.isArray((r.rotation as Record<string, unknown>).removed) ? ((r.rotation as Record<string, unknown>).removed as unknown[]).map(String) : [],
          }
        : null,
    removed: records(r.removed).map((x) => ({ userId: String(x.user_id), log: logRef(x.log) })),
  };
}

const INVITE_STATUSES = ["pending", "used", "revoked", "expired"] as const;

export function inviteSummary(r: Record<string, unknown>): InviteSummary {
  const status = INVITE_STATUSES.find((x) => x === r.status);
  if (!status) throw new ApiError(200, "bad_response");
  return {
    inviteId: String(r.invite_id),
    role: String(r.role),
    loginName: typeof r.login_name === "string" ? r.login_name : null,
    createdAt: String(r.created_at),
    expiresAt: String(r.expires_at),
    createdBy: typeof r.created_by === "string" ? r.created_by : null,
    status,
  };
}

function memberships(v: unknown): Membership[] {
  return records(v).map((m) => ({ orgId: String(m.org_id), role: String(m.role) }));
}

const b64 = (u: Uint8Array): string => toBase64Url(u);
const unb64 = (v: unknown): Uint8Array => {
  if (typeof v !== "string") throw new ApiError(200, "bad_response");
  return fromBase64Url(v);
};

export function csrfFromCookie(): string | null {
  if (typeof document === "undefined") return null;
  const m = /(?:^|;\s*)dermline_csrf=([^;]+)/.exec(document.cookie);
  return m ? decodeURIComponent(m[1]!) : null;
}

/**
 * One JSON request with the session cookie and `csrfToken` (sent on all but GET): the answer
 * object ({} for 204). Failures are ApiError with the server's stable code (and the error's
 * numeric fields), or ServerUnavailable when the request did not get through.
 */
export async function requestJson(method: string, url: string, csrfToken: string | null, body?: unknown): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      cache: "no-store",
      body: body === undefined ? null : JSON.stringify(body),
    });
  } catch {
    throw new ServerUnavailable();
  }
  if (res.status === 204) return {};
  let data: unknown = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = typeof data === "object" && data !== null ? (data as { error?: Record<string, unknown> }).error : undefined;
    const code = typeof err?.code === "string" ? err.code : "internal";
    const details: Record<string, number> = {};
    for (const [k, v] of Object.entries(err ?? {})) if (typeof v === "number") details[k] = v;
    throw new ApiError(res.status, code, retryAfterOf(res), details);
  }
  return (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
}

export function httpApi(base = "/api/v1"): Api {
  let csrf: string | null = null;

  async function call(method: "GET" | "POST" | "PUT", path: string, body?: unknown): Promise<Record<string, unknown>> {
    // The cookie first: a session made outside this object (passkeys.ts) set a new one.
    const obj = await requestJson(method, `${base}${path}`, csrfFromCookie() ?? csrf, body);
    if (typeof obj.csrf_token === "string") csrf = obj.csrf_token;
    noteSignInAnswer(obj);
    return obj;
  }

  function unsafeHeaders(): Record<string, string> {
    // The cookie first: a session made outside this object (passkeys.ts) set a new one.
    const token = csrfFromCookie() ?? csrf;
    return token ? { "X-CSRF-Token": token } : {};
  }

  async function binary(method: "GET" | "POST", path: string, body?: Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: { ...headers, ...(method === "POST" ? unsafeHeaders() : {}) },
        credentials: "same-origin",
        cache: "no-store",
        body: body === undefined ? null : (body as Uint8Array<ArrayBuffer>),
      });
    } catch {
      throw new ServerUnavailable();
    }
    if (!res.ok) {
      let code = "internal";
      try {
        const d = (await res.json()) as { error?: { code?: unknown } };
        if (typeof d.error?.code === "string") code = d.error.code;
      } catch {
        // not JSON
      }
      throw new ApiError(res.status, code, retryAfterOf(res));
    }
    return res;
  }

  const org = (o: Record<string, unknown>): Organisation => ({
    orgId: String(o.org_id),
    kind: String(o.kind),
    name: String(o.name),
    recordsPublicKey: typeof o.records_public_key === "string" ? unb64(o.records_public_key) : null,
    orgKeyId: typeof o.org_key_id === "string" ? o.org_key_id : null,
  });

  async function directoryAnswer(orgId: string): Promise<DirectoryAnswer> {
    const r = await call("GET", `/orgs/${encodeURIComponent(orgId)}/directory`);
    return {
      treeHead: optionalB64(r.tree_head),
      org: typeof r.org === "object" && r.org !== null ? orgProof(r.org as Record<string, unknown>) : null,
      members: records(r.members).map((m) => {
        const p: Person = {
          userId: String(m.user_id),
          displayName: String(m.display_name),
          roles: memberships(m.memberships),
          encryptionPublicKey: unb64(m.encryption_public_key),
          signingPublicKey: unb64(m.signing_public_key),
        };
        const proof = memberProof(m);
        if (proof) p.proof = proof;
        return p;
      }),
      removals: logRefs(r.removals),
    };
  }

  return {
    async createOrganisation(kind, name, recordsPublicKey) {
      const body: Record<string, unknown> = { kind, name };
      if (recordsPublicKey) body.records_public_key = b64(recordsPublicKey);
      return org(await call("POST", "/orgs", body));
    },
    async setRecordsKey(orgId, recordsPublicKey) {
      return org(await call("PUT", `/orgs/${encodeURIComponent(orgId)}/records-key`, { records_public_key: b64(recordsPublicKey) }));
    },
    async invite(orgId, role, loginName, certified) {
      const body: Record<string, unknown> = { role };
      if (loginName) body.login_name = loginName;
      if (certified) {
        body.token = certified.token;
        body.invite_statement = b64(certified.inviteStatement);
        if (certified.handover) body.handover = b64(certified.handover);
      }
      const r = await call("POST", `/orgs/${encodeURIComponent(orgId)}/invites`, body);
      return { token: String(r.token), orgId: String(r.org_id), role: String(r.role), expiresAt: String(r.expires_at) };
    },
    async users(orgId) {
      return records((await call("GET", `/orgs/${encodeURIComponent(orgId)}/users`)).users).map((u) => ({
        userId: String(u.user_id),
        loginName: String(u.login_name),
        displayName: String(u.display_name),
        memberships: memberships(u.memberships),
        totpEnrolled: u.totp_enrolled === true,
        locked: u.locked === true,
        disabled: u.disabled === true,
      }));
    },
    async revokeSessions(userId) {
      return Number((await call("POST", `/users/${encodeURIComponent(userId)}/revoke-sessions`)).revoked);
    },
    async resetTotp(userId) {
      await call("POST", `/users/${encodeURIComponent(userId)}/reset-2fa`);
    },
    async invites(orgId) {
      return records((await call("GET", `/orgs/${encodeURIComponent(orgId)}/invites`)).invites).map(inviteSummary);
    },
    async revokeInvite(orgId, inviteId) {
      return inviteSummary(await call("POST", `/orgs/${encodeURIComponent(orgId)}/invites/${encodeURIComponent(inviteId)}/revoke`));
    },
    async uploadAttachment(caseId, attachmentId, record, sha256) {
      await binary("POST", `/cases/${encodeURIComponent(caseId)}/attachments`, record, {
        "Content-Type": "application/octet-stream",
        "X-Attachment-Id": attachmentId,
        "X-Ciphertext-SHA256": [...sha256].map((x) => x.toString(16).padStart(2, "0")).join(""),
      });
    },
    async downloadAttachment(caseId, attachmentId) {
      const res = await binary("GET", `/cases/${encodeURIComponent(caseId)}/attachments/${encodeURIComponent(attachmentId)}`);
      return new Uint8Array(await res.arrayBuffer());
    },
    async inspectInvite(token) {
      const r = await call("POST", "/invites/inspect", { token });
      return {
        orgName: String(r.org_name),
        orgKind: String(r.org_kind),
        role: String(r.role),
        loginName: typeof r.login_name === "string" ? r.login_name : null,
        orgId: String(r.org_id),
        treeHead: optionalB64(r.tree_head),
        logPublicKey: optionalB64(r.log_public_key),
        inviteStatement: logRef(r.invite_statement),
        orgKey: logRef(r.org_key),
        handover: optionalB64(r.handover),
      };
    },
    async setOrgKey(orgId, statement, wraps) {
      await call("POST", `/orgs/${encodeURIComponent(orgId)}/org-key`, { statement: b64(statement), wraps: wraps.map(b64) });
    },
    async certify(orgId, statement) {
      await call("POST", `/orgs/${encodeURIComponent(orgId)}/certifications`, { statement: b64(statement) });
    },
    async myOrgKeyWrap(orgId) {
      const r = await call("GET", `/orgs/${encodeURIComponent(orgId)}/org-key/wrap`);
      return { wrap: unb64(r.wrap), wrapperUserId: String(r.wrapper_user_id), wrapperSigningPublicKey: unb64(r.wrapper_signing_public_key) };
    },
    async addOrgKeyWraps(orgId, wraps) {
      await call("POST", `/orgs/${encodeURIComponent(orgId)}/org-key/wraps`, { wraps: wraps.map(b64) });
    },
    async acceptInvite(a) {
      await call("POST", "/invites/accept", {
        ...(a.memberStatement ? { member_statement: b64(a.memberStatement) } : {}),
        token: a.token,
        user_id: a.userId,
        login_name: a.loginName,
        display_name: a.displayName,
        kdf_params: b64(a.kdfParams),
        auth_key: b64(a.authKey),
        wrapped_usk: b64(a.wrappedUsk),
        encryption_public_key: b64(a.encryptionPublicKey),
        signing_public_key: b64(a.signingPublicKey),
        sealed_private_keys: b64(a.sealedPrivateKeys),
        recovery_wrapped_usk: b64(a.recoveryWrappedUsk),
      });
    },
    async prelogin(loginName) {
      return unb64((await call("POST", "/auth/prelogin", { login_name: loginName })).kdf_params);
    },
    async login(loginName, authKey) {
      const r = await call("POST", "/auth/login", { login_name: loginName, auth_key: b64(authKey) });
      return r.next as NextStep;
    },
    async totp(code) {
      const r = await call("POST", "/auth/totp", { code });
      return r.next === "passkey_enrol" ? "passkey_enrol" : "done";
    },
    async recoveryCode(code) {
      const r = await call("POST", "/auth/totp", { recovery_code: code });
      return r.next === "passkey_enrol" ? "passkey_enrol" : "done";
    },
    async enrolTotp() {
      const r = await call("POST", "/auth/totp/enrol");
      return { otpauthUri: String(r.otpauth_uri), qrSvg: String(r.qr_svg) };
    },
    async confirmTotp(code) {
      const r = await call("POST", "/auth/totp/confirm", { code });
      return Array.isArray(r.recovery_codes) ? r.recovery_codes.map(String) : [];
    },
    async me() {
      const r = await call("GET", "/me");
      const ms = memberships(r.memberships);
      return {
        userId: String(r.user_id),
        displayName: String(r.display_name),
        loginName: String(r.login_name),
        roles: ms.map((m) => m.role),
        memberships: ms,
        kdfParams: unb64(r.kdf_params),
        wrappedUsk: unb64(r.wrapped_usk),
        sealedPrivateKeys: unb64(r.sealed_private_keys),
        encryptionPublicKey: unb64(r.encryption_public_key),
        signingPublicKey: unb64(r.signing_public_key),
      };
    },
    async logout() {
      await call("POST", "/auth/logout");
      csrf = null;
    },
    async organisations() {
      return records((await call("GET", "/orgs")).organisations).map((o) => ({
        orgId: String(o.org_id),
        kind: String(o.kind),
        name: String(o.name),
        recordsPublicKey: typeof o.records_public_key === "string" ? unb64(o.records_public_key) : null,
        orgKeyId: typeof o.org_key_id === "string" ? o.org_key_id : null,
      }));
    },
    async directory(orgId) {
      return (await directoryAnswer(orgId)).members;
    },
    directoryAnswer,
    async transparencyHead() {
      const r = await call("GET", "/transparency/head");
      return { treeHead: unb64(r.tree_head), logPublicKey: unb64(r.log_public_key) };
    },
    async consistency(from, to) {
      const r = await call("GET", `/transparency/consistency?from=${from}&to=${to}`);
      return Array.isArray(r.proof) ? r.proof.map(unb64) : [];
    },
    async logEntries(start, end) {
      const r = await call("GET", `/transparency/entries?start=${start}&end=${end}`);
      return records(r.entries).map((e) => ({ index: Number(e.index), entry: unb64(e.entry) }));
    },
    async inclusion(index, size) {
      const r = await call("GET", `/transparency/inclusion?index=${index}&size=${size}`);
      return Array.isArray(r.proof) ? r.proof.map(unb64) : [];
    },
    async createCase(q) {
      const r = await call("POST", "/cases", {
        case_id: q.caseId,
        practice_id: q.practiceId,
        service_id: q.serviceId,
        priority: q.priority,
        participants: q.participants,
        case_keys: q.caseKeys.map((k) => ({
          recipient_kind: k.recipientKind,
          recipient_id: k.recipientId,
          wrapped_key: b64(k.wrappedKey),
        })),
        draft: q.draft,
      });
      return caseOut(r);
    },
    async shareCaseKeys(caseId, wraps) {
      const r = await call("POST", `/cases/${encodeURIComponent(caseId)}/keys`, {
        case_keys: wraps.map((k) => ({ recipient_id: k.recipientId, wrapped_key: b64(k.wrappedKey) })),
      });
      return Array.isArray(r.added) ? r.added.map(String) : [];
    },
    async sendMessage(caseId, clientMsgId, envelope) {
      const r = await call("POST", `/cases/${encodeURIComponent(caseId)}/messages`, {
        client_msg_id: clientMsgId,
        envelope: b64(envelope),
      });
      return { seq: Number(r.seq), duplicate: r.duplicate === true };
    },
    async move(caseId, move, message) {
      const body = message ? { message: { client_msg_id: message.clientMsgId, envelope: b64(message.envelope) } } : {};
      return caseOut(await call("POST", `/cases/${encodeURIComponent(caseId)}/${move}`, body));
    },
    async close(caseId, o, retention) {
      const outcome: Record<string, unknown> = { category: o.category, payload: b64(o.payload) };
      if (o.urgency) outcome.urgency = o.urgency;
      if (o.destination) outcome.destination = o.destination;
      if (o.reasons && o.reasons.length) outcome.reasons = o.reasons;
      return caseOut(await call("POST", `/cases/${encodeURIComponent(caseId)}/close`, retention ? { outcome, retention } : { outcome }));
    },
    async downgrade(caseId, urgency, reason) {
      const body = { urgency, reason: { client_msg_id: reason.clientMsgId, envelope: b64(reason.envelope) } };
      return caseOut(await call("POST", `/cases/${encodeURIComponent(caseId)}/outcome/downgrade`, body));
    },
    async myCases() {
      return records((await call("GET", "/cases")).cases).map(caseOut);
    },
    async queue(serviceId) {
      return records((await call("GET", `/services/${encodeURIComponent(serviceId)}/queue`)).cases).map(caseOut);
    },
    async caseDetail(caseId) {
      return caseDetailOut(await call("GET", `/cases/${encodeURIComponent(caseId)}`));
    },
    async rotateEpoch(caseId, epoch, caseKeys) {
      const r = await call("POST", `/cases/${encodeURIComponent(caseId)}/epochs`, {
        epoch,
        case_keys: caseKeys.map((k) => ({ recipient_kind: k.recipientKind, recipient_id: k.recipientId, wrapped_key: b64(k.wrappedKey) })),
      });
      return caseDetailOut(r);
    },
    async removeParticipant(caseId, userId) {
      await call("POST", `/cases/${encodeURIComponent(caseId)}/participants/${encodeURIComponent(userId)}/remove`);
    },
    async receipts(caseId) {
      return records((await call("GET", `/cases/${encodeURIComponent(caseId)}/receipts`)).receipts).map((r) => ({
        userId: String(r.user_id),
        kind: r.kind === "read" ? "read" : "delivered",
        seq: Number(r.seq),
      }));
    },
    async messages(caseId, afterSeq = 0) {
      const r = await call("GET", `/cases/${encodeURIComponent(caseId)}/messages?after_seq=${afterSeq}`);
      return records(r.messages).map((m) => ({
        seq: Number(m.seq),
        clientMsgId: String(m.client_msg_id),
        senderId: String(m.sender_id),
        envelope: unb64(m.envelope),
        createdAt: String(m.created_at),
      }));
    },
  };
}

/** Seconds from a Retry-After header (delta-seconds only), or null. */
export function retryAfterOf(res: Response): number | null {
  const v = res.headers.get("Retry-After");
  return v !== null && /^\d{1,9}$/.test(v) ? Number(v) : null;
}

/** "15 minutes", "2 seconds": a wait in words, rounded up. */
function waitText(seconds: number | null, fallback: string): string {
  if (seconds === null) return fallback;
  if (seconds < 60) return seconds === 1 ? "1 second" : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? "1 minute" : `${minutes} minutes`;
}

/** User-facing text for an API failure (NHS.UK error message style). Each wait is said as
 * what it is (docs/architecture.md, "Login attempts"): only `rate_limited` and
 * `address_locked` are about this device. */
export function apiErrorMessage(e: unknown): string {
  if (e instanceof ServerUnavailable) return e.message;
  if (e instanceof ApiError) {
    switch (e.code) {
      case "invalid_credentials":
        return "The email address or password is not right. Check them and try again.";
      case "passkey_required":
        return "Your organisation requires you to sign in with a passkey.";
      case "invalid_totp":
        return "The security code is not right or has already been used. Wait for a new code and try again.";
      case "signin_delayed":
        return `Wait ${waitText(e.retryAfter, "a few seconds")} before trying again: each wrong attempt on this account adds a short wait.`;
      case "address_locked":
        return `Too many wrong attempts on this account from this device. Try again in ${waitText(e.retryAfter, "15 minutes")}, or sign in from another device.`;
      case "account_locked":
        return `Too many wrong attempts on this account from several places. For now it can only be signed in to from a device you have used before. Try again in ${waitText(e.retryAfter, "15 minutes")}.`;
      case "rate_limited":
        return `Too many attempts from this device. Wait ${waitText(e.retryAfter, "a minute")} and try again.`;
      case "invite_invalid":
        return "This invitation link has expired, was cancelled or has already been used. Ask your administrator for a new one.";
      case "conflict":
        return "That email address already has an account. Sign in instead, or use another address.";
      case "unauthenticated":
      case "mfa_required":
        return "Your session has ended. Sign in again.";
      case "payload_too_large":
        return "The photo is too large to send. Take it again at a lower resolution.";
      case "invalid_transition":
        return "The case has changed since you opened it. Go back to your cases and open it again.";
      case "unavailable":
        return "Dermline is busy. Wait a moment and try again.";
      default:
        return "Something went wrong. Try again.";
    }
  }
  return "Something went wrong. Try again.";
}
