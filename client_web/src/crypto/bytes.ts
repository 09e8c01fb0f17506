/**
 * Byte helpers shared by the protocol port. Everything on the wire is a Uint8Array; numbers are
 * big-endian (network order) as in docs/protocol.md.
 */

/** A Uint8Array backed by a plain ArrayBuffer, which is what WebCrypto's BufferSource needs. */
export type Bytes = Uint8Array<ArrayBuffer>;

/** Return `u` as a Bytes view (copying only when it sits on a SharedArrayBuffer). */
export function bs(u: Uint8Array): Bytes {
  if (u.buffer instanceof ArrayBuffer) {
    return u as Bytes;
  }
  return new Uint8Array(u) as Bytes;
}

export function requireBytes(name: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${name} must be a Uint8Array`);
  }
  return value;
}

export function requireLength(name: string, value: unknown, length: number): Uint8Array {
  const u = requireBytes(name, value);
  if (u.length !== length) {
    throw new RangeError(`${name} must be ${length} bytes, got ${u.length}`);
  }
  return u;
}

const HEX = "0123456789abcdef";

export function toHex(u: Uint8Array): string {
  let out = "";
  for (const b of u) {
    out += HEX[b >> 4]! + HEX[b & 15]!;
  }
  return out;
}

export function fromHex(hex: string): Bytes {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new RangeError("not a hex string of whole bytes");
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}

export function concat(...parts: Uint8Array[]): Bytes {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Constant-time comparison (length is not secret). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

export function u16be(n: number): Bytes {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new RangeError("u16 out of range");
  return new Uint8Array([n >> 8, n & 0xff]);
}

export function u32be(n: number): Bytes {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError("u32 out of range");
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

export function u64be(n: bigint): Bytes {
  if (n < 0n || n > 0xffffffffffffffffn) throw new RangeError("u64 out of range");
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n);
  return out;
}

export function bytesToBigInt(u: Uint8Array): bigint {
  let n = 0n;
  for (const b of u) n = (n << 8n) | BigInt(b);
  return n;
}

export function bigIntToBytes(n: bigint, length: number): Bytes {
  if (n < 0n) throw new RangeError("negative integer");
  const out = new Uint8Array(length);
  let v = n;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (v !== 0n) throw new RangeError("integer too large for the requested length");
  return out;
}

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

export function toBase64Url(u: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 2 < u.length; i += 3) {
    const n = (u[i]! << 16) | (u[i + 1]! << 8) | u[i + 2]!;
    out += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]! + B64URL[(n >> 6) & 63]! + B64URL[n & 63]!;
  }
  const rest = u.length - i;
  if (rest === 1) {
    const n = u[i]! << 16;
    out += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]!;
  } else if (rest === 2) {
    const n = (u[i]! << 16) | (u[i + 1]! << 8);
    out += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]! + B64URL[(n >> 6) & 63]!;
  }
  return out;
}

/** Strict unpadded base64url (RFC 7515 section 2): rejects padding and non-canonical tails. */
export function fromBase64Url(s: string): Bytes {
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) {
    throw new RangeError("not unpadded base64url");
  }
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (const ch of s) {
    acc = (acc << 6) | B64URL.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) {
    throw new RangeError("non-canonical base64url");
  }
  return out;
}

export const utf8 = {
  encode(s: string): Bytes {
    return new TextEncoder().encode(s) as Bytes;
  },
  /** Strict decoding: invalid UTF-8 throws instead of being replaced with U+FFFD. */
  decode(u: Uint8Array): string {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(u);
  },
};
