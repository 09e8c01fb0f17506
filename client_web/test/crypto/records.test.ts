/**
 * Properties of every record format, with fresh random inputs and the PRODUCTION code paths
 * (WebCrypto signing with random k, fresh nonces and ephemeral keys):
 * - round trips;
 * - flipping any single bit of any byte of a record (every position, exhaustively) is rejected
 *   with the operation's one opaque error, and so is every truncation and one trailing byte;
 * - misuse by our own code raises TypeError / RangeError, never the opaque error.
 * Plus a GP and a dermatologist exchanging a case key, messages and a photo through a fake
 * server that only stores bytes (the Alice-and-Bob test of STYLE.md).
 */
import { describe, expect, it } from "vitest";
import {
  AttachmentError,
  CaseKeyUnwrapError,
  ContentType,
  GENESIS_HASH,
  KeyPurpose,
  MessageOpenError,
  PrivateKeyUnsealError,
  UskKekUnwrapError,
  UskOrgUnwrapError,
  UskRecoveryUnwrapError,
  decodeContent,
  decodePhotoReference,
  decryptAttachment,
  encodeContent,
  encodePhotoReference,
  encryptAttachment,
  generateCaseKey,
  generateKeyPair,
  generateUsk,
  messageHash,
  newFileKey,
  newRecoverySecret,
  openCaseKeyWrap,
  openMessage,
  parseMessageHeader,
  sealMessage,
  sealPrivateKey,
  signingIdentity,
  toAccountKey,
  unsealAccountKey,
  unsealPrivateKey,
  unwrapUskForOrg,
  unwrapUskWithKek,
  unwrapUskWithRecoveryKey,
  wrapCaseKey,
  wrapUskForOrg,
  wrapUskWithKek,
  wrapUskWithRecoveryKey,
  type AccountKey,
  type KeyPair,
} from "../../src/crypto/index";
import { concat, toHex } from "../../src/crypto/bytes";

const uuid = (): string => crypto.randomUUID();
const rnd = (n: number): Uint8Array<ArrayBuffer> => {
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(out.subarray(o, o + 65536));
  return out;
};

/** Every single-bit flip (one bit per byte, position-dependent), every truncation, one extra byte. */
function* corruptions(record: Uint8Array): Generator<[string, Uint8Array]> {
  for (let i = 0; i < record.length; i++) {
    const x = record.slice();
    x[i]! ^= 1 << (i % 8);
    yield [`flip byte ${i}`, x];
  }
  for (let n = 0; n < record.length; n++) yield [`truncate to ${n}`, record.slice(0, n)];
  yield ["trailing byte", concat(record, new Uint8Array([0]))];
}

async function expectAllRejected(
  record: Uint8Array,
  open: (r: Uint8Array) => Promise<unknown>,
  err: new () => Error,
): Promise<number> {
  let count = 0;
  for (const [what, bad] of corruptions(record)) {
    let caught: unknown = null;
    try {
      await open(bad);
    } catch (e) {
      caught = e;
    }
    if (!(caught instanceof err)) throw new Error(`${what}: not rejected with ${err.name}`);
    count++;
  }
  return count;
}

describe("USK wraps", () => {
  it("round trip and reject every corruption", async () => {
    const user = uuid();
    const usk = generateUsk();
    const kek = rnd(32);
    const secret = newRecoverySecret();
    const org = await generateKeyPair();
    const kr = await wrapUskWithKek(usk, kek, user);
    const rr = await wrapUskWithRecoveryKey(usk, secret, user);
    const or = await wrapUskForOrg(usk, org.publicKey, user);
    expect([kr.length, rr.length, or.length]).toEqual([63, 63, 132]);
    expect(toHex(await unwrapUskWithKek(kr, kek, user))).toBe(toHex(usk));
    expect(toHex(await unwrapUskWithRecoveryKey(rr, secret, user))).toBe(toHex(usk));
    expect(toHex(await unwrapUskForOrg(or, org.privateKey, user))).toBe(toHex(usk));
    await expectAllRejected(kr, (r) => unwrapUskWithKek(r, kek, user), UskKekUnwrapError);
    await expectAllRejected(rr, (r) => unwrapUskWithRecoveryKey(r, secret, user), UskRecoveryUnwrapError);
    await expectAllRejected(or, (r) => unwrapUskForOrg(r, org.privateKey, user), UskOrgUnwrapError);
    // Bound to the user: another user id does not unwrap.
    await expect(unwrapUskWithKek(kr, kek, uuid())).rejects.toBeInstanceOf(UskKekUnwrapError);
    // Fresh nonces: two wraps of the same USK differ.
    expect(toHex(await wrapUskWithKek(usk, kek, user))).not.toBe(toHex(kr));
  });

  it("misuse is TypeError / RangeError, not the opaque error", async () => {
    await expect(wrapUskWithKek(rnd(31), rnd(32), uuid())).rejects.toBeInstanceOf(RangeError);
    await expect(wrapUskWithKek(rnd(32), rnd(32), "not-a-uuid")).rejects.toBeInstanceOf(TypeError);
    await expect(unwrapUskWithKek(rnd(63), rnd(16), uuid())).rejects.toBeInstanceOf(RangeError);
  });
});

describe("sealed private keys", () => {
  it("round trip into non-extractable keys and reject every corruption", async () => {
    const user = uuid();
    const usk = generateUsk();
    const pair = await generateKeyPair();
    const rec = await sealPrivateKey(pair, KeyPurpose.SIGNING, usk, user);
    expect(rec.length).toBe(80);
    const back = await unsealPrivateKey(rec, KeyPurpose.SIGNING, usk, user);
    expect(toHex(back.privateKey)).toBe(toHex(pair.privateKey));
    const key = await unsealAccountKey(rec, KeyPurpose.SIGNING, usk, user);
    expect(key.privateKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey("jwk", key.privateKey)).rejects.toThrow();
    // Wrong purpose is refused like any corruption.
    await expect(unsealPrivateKey(rec, KeyPurpose.ENCRYPTION, usk, user)).rejects.toBeInstanceOf(PrivateKeyUnsealError);
    await expectAllRejected(rec, (r) => unsealPrivateKey(r, KeyPurpose.SIGNING, usk, user), PrivateKeyUnsealError);
  });
});

interface Party {
  user: string;
  enc: KeyPair;
  sig: KeyPair;
  encKey: AccountKey;
  sigKey: AccountKey;
}

async function party(): Promise<Party> {
  const enc = await generateKeyPair();
  const sig = await generateKeyPair();
  return {
    user: uuid(),
    enc,
    sig,
    encKey: await toAccountKey(enc, KeyPurpose.ENCRYPTION),
    sigKey: await toAccountKey(sig, KeyPurpose.SIGNING),
  };
}

/** A server that only stores and returns bytes. */
class FakeServer {
  wraps = new Map<string, Uint8Array>();
  messages: Uint8Array[] = [];
  blobs = new Map<string, Uint8Array>();
}

describe("a GP and a dermatologist through a server that only stores bytes", () => {
  it("exchange a case key, messages and a photo; corruption is caught", async () => {
    const server = new FakeServer();
    const gp = await party();
    const derm = await party();
    const records = await party(); // the practice's records key
    const caseId = uuid();
    const epoch = 0;

    // GP opens the case: a case key wrapped to the dermatologist, the records key and herself.
    const ck = generateCaseKey();
    for (const r of [gp, derm, records]) {
      const rec = await wrapCaseKey(ck, {
        caseId,
        epoch,
        recipientPublicKey: r.enc.publicKey,
        wrapperUserId: gp.user,
        wrapper: signingIdentity(gp.sigKey),
      });
      expect(rec.length).toBe(280); // committed wrap, type 0x0b
      server.wraps.set(r.user, rec);
    }

    // GP sends the clinical history and a photo.
    const history = encodeContent(ContentType.CLINICAL_HISTORY, {
      patient: { nhs_number: "9434765919", name: "Test Patient", date_of_birth: "1970-01-01", sex: "F" },
      body_site: "left forearm",
      duration: "6 weeks",
      changes: { size: true, shape: false, colour: true },
      symptoms: { itch: false, bleeding: true, scaling: false, soreness: false },
      previous_skin_cancer: false,
      skin_type: "II",
      question: "Is this a basal cell carcinoma?",
      consent_to_photography: true,
    });
    const m0 = await sealMessage(history, {
      caseKey: ck,
      caseId,
      epoch,
      clientMessageId: uuid(),
      senderUserId: gp.user,
      sender: signingIdentity(gp.sigKey),
      contentType: ContentType.CLINICAL_HISTORY,
      previousHash: GENESIS_HASH,
    });
    server.messages.push(m0);
    const photo = rnd(100_000);
    const fileKey = newFileKey();
    const { record: blob, sha256 } = await encryptAttachment(fileKey, photo);
    const attachmentId = uuid();
    server.blobs.set(attachmentId, blob);
    const ref = encodePhotoReference({
      attachmentId,
      fileKey,
      ciphertextSha256: sha256,
      ciphertextSize: blob.length,
      mediaType: "image/jpeg",
      tag: "close_up",
      bodySite: "left forearm",
    });
    const m1 = await sealMessage(ref, {
      caseKey: ck,
      caseId,
      epoch,
      clientMessageId: uuid(),
      senderUserId: gp.user,
      sender: signingIdentity(gp.sigKey),
      contentType: ContentType.PHOTO_REFERENCE,
      previousHash: await messageHash(m0),
    });
    server.messages.push(m1);

    // The dermatologist opens everything from the server's bytes.
    const dermCk = await openCaseKeyWrap(server.wraps.get(derm.user)!, {
      caseId,
      epoch,
      recipient: { privateKey: derm.encKey.privateKey, publicKey: derm.enc.publicKey, keyId: derm.enc.keyId },
      wrapperSigningPublicKey: gp.sig.publicKey,
    });
    expect(toHex(dermCk)).toBe(toHex(ck));
    const directory = new Map([[toHex(gp.sig.keyId), gp.sig.publicKey], [toHex(derm.sig.keyId), derm.sig.publicKey]]);
    let previous: Uint8Array = GENESIS_HASH;
    const bodies = [];
    for (const rec of server.messages) {
      const h = parseMessageHeader(rec);
      expect(toHex(h.previousHash)).toBe(toHex(previous));
      const opened = await openMessage(rec, {
        caseKey: dermCk,
        caseId,
        epoch,
        senderSigningPublicKey: directory.get(toHex(h.senderKeyId))!,
      });
      bodies.push(opened);
      previous = await messageHash(rec);
    }
    expect(decodeContent(ContentType.CLINICAL_HISTORY, bodies[0]!.body).question).toBe("Is this a basal cell carcinoma?");
    const got = decodePhotoReference(bodies[1]!.body);
    const decrypted = await decryptAttachment(got.fileKey, server.blobs.get(got.attachmentId)!, got.ciphertextSha256);
    expect(toHex(decrypted)).toBe(toHex(photo));

    // The dermatologist replies; the GP opens it.
    const reply = await sealMessage(encodeContent(ContentType.QUESTION, { text: "Any bleeding on contact?" }), {
      caseKey: dermCk,
      caseId,
      epoch,
      clientMessageId: uuid(),
      senderUserId: derm.user,
      sender: signingIdentity(derm.sigKey),
      contentType: ContentType.QUESTION,
      previousHash: previous,
    });
    const gpSees = await openMessage(reply, { caseKey: ck, caseId, epoch, senderSigningPublicKey: derm.sig.publicKey });
    expect(decodeContent(ContentType.QUESTION, gpSees.body)).toEqual({ text: "Any bleeding on contact?", v: 1 });

    // The records key can open the case key too (records are never lost).
    const recordsCk = await openCaseKeyWrap(server.wraps.get(records.user)!, {
      caseId,
      epoch,
      recipient: { privateKey: records.encKey.privateKey, publicKey: records.enc.publicKey, keyId: records.enc.keyId },
      wrapperSigningPublicKey: gp.sig.publicKey,
    });
    expect(toHex(recordsCk)).toBe(toHex(ck));

    // A server that alters anything is caught.
    const dermRecipient = { privateKey: derm.encKey.privateKey, publicKey: derm.enc.publicKey, keyId: derm.enc.keyId };
    const n = await expectAllRejected(
      server.wraps.get(derm.user)!,
      (r) => openCaseKeyWrap(r, { caseId, epoch, recipient: dermRecipient, wrapperSigningPublicKey: gp.sig.publicKey }),
      CaseKeyUnwrapError,
    );
    expect(n).toBe(280 * 2 + 1);
    await expectAllRejected(
      reply,
      (r) => openMessage(r, { caseKey: ck, caseId, epoch, senderSigningPublicKey: derm.sig.publicKey }),
      MessageOpenError,
    );
    // A message replayed into another case or epoch, or checked against the wrong sender, fails.
    await expect(openMessage(reply, { caseKey: ck, caseId: uuid(), epoch, senderSigningPublicKey: derm.sig.publicKey })).rejects.toBeInstanceOf(MessageOpenError);
    await expect(openMessage(reply, { caseKey: ck, caseId, epoch: 1, senderSigningPublicKey: derm.sig.publicKey })).rejects.toBeInstanceOf(MessageOpenError);
    await expect(openMessage(reply, { caseKey: ck, caseId, epoch, senderSigningPublicKey: gp.sig.publicKey })).rejects.toBeInstanceOf(MessageOpenError);
    // Photo blob: sampled corruptions (the full 100 kB sweep is the chunked primitive's job).
    for (const i of [0, 1, 2, 3, 30, 58, 59, 100, 16_000, blob.length - 1]) {
      const bad = blob.slice();
      bad[i]! ^= 4;
      await expect(decryptAttachment(fileKey, bad, sha256)).rejects.toBeInstanceOf(AttachmentError);
    }
  });
});
