/**
 * Attachments (photos): streaming encryption with a per-file key (record type 0x08); port of
 * crypto/attachment.py.
 *
 *   01 01 08 || C2SP chunked ciphertext (Cobblestone-256), context "dermline/v1/attachment"
 *
 * The sender draws a fresh 32-byte file key, encrypts, and puts the file key, the SHA-256 of the
 * whole record and its size in the photo-reference message (encrypted and signed). The recipient
 * checks the hash and decrypts.
 *
 * Browser note: WebCrypto has no incremental SHA-256, so the streaming classes keep the record's
 * bytes to hash them at finalize (a photo is a few MB and is uploaded or was downloaded whole
 * anyway). `decryptAttachment` checks the hash BEFORE decrypting anything, which is stricter
 * than the streaming contract. After a failure every later call fails too.
 */
import { concat, equalBytes, requireBytes, requireLength } from "./bytes";
import { AttachmentError, PrimitiveError } from "./errors";
import {
  ChunkedDecryptor,
  ChunkedEncryptor,
  KEY_LEN,
  SALT_LEN,
  chunkedEncryptWithPrefix,
  ciphertextLength,
} from "./primitives/chunked";
import { sha256 } from "./primitives/kdf";
import { RecordType, label, prefix } from "./wire";

export const FILE_KEY_LENGTH = KEY_LEN;
const CONTEXT = label("attachment");
const PREFIX = prefix(RecordType.ATTACHMENT);

export function newFileKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(FILE_KEY_LENGTH));
}

/** Exact size of the attachment record for a plaintext of n bytes. */
export function attachmentLength(n: number): number {
  return PREFIX.length + ciphertextLength(n);
}

export class AttachmentEncryptor {
  private parts: Uint8Array[] = [];
  private prefixSent = false;
  private digest: Uint8Array | null = null;
  private constructor(private readonly chunked: ChunkedEncryptor) {}

  static async create(fileKey: Uint8Array, salt: Uint8Array): Promise<AttachmentEncryptor> {
    requireLength("fileKey", fileKey, FILE_KEY_LENGTH);
    requireLength("salt", salt, SALT_LEN);
    return new AttachmentEncryptor(await ChunkedEncryptor.create(fileKey, CONTEXT, salt));
  }

  private out(data: Uint8Array): Uint8Array {
    const d = this.prefixSent ? data : concat(PREFIX, data);
    this.prefixSent = true;
    this.parts.push(d);
    return d;
  }

  async update(data: Uint8Array): Promise<Uint8Array> {
    return this.out(await this.chunked.update(data));
  }

  async finalize(): Promise<Uint8Array> {
    const last = this.out(await this.chunked.finalize());
    this.digest = await sha256(concat(...this.parts));
    this.parts = [];
    return last;
  }

  /** SHA-256 of the whole record (after finalize). */
  get sha256(): Uint8Array {
    if (this.digest === null) throw new TypeError("sha256 is known only after finalize()");
    return this.digest;
  }
}

export class AttachmentDecryptor {
  private parts: Uint8Array[] = [];
  private head = new Uint8Array(0);
  private failed = false;
  private constructor(
    private readonly chunked: ChunkedDecryptor,
    private readonly expected: Uint8Array,
  ) {}

  static async create(fileKey: Uint8Array, expectedSha256: Uint8Array): Promise<AttachmentDecryptor> {
    requireLength("fileKey", fileKey, FILE_KEY_LENGTH);
    requireLength("expectedSha256", expectedSha256, 32);
    return new AttachmentDecryptor(await ChunkedDecryptor.create(fileKey, CONTEXT), expectedSha256.slice());
  }

  async update(data: Uint8Array): Promise<Uint8Array> {
    requireBytes("data", data);
    if (this.failed) throw new AttachmentError();
    this.parts.push(data.slice());
    let view = data;
    try {
      if (this.head.length < PREFIX.length) {
        const take = PREFIX.length - this.head.length;
        this.head = concat(this.head, view.subarray(0, take));
        view = view.subarray(take);
        // Unknown version, suite or type: refuse before any decryption.
        if (!equalBytes(this.head, PREFIX.subarray(0, this.head.length))) throw new PrimitiveError();
      }
      return await this.chunked.update(view);
    } catch (e) {
      if (e instanceof PrimitiveError) {
        this.failed = true;
        throw new AttachmentError();
      }
      throw e;
    }
  }

  async finalize(): Promise<Uint8Array> {
    if (this.failed) throw new AttachmentError();
    try {
      const last = await this.chunked.finalize();
      if (!equalBytes(await sha256(concat(...this.parts)), this.expected)) throw new PrimitiveError();
      this.parts = [];
      return last;
    } catch (e) {
      if (e instanceof PrimitiveError) {
        this.failed = true;
        throw new AttachmentError();
      }
      throw e;
    }
  }
}

/** One-shot, deterministic given the salt: the record (built in one buffer) and its SHA-256. */
export async function encryptAttachmentFromParts(
  fileKey: Uint8Array,
  plaintext: Uint8Array,
  salt: Uint8Array,
): Promise<{ record: Uint8Array; sha256: Uint8Array }> {
  requireLength("fileKey", fileKey, FILE_KEY_LENGTH);
  requireLength("salt", salt, SALT_LEN);
  requireBytes("plaintext", plaintext);
  const record = await chunkedEncryptWithPrefix(fileKey, CONTEXT, plaintext, salt, PREFIX);
  return { record, sha256: await sha256(record) };
}

export function encryptAttachment(
  fileKey: Uint8Array,
  plaintext: Uint8Array,
): Promise<{ record: Uint8Array; sha256: Uint8Array }> {
  return encryptAttachmentFromParts(fileKey, plaintext, crypto.getRandomValues(new Uint8Array(SALT_LEN)));
}

/** One-shot: the hash is checked first, then the record decrypted; AttachmentError. */
export async function decryptAttachment(
  fileKey: Uint8Array,
  record: Uint8Array,
  expectedSha256: Uint8Array,
): Promise<Uint8Array> {
  requireLength("fileKey", fileKey, FILE_KEY_LENGTH);
  requireLength("expectedSha256", expectedSha256, 32);
  requireBytes("record", record);
  if (!equalBytes(await sha256(record), expectedSha256)) throw new AttachmentError();
  const dec = await AttachmentDecryptor.create(fileKey, expectedSha256);
  return concat(await dec.update(record), await dec.finalize());
}
