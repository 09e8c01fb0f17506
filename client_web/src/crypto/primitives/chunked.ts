/**
 * C2SP chunked encryption (c2sp.org/chunked-encryption, "Cobblestone-256"): AES-256-GCM,
 * HKDF-Expand with SHA-512, 16 KiB chunks. Port of crypto/primitives/chunked.py; checked
 * against Wycheproof c2sp_chunked_encryption_aes_256_gcm_test.json (all cases).
 *
 * Format: salt (24) || commitment (32) || chunk_0 || ... || chunk_last, where
 *   key || base_nonce || commitment = HKDF-Expand-SHA512(prk = input key,
 *       info = "c2sp.org/chunked-encryption@v1+" || "AEAD_AES_256_GCM" || 0x00 || salt || context,
 *       L = 32 + 12 + 32)
 * and chunk_i = AES-256-GCM(key, base_nonce XOR I2OSP(i, 12), chunk plaintext, aad = ""). Every
 * chunk holds 16384 plaintext bytes except the last, which holds 0..16383 (so a message of
 * exactly k * 16 KiB ends with an empty chunk and there is one chunking per length).
 *
 * Streaming API (never holds the whole file):
 *   const enc = await ChunkedEncryptor.create(key, context, salt24);
 *   out.push(await enc.update(part)); ...; out.push(await enc.finalize());
 *   const dec = await ChunkedDecryptor.create(key, context);
 *   pt.push(await dec.update(part)); ...; pt.push(await dec.finalize());
 * `update` returns the bytes that are ready (for the encryptor, the header comes with the first
 * call). The decryptor checks the commitment before decrypting any chunk, releases plaintext
 * only of authenticated chunks, and holds back the last complete-size chunk until it knows it
 * is not the end (a final chunk must be short: spec "Message chunking"). Any failure
 * (commitment, tag, truncation, trailing data, reordering) raises PrimitiveError, and every
 * later call raises it again ("keep returning an error", Wycheproof doc).
 *
 * One-shot helpers: chunkedEncrypt / chunkedDecrypt. The salt must never repeat for a key: the
 * public helpers draw it from crypto.getRandomValues when it is not injected.
 */
import { bs, concat, equalBytes, requireBytes, requireLength, utf8 } from "../bytes";
import { PrimitiveError } from "../errors";
import { importAesGcmKey } from "./aead";
import { hkdfSha512Expand } from "./kdf";

export const CHUNK_SIZE = 16384;
export const TAG_LEN = 16;
export const SALT_LEN = 24;
export const COMMITMENT_LEN = 32;
export const HEADER_LEN = SALT_LEN + COMMITMENT_LEN;
export const KEY_LEN = 32;
const NONCE_LEN = 12;
const ENC_CHUNK = CHUNK_SIZE + TAG_LEN;
// Spec limit is 2**38 chunks; implementations may stop lower but not below 2**32.
const MAX_CHUNKS = 2 ** 32;
const INFO_PREFIX = concat(
  utf8.encode("c2sp.org/chunked-encryption@v1+"),
  utf8.encode("AEAD_AES_256_GCM"),
  new Uint8Array([0]),
);

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

interface Derived {
  key: CryptoKey;
  baseNonce: Uint8Array;
  commitment: Uint8Array;
}

async function derive(key: Uint8Array, salt: Uint8Array, context: Uint8Array): Promise<Derived> {
  const okm = await hkdfSha512Expand(key, concat(INFO_PREFIX, salt, context), 32 + 12 + 32);
  const aesKey = await importAesGcmKey(okm.subarray(0, 32));
  const out = {
    key: aesKey,
    baseNonce: okm.slice(32, 44),
    commitment: okm.slice(44, 76),
  };
  okm.fill(0);
  return out;
}

function chunkNonce(base: Uint8Array, counter: number): Uint8Array {
  // base_nonce XOR the counter as a big-endian integer as wide as the nonce (here < 2**32,
  // so only the last 5 bytes can change; 5 bytes cover the spec's 38-bit counter).
  const n = base.slice();
  let c = counter;
  for (let i = NONCE_LEN - 1; i >= NONCE_LEN - 5; i--) {
    n[i]! ^= c % 256;
    c = Math.floor(c / 256);
  }
  return n;
}

function checkKey(key: unknown): Uint8Array {
  return requireLength("key", key, KEY_LEN);
}

/** Streaming encryptor; see the module comment. */
export class ChunkedEncryptor {
  private buf: Uint8Array[] = [];
  private bufLen = 0;
  private counter = 0;
  private headerSent = false;
  private done = false;

  private constructor(
    private readonly d: Derived,
    private readonly header: Uint8Array,
  ) {}

  static async create(
    key: Uint8Array,
    context: Uint8Array,
    salt: Uint8Array,
  ): Promise<ChunkedEncryptor> {
    checkKey(key);
    requireBytes("context", context);
    requireLength("salt", salt, SALT_LEN);
    const d = await derive(key, salt, context);
    return new ChunkedEncryptor(d, concat(salt, d.commitment));
  }

  private async sealChunk(pt: Uint8Array, counter: number): Promise<Uint8Array> {
    if (counter >= MAX_CHUNKS) throw new RangeError("message too long for chunked encryption");
    const ct = await subtle().encrypt(
      { name: "AES-GCM", iv: bs(chunkNonce(this.d.baseNonce, counter)), tagLength: 128 },
      this.d.key,
      bs(pt),
    );
    return new Uint8Array(ct);
  }

  /** Add plaintext; returns the ciphertext bytes completed so far (header first). */
  async update(data: Uint8Array): Promise<Uint8Array> {
    requireBytes("data", data);
    if (this.done) throw new TypeError("encryptor already finalized");
    this.buf.push(data);
    this.bufLen += data.length;
    // Every complete 16 KiB chunk is sealed now; finalize() always adds the short final chunk
    // (empty when the message length is a multiple of 16 KiB), which is the spec's only
    // chunking for each length.
    const parts: Promise<Uint8Array>[] = [];
    if (!this.headerSent) {
      parts.push(Promise.resolve(this.header));
      this.headerSent = true;
    }
    if (this.bufLen >= CHUNK_SIZE) {
      const all = this.buf.length === 1 ? this.buf[0]! : concat(...this.buf);
      let o = 0;
      for (; all.length - o >= CHUNK_SIZE; o += CHUNK_SIZE) {
        parts.push(this.sealChunk(all.subarray(o, o + CHUNK_SIZE), this.counter++));
      }
      const rest = all.slice(o);
      this.buf = rest.length ? [rest] : [];
      this.bufLen = rest.length;
    }
    // The chunks are independent, so WebCrypto may run them concurrently.
    return concat(...(await Promise.all(parts)));
  }

  /** Seal the final short chunk (possibly empty); returns the last ciphertext bytes. */
  async finalize(): Promise<Uint8Array> {
    if (this.done) throw new TypeError("encryptor already finalized");
    this.done = true;
    const head = this.headerSent ? new Uint8Array(0) : this.header;
    this.headerSent = true;
    const last = await this.sealChunk(concat(...this.buf), this.counter++);
    this.buf = [];
    return concat(head, last);
  }
}

/** Streaming decryptor; see the module comment. */
export class ChunkedDecryptor {
  private buf: Uint8Array = new Uint8Array(0);
  private counter = 0;
  private derived: Derived | null = null;
  private failed = false;
  private done = false;

  private constructor(
    private readonly key: Uint8Array,
    private readonly context: Uint8Array,
  ) {}

  static async create(key: Uint8Array, context: Uint8Array): Promise<ChunkedDecryptor> {
    checkKey(key);
    requireBytes("context", context);
    return new ChunkedDecryptor(key.slice(), context.slice());
  }

  private fail(): never {
    this.failed = true;
    this.buf = new Uint8Array(0);
    throw new PrimitiveError();
  }

  private async openChunk(ct: Uint8Array, counter: number): Promise<Uint8Array> {
    if (counter >= MAX_CHUNKS) this.fail();
    try {
      const pt = await subtle().decrypt(
        { name: "AES-GCM", iv: bs(chunkNonce(this.derived!.baseNonce, counter)), tagLength: 128 },
        this.derived!.key,
        bs(ct),
      );
      return new Uint8Array(pt);
    } catch {
      return this.fail();
    }
  }

  private async header(): Promise<void> {
    if (this.derived !== null || this.buf.length < HEADER_LEN) return;
    const salt = this.buf.subarray(0, SALT_LEN);
    const commitment = this.buf.subarray(SALT_LEN, HEADER_LEN);
    const d = await derive(this.key, salt, this.context);
    // Spec: check the commitment before decrypting any chunk (key and context commitment).
    if (!equalBytes(d.commitment, commitment)) this.fail();
    this.key.fill(0);
    this.derived = d;
    this.buf = this.buf.slice(HEADER_LEN);
  }

  /** Add ciphertext; returns plaintext of the chunks authenticated so far. */
  async update(data: Uint8Array): Promise<Uint8Array> {
    requireBytes("data", data);
    if (this.failed) throw new PrimitiveError();
    if (this.done) throw new TypeError("decryptor already finalized");
    this.buf = concat(this.buf, data);
    await this.header();
    if (this.derived === null) return new Uint8Array(0);
    // A complete-size encrypted chunk is released only when more bytes follow it: the final
    // chunk must be short, so a chunk followed by anything is certainly not the last one.
    const jobs: Promise<Uint8Array>[] = [];
    let o = 0;
    while (this.buf.length - o > ENC_CHUNK) {
      jobs.push(this.openChunk(this.buf.subarray(o, o + ENC_CHUNK), this.counter++));
      o += ENC_CHUNK;
    }
    const rest = this.buf.slice(o);
    try {
      const pts = await Promise.all(jobs);
      this.buf = rest;
      return concat(...pts);
    } catch {
      return this.fail();
    }
  }

  /** Authenticate the final short chunk; PrimitiveError on truncation or trailing data. */
  async finalize(): Promise<Uint8Array> {
    if (this.failed) throw new PrimitiveError();
    if (this.done) throw new TypeError("decryptor already finalized");
    await this.header();
    if (this.derived === null) this.fail(); // shorter than the 56-byte header
    // The final chunk must hold 0..16383 plaintext bytes: TAG_LEN <= len < ENC_CHUNK.
    if (this.buf.length < TAG_LEN || this.buf.length >= ENC_CHUNK) this.fail();
    const pt = await this.openChunk(this.buf, this.counter++);
    this.done = true;
    this.buf = new Uint8Array(0);
    return pt;
  }
}

/** Exact ciphertext length for a plaintext of n bytes: 56 + n + 16 * (n // 16384 + 1). */
export function ciphertextLength(n: number): number {
  return HEADER_LEN + n + TAG_LEN * (Math.floor(n / CHUNK_SIZE) + 1);
}

/**
 * One-shot encryption into a single preallocated buffer, optionally after `prefix` (the
 * attachment record puts its 3-byte record prefix there), so a multi-MB photo is copied once.
 * All chunks are submitted to WebCrypto at once; each lands at its fixed offset.
 */
export async function chunkedEncryptWithPrefix(
  key: Uint8Array,
  context: Uint8Array,
  plaintext: Uint8Array,
  salt: Uint8Array,
  prefix: Uint8Array,
): Promise<Uint8Array> {
  checkKey(key);
  requireBytes("context", context);
  requireBytes("plaintext", plaintext);
  requireLength("salt", salt, SALT_LEN);
  requireBytes("prefix", prefix);
  const n = plaintext.length;
  const chunks = Math.floor(n / CHUNK_SIZE) + 1;
  if (chunks > MAX_CHUNKS) throw new RangeError("message too long for chunked encryption");
  const d = await derive(key, salt, context);
  const out = new Uint8Array(prefix.length + ciphertextLength(n));
  out.set(prefix, 0);
  out.set(salt, prefix.length);
  out.set(d.commitment, prefix.length + SALT_LEN);
  const base = prefix.length + HEADER_LEN;
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < chunks; i++) {
    const pt = plaintext.subarray(i * CHUNK_SIZE, Math.min(n, (i + 1) * CHUNK_SIZE));
    jobs.push(
      subtle()
        .encrypt(
          { name: "AES-GCM", iv: bs(chunkNonce(d.baseNonce, i)), tagLength: 128 },
          d.key,
          bs(pt),
        )
        .then((ct) => out.set(new Uint8Array(ct), base + i * ENC_CHUNK)),
    );
  }
  await Promise.all(jobs);
  return out;
}

/** One-shot encryption; `salt` is drawn at random unless injected (tests, vectors). */
export function chunkedEncrypt(
  key: Uint8Array,
  context: Uint8Array,
  plaintext: Uint8Array,
  salt: Uint8Array = globalThis.crypto.getRandomValues(new Uint8Array(SALT_LEN)),
): Promise<Uint8Array> {
  return chunkedEncryptWithPrefix(key, context, plaintext, salt, new Uint8Array(0));
}

/** One-shot decryption; PrimitiveError on any failure, never partial output. */
export async function chunkedDecrypt(
  key: Uint8Array,
  context: Uint8Array,
  ciphertext: Uint8Array,
): Promise<Uint8Array> {
  requireBytes("ciphertext", ciphertext);
  const dec = await ChunkedDecryptor.create(key, context);
  const a = await dec.update(ciphertext);
  const b = await dec.finalize();
  return concat(a, b);
}
