/**
 * Shared pieces of Dermline v1 binary records; port of crypto/_wire.py.
 *
 * Every v1 record starts with three bytes: version (0x01) | suite (0x01 = P-256 / HKDF-SHA256 /
 * AES-256-GCM) | record type. Unknown values are rejected, never skipped. The Reader throws the
 * internal `Malformed` on any structural problem (short read, trailing bytes, wrong prefix);
 * each public operation maps it, like every other failure, to its own opaque CryptoError.
 */
import { concat, equalBytes, requireBytes, toHex, utf8 } from "./bytes";

export const VERSION_1 = 0x01;
export const SUITE_P256_SHA256_AES256GCM = 0x01;
/** Every label (HKDF info, HPKE info, AAD, signature context) starts with this. */
export const LABEL_PREFIX = "dermline/v1/";

export const RecordType = {
  KDF_PARAMS: 0x01,
  USK_KEK: 0x02,
  USK_RECOVERY: 0x03,
  USK_ORG: 0x04,
  SEALED_PRIVATE_KEY: 0x05,
  CASE_KEY_WRAP: 0x06,
  MESSAGE: 0x07,
  ATTACHMENT: 0x08,
  RECORDS_KEY_FILE: 0x09,
  PATIENT_DROP: 0x0a,
  CASE_KEY_WRAP_COMMITTED: 0x0b,
  STATEMENT: 0x0c,
  TREE_HEAD: 0x0d,
  MESSAGE_COMMITTED: 0x0e,
  ORG_KEY_WRAP: 0x0f,
  ORG_KEY_HANDOVER: 0x10,
  USK_PASSKEY: 0x11,
} as const;

/**
 * Sizes, indices and timestamps of the records added with the transparency log (0x0c..0x10)
 * stay within JavaScript's exact integers (2^53 - 1), so they are plain numbers here.
 */
export const MAX_SAFE_INTEGER = Number.MAX_SAFE_INTEGER;

/** Internal: the bytes do not parse. Never escapes a public function. */
export class Malformed extends Error {
  constructor() {
    super("malformed record");
    this.name = "Malformed";
  }
}

/** `dermline/v1/<name>` as bytes, optionally followed by a 0x00 separator. */
export function label(name: string, nul = false): Uint8Array {
  const l = utf8.encode(LABEL_PREFIX + name);
  return nul ? concat(l, new Uint8Array([0])) : l;
}

export function prefix(recordType: number): Uint8Array {
  return new Uint8Array([VERSION_1, SUITE_P256_SHA256_AES256GCM, recordType]);
}

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Misuse check for an identifier: a hyphenated UUID string; returns its 16 wire bytes. */
export function uuidBytes(name: string, value: unknown): Uint8Array {
  if (typeof value !== "string" || !UUID_RE.test(value)) {
    throw new TypeError(`${name} must be a hyphenated UUID string`);
  }
  const hex = value.replace(/-/g, "");
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** 16 bytes to the canonical lower-case hyphenated form (like Python's str(uuid.UUID)). */
export function uuidString(b: Uint8Array): string {
  if (b.length !== 16) throw new RangeError("a UUID is 16 bytes");
  const h = toHex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Misuse check for an unsigned integer that must fit in `bits` bits (bits <= 53 for number). */
export function checkUint(name: string, value: unknown, bits: 32): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer`);
  }
  if (value < 0 || value >= 2 ** bits) {
    throw new RangeError(`${name} must fit in ${bits} unsigned bits`);
  }
  return value;
}

/** Misuse check for a u64 field held as a number: an integer in [0, 2^53 - 1]. */
export function checkSafeUint(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer`);
  }
  if (value < 0 || value > MAX_SAFE_INTEGER) {
    throw new RangeError(`${name} must be in [0, 2^53 - 1]`);
  }
  return value;
}

/** u64 big-endian of a safe integer (see checkSafeUint). */
export function u64Safe(name: string, value: unknown): Uint8Array {
  const v = checkSafeUint(name, value);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(v));
  return out;
}

export function checkUint64(name: string, value: unknown): bigint {
  if (typeof value !== "bigint") throw new TypeError(`${name} must be a bigint`);
  if (value < 0n || value > 0xffffffffffffffffn) {
    throw new RangeError(`${name} must fit in 64 unsigned bits`);
  }
  return value;
}

/** Reads a record front to back; any shortfall throws Malformed. */
export class Reader {
  private pos = 0;
  private readonly data: Uint8Array;

  constructor(data: unknown) {
    this.data = requireBytes("record", data);
  }

  get position(): number {
    return this.pos;
  }

  take(length: number): Uint8Array {
    const end = this.pos + length;
    if (end > this.data.length) throw new Malformed();
    const out = this.data.slice(this.pos, end);
    this.pos = end;
    return out;
  }

  byte(): number {
    return this.take(1)[0]!;
  }

  u32(): number {
    return new DataView(this.take(4).buffer).getUint32(0);
  }

  u16(): number {
    return new DataView(this.take(2).buffer).getUint16(0);
  }

  u64(): bigint {
    return new DataView(this.take(8).buffer).getBigUint64(0);
  }

  /** A u64 that must be at most 2^53 - 1 (the records of the transparency log); else Malformed. */
  safeU64(): number {
    const v = this.u64();
    if (v > BigInt(MAX_SAFE_INTEGER)) throw new Malformed();
    return Number(v);
  }

  /** Everything not read yet (for a record that ends with another record). */
  rest(): Uint8Array {
    return this.take(this.data.length - this.pos);
  }

  uuid(): string {
    return uuidString(this.take(16));
  }

  /** Check version, suite and record type; unknown values are rejected. */
  prefix(recordType: number): void {
    if (!equalBytes(this.take(3), prefix(recordType))) throw new Malformed();
  }

  /** Trailing bytes are an error: a record has exactly one encoding. */
  end(): void {
    if (this.pos !== this.data.length) throw new Malformed();
  }

  /** Everything read so far (for AAD and signatures over a header). */
  consumed(): Uint8Array {
    return this.data.slice(0, this.pos);
  }
}
