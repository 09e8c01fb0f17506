/**
 * Signed directory statements (record type 0x0c); port of crypto/statement.py
 * (docs/protocol.md section 19).
 *
 *     off   len
 *       0     3  01 01 0c
 *       3     1  kind
 *       4    16  signer key id
 *      20     8  issued at (u64 Unix ms, the signer's clock; informative; <= 2^53 - 1)
 *      28     2  body length L (u16, <= 1024)
 *      30     L  body (fixed layout per kind; nothing may follow it)
 *    30+L    64  ECDSA P-256 signature, P1363
 *
 *     signed         = "dermline/v1/sig/statement" || 0x00 || bytes 0..29+L
 *     statement hash = SHA-256(bytes 0..29+L)       (the signature is malleable: left out)
 *
 * Kinds and bodies (ids 16 bytes, public keys 65-byte uncompressed points):
 *
 *     0x01 organisation key  org id, org kind (1), OK public key, name length (u8, 1..200),
 *                            name (UTF-8, NFC, no control characters)        signed by OK
 *     0x02 invite            org id, role (1), invite public key, expires at (u64 ms),
 *                            SHA-256(invite token text) (32)                  signed by OK
 *     0x03 member            user id, org id, role (1), signing public key, encryption
 *                            public key, invite statement hash (32; zeros if signed by OK)
 *     0x04 records key       org id, sequence (u32), records public key, records signing
 *                            public key, previous records key id (16; zeros for sequence 0)
 *     0x05 approval          approved statement hash (32), approver user id
 *
 * parseStatement checks structure only; verifyStatement adds one signature; the verify*
 * functions below it apply the trust rules, pure functions the server and both clients run
 * alike. Statements are made with a SigningIdentity (WebCrypto ECDSA in production).
 */
import { concat, equalBytes, requireBytes, requireLength, u16be, u32be, utf8 } from "./bytes";
import type { SigningIdentity } from "./account";
import {
  InviteStatementError,
  MemberStatementError,
  OrganisationKeyStatementError,
  PrimitiveError,
  PublicKeyError,
  RecordsKeyChainError,
  StatementError,
  StatementSignatureError,
} from "./errors";
import { KEY_ID_LENGTH, keyId } from "./fingerprint";
import { p256CheckPublic, p256Verify } from "./primitives/ecc";
import { sha256 } from "./primitives/kdf";
import {
  MAX_SAFE_INTEGER,
  Malformed,
  Reader,
  RecordType,
  checkUint,
  label,
  prefix,
  u64Safe,
  uuidBytes,
} from "./wire";

export const MAX_BODY_LENGTH = 1024;
export const MAX_NAME_BYTES = 200;
/** Timestamps in new records stay within JavaScript's exact integers. */
export const MAX_TIMESTAMP_MS = MAX_SAFE_INTEGER;
const SIGNATURE = 64;
const PUBLIC = 65;
const HASH = 32;
const ZERO_HASH = new Uint8Array(HASH);
const ZERO_ID = new Uint8Array(KEY_ID_LENGTH);
const SIG_LABEL = /* @__PURE__ */ label("sig/statement", true);

export const StatementKind = {
  ORGANISATION_KEY: 0x01,
  INVITE: 0x02,
  MEMBER: 0x03,
  RECORDS_KEY: 0x04,
  APPROVAL: 0x05,
} as const;
export type StatementKind = (typeof StatementKind)[keyof typeof StatementKind];

/** A member's role in an organisation (one role per member statement). */
export const Role = { GP: 1, DERMATOLOGIST: 2, ADMIN: 3, RECORDS_OFFICER: 4, AUDITOR: 5 } as const;
export type Role = (typeof Role)[keyof typeof Role];

export const OrganisationKind = { PRACTICE: 1, SERVICE: 2 } as const;
export type OrganisationKind = (typeof OrganisationKind)[keyof typeof OrganisationKind];

const isRole = (v: unknown): v is Role => typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 5;
const isOrgKind = (v: unknown): v is OrganisationKind => v === 1 || v === 2;

/** What every statement has. `record` is the whole record, `hash` its statement hash. */
interface StatementBase {
  signerKeyId: Uint8Array;
  issuedAtMs: number;
  hash: Uint8Array;
  record: Uint8Array;
}

export interface OrganisationKeyStatement extends StatementBase {
  kind: typeof StatementKind.ORGANISATION_KEY;
  orgId: string;
  orgKind: OrganisationKind;
  orgPublicKey: Uint8Array;
  name: string;
}

export interface InviteStatement extends StatementBase {
  kind: typeof StatementKind.INVITE;
  orgId: string;
  role: Role;
  invitePublicKey: Uint8Array;
  expiresAtMs: number;
  tokenHash: Uint8Array;
}

/** `inviteStatementHash` is null for a member certified directly by the organisation key. */
export interface MemberStatement extends StatementBase {
  kind: typeof StatementKind.MEMBER;
  userId: string;
  orgId: string;
  role: Role;
  signingPublicKey: Uint8Array;
  encryptionPublicKey: Uint8Array;
  inviteStatementHash: Uint8Array | null;
}

/** `previousRecordsKeyId` is null exactly for sequence 0. */
export interface RecordsKeyStatement extends StatementBase {
  kind: typeof StatementKind.RECORDS_KEY;
  orgId: string;
  sequence: number;
  recordsPublicKey: Uint8Array;
  recordsSigningPublicKey: Uint8Array;
  previousRecordsKeyId: Uint8Array | null;
}

export interface ApprovalStatement extends StatementBase {
  kind: typeof StatementKind.APPROVAL;
  approvedStatementHash: Uint8Array;
  approverUserId: string;
}

export type Statement =
  | OrganisationKeyStatement
  | InviteStatement
  | MemberStatement
  | RecordsKeyStatement
  | ApprovalStatement;

/** A member statement with the invite statement it names (null if signed by the OK). */
export interface CertifiedMember {
  statement: Uint8Array;
  inviteStatement?: Uint8Array | null;
}

/** One link of the records-key chain and the approvals of a two-person change. */
export interface RecordsKeyChange {
  statement: Uint8Array;
  approvals?: readonly Uint8Array[];
}

/** The highest records key a client accepted: a new chain must contain it. */
export interface RecordsKeyPin {
  sequence: number;
  recordsPublicKey: Uint8Array;
}

/** A signer whose public key goes into the record (the organisation key statement). */
export interface PublicSigningIdentity extends SigningIdentity {
  publicKey: Uint8Array;
}

/** SHA-256 of the invite token's text as it appears in the link (what the server keeps). */
export async function inviteTokenHash(token: string): Promise<Uint8Array> {
  if (typeof token !== "string") throw new TypeError("token must be a string");
  if (!/^[\x00-\x7f]*$/.test(token)) throw new RangeError("token must be ASCII");
  return sha256(utf8.encode(token));
}

// --- making ----------------------------------------------------------------------------

function publicKeyField(name: string, value: unknown): Uint8Array {
  const data = requireLength(name, value, PUBLIC);
  try {
    p256CheckPublic(data);
  } catch (e) {
    if (e instanceof PrimitiveError) throw new RangeError(`${name} is not a valid P-256 point`);
    throw e;
  }
  return data;
}

function roleByte(value: unknown): Uint8Array {
  if (!isRole(value)) throw new RangeError("unknown role");
  return new Uint8Array([value]);
}

async function sign(
  kind: StatementKind,
  body: Uint8Array,
  signer: SigningIdentity,
  issuedAtMs: number,
): Promise<Uint8Array> {
  requireLength("signer.keyId", signer.keyId, KEY_ID_LENGTH);
  const signed = concat(
    prefix(RecordType.STATEMENT),
    new Uint8Array([kind]),
    signer.keyId,
    u64Safe("issuedAtMs", issuedAtMs),
    u16be(body.length),
    body,
  );
  const signature = await signer.sign(concat(SIG_LABEL, signed));
  requireLength("signature", signature, SIGNATURE);
  return concat(signed, signature);
}

function nameOk(name: string): boolean {
  const bytes = utf8.encode(name).length;
  return (
    bytes >= 1 &&
    bytes <= MAX_NAME_BYTES &&
    name.normalize("NFC") === name &&
    !/[\p{Cc}\p{Cs}]/u.test(name)
  );
}

/** The organisation key's self-signed statement (kind 0x01). `name` is NFC-normalised. */
export async function makeOrganisationKeyStatement(p: {
  orgId: string;
  orgKind: OrganisationKind;
  name: string;
  orgKey: PublicSigningIdentity;
  issuedAtMs: number;
}): Promise<Uint8Array> {
  if (typeof p.name !== "string") throw new TypeError("name must be a string");
  const name = p.name.normalize("NFC");
  if (!nameOk(name)) throw new RangeError("name must be 1..200 UTF-8 bytes without control characters");
  if (!isOrgKind(p.orgKind)) throw new RangeError("unknown organisation kind");
  const pk = publicKeyField("orgKey.publicKey", p.orgKey.publicKey);
  if (!equalBytes(await keyId(pk), p.orgKey.keyId)) throw new RangeError("orgKey.keyId is not the id of orgKey.publicKey");
  const encoded = utf8.encode(name);
  const body = concat(
    uuidBytes("orgId", p.orgId),
    new Uint8Array([p.orgKind]),
    pk,
    new Uint8Array([encoded.length]),
    encoded,
  );
  return sign(StatementKind.ORGANISATION_KEY, body, p.orgKey, p.issuedAtMs);
}

/** An invite certified by the organisation key (kind 0x02). */
export async function makeInviteStatement(p: {
  orgId: string;
  role: Role;
  invitePublicKey: Uint8Array;
  expiresAtMs: number;
  tokenHash: Uint8Array;
  orgKey: SigningIdentity;
  issuedAtMs: number;
}): Promise<Uint8Array> {
  const body = concat(
    uuidBytes("orgId", p.orgId),
    roleByte(p.role),
    publicKeyField("invitePublicKey", p.invitePublicKey),
    u64Safe("expiresAtMs", p.expiresAtMs),
    requireLength("tokenHash", p.tokenHash, HASH),
  );
  return sign(StatementKind.INVITE, body, p.orgKey, p.issuedAtMs);
}

/**
 * A member's keys (kind 0x03), signed by the invite key of the invite statement whose hash is
 * `inviteStatementHash` or, when it is null, directly by the organisation key (`signer` is
 * that key).
 */
export async function makeMemberStatement(p: {
  userId: string;
  orgId: string;
  role: Role;
  signingPublicKey: Uint8Array;
  encryptionPublicKey: Uint8Array;
  inviteStatementHash: Uint8Array | null;
  signer: SigningIdentity;
  issuedAtMs: number;
}): Promise<Uint8Array> {
  const inviteHash =
    p.inviteStatementHash === null ? ZERO_HASH : requireLength("inviteStatementHash", p.inviteStatementHash, HASH);
  if (p.inviteStatementHash !== null && equalBytes(inviteHash, ZERO_HASH)) {
    throw new RangeError("inviteStatementHash must not be zero");
  }
  const body = concat(
    uuidBytes("userId", p.userId),
    uuidBytes("orgId", p.orgId),
    roleByte(p.role),
    publicKeyField("signingPublicKey", p.signingPublicKey),
    publicKeyField("encryptionPublicKey", p.encryptionPublicKey),
    inviteHash,
  );
  return sign(StatementKind.MEMBER, body, p.signer, p.issuedAtMs);
}

/**
 * One link of the records-key chain (kind 0x04). `previousRecordsKeyId` is the key id of the
 * previous sequence's records public key, null for sequence 0. `signer`: the OK (sequence 0,
 * or a two-person change that also needs two approvals) or the previous sequence's records
 * signing key (rollover).
 */
export async function makeRecordsKeyStatement(p: {
  orgId: string;
  sequence: number;
  recordsPublicKey: Uint8Array;
  recordsSigningPublicKey: Uint8Array;
  previousRecordsKeyId: Uint8Array | null;
  signer: SigningIdentity;
  issuedAtMs: number;
}): Promise<Uint8Array> {
  const sequence = checkUint("sequence", p.sequence, 32);
  if ((sequence === 0) !== (p.previousRecordsKeyId === null)) {
    throw new RangeError("exactly sequence 0 has no previous records key");
  }
  const previous =
    p.previousRecordsKeyId === null ? ZERO_ID : requireLength("previousRecordsKeyId", p.previousRecordsKeyId, KEY_ID_LENGTH);
  if (p.previousRecordsKeyId !== null && equalBytes(previous, ZERO_ID)) {
    throw new RangeError("previousRecordsKeyId must not be zero");
  }
  const body = concat(
    uuidBytes("orgId", p.orgId),
    u32be(sequence),
    publicKeyField("recordsPublicKey", p.recordsPublicKey),
    publicKeyField("recordsSigningPublicKey", p.recordsSigningPublicKey),
    previous,
  );
  return sign(StatementKind.RECORDS_KEY, body, p.signer, p.issuedAtMs);
}

/** An administrator's approval (kind 0x05) of another statement, by its hash. */
export async function makeApprovalStatement(p: {
  approvedStatementHash: Uint8Array;
  approverUserId: string;
  approverSigningKey: SigningIdentity;
  issuedAtMs: number;
}): Promise<Uint8Array> {
  const body = concat(
    requireLength("approvedStatementHash", p.approvedStatementHash, HASH),
    uuidBytes("approverUserId", p.approverUserId),
  );
  return sign(StatementKind.APPROVAL, body, p.approverSigningKey, p.issuedAtMs);
}

// --- parsing ---------------------------------------------------------------------------

function key(reader: Reader): Uint8Array {
  const value = reader.take(PUBLIC);
  try {
    p256CheckPublic(value);
  } catch {
    throw new Malformed();
  }
  return value;
}

function role(value: number): Role {
  if (!isRole(value)) throw new Malformed();
  return value;
}

interface Parsed {
  statement: Statement;
  signed: Uint8Array;
  signature: Uint8Array;
}

/** Statement, signed part and signature; throws Malformed. */
async function parse(record: Uint8Array): Promise<Parsed> {
  const reader = new Reader(record);
  reader.prefix(RecordType.STATEMENT);
  const kind = reader.byte();
  if (kind < StatementKind.ORGANISATION_KEY || kind > StatementKind.APPROVAL) throw new Malformed();
  const signerKeyId = reader.take(KEY_ID_LENGTH);
  const issuedAt = reader.u64();
  const length = reader.u16();
  if (issuedAt > BigInt(MAX_TIMESTAMP_MS) || length > MAX_BODY_LENGTH) throw new Malformed();
  const body = new Reader(reader.take(length));
  const signed = reader.consumed();
  const signature = reader.take(SIGNATURE);
  reader.end();
  const common = {
    signerKeyId,
    issuedAtMs: Number(issuedAt),
    hash: await sha256(signed),
    record: record.slice(),
  };
  let statement: Statement;
  if (kind === StatementKind.ORGANISATION_KEY) {
    const orgId = body.uuid();
    const orgKind = body.byte();
    if (!isOrgKind(orgKind)) throw new Malformed();
    const orgPublicKey = key(body);
    const rawName = body.take(body.byte());
    let name: string;
    try {
      name = utf8.decode(rawName);
    } catch {
      throw new Malformed();
    }
    if (!nameOk(name)) throw new Malformed();
    statement = { kind, orgId, orgKind, orgPublicKey, name, ...common };
  } else if (kind === StatementKind.INVITE) {
    const orgId = body.uuid();
    const r = role(body.byte());
    const invitePublicKey = key(body);
    const expiresAtMs = body.safeU64();
    statement = { kind, orgId, role: r, invitePublicKey, expiresAtMs, tokenHash: body.take(HASH), ...common };
  } else if (kind === StatementKind.MEMBER) {
    const userId = body.uuid();
    const orgId = body.uuid();
    const r = role(body.byte());
    const signingPublicKey = key(body);
    const encryptionPublicKey = key(body);
    const inviteHash = body.take(HASH);
    statement = {
      kind,
      userId,
      orgId,
      role: r,
      signingPublicKey,
      encryptionPublicKey,
      inviteStatementHash: equalBytes(inviteHash, ZERO_HASH) ? null : inviteHash,
      ...common,
    };
  } else if (kind === StatementKind.RECORDS_KEY) {
    const orgId = body.uuid();
    const sequence = body.u32();
    const recordsPublicKey = key(body);
    const recordsSigningPublicKey = key(body);
    const previous = body.take(KEY_ID_LENGTH);
    if ((sequence === 0) !== equalBytes(previous, ZERO_ID)) throw new Malformed();
    statement = {
      kind,
      orgId,
      sequence,
      recordsPublicKey,
      recordsSigningPublicKey,
      previousRecordsKeyId: sequence === 0 ? null : previous,
      ...common,
    };
  } else {
    const approvedStatementHash = body.take(HASH);
    statement = { kind: StatementKind.APPROVAL, approvedStatementHash, approverUserId: body.uuid(), ...common };
  }
  body.end();
  return { statement, signed, signature };
}

function isHostile(e: unknown): boolean {
  return e instanceof Malformed || e instanceof PrimitiveError || e instanceof PublicKeyError;
}

/** Run `f`; map a hostile-input failure to `error`, let misuse through. */
async function opaque<T>(error: new () => Error, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (isHostile(e)) throw new error();
    throw e;
  }
}

/**
 * The statement's fields (discriminated by `kind`), without any signature check.
 * StatementError for anything but the exact layout of a known kind (including invalid public
 * keys and a name that is not NFC).
 */
export function parseStatement(record: Uint8Array): Promise<Statement> {
  requireBytes("record", record);
  return opaque(StatementError, async () => (await parse(record)).statement);
}

/** SHA-256 of the record without its signature; StatementError if malformed. */
export async function statementHash(record: Uint8Array): Promise<Uint8Array> {
  return (await parseStatement(record)).hash;
}

/** Parse, require the kind, the signer key id and the signature; throws Malformed et al. */
async function verified<K extends StatementKind>(
  record: Uint8Array,
  signerPublicKey: Uint8Array,
  kind: K | null,
): Promise<Extract<Statement, { kind: K }>> {
  const { statement, signed, signature } = await parse(record);
  if (kind !== null && statement.kind !== kind) throw new Malformed();
  if (!equalBytes(await keyId(signerPublicKey), statement.signerKeyId)) throw new Malformed();
  await p256Verify(signerPublicKey, concat(SIG_LABEL, signed), signature);
  return statement as Extract<Statement, { kind: K }>;
}

/**
 * Structure, the signer key id and the signature, and the kind when given: only that this key
 * signed this statement (the trust rules are the functions below). StatementSignatureError.
 */
export function verifyStatement(
  record: Uint8Array,
  signerPublicKey: Uint8Array,
  kind: StatementKind | null = null,
): Promise<Statement> {
  requireBytes("record", record);
  requireBytes("signerPublicKey", signerPublicKey);
  if (kind !== null && !Object.values(StatementKind).includes(kind)) throw new RangeError("unknown statement kind");
  return opaque(StatementSignatureError, () => verified(record, signerPublicKey, kind));
}

async function organisationKey(record: Uint8Array, orgId: Uint8Array): Promise<OrganisationKeyStatement> {
  const { statement } = await parse(record);
  if (statement.kind !== StatementKind.ORGANISATION_KEY) throw new Malformed();
  const v = await verified(record, statement.orgPublicKey, StatementKind.ORGANISATION_KEY);
  if (!equalBytes(uuidBytes("orgId", v.orgId), orgId)) throw new Malformed();
  return v;
}

/**
 * The organisation key statement of `orgId`, signed by the key it names. Self-signed, so it
 * proves possession, not authority: the caller pins `orgPublicKey` (from the invite link's key
 * id for its own organisation, on first use for others) and treats any other key for the
 * organisation as a hard stop. OrganisationKeyStatementError.
 */
export function verifyOrganisationKeyStatement(
  record: Uint8Array,
  p: { orgId: string },
): Promise<OrganisationKeyStatement> {
  const org = uuidBytes("orgId", p.orgId);
  requireBytes("record", record);
  return opaque(OrganisationKeyStatementError, () => organisationKey(record, org));
}

async function invite(record: Uint8Array, orgId: Uint8Array, orgPublicKey: Uint8Array): Promise<InviteStatement> {
  const s = await verified(record, orgPublicKey, StatementKind.INVITE);
  if (!equalBytes(uuidBytes("orgId", s.orgId), orgId)) throw new Malformed();
  return s;
}

/**
 * An invite of `orgId` signed by its organisation key; InviteStatementError. The expiry is the
 * server's to check when the invite is accepted (readers cannot know the true time).
 */
export function verifyInviteStatement(
  record: Uint8Array,
  p: { orgId: string; orgPublicKey: Uint8Array },
): Promise<InviteStatement> {
  const org = uuidBytes("orgId", p.orgId);
  requireBytes("record", record);
  requireBytes("orgPublicKey", p.orgPublicKey);
  return opaque(InviteStatementError, () => invite(record, org, p.orgPublicKey));
}

async function member(
  record: Uint8Array,
  orgId: Uint8Array,
  orgPublicKey: Uint8Array,
  inviteRecord: Uint8Array | null,
): Promise<MemberStatement> {
  const { statement } = await parse(record);
  if (statement.kind !== StatementKind.MEMBER || !equalBytes(uuidBytes("orgId", statement.orgId), orgId)) {
    throw new Malformed();
  }
  if (inviteRecord === null) {
    if (statement.inviteStatementHash !== null) throw new Malformed();
    return verified(record, orgPublicKey, StatementKind.MEMBER);
  }
  const inv = await invite(inviteRecord, orgId, orgPublicKey);
  if (
    inv.role !== statement.role ||
    statement.inviteStatementHash === null ||
    !equalBytes(statement.inviteStatementHash, inv.hash)
  ) {
    throw new Malformed();
  }
  return verified(record, inv.invitePublicKey, StatementKind.MEMBER);
}

/**
 * A member of `orgId` certified by its organisation key, directly or through an invite.
 * With `inviteStatement`: the invite verifies under `orgPublicKey` for this organisation, has
 * the member's role, the member statement names its hash and is signed by its invite key.
 * Without (null): the member statement names no invite and is signed by the organisation key.
 * The caller still compares the user id and keys with the directory's answer.
 * MemberStatementError.
 */
export function verifyMemberStatement(
  record: Uint8Array,
  p: { orgId: string; orgPublicKey: Uint8Array; inviteStatement: Uint8Array | null },
): Promise<MemberStatement> {
  const org = uuidBytes("orgId", p.orgId);
  requireBytes("record", record);
  requireBytes("orgPublicKey", p.orgPublicKey);
  if (p.inviteStatement !== null) requireBytes("inviteStatement", p.inviteStatement);
  return opaque(MemberStatementError, () => member(record, org, p.orgPublicKey, p.inviteStatement));
}

/** User id (hex) -> signing key of every certified administrator (others cannot approve). */
async function adminKeys(
  orgId: Uint8Array,
  orgPublicKey: Uint8Array,
  admins: readonly CertifiedMember[],
): Promise<Map<string, Uint8Array>> {
  const keys = new Map<string, Uint8Array>();
  for (const admin of admins) {
    let m: MemberStatement;
    try {
      m = await member(admin.statement, orgId, orgPublicKey, admin.inviteStatement ?? null);
    } catch (e) {
      if (isHostile(e)) continue;
      throw e;
    }
    if (m.role === Role.ADMIN) keys.set(m.userId, m.signingPublicKey);
  }
  return keys;
}

/** The distinct certified administrators whose approvals of `approvedHash` verify. */
async function approvers(
  change: RecordsKeyChange,
  approvedHash: Uint8Array,
  keys: Map<string, Uint8Array>,
): Promise<Set<string>> {
  const out = new Set<string>();
  for (const record of change.approvals ?? []) {
    const { statement } = await parse(record);
    if (statement.kind !== StatementKind.APPROVAL) throw new Malformed();
    const signingKey = keys.get(statement.approverUserId);
    if (signingKey === undefined || !equalBytes(statement.approvedStatementHash, approvedHash)) {
      throw new Malformed();
    }
    await verified(record, signingKey, StatementKind.APPROVAL);
    out.add(statement.approverUserId);
  }
  return out;
}

async function chainOf(
  changes: readonly RecordsKeyChange[],
  orgId: Uint8Array,
  orgPublicKey: Uint8Array,
  admins: readonly CertifiedMember[],
  pin: RecordsKeyPin | null,
): Promise<RecordsKeyStatement> {
  const keys = await adminKeys(orgId, orgPublicKey, admins);
  const chain: RecordsKeyStatement[] = [];
  for (const [sequence, change] of changes.entries()) {
    const { statement } = await parse(change.statement);
    if (
      statement.kind !== StatementKind.RECORDS_KEY ||
      !equalBytes(uuidBytes("orgId", statement.orgId), orgId) ||
      statement.sequence !== sequence
    ) {
      throw new Malformed();
    }
    const previous = chain[chain.length - 1];
    if (previous === undefined) {
      await verified(change.statement, orgPublicKey, StatementKind.RECORDS_KEY);
    } else {
      if (
        statement.previousRecordsKeyId === null ||
        !equalBytes(statement.previousRecordsKeyId, await keyId(previous.recordsPublicKey))
      ) {
        throw new Malformed();
      }
      const rolloverKey = previous.recordsSigningPublicKey;
      if (equalBytes(statement.signerKeyId, await keyId(rolloverKey))) {
        await verified(change.statement, rolloverKey, StatementKind.RECORDS_KEY);
      } else {
        await verified(change.statement, orgPublicKey, StatementKind.RECORDS_KEY);
        if ((await approvers(change, statement.hash, keys)).size < 2) throw new Malformed();
      }
    }
    chain.push(statement);
  }
  const newest = chain[chain.length - 1];
  if (newest === undefined) throw new Malformed();
  if (pin !== null) {
    const pinned = chain[pin.sequence];
    if (pinned === undefined || !equalBytes(pinned.recordsPublicKey, pin.recordsPublicKey)) throw new Malformed();
  }
  return newest;
}

/**
 * Verify the whole records-key chain of `orgId`; return its newest statement.
 *
 * `changes[i]` is sequence i. Sequence 0 is signed by the organisation key. Every later one
 * names the previous records key's id and is signed either by the previous sequence's records
 * signing key (a rollover by whoever holds the old records key file) or by the organisation
 * key together with approvals (kind 0x05) of its statement hash by at least two distinct
 * administrators, each certified by a member statement with role admin in `admins` (entries
 * that do not verify simply cannot approve). An approval that does not verify, or by anyone
 * else, fails the chain. `pin` is the highest records key accepted before: the chain must
 * contain it at its sequence. RecordsKeyChainError.
 */
export function verifyRecordsKeyChain(
  changes: readonly RecordsKeyChange[],
  p: {
    orgId: string;
    orgPublicKey: Uint8Array;
    admins?: readonly CertifiedMember[];
    pin?: RecordsKeyPin | null;
  },
): Promise<RecordsKeyStatement> {
  const org = uuidBytes("orgId", p.orgId);
  requireBytes("orgPublicKey", p.orgPublicKey);
  if (!Array.isArray(changes)) throw new TypeError("changes must be an array");
  for (const c of changes) requireBytes("change.statement", c.statement);
  const pin = p.pin ?? null;
  if (pin !== null) {
    checkUint("pin.sequence", pin.sequence, 32);
    requireBytes("pin.recordsPublicKey", pin.recordsPublicKey);
  }
  return opaque(RecordsKeyChainError, () => chainOf(changes, org, p.orgPublicKey, p.admins ?? [], pin));
}
