/**
 * The protocol port against EXACTLY the Python reference vectors in tests/vectors/dermline/
 * (made by tools/gen_vectors.py; shape in tests/vectors/dermline/README.md). Every file, every
 * group, every case: valid cases are reproduced byte for byte and open; invalid cases fail with
 * the operation's one opaque error (and no partial output). A count check per file makes sure
 * no case is silently dropped.
 *
 * Signatures: sealing uses an injected RFC 6979 signer to reproduce the Python bytes; the
 * production WebCrypto signer (random k) is also run and must give the same record up to the
 * signature, which must verify.
 */
import { describe, expect, it } from "vitest";
import {
  KeyPurpose,
  keyPairFromSeed,
  sealPrivateKeyFromParts,
  signingIdentity,
  toAccountKey,
  unsealAccountKey,
  unsealPrivateKey,
  type SigningIdentity,
} from "../../src/crypto/account";
import {
  AttachmentDecryptor,
  attachmentLength,
  decryptAttachment,
  encryptAttachmentFromParts,
} from "../../src/crypto/attachment";
import { type Bytes, concat, fromBase64Url, fromHex, toHex, utf8 } from "../../src/crypto/bytes";
import {
  openCaseKeyWrap,
  parseCaseKeyWrapHeader,
  verifyCaseKeyWrap,
  wrapLegacyCaseKeyFromParts,
} from "../../src/crypto/caseKey";
import {
  ContentType as CT,
  decodeContent,
  decodePhotoReference,
  encodeContent,
  encodePhotoReference,
  type ContentType,
} from "../../src/crypto/content";
import {
  messageHash,
  openMessage,
  parseMessageHeader,
  sealLegacyMessageFromParts,
  verifyMessageSignature,
} from "../../src/crypto/envelope";
import { openRecordsKeyFile, sealRecordsKeyFileFromParts } from "../../src/crypto/recordsKey";
import {
  encodePatientPhoto,
  formatLinkFragment,
  openPatientPhoto,
  parseLinkFragment,
  parsePatientPhotoHeader,
  sealPatientPhotoFromParts,
  type PatientPhoto,
} from "../../src/crypto/patientDrop";
import {
  AttachmentError,
  CaseKeyUnwrapError,
  CaseKeyWrapHeaderError,
  CaseKeyWrapSignatureError,
  ContentError,
  PatientDropError,
  PatientLinkFormatError,
  KdfParamsError,
  MessageHeaderError,
  MessageOpenError,
  MessageSignatureError,
  PrivateKeyUnsealError,
  RecordsKeyFileError,
  PublicKeyError,
  RecoveryKeyFormatError,
  UskKekUnwrapError,
  UskOrgUnwrapError,
  UskPasskeyUnwrapError,
  UskRecoveryUnwrapError,
} from "../../src/crypto/errors";
import { accountFingerprint, keyId, safetyNumber, spkiDer } from "../../src/crypto/fingerprint";
import { encodeKdfParams, fakeKdfParams, fakeSalt, normaliseLoginName, deriveLoginKeys, deriveMasterKey, deriveUnlockKeys, parseKdfParams } from "../../src/crypto/password";
import { p256PublicKey, webCryptoSigner } from "../../src/crypto/primitives/ecc";
import { hpkeRecipientFromScalar } from "../../src/crypto/primitives/hpke";
import { decodeRecoveryKey, encodeRecoveryKey } from "../../src/crypto/recoveryKey";
import {
  unwrapUskForOrg,
  unwrapUskWithKek,
  unwrapUskWithKekAsKey,
  unwrapUskWithPasskey,
  unwrapUskWithPasskeyAsKey,
  unwrapUskWithRecoveryKey,
  unwrapUskWithRecoveryKeyAsKey,
  wrapUskForOrgFromParts,
  wrapUskWithKekFromParts,
  wrapUskWithPasskeyFromParts,
  wrapUskWithRecoveryKeyFromParts,
  PASSKEY_PRF_INPUT,
} from "../../src/crypto/usk";
import { rfc6979Signer } from "../helpers/rfc6979";
import { listVectorFiles, loadVectors } from "../helpers/vectors";

type T = Record<string, unknown> & { tcId: number; comment: string; result: "valid" | "invalid"; flags: string[] };
interface VFile {
  format: string;
  numberOfTests: number;
  testGroups: { type: string; tests: T[] }[];
}

const FILES = [
  "attachment.json",
  "case_key_wrap.json",
  "case_key_wrap_committed.json", // client_web/test/crypto/caseKeyCommitted.test.ts
  "content.json",
  "envelope.json",
  "fake_salt.json",
  "kdf_params.json",
  "key_id.json",
  "password.json",
  "private_key_seal.json",
  "records_key_file.json",
  "recovery_key.json",
  "usk_wrap.json",
  "patient_drop.json",
  "transparency_log.json", // transparency.test.ts
  "statement.json", // statementVectors.test.ts
  "invite.json", // statementVectors.test.ts
  "org_key.json", // orgKey.test.ts
  "envelope_committed.json", // envelopeCommitted.test.ts
  "transcript.json", // transcript.test.ts
  "passkey_wrap.json",
  "hybrid.json", // hybrid.test.ts
];
const LOADED = new Map<string, VFile>();
for (const name of FILES) LOADED.set(name, await loadVectors<VFile>(`dermline/${name}`));
const load = (name: string): VFile => LOADED.get(name)!;
const hx = (t: T, k: string): Bytes => fromHex(t[k] as string);
const s = (t: T, k: string): string => t[k] as string;
const n = (t: T, k: string): number => t[k] as number;
const cases = (f: VFile, group: string): T[] => f.testGroups.find((g) => g.type === group)?.tests ?? [];
const rows = (ts: T[]) => ts.map((t) => [t.tcId, t.comment, t] as const);

/** Resolves to the error class name, or "ok". */
async function errorOf(f: () => Promise<unknown> | unknown): Promise<string> {
  try {
    await f();
    return "ok";
  } catch (e) {
    return (e as Error).name;
  }
}

function covered(f: VFile, groups: string[]) {
  const total = f.testGroups.reduce((a, g) => a + g.tests.length, 0);
  expect(total).toBe(f.numberOfTests);
  expect(f.testGroups.map((g) => g.type).sort()).toEqual([...groups].sort());
}

/**
 * Files of the server's own layers, which the browser never reads or writes (reason given);
 * every other file in tests/vectors/dermline must be in FILES.
 */
const SERVER_ONLY: Record<string, string> = {
  "at_rest.json": "the server's at-rest storage format (crypto/at_rest.py, docs/storage.md)",
};

describe("vector files present", () => {
  it("every file in tests/vectors/dermline has a test here", async () => {
    const listed = (await listVectorFiles("dermline")).sort();
    expect(listed.filter((name) => !(name in SERVER_ONLY))).toEqual([...FILES].sort());
  });
});

describe("password.json", () => {
  const f = load("password.json");
  it("covers the file", () => covered(f, ["LoginKeys"]));
  it.each(rows(cases(f, "LoginKeys")))("tc %i %s", async (_i, _c, t) => {
    expect(t.result).toBe("valid");
    expect(toHex(utf8.encode(s(t, "password").normalize("NFC")))).toBe(t.password_nfc_utf8);
    const master = await deriveMasterKey(s(t, "password"), hx(t, "salt"), n(t, "iterations"));
    expect(toHex(master)).toBe(t.master_key);
    const keys = await deriveLoginKeys(s(t, "password"), hx(t, "salt"), n(t, "iterations"));
    expect(toHex(keys.authKey)).toBe(t.auth_key);
    expect(toHex(keys.kek)).toBe(t.kek);
    // The app's path: same auth key, KEK non-extractable (checked by wrapping with it below).
    const unlock = await deriveUnlockKeys(s(t, "password"), hx(t, "salt"), n(t, "iterations"));
    expect(toHex(unlock.authKey)).toBe(t.auth_key);
    expect(unlock.kek.extractable).toBe(false);
  });
});

describe("kdf_params.json", () => {
  const f = load("kdf_params.json");
  it("covers the file", () => covered(f, ["KdfParams"]));
  it.each(rows(cases(f, "KdfParams")))("tc %i %s", async (_i, _c, t) => {
    if (t.result === "valid") {
      const p = parseKdfParams(hx(t, "record"));
      expect(p.algorithm).toBe(t.algorithm);
      expect(p.iterations).toBe(t.iterations);
      expect(toHex(p.salt)).toBe(t.salt);
      expect(toHex(encodeKdfParams(p.salt, p.iterations))).toBe(t.record);
    } else {
      expect(await errorOf(() => parseKdfParams(hx(t, "record")))).toBe(KdfParamsError.name);
    }
  });
});

describe("fake_salt.json (server recipe, ported for parity)", () => {
  const f = load("fake_salt.json");
  it("covers the file", () => covered(f, ["FakeSalt"]));
  it.each(rows(cases(f, "FakeSalt")))("tc %i %s", async (_i, _c, t) => {
    expect(t.result).toBe("valid");
    expect(normaliseLoginName(s(t, "login_name"))).toBe(t.normalised_login_name);
    expect(toHex(await fakeSalt(hx(t, "server_secret"), s(t, "login_name")))).toBe(t.salt);
    expect(toHex(await fakeKdfParams(hx(t, "server_secret"), s(t, "login_name")))).toBe(t.record);
  });
});

describe("recovery_key.json", () => {
  const f = load("recovery_key.json");
  it("covers the file", () => covered(f, ["RecoveryKeyEncode", "RecoveryKeyDecode"]));
  it.each(rows(cases(f, "RecoveryKeyEncode")))("encode tc %i %s", async (_i, _c, t) => {
    expect(t.result).toBe("valid");
    expect(await encodeRecoveryKey(hx(t, "secret"))).toBe(t.text);
    expect(toHex(await decodeRecoveryKey(s(t, "text")))).toBe(t.secret);
  });
  it.each(rows(cases(f, "RecoveryKeyDecode")))("decode tc %i %s", async (_i, _c, t) => {
    if (t.result === "valid") {
      expect(toHex(await decodeRecoveryKey(s(t, "text")))).toBe(t.secret);
    } else {
      expect(t.error).toBe("RecoveryKeyFormatError");
      let err: unknown = null;
      try {
        await decodeRecoveryKey(s(t, "text"));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RecoveryKeyFormatError);
      expect(err).toBeInstanceOf(RangeError);
      // The message is for the person and never repeats what was typed.
      const typed = s(t, "text").trim();
      if (typed.length > 4) expect((err as Error).message).not.toContain(typed);
    }
  });
});

describe("passkey_wrap.json", () => {
  const f = load("passkey_wrap.json");
  it("covers the file", () => covered(f, ["UskPasskeyWrap"]));

  it.each(rows(cases(f, "UskPasskeyWrap")))("passkey tc %i %s", async (_i, _c, t) => {
    const user = s(t, "user_id");
    const args = [hx(t, "prf_output"), user, hx(t, "credential_id")] as const;
    expect(s(t, "prf_input")).toBe(toHex(PASSKEY_PRF_INPUT));
    if (t.result === "valid") {
      expect(toHex(await wrapUskWithPasskeyFromParts(hx(t, "usk"), ...args, hx(t, "nonce")))).toBe(t.record);
      expect(toHex(await unwrapUskWithPasskey(hx(t, "record"), ...args))).toBe(t.usk);
      const k = await unwrapUskWithPasskeyAsKey(hx(t, "record"), ...args);
      expect(k.extractable).toBe(false);
      expect(k.algorithm.name).toBe("HKDF");
    } else {
      expect(await errorOf(() => unwrapUskWithPasskey(hx(t, "record"), ...args))).toBe(UskPasskeyUnwrapError.name);
      expect(await errorOf(() => unwrapUskWithPasskeyAsKey(hx(t, "record"), ...args))).toBe(UskPasskeyUnwrapError.name);
    }
  });
});

describe("usk_wrap.json", () => {
  const f = load("usk_wrap.json");
  it("covers the file", () => covered(f, ["UskKekWrap", "UskRecoveryWrap", "UskOrgWrap"]));

  it.each(rows(cases(f, "UskKekWrap")))("KEK tc %i %s", async (_i, _c, t) => {
    const user = s(t, "user_id");
    if (t.result === "valid") {
      expect(toHex(await wrapUskWithKekFromParts(hx(t, "usk"), hx(t, "kek"), user, hx(t, "nonce")))).toBe(t.record);
      expect(toHex(await unwrapUskWithKek(hx(t, "record"), hx(t, "kek"), user))).toBe(t.usk);
      // Non-extractable path: the USK as an HKDF CryptoKey (proved equal below by sealing).
      const k = await unwrapUskWithKekAsKey(hx(t, "record"), hx(t, "kek"), user);
      expect(k.extractable).toBe(false);
      expect(k.algorithm.name).toBe("HKDF");
    } else {
      expect(await errorOf(() => unwrapUskWithKek(hx(t, "record"), hx(t, "kek"), user))).toBe(UskKekUnwrapError.name);
      expect(await errorOf(() => unwrapUskWithKekAsKey(hx(t, "record"), hx(t, "kek"), user))).toBe(UskKekUnwrapError.name);
    }
  });

  it.each(rows(cases(f, "UskRecoveryWrap")))("recovery tc %i %s", async (_i, _c, t) => {
    const user = s(t, "user_id");
    const secret = hx(t, "recovery_secret");
    expect(toHex(await decodeRecoveryKey(s(t, "recovery_key")))).toBe(t.recovery_secret);
    if (t.result === "valid") {
      expect(toHex(await wrapUskWithRecoveryKeyFromParts(hx(t, "usk"), secret, user, hx(t, "nonce")))).toBe(t.record);
      expect(toHex(await unwrapUskWithRecoveryKey(hx(t, "record"), secret, user))).toBe(t.usk);
      expect((await unwrapUskWithRecoveryKeyAsKey(hx(t, "record"), secret, user)).extractable).toBe(false);
    } else {
      expect(await errorOf(() => unwrapUskWithRecoveryKey(hx(t, "record"), secret, user))).toBe(UskRecoveryUnwrapError.name);
      expect(await errorOf(() => unwrapUskWithRecoveryKeyAsKey(hx(t, "record"), secret, user))).toBe(UskRecoveryUnwrapError.name);
    }
  });

  it.each(rows(cases(f, "UskOrgWrap")))("org tc %i %s", async (_i, _c, t) => {
    const user = s(t, "user_id");
    expect(toHex(await p256PublicKey(hx(t, "org_private_key")))).toBe(t.org_public_key);
    expect(toHex(await keyId(hx(t, "org_public_key")))).toBe(t.org_key_id);
    if (t.result === "valid") {
      expect(toHex(await wrapUskForOrgFromParts(hx(t, "usk"), hx(t, "org_public_key"), user, hx(t, "ikm_e")))).toBe(t.record);
      expect(toHex(await unwrapUskForOrg(hx(t, "record"), hx(t, "org_private_key"), user))).toBe(t.usk);
    } else {
      expect(await errorOf(() => unwrapUskForOrg(hx(t, "record"), hx(t, "org_private_key"), user))).toBe(UskOrgUnwrapError.name);
    }
  });
});

describe("private_key_seal.json", () => {
  const f = load("private_key_seal.json");
  it("covers the file", () => covered(f, ["SealedPrivateKey"]));
  it.each(rows(cases(f, "SealedPrivateKey")))("tc %i %s", async (_i, _c, t) => {
    const purpose = n(t, "purpose") as KeyPurpose;
    const user = s(t, "user_id");
    if (t.result === "valid") {
      const pair = await keyPairFromSeed(hx(t, "ikm"));
      expect(toHex(pair.privateKey)).toBe(t.private_key);
      expect(toHex(pair.publicKey)).toBe(t.public_key);
      expect(toHex(pair.keyId)).toBe(t.key_id);
      expect(toHex(await sealPrivateKeyFromParts(pair, purpose, hx(t, "usk"), user, hx(t, "nonce")))).toBe(t.record);
      const opened = await unsealPrivateKey(hx(t, "record"), purpose, hx(t, "usk"), user);
      expect(toHex(opened.privateKey)).toBe(t.private_key);
      expect(toHex(opened.keyId)).toBe(t.key_id);
      const ak = await unsealAccountKey(hx(t, "record"), purpose, hx(t, "usk"), user);
      expect(ak.privateKey.extractable).toBe(false);
      expect(ak.privateKey.algorithm.name).toBe(purpose === KeyPurpose.ENCRYPTION ? "ECDH" : "ECDSA");
    } else {
      expect(await errorOf(() => unsealPrivateKey(hx(t, "record"), purpose, hx(t, "usk"), user))).toBe(PrivateKeyUnsealError.name);
      expect(await errorOf(() => unsealAccountKey(hx(t, "record"), purpose, hx(t, "usk"), user))).toBe(PrivateKeyUnsealError.name);
    }
  });

  it("the USK unwrapped as a non-extractable key unseals the same private keys", async () => {
    const usk = load("usk_wrap.json");
    const kekCase = cases(usk, "UskKekWrap").find((t) => t.result === "valid")!;
    const uskKey = await unwrapUskWithKekAsKey(hx(kekCase, "record"), hx(kekCase, "kek"), s(kekCase, "user_id"));
    const pair = await keyPairFromSeed(new Uint8Array(32).fill(7));
    const rec = await sealPrivateKeyFromParts(pair, KeyPurpose.SIGNING, hx(kekCase, "usk"), s(kekCase, "user_id"), new Uint8Array(12));
    const viaKey = await sealPrivateKeyFromParts(pair, KeyPurpose.SIGNING, uskKey, s(kekCase, "user_id"), new Uint8Array(12));
    expect(toHex(viaKey)).toBe(toHex(rec));
    const back = await unsealPrivateKey(rec, KeyPurpose.SIGNING, uskKey, s(kekCase, "user_id"));
    expect(toHex(back.privateKey)).toBe(toHex(pair.privateKey));
  });
});

describe("key_id.json", () => {
  const f = load("key_id.json");
  it("covers the file", () => covered(f, ["KeyId", "AccountFingerprint", "SafetyNumber"]));
  it.each(rows(cases(f, "KeyId")))("key id tc %i %s", async (_i, _c, t) => {
    if (t.result === "valid") {
      const pair = await keyPairFromSeed(hx(t, "ikm"));
      expect(toHex(pair.privateKey)).toBe(t.private_key);
      expect(toHex(pair.publicKey)).toBe(t.public_key);
      expect(toHex(spkiDer(hx(t, "public_key")))).toBe(t.spki);
      expect(toHex(await keyId(hx(t, "public_key")))).toBe(t.key_id);
      // WebCrypto's own SPKI export agrees byte for byte.
      const k = await crypto.subtle.importKey("raw", hx(t, "public_key"), { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
      expect(toHex(new Uint8Array(await crypto.subtle.exportKey("spki", k)))).toBe(t.spki);
    } else {
      expect(await errorOf(() => keyId(hx(t, "public_key")))).toBe(PublicKeyError.name);
    }
  });
  it.each(rows(cases(f, "AccountFingerprint")))("fingerprint tc %i %s", async (_i, _c, t) => {
    expect(await accountFingerprint(hx(t, "signing_public_key"), hx(t, "encryption_public_key"))).toBe(t.fingerprint);
  });
  it.each(rows(cases(f, "SafetyNumber")))("safety number tc %i %s", async (_i, _c, t) => {
    const ours: [Uint8Array, Uint8Array] = [hx(t, "ours_signing_public_key"), hx(t, "ours_encryption_public_key")];
    const theirs: [Uint8Array, Uint8Array] = [hx(t, "theirs_signing_public_key"), hx(t, "theirs_encryption_public_key")];
    expect(await safetyNumber(ours, theirs)).toBe(t.safety_number);
    expect(await safetyNumber(theirs, ours)).toBe(t.safety_number);
  });
});

function wrapperOf(t: T): SigningIdentity {
  return { keyId: hx(t, "wrapper_signing_key_id"), sign: rfc6979Signer(hx(t, "wrapper_signing_private_key")) };
}

describe("case_key_wrap.json", () => {
  const f = load("case_key_wrap.json");
  it("covers the file", () => covered(f, ["CaseKeyWrap"]));
  it.each(rows(cases(f, "CaseKeyWrap")))("tc %i %s", async (_i, _c, t) => {
    const record = hx(t, "record");
    const recipient = {
      ...(await hpkeRecipientFromScalar(hx(t, "recipient_private_key"), hx(t, "recipient_public_key"))),
      keyId: hx(t, "recipient_key_id"),
    };
    const open = () =>
      openCaseKeyWrap(record, {
        caseId: s(t, "case_id"),
        epoch: n(t, "epoch"),
        recipient,
        wrapperSigningPublicKey: hx(t, "wrapper_signing_public_key"),
      });
    expect(await errorOf(() => parseCaseKeyWrapHeader(record))).toBe(t.header_parses ? "ok" : CaseKeyWrapHeaderError.name);
    expect(await errorOf(() => verifyCaseKeyWrap(record, hx(t, "wrapper_signing_public_key")))).toBe(
      t.signature_verifies ? "ok" : CaseKeyWrapSignatureError.name,
    );
    if (t.result === "valid") {
      const params = {
        caseId: s(t, "case_id"),
        epoch: n(t, "epoch"),
        recipientPublicKey: hx(t, "recipient_public_key"),
        wrapperUserId: s(t, "wrapper_user_id"),
        ikmE: hx(t, "ikm_e"),
      };
      expect(toHex(await wrapLegacyCaseKeyFromParts(hx(t, "case_key"), { ...params, wrapper: wrapperOf(t) }))).toBe(t.record);
      // Production signer: same bytes up to the (randomised) signature, which verifies.
      const signKey = await toAccountKey(
        { privateKey: hx(t, "wrapper_signing_private_key"), publicKey: hx(t, "wrapper_signing_public_key"), keyId: hx(t, "wrapper_signing_key_id") },
        KeyPurpose.SIGNING,
      );
      const prod = await wrapLegacyCaseKeyFromParts(hx(t, "case_key"), { ...params, wrapper: signingIdentity(signKey) });
      expect(toHex(prod.subarray(0, 184))).toBe(s(t, "record").slice(0, 368));
      await verifyCaseKeyWrap(prod, hx(t, "wrapper_signing_public_key"));
      const h = parseCaseKeyWrapHeader(record);
      expect(h.caseId).toBe(t.case_id);
      expect(h.epoch).toBe(t.epoch);
      expect(toHex(h.recipientKeyId)).toBe(t.recipient_key_id);
      expect(h.wrapperUserId).toBe(t.wrapper_user_id);
      expect(toHex(await open())).toBe(t.case_key);
    } else {
      expect(await errorOf(open)).toBe(CaseKeyUnwrapError.name);
    }
  });
});

describe("envelope.json", () => {
  const f = load("envelope.json");
  it("covers the file", () => covered(f, ["MessageEnvelope", "MessageEnvelopeMalleableSignature"]));
  const all = cases(f, "MessageEnvelope");
  it.each(rows(all))("tc %i %s", async (_i, _c, t) => {
    const record = hx(t, "record");
    const open = () =>
      openMessage(record, {
        caseKey: hx(t, "case_key"),
        caseId: s(t, "case_id"),
        epoch: n(t, "epoch"),
        senderSigningPublicKey: hx(t, "sender_signing_public_key"),
      });
    expect(await errorOf(() => parseMessageHeader(record))).toBe(t.header_parses ? "ok" : MessageHeaderError.name);
    expect(typeof t.signature_verifies).toBe("boolean");
    expect(await errorOf(() => verifyMessageSignature(record, hx(t, "sender_signing_public_key")))).toBe(
      t.signature_verifies ? "ok" : MessageSignatureError.name,
    );
    if (t.result === "valid") {
      const params = {
        caseKey: hx(t, "case_key"),
        caseId: s(t, "case_id"),
        epoch: n(t, "epoch"),
        clientMessageId: s(t, "client_message_id"),
        senderUserId: s(t, "sender_user_id"),
        contentType: n(t, "content_type") as ContentType,
        timestampMs: BigInt(n(t, "timestamp_ms")),
        previousHash: hx(t, "previous_hash"),
        nonce: hx(t, "nonce"),
      };
      const sender = { keyId: hx(t, "sender_signing_key_id"), sign: rfc6979Signer(hx(t, "sender_signing_private_key")) };
      expect(toHex(await sealLegacyMessageFromParts(hx(t, "body"), { ...params, sender }))).toBe(t.record);
      expect(toHex(await messageHash(record))).toBe(t.message_hash);
      const h = parseMessageHeader(record);
      expect([h.caseId, h.epoch, h.clientMessageId, h.senderUserId, h.contentType, h.timestampMs]).toEqual([
        t.case_id,
        t.epoch,
        t.client_message_id,
        t.sender_user_id,
        t.content_type,
        BigInt(n(t, "timestamp_ms")),
      ]);
      expect(toHex(h.senderKeyId)).toBe(t.sender_signing_key_id);
      expect(toHex(h.previousHash)).toBe(t.previous_hash);
      // A legacy 0x07 record: not bound to the case key commitment (readers say so).
      expect(h.commitment).toBeNull();
      const opened = await open();
      expect(toHex(opened.body)).toBe(t.body);
      // Production signer (WebCrypto, random k): same signed part, verifying signature.
      const sk = await toAccountKey(
        { privateKey: hx(t, "sender_signing_private_key"), publicKey: hx(t, "sender_signing_public_key"), keyId: hx(t, "sender_signing_key_id") },
        KeyPurpose.SIGNING,
      );
      const prod = await sealLegacyMessageFromParts(hx(t, "body"), { ...params, sender: { keyId: sk.keyId, sign: webCryptoSigner(sk.privateKey) } });
      expect(toHex(prod.subarray(0, prod.length - 64))).toBe(s(t, "record").slice(0, 2 * (record.length - 64)));
      await openMessage(prod, {
        caseKey: hx(t, "case_key"),
        caseId: s(t, "case_id"),
        epoch: n(t, "epoch"),
        senderSigningPublicKey: hx(t, "sender_signing_public_key"),
      });
    } else {
      expect(await errorOf(open)).toBe(MessageOpenError.name);
    }
  });
  it.each(rows(cases(f, "MessageEnvelopeMalleableSignature")))("malleable twin tc %i %s", async (_i, _c, t) => {
    expect(t.result).toBe("valid");
    const record = hx(t, "record");
    const opened = await openMessage(record, {
      caseKey: hx(t, "case_key"),
      caseId: s(t, "case_id"),
      epoch: n(t, "epoch"),
      senderSigningPublicKey: hx(t, "sender_signing_public_key"),
    });
    expect(toHex(opened.body)).toBe(t.body);
    // The chain hash leaves the signature out, so the twin hashes like the original.
    expect(toHex(await messageHash(record))).toBe(t.message_hash);
    const original = all.find((x) => x.result === "valid" && x.message_hash === t.message_hash);
    expect(original).toBeDefined();
    expect(original!.record).not.toBe(t.record);
  });
  it("the valid cases form a hash chain", async () => {
    const valid = all.filter((t) => t.result === "valid");
    expect(valid.length).toBeGreaterThan(1);
    for (let i = 1; i < valid.length; i++) {
      if (valid[i]!.case_id === valid[i - 1]!.case_id) {
        expect(valid[i]!.previous_hash).toBe(toHex(await messageHash(hx(valid[i - 1]!, "record"))));
      }
    }
  });
});

describe("content.json", () => {
  const f = load("content.json");
  it("covers the file", () => covered(f, ["ContentBody"]));
  it.each(rows(cases(f, "ContentBody")))("tc %i %s", async (_i, _c, t) => {
    const ct = n(t, "content_type") as ContentType;
    if (t.result === "valid") {
      const decoded = decodeContent(ct, hx(t, "body"));
      expect(decoded).toEqual(t.decoded);
      if (t.flags.includes("Canonical")) {
        const { v: _v, ...rest } = t.decoded as Record<string, unknown>;
        expect(toHex(encodeContent(ct, rest))).toBe(t.body);
      }
      if (ct === CT.PHOTO_REFERENCE) {
        // The typed API (what the app uses) reads every field, the thumbnail included, and
        // writes the same bytes back.
        const ref = decodePhotoReference(hx(t, "body"));
        const d = t.decoded as Record<string, unknown>;
        const thumb = d.thumbnail as Record<string, unknown> | undefined;
        expect(ref.attachmentId).toBe(d.attachment_id);
        expect(toHex(ref.fileKey)).toBe(toHex(fromBase64Url(d.file_key as string)));
        expect(ref.thumbnail === undefined).toBe(thumb === undefined);
        if (thumb !== undefined) {
          expect(ref.thumbnail!.attachmentId).toBe(thumb.attachment_id);
          expect(toHex(ref.thumbnail!.fileKey)).toBe(toHex(fromBase64Url(thumb.file_key as string)));
          expect(toHex(ref.thumbnail!.ciphertextSha256)).toBe(thumb.ciphertext_sha256);
          expect(ref.thumbnail!.ciphertextSize).toBe(thumb.ciphertext_size);
        }
        if (t.flags.includes("Canonical")) expect(toHex(encodePhotoReference(ref))).toBe(t.body);
      }
    } else {
      expect(await errorOf(() => decodeContent(ct, hx(t, "body")))).toBe(ContentError.name);
      if (ct === CT.PHOTO_REFERENCE) {
        expect(await errorOf(() => decodePhotoReference(hx(t, "body")))).toBe(ContentError.name);
      }
    }
  });
  it("photo_reference: a thumbnail sharing the photo's attachment id is refused on encode", () => {
    const valid = cases(f, "ContentBody").find((t) => t.result === "valid" && t.comment === "photo_reference with thumbnail");
    expect(valid).toBeDefined();
    const ref = decodePhotoReference(hx(valid!, "body"));
    expect(() => encodePhotoReference({ ...ref, thumbnail: { ...ref.thumbnail!, attachmentId: ref.attachmentId } })).toThrow(RangeError);
    expect(() => encodePhotoReference({ ...ref, thumbnail: { ...ref.thumbnail!, fileKey: new Uint8Array(31) } })).toThrow();
  });
});

describe("attachment.json", () => {
  const f = load("attachment.json");
  it("covers the file", () => covered(f, ["Attachment"]));
  it.each(rows(cases(f, "Attachment")))("tc %i %s", async (_i, _c, t) => {
    if (t.result === "valid") {
      const { record, sha256 } = await encryptAttachmentFromParts(hx(t, "file_key"), hx(t, "plaintext"), hx(t, "salt"));
      expect(toHex(record)).toBe(t.record);
      expect(toHex(sha256)).toBe(t.sha256);
      expect(record.length).toBe(t.size);
      expect(attachmentLength(hx(t, "plaintext").length)).toBe(t.size);
      expect(toHex(await decryptAttachment(hx(t, "file_key"), record, sha256))).toBe(t.plaintext);
      return;
    }
    const rec = hx(t, "record");
    expect(await errorOf(() => decryptAttachment(hx(t, "file_key"), rec, hx(t, "expected_sha256")))).toBe(AttachmentError.name);
    // Streaming: fails at some point, and releases at most authenticated chunks of a prefix.
    let failed = false;
    const released: Uint8Array[] = [];
    try {
      const dec = await AttachmentDecryptor.create(hx(t, "file_key"), hx(t, "expected_sha256"));
      for (let o = 0; o < rec.length; o += 5000) released.push(await dec.update(rec.subarray(o, o + 5000)));
      released.push(await dec.finalize());
    } catch (e) {
      expect(e).toBeInstanceOf(AttachmentError);
      failed = true;
    }
    expect(failed).toBe(true);
    expect(concat(...released).length % 16384).toBe(0);
  });
});

describe("records_key_file.json", () => {
  const f = load("records_key_file.json");
  it("covers the file", () => covered(f, ["RecordsKeyFile"]));
  it.each(rows(cases(f, "RecordsKeyFile")))("tc %i %s", async (_i, _c, t) => {
    const open = () => openRecordsKeyFile(hx(t, "record"), s(t, "passphrase"));
    if (t.result === "valid") {
      const pair = await open();
      expect(toHex(pair.privateKey)).toBe(t.records_private_key);
      expect(toHex(pair.publicKey)).toBe(t.records_public_key);
      expect(toHex(pair.keyId)).toBe(t.records_key_id);
      if (!t.flags.includes("UnicodeNormalisation")) {
        const sealed = await sealRecordsKeyFileFromParts(pair, s(t, "passphrase"), {
          salt: hx(t, "salt"),
          nonce: hx(t, "nonce"),
          iterations: n(t, "iterations"),
        });
        expect(toHex(sealed)).toBe(t.record);
      }
    } else {
      expect(await errorOf(open)).toBe(RecordsKeyFileError.name);
    }
  });
});

describe("patient_drop.json", () => {
  const f = load("patient_drop.json");
  it("covers the file", () => covered(f, ["LinkFragment", "PatientDrop", "PatientLinkContent"]));
  it.each(rows(cases(f, "LinkFragment")))("tc %i %s", async (_i, _c, t) => {
    if (t.result === "valid") {
      expect(formatLinkFragment(hx(t, "token"), hx(t, "public_key"))).toBe(t.text);
      const parsed = parseLinkFragment(s(t, "text"));
      expect(toHex(parsed.token)).toBe(t.token);
      expect(toHex(parsed.publicKey)).toBe(t.public_key);
    } else {
      expect(await errorOf(() => parseLinkFragment(s(t, "text")))).toBe(PatientLinkFormatError.name);
    }
  });
  const photoFrom = (d: Record<string, unknown>): PatientPhoto => {
    const photo: PatientPhoto = {
      attachmentId: d.attachment_id as string,
      fileKey: fromBase64Url(d.file_key as string),
      ciphertextSha256: fromHex(d.ciphertext_sha256 as string),
      ciphertextSize: d.ciphertext_size as number,
      mediaType: d.media_type as string,
      tag: d.tag as PatientPhoto["tag"],
      bodySite: d.body_site as string,
    };
    const th = d.thumbnail as Record<string, unknown> | undefined;
    if (th) {
      photo.thumbnail = {
        attachmentId: th.attachment_id as string,
        fileKey: fromBase64Url(th.file_key as string),
        ciphertextSha256: fromHex(th.ciphertext_sha256 as string),
        ciphertextSize: th.ciphertext_size as number,
      };
    }
    if (d.quality) photo.quality = d.quality as NonNullable<PatientPhoto["quality"]>;
    if (d.send_anyway_reason !== undefined) photo.sendAnywayReason = d.send_anyway_reason as string;
    return photo;
  };
  it.each(rows(cases(f, "PatientDrop")))("tc %i %s", async (_i, _c, t) => {
    const record = hx(t, "record");
    const dropBox = await hpkeRecipientFromScalar(hx(t, "drop_box_private_key"));
    expect(toHex(dropBox.publicKey)).toBe(t.drop_box_public_key);
    const headerError = await errorOf(() => parsePatientPhotoHeader(record));
    expect(headerError).toBe(t.header_parses ? "ok" : PatientDropError.name);
    const open = () => openPatientPhoto(record, { linkId: s(t, "link_id"), dropBox });
    if (t.result === "valid") {
      const photo = photoFrom(t.decoded as Record<string, unknown>);
      expect(toHex(encodePatientPhoto(photo))).toBe(t.body);
      const built = await sealPatientPhotoFromParts(photo, {
        linkId: s(t, "link_id"),
        index: n(t, "index"),
        dropBoxPublicKey: hx(t, "drop_box_public_key"),
        ikmE: hx(t, "ikm_e"),
      });
      expect(toHex(built)).toBe(t.record);
      const opened = await open();
      expect(opened.index).toBe(t.index);
      expect(opened.photo).toEqual(photo);
    } else {
      expect(await errorOf(open)).toBe(PatientDropError.name);
    }
  });
  it.each(rows(cases(f, "PatientLinkContent")))("tc %i %s", async (_i, _c, t) => {
    const ct = n(t, "content_type") as ContentType;
    if (t.result === "valid") {
      expect(decodeContent(ct, hx(t, "body"))).toEqual(t.decoded);
      const { v: _v, ...rest } = t.decoded as Record<string, unknown>;
      expect(toHex(encodeContent(ct, rest))).toBe(t.body);
    } else {
      expect(await errorOf(() => decodeContent(ct, hx(t, "body")))).toBe(ContentError.name);
    }
  });
});
