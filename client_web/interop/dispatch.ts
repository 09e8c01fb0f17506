/**
 * Interop dispatcher: every protocol operation of the browser port behind one JSON-in /
 * JSON-out function, so the Python side can drive the TypeScript implementation (through
 * `node dist-node/interop.mjs`, see interop/README.md) and prove both directions:
 * records the browser port writes are opened by crypto/, and the reverse.
 *
 * Conventions follow tests/vectors/dermline/README.md: byte strings are lower-case hex,
 * identifiers are UUID strings, snake_case field names as in the vector files. Production code
 * paths are used (WebCrypto ECDSA with random k, fresh nonces and ephemeral keys) unless a
 * field injects the randomness (`nonce`, `ikm_e`, `salt`). Failures return
 * {"error": "<ErrorClassName>"} and never any partial output.
 */
import {
  KeyPurpose,
  accountFingerprint,
  decodeContent,
  decodeRecoveryKey,
  decryptAttachment,
  deriveLoginKeys,
  encodeContent,
  encodeRecoveryKey,
  encryptAttachment,
  encryptAttachmentFromParts,
  fromHex,
  generateKeyPair,
  keyId,
  keyPairFromPrivate,
  messageHash,
  openCaseKeyWrap,
  openMessage,
  parseCaseKeyWrapHeader,
  parseKdfParams,
  parseMessageHeader,
  safetyNumber,
  sealMessage,
  sealMessageFromParts,
  sealPrivateKey,
  signingIdentity,
  toAccountKey,
  toHex,
  unsealPrivateKey,
  unwrapUskForOrg,
  unwrapUskWithKek,
  unwrapUskWithRecoveryKey,
  wrapCaseKey,
  wrapCaseKeyFromParts,
  wrapUskForOrg,
  wrapUskWithKek,
  wrapUskWithRecoveryKey,
  openRecordsKeyFile,
  sealRecordsKeyFile,
  verifyMessageSignature,
  type Body,
  type ContentType,
} from "../src/crypto/index";
import { chunkedDecrypt, chunkedEncrypt } from "../src/crypto/primitives/chunked";
import { p256Sign, p256Verify } from "../src/crypto/primitives/ecc";
import { hpkeOpenBase, hpkeRecipientFromScalar, hpkeSealBase } from "../src/crypto/primitives/hpke";

type Args = Record<string, unknown>;
type Result = Record<string, unknown>;

const b = (a: Args, k: string): Uint8Array => {
  const v = a[k];
  if (typeof v !== "string") throw new TypeError(`field ${k} must be a hex string`);
  return fromHex(v);
};
const str = (a: Args, k: string): string => {
  const v = a[k];
  if (typeof v !== "string") throw new TypeError(`field ${k} must be a string`);
  return v;
};
const num = (a: Args, k: string): number => {
  const v = a[k];
  if (typeof v !== "number") throw new TypeError(`field ${k} must be a number`);
  return v;
};

async function signer(privateKeyHex: Uint8Array) {
  const pair = await keyPairFromPrivate(privateKeyHex);
  return signingIdentity(await toAccountKey(pair, KeyPurpose.SIGNING));
}

const ops: Record<string, (a: Args) => Promise<Result>> = {
  async derive_login_keys(a) {
    const k = await deriveLoginKeys(str(a, "password"), b(a, "salt"), num(a, "iterations"));
    return { auth_key: toHex(k.authKey), kek: toHex(k.kek) };
  },
  async parse_kdf_params(a) {
    const p = parseKdfParams(b(a, "record"));
    return { algorithm: p.algorithm, iterations: p.iterations, salt: toHex(p.salt) };
  },
  async encode_recovery_key(a) {
    return { text: await encodeRecoveryKey(b(a, "secret")) };
  },
  async decode_recovery_key(a) {
    return { secret: toHex(await decodeRecoveryKey(str(a, "text"))) };
  },
  async wrap_usk_with_kek(a) {
    return { record: toHex(await wrapUskWithKek(b(a, "usk"), b(a, "kek"), str(a, "user_id"))) };
  },
  async unwrap_usk_with_kek(a) {
    return { usk: toHex(await unwrapUskWithKek(b(a, "record"), b(a, "kek"), str(a, "user_id"))) };
  },
  async wrap_usk_with_recovery_key(a) {
    return {
      record: toHex(await wrapUskWithRecoveryKey(b(a, "usk"), b(a, "recovery_secret"), str(a, "user_id"))),
    };
  },
  async unwrap_usk_with_recovery_key(a) {
    return {
      usk: toHex(await unwrapUskWithRecoveryKey(b(a, "record"), b(a, "recovery_secret"), str(a, "user_id"))),
    };
  },
  async wrap_usk_for_org(a) {
    return { record: toHex(await wrapUskForOrg(b(a, "usk"), b(a, "org_public_key"), str(a, "user_id"))) };
  },
  async unwrap_usk_for_org(a) {
    return { usk: toHex(await unwrapUskForOrg(b(a, "record"), b(a, "org_private_key"), str(a, "user_id"))) };
  },
  async generate_key_pair() {
    const p = await generateKeyPair();
    return { private_key: toHex(p.privateKey), public_key: toHex(p.publicKey), key_id: toHex(p.keyId) };
  },
  async seal_private_key(a) {
    const pair = await keyPairFromPrivate(b(a, "private_key"));
    const rec = await sealPrivateKey(pair, num(a, "purpose") as KeyPurpose, b(a, "usk"), str(a, "user_id"));
    return { record: toHex(rec), key_id: toHex(pair.keyId) };
  },
  async unseal_private_key(a) {
    const p = await unsealPrivateKey(b(a, "record"), num(a, "purpose") as KeyPurpose, b(a, "usk"), str(a, "user_id"));
    return { private_key: toHex(p.privateKey), public_key: toHex(p.publicKey), key_id: toHex(p.keyId) };
  },
  async key_id(a) {
    return { key_id: toHex(await keyId(b(a, "public_key"))) };
  },
  async account_fingerprint(a) {
    return { fingerprint: await accountFingerprint(b(a, "signing_public_key"), b(a, "encryption_public_key")) };
  },
  async safety_number(a) {
    return {
      safety_number: await safetyNumber(
        [b(a, "ours_signing_public_key"), b(a, "ours_encryption_public_key")],
        [b(a, "theirs_signing_public_key"), b(a, "theirs_encryption_public_key")],
      ),
    };
  },
  async wrap_case_key(a) {
    const params = {
      caseId: str(a, "case_id"),
      epoch: num(a, "epoch"),
      recipientPublicKey: b(a, "recipient_public_key"),
      wrapperUserId: str(a, "wrapper_user_id"),
      wrapper: await signer(b(a, "wrapper_signing_private_key")),
    };
    const rec =
      a.ikm_e === undefined
        ? await wrapCaseKey(b(a, "case_key"), params)
        : await wrapCaseKeyFromParts(b(a, "case_key"), { ...params, ikmE: b(a, "ikm_e") });
    return { record: toHex(rec) };
  },
  async parse_case_key_wrap_header(a) {
    const h = parseCaseKeyWrapHeader(b(a, "record"));
    return {
      case_id: h.caseId,
      epoch: h.epoch,
      recipient_key_id: toHex(h.recipientKeyId),
      wrapper_user_id: h.wrapperUserId,
      wrapper_key_id: toHex(h.wrapperKeyId),
    };
  },
  async open_case_key_wrap(a) {
    const r = await hpkeRecipientFromScalar(b(a, "recipient_private_key"));
    const ck = await openCaseKeyWrap(b(a, "record"), {
      caseId: str(a, "case_id"),
      epoch: num(a, "epoch"),
      recipient: { ...r, keyId: await keyId(r.publicKey) },
      wrapperSigningPublicKey: b(a, "wrapper_signing_public_key"),
    });
    return { case_key: toHex(ck) };
  },
  async seal_message(a) {
    const p = {
      caseKey: b(a, "case_key"),
      caseId: str(a, "case_id"),
      epoch: num(a, "epoch"),
      clientMessageId: str(a, "client_message_id"),
      senderUserId: str(a, "sender_user_id"),
      sender: await signer(b(a, "sender_signing_private_key")),
      contentType: num(a, "content_type") as ContentType,
      previousHash: b(a, "previous_hash"),
    };
    const rec =
      a.nonce === undefined
        ? await sealMessage(b(a, "body"), p)
        : await sealMessageFromParts(b(a, "body"), {
            ...p,
            nonce: b(a, "nonce"),
            timestampMs: BigInt(num(a, "timestamp_ms")),
          });
    return { record: toHex(rec), message_hash: toHex(await messageHash(rec)) };
  },
  async parse_message_header(a) {
    const h = parseMessageHeader(b(a, "record"));
    return {
      case_id: h.caseId,
      epoch: h.epoch,
      client_message_id: h.clientMessageId,
      sender_user_id: h.senderUserId,
      sender_key_id: toHex(h.senderKeyId),
      content_type: h.contentType,
      timestamp_ms: Number(h.timestampMs),
      previous_hash: toHex(h.previousHash),
    };
  },
  async open_message(a) {
    const m = await openMessage(b(a, "record"), {
      caseKey: b(a, "case_key"),
      caseId: str(a, "case_id"),
      epoch: num(a, "epoch"),
      senderSigningPublicKey: b(a, "sender_signing_public_key"),
    });
    return { body: toHex(m.body), content_type: m.header.contentType, client_message_id: m.header.clientMessageId };
  },
  async verify_message_signature(a) {
    const h = await verifyMessageSignature(b(a, "record"), b(a, "sender_signing_public_key"));
    return { client_message_id: h.clientMessageId, sender_user_id: h.senderUserId };
  },
  async seal_records_key_file(a) {
    const pair = await keyPairFromPrivate(b(a, "private_key"));
    const iterations = a.iterations === undefined ? 600_000 : num(a, "iterations");
    return { record: toHex(await sealRecordsKeyFile(pair, str(a, "passphrase"), iterations)) };
  },
  async open_records_key_file(a) {
    const p = await openRecordsKeyFile(b(a, "record"), str(a, "passphrase"));
    return { private_key: toHex(p.privateKey), public_key: toHex(p.publicKey), key_id: toHex(p.keyId) };
  },
  async encode_content(a) {
    return { body: toHex(encodeContent(num(a, "content_type") as ContentType, a.decoded as Body)) };
  },
  async decode_content(a) {
    return { decoded: decodeContent(num(a, "content_type") as ContentType, b(a, "body")) };
  },
  async encrypt_attachment(a) {
    const r =
      a.salt === undefined
        ? await encryptAttachment(b(a, "file_key"), b(a, "plaintext"))
        : await encryptAttachmentFromParts(b(a, "file_key"), b(a, "plaintext"), b(a, "salt"));
    return { record: toHex(r.record), sha256: toHex(r.sha256), size: r.record.length };
  },
  async decrypt_attachment(a) {
    return {
      plaintext: toHex(await decryptAttachment(b(a, "file_key"), b(a, "record"), b(a, "expected_sha256"))),
    };
  },
  async hpke_seal(a) {
    const r = await hpkeSealBase(b(a, "pk_r"), b(a, "info"), b(a, "aad"), b(a, "plaintext"));
    return { enc: toHex(r.enc), ct: toHex(r.ct) };
  },
  async hpke_open(a) {
    const r = await hpkeRecipientFromScalar(b(a, "sk_r"));
    return { plaintext: toHex(await hpkeOpenBase(r, b(a, "enc"), b(a, "info"), b(a, "aad"), b(a, "ct"))) };
  },
  async ecdsa_sign(a) {
    return { signature: toHex(await p256Sign(b(a, "sk"), b(a, "message"))) };
  },
  async ecdsa_verify(a) {
    await p256Verify(b(a, "pk"), b(a, "message"), b(a, "signature"));
    return { valid: true };
  },
  async chunked_encrypt(a) {
    return { ciphertext: toHex(await chunkedEncrypt(b(a, "key"), b(a, "context"), b(a, "plaintext"))) };
  },
  async chunked_decrypt(a) {
    return { plaintext: toHex(await chunkedDecrypt(b(a, "key"), b(a, "context"), b(a, "ciphertext"))) };
  },
};

export const OPERATIONS = Object.keys(ops).sort();

export interface Request {
  op: string;
  args?: Args;
}

/** Run one request; never throws: {"ok": {...}} or {"error": "ClassName"}. */
export async function dispatch(req: Request): Promise<{ ok: Result } | { error: string }> {
  const f = typeof req?.op === "string" && Object.hasOwn(ops, req.op) ? ops[req.op] : undefined;
  if (f === undefined) return { error: "UnknownOperation" };
  try {
    return { ok: await f(req.args ?? {}) };
  } catch (e) {
    return { error: e instanceof Error ? e.name : "Error" };
  }
}
