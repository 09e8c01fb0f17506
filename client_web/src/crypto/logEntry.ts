/**
 * Entries of the transparency log, the leaves of its Merkle tree; port of crypto/log_entry.py
 * (docs/protocol.md section 18).
 *
 *     entry = entry type (1) || appended at (u64 Unix ms, server clock; <= 2^53 - 1) || payload
 *     0x01 statement           payload = one signed statement record (type 0x0c, any kind)
 *     0x02 uncertified member  user id, org id, role (1), signing public key (65),
 *                              encryption public key (65)
 *     0x03 removal             user id, org id (16 zero bytes: the whole account), reason (1),
 *                              role (1; 0 = every role)
 *
 *     leaf hash = SHA-256(0x00 || entry)                            (merkle.ts leafHash)
 *
 * Removal reasons, with the only field combinations a parser accepts: 1 removed from the
 * organisation (org id set, role 0), 2 account disabled (org id zero, role 0), 3 one role
 * removed (org id set, role 1..5). The browser parses entries (parseLogEntry) to read what a
 * directory answer's leaf says; it never makes them.
 */
import { equalBytes, requireBytes } from "./bytes";
import { LogEntryError, PrimitiveError, StatementError } from "./errors";
import { p256CheckPublic } from "./primitives/ecc";
import { type Role, type Statement, parseStatement } from "./statement";
import { Malformed, Reader, uuidString } from "./wire";

export const LogEntryType = { STATEMENT: 0x01, UNCERTIFIED_MEMBER: 0x02, REMOVAL: 0x03 } as const;
export type LogEntryType = (typeof LogEntryType)[keyof typeof LogEntryType];

export const RemovalReason = { REMOVED_FROM_ORGANISATION: 1, ACCOUNT_DISABLED: 2, ROLE_REMOVED: 3 } as const;
export type RemovalReason = (typeof RemovalReason)[keyof typeof RemovalReason];

const PUBLIC = 65;
const NO_ORG = new Uint8Array(16);

interface LogEntryBase {
  appendedAtMs: number;
  /** The entry's exact bytes (hash them for the leaf). */
  entry: Uint8Array;
}

/** A signed statement (its signature is not checked by parsing). */
export interface StatementEntry extends LogEntryBase {
  entryType: typeof LogEntryType.STATEMENT;
  statement: Statement;
}

/** A member enrolled through a server-made invite: keys on trust on first use. */
export interface UncertifiedMemberEntry extends LogEntryBase {
  entryType: typeof LogEntryType.UNCERTIFIED_MEMBER;
  userId: string;
  orgId: string;
  role: Role;
  signingPublicKey: Uint8Array;
  encryptionPublicKey: Uint8Array;
}

/** `orgId` is null for the whole account; `role` null for every role. */
export interface RemovalEntry extends LogEntryBase {
  entryType: typeof LogEntryType.REMOVAL;
  userId: string;
  orgId: string | null;
  reason: RemovalReason;
  role: Role | null;
}

export type LogEntry = StatementEntry | UncertifiedMemberEntry | RemovalEntry;

const isRole = (v: number): v is Role => Number.isInteger(v) && v >= 1 && v <= 5;

function removalOk(org: Uint8Array, reason: RemovalReason, role: number): boolean {
  if (reason === RemovalReason.ACCOUNT_DISABLED) return equalBytes(org, NO_ORG) && role === 0;
  if (equalBytes(org, NO_ORG)) return false;
  return (role === 0) === (reason === RemovalReason.REMOVED_FROM_ORGANISATION);
}

function key(reader: Reader): Uint8Array {
  const value = reader.take(PUBLIC);
  try {
    p256CheckPublic(value);
  } catch {
    throw new Malformed();
  }
  return value;
}

async function parse(data: Uint8Array): Promise<LogEntry> {
  const reader = new Reader(data);
  const entryType = reader.byte();
  const appendedAtMs = reader.safeU64();
  const entry = data.slice();
  if (entryType === LogEntryType.STATEMENT) {
    return { entryType, appendedAtMs, entry, statement: await parseStatement(reader.rest()) };
  }
  if (entryType !== LogEntryType.UNCERTIFIED_MEMBER && entryType !== LogEntryType.REMOVAL) throw new Malformed();
  const userId = reader.uuid();
  if (entryType === LogEntryType.UNCERTIFIED_MEMBER) {
    const orgId = reader.uuid();
    const role = reader.byte();
    if (!isRole(role)) throw new Malformed();
    const signingPublicKey = key(reader);
    const encryptionPublicKey = key(reader);
    reader.end();
    return { entryType, appendedAtMs, entry, userId, orgId, role, signingPublicKey, encryptionPublicKey };
  }
  const org = reader.take(16);
  const reason = reader.byte();
  const role = reader.byte();
  reader.end();
  if (
    (reason !== 1 && reason !== 2 && reason !== 3) ||
    (role !== 0 && !isRole(role)) ||
    !removalOk(org, reason, role)
  ) {
    throw new Malformed();
  }
  return {
    entryType,
    appendedAtMs,
    entry,
    userId,
    orgId: equalBytes(org, NO_ORG) ? null : uuidString(org),
    reason,
    role: role === 0 ? null : role,
  };
}

/**
 * The entry's fields (discriminated by `entryType`); LogEntryError. A statement entry's
 * statement is parsed (structure) but its signature is not checked: which key must have signed
 * it is a rule of the reader (statement.ts).
 */
export async function parseLogEntry(entry: Uint8Array): Promise<LogEntry> {
  requireBytes("entry", entry);
  try {
    return await parse(entry);
  } catch (e) {
    if (e instanceof Malformed || e instanceof StatementError || e instanceof PrimitiveError) {
      throw new LogEntryError();
    }
    throw e;
  }
}
